"""Run (``--run``) and collect the protocol tables of every task into BENCHMARKS.md.

With ``--run`` each table is computed with ``motiongpt2 evaluate`` on the reference artefacts of
``benchmarks/reference_runs.py`` (dataset ``real-body``, evaluator: the bundled ``assets/evaluator_guo_glove50``, tokenizer
``runs/vq_cpu_small``, else the bundled model's tokenizer; T2M-GPT ``runs/t2mgpt_cpu_small``): every task with the Real and retrieval rows (20
replications), the tokenizer task with the tokenizer's reconstruction row, and t2m with the T2M-GPT baseline
in a table of its own (fewer replications: it generates ~3,800 motions per replication on the CPU).
Without ``--run`` the tables already in ``--tables`` are collected (``--tables docs/results/tables``: the copies
kept in the repository). Each table keeps its own header lines
(split files, evaluator, replications, seed, commit, runtime) and its caption-group rows.

Usage: python benchmarks/protocol_tables.py [--run] [--tables ~/.cache/motiongpt2/eval_results/tables]
       [--replications 20] [--baseline-replications 3] [--skip-baseline]
"""
from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _report import (  # noqa: E402
    BUNDLED_EVALUATOR,
    CACHE_TABLES,
    CLI,
    ROOT,
    reference_tokenizer,
    shown_command,
    write_section,
)

from motiongpt2.eval.protocol import TASKS, format_markdown  # noqa: E402

DATA = Path("~/.cache/motiongpt2/datasets/real-body").expanduser()


def commands(tables: Path, reps: int, baseline_reps: int, baseline: bool) -> list[tuple[Path, list[str]]]:
    """``(output folder, command)`` per table."""
    base = [CLI, "evaluate", "-d", str(DATA), "-e", str(BUNDLED_EVALUATOR)]
    out = []
    for task in TASKS:
        extra = ["--generator", f"tokenizer:{reference_tokenizer()}"] if task == "tokenizer" else []
        out.append((tables, base + ["--task", task, "--replications", str(reps), "--out", str(tables)] + extra))
    if baseline:
        folder = tables / "t2mgpt"
        out.append((folder, base + ["--task", "t2m", "--replications", str(baseline_reps), "--out", str(folder),
                                    "--generator", f"t2mgpt:{ROOT / 'runs' / 't2mgpt_cpu_small'}"]))
    return out


def table_markdown(path: Path) -> str | None:
    """The markdown of a stored ``evaluate`` table (its JSON: the copies in ``docs/results/tables`` keep no .md)."""
    return format_markdown(json.loads(path.read_text())).strip() if path.exists() else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tables", type=Path, default=CACHE_TABLES)
    ap.add_argument("--split", default="test")
    ap.add_argument("--run", action="store_true", help="compute the tables first")
    ap.add_argument("--replications", type=int, default=20)
    ap.add_argument("--baseline-replications", type=int, default=3)
    ap.add_argument("--skip-baseline", action="store_true")
    args = ap.parse_args()
    plan = commands(args.tables, args.replications, args.baseline_replications, not args.skip_baseline)
    if args.run:
        for _, cmd in plan:
            print("$", " ".join(shlex.quote(a) for a in cmd), flush=True)
            subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    parts = []
    for task in TASKS:
        table = table_markdown(args.tables / f"{task}_{args.split}.json")
        if table:
            parts.append(table.replace("### ", "#### ", 1))
    table = table_markdown(args.tables / "t2mgpt" / f"t2m_{args.split}.json")
    if table:
        parts.append(table.replace("### ", "#### T2M-GPT baseline: ", 1))
    if not parts:
        sys.exit(f"no tables in {args.tables}: run with --run first")
    shown = [shown_command(cmd, args.split, args.tables) for _, cmd in plan]
    body = ("The commands (one per table):\n\n```bash\n" + "\n".join(shown) + "\n```\n\n" + "\n\n".join(parts))
    print(body)
    write_section("Protocol tables (`benchmarks/protocol_tables.py`)", "python benchmarks/protocol_tables.py --run",
                  body)


if __name__ == "__main__":
    main()
