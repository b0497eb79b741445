"""Collect the protocol tables written by `motiongpt2 evaluate --out DIR` into BENCHMARKS.md.

Usage: python benchmarks/protocol_tables.py [--tables ~/.cache/motiongpt2/eval_results/tables]
Each table keeps its own header lines (split files, evaluator, replications, seed, commit, runtime).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _report import write_section  # noqa: E402

from motiongpt2.eval.protocol import TASKS  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tables", type=Path, default=Path.home() / ".cache/motiongpt2/eval_results/tables")
    ap.add_argument("--split", default="test")
    args = ap.parse_args()
    parts = []
    for task in TASKS:
        md = args.tables / f"{task}_{args.split}.md"
        if md.exists():
            parts.append(md.read_text().strip().replace("### ", "#### ", 1))
    if not parts:
        sys.exit(f"no tables in {args.tables}: run `motiongpt2 evaluate --task ... --out {args.tables}` first")
    body = ("One command per table: `motiongpt2 evaluate --task TASK -d ~/.cache/motiongpt2/datasets/real-body "
            "-e runs/evaluator_guo_glove50 [--generator KIND:RUN] --out TABLES`.\n\n"
            + "\n\n".join(parts))
    print(body)
    write_section("Protocol tables (`benchmarks/protocol_tables.py`)", "python benchmarks/protocol_tables.py", body)


if __name__ == "__main__":
    main()
