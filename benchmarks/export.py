"""Benchmark: stick-figure video, HTML viewer and export time per second of motion.

Times (median of 5) for a HumanML3D (22 joints) and a whole-body (52 joints) motion: BVH (solve +
write), SMPL-style npz, joints npy/json, and the HTML viewer (page build + write; optionally also
the headless-Chromium load-and-draw time with --browser). Writes BENCHMARKS.md's "Export" section.
Usage: python benchmarks/export.py [--seconds 10] [--browser] [--clip ../shared/data/mocap/cmu/bvh/01_01.bvh]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _report import write_section

from motiongpt2.motion.skeleton import HUMANML3D, WHOLEBODY
from motiongpt2.motion.synthetic import synthetic_motion
from motiongpt2.render.export import export_motion
from motiongpt2.render.export_bvh import write_bvh
from motiongpt2.render.stick import render_motion


def timed(fn, n: int = 5) -> float:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def browser_time(page: Path, tmp: Path) -> float | None:
    exe = shutil.which("chromium")
    if not exe:
        return None
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--use-gl=swiftshader", "--enable-unsafe-swiftshader",
           "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp / 'prof'}", "--window-size=800,600", f"--screenshot={tmp / 'b.png'}",
           page.as_uri() + "#t=0.5"]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=False, capture_output=True, timeout=120)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--fps", type=float, default=20.0)
    ap.add_argument("--browser", action="store_true", help="also time headless Chromium loading the page")
    ap.add_argument("--clip", type=Path, default=None, help="a real BVH to report the round-trip error on")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mg2-export-bench-"))
    rows = ["| skeleton | format | time (ms) | ms per second of motion | file size (KiB) |",
            "| --- | --- | ---: | ---: | ---: |"]
    for skel in (HUMANML3D, WHOLEBODY):
        pos = synthetic_motion(skel, seconds=args.seconds, fps=args.fps, seed=0)
        for fmt in ("mp4", "bvh", "npz", "npy", "json", "html"):
            out = tmp / f"{skel.name}.{fmt}"
            if fmt == "mp4":  # the stick-figure video (render_motion), 480x480
                dt = timed(lambda pos=pos, out=out: render_motion(pos, out, fps=args.fps, progress=False), n=3)
            else:
                dt = timed(lambda pos=pos, out=out: export_motion(pos, out, fps=args.fps))
            rows.append(f"| {skel.name} ({skel.n_joints}) | {fmt} | {dt * 1e3:.1f} | {dt * 1e3 / args.seconds:.2f} | "
                        f"{out.stat().st_size / 1024:.0f} |")
            if fmt == "html" and args.browser:
                bt = browser_time(out, tmp)
                if bt is not None:
                    rows.append(f"| {skel.name} ({skel.n_joints}) | html in headless Chromium (load + draw + screenshot) "
                                f"| {bt * 1e3:.0f} | {bt * 1e3 / args.seconds:.1f} | |")
    body = f"{args.seconds:g} s synthetic motions at {args.fps:g} fps, median of 5 runs.\n\n" + "\n".join(rows)
    if args.clip and args.clip.exists():
        from motiongpt2.motion.io.bvh import read_bvh
        from motiongpt2.motion.io.load import load_joints
        pos = load_joints(args.clip).positions.astype(np.float64)
        exp = write_bvh(pos, tmp / "clip.bvh", fps=20.0)
        m = read_bvh(tmp / "clip.bvh")
        back = m.world_positions()[:, [m.names.index(n) for n in exp.names]]
        err = np.linalg.norm(back - pos, axis=-1).max()
        body += (f"\n\nReal clip `{args.clip.name}` ({len(pos)} frames): BVH round trip through our reader, max "
                 f"error {err * 1e3:.4f} mm; joints with position channels: "
                 f"{', '.join(n for n, c in zip(exp.names, exp.position_channels) if c)}.")
    print(body)
    write_section("Render and export", "python benchmarks/export.py " + " ".join(sys.argv[1:]), body)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
