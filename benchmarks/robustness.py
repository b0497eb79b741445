"""Benchmark: how the readers and loaders take malformed input (the robustness suites' counts).

Runs the mutation suites of ``tests/test_robustness_*.py`` (each module's ``mutation_counts()``: seeded
mutations of real CMU files, when ``../shared/data`` is there, and synthetic seeds) and reports per family
how many inputs were tried, refused with one clean error line, or accepted as a valid finite motion, and
how many failed (a raw exception, a multi-line message, a non-finite output, over the per-input time or
memory bound); plus the slowest input and the largest traced memory peak.

Writes BENCHMARKS.md's "Robustness" section.
Usage: python benchmarks/robustness.py
"""
from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(ROOT / "tests"))
from _report import write_section

SUITES = ("test_robustness_readers", "test_robustness_data")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = ap.parse_args()
    rows, totals, limits = [], {"tried": 0, "clean_error": 0, "accepted": 0, "failed": 0}, []
    t0 = time.perf_counter()
    seen_stats: list[dict] = []
    for name in SUITES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            continue
        counts = module.mutation_counts()
        for family, c in counts.items():
            rows.append((name.removeprefix("test_robustness_"), family, c))
            for k in totals:
                totals[k] += c.get(k, 0)
        limits.append((name, module.TIME_LIMIT_S, module.MEMORY_LIMIT))
        stats = getattr(module, "STATS", None)          # a suite may share another's run_case and its STATS
        if stats is not None and not any(stats is x for x in seen_stats):
            seen_stats.append(stats)
    wall = time.perf_counter() - t0
    stats = {"inputs": sum(x["inputs"] for x in seen_stats), "max_s": max((x["max_s"] for x in seen_stats), default=0),
             "max_peak_bytes": max((x["max_peak_bytes"] for x in seen_stats), default=0)}
    lines = ["Seeded mutations (truncation, byte flips, deleted / duplicated lines, extreme numbers, wrong headers, "
             "cycles, encodings, archive members, `.npy` headers ...) of real CMU BVH / ASF+AMC seeds and synthetic "
             "seeds, each run through the project's readers and loaders. *Clean error*: one `MotionGPT2Error` line; "
             "*accepted*: a finite motion (features extract without NaN); *failed*: anything else (raw exception, "
             "multi-line message, non-finite output, over the time or memory bound).", "",
             "| suite | family | tried | clean error | accepted | failed |", "|---|---|---|---|---|---|"]
    for suite, family, c in rows:
        lines.append(f"| {suite} | {family} | {c['tried']} | {c['clean_error']} | {c['accepted']} | {c.get('failed', 0)} |")
    lines.append(f"| **all** | | **{totals['tried']}** | **{totals['clean_error']}** | **{totals['accepted']}** | "
                 f"**{totals['failed']}** |")
    bounds = "; ".join(f"{n}: {t:g} s and {m / 2**30:g} GiB per input" for n, t, m in limits)
    lines += ["", f"Bounds asserted per input ({bounds}). "
              + (f"Slowest input {stats['max_s']:.2f} s; largest traced peak {stats['max_peak_bytes'] / 2**20:.0f} "
                 f"MiB over {stats['inputs']} runs. " if stats and stats.get("inputs") else "")
              + f"Whole run {wall:.0f} s."]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_section("Robustness (`benchmarks/robustness.py`)", "python benchmarks/robustness.py", body)


if __name__ == "__main__":
    main()
