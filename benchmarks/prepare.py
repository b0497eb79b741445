"""Benchmark: prepare both real corpora (CMU + HumanML3D captions, Bandai-Namco) from ../shared/data.

Reports clips, frames, source frames per second and peak memory into BENCHMARKS.md.
Usage: python benchmarks/prepare.py [--shared ../shared/data] [--out /tmp/mg2-bench] [--workers 2]
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _report import write_section  # noqa: E402

from motiongpt2 import api  # noqa: E402



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=api.default_shared())
    ap.add_argument("--out", type=Path, default=Path("/tmp/motiongpt2-bench"))
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    rows = []
    total_t = 0.0
    for recipe in ("cmu-humanml3d", "bandai-namco"):
        out = args.out / recipe
        shutil.rmtree(out, ignore_errors=True)
        t0 = time.perf_counter()
        rep = api.prepare(recipe, out, shared=args.shared, workers=args.workers, command=f"benchmarks/prepare.py ({recipe})")
        dt = time.perf_counter() - t0
        total_t += dt
        meta = json.loads((out / "dataset.json").read_text())
        rows.append((recipe, rep, dt, meta))
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    lines = ["| recipe | source files | clips (train/val/test, incl. mirrored) | feature frames | minutes of motion | wall s | frames/s written | skipped+failed |",
             "|---|---|---|---|---|---|---|---|"]
    for recipe, rep, dt, meta in rows:
        c = rep.clips
        lines.append(f"| {recipe} | {rep.sources} | {c['total']} ({c.get('train', 0)}/{c.get('val', 0)}/{c.get('test', 0)}) | "
                     f"{rep.frames} | {rep.seconds / 60:.1f} | {dt:.1f} | {rep.frames / dt:,.0f} | {len(rep.skipped) + len(rep.failures)} |")
    lines.append("")
    lines.append(f"Total wall time {total_t:.1f} s (target: under 180 s); peak resident memory of one process "
                 f"{peak / 1024:.0f} MiB. Frames are 20-fps feature rows of the written clips (mirrored copies included).")
    body = "\n".join(lines)
    print(body)
    write_section("Dataset preparation (`benchmarks/prepare.py`)", f"python benchmarks/prepare.py --workers {args.workers}", body)


if __name__ == "__main__":
    main()
