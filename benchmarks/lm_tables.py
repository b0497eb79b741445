"""Run (``--run``) and collect the language model's t2m and m2t protocol tables, side by side with the
Real, retrieval and T2M-GPT rows of ``benchmarks/protocol_tables.py``.

With ``--run`` each task is evaluated with ``motiongpt2 evaluate --generator lm:MODEL`` on the reference
artefacts (dataset ``real-body``, evaluator: the bundled ``assets/evaluator_guo_glove50``), ``--replications`` times (the
protocol's 20 are out of reach for a 135M LLM on 2 CPU cores: ~850 motions or captions per replication)
and without MultiModality (``--mm-samples 0``: it would add 3,000 generations per replication).  The
summary takes Real and Retrieval from the 20-replication tables and T2M-GPT from its own table; every row
says how many replications it has.  Writes BENCHMARKS.md's "Language model tables" section.

``--int8`` adds a t2m run of the same model with int8 layers (``--generator-option quantize=int8``, the
same crops and per-request seeds) as one more row: the quality check of the fast CPU path.

Usage: python benchmarks/lm_tables.py --model runs/lm_smollm2_instruct [--run] [--replications 3] [--int8]
       [--tables ~/.cache/motiongpt2/eval_results/tables]
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
    bundle_source,
    shown_command,
    write_section,
)
from protocol_tables import table_markdown  # noqa: E402

from motiongpt2.eval.replication import format_table, table_value  # noqa: E402

DATA = Path("~/.cache/motiongpt2/datasets/real-body").expanduser()

TASKS = ("t2m", "m2t")


def command(task: str, model: Path, out: Path, reps: int, quantize: str = "none") -> list[str]:
    cmd = [CLI, "evaluate", "-d", str(DATA), "-e", str(BUNDLED_EVALUATOR), "--task", task, "--replications", str(reps),
           "--out", str(out), "--generator", f"lm:{model}", "--mm-samples", "0", "--no-retrieval"]
    if quantize != "none":
        cmd += ["--generator-option", f"quantize={quantize}", "--generator-option", f"name=MotionGPT-2 {quantize}"]
    return cmd


def load(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def rows_of(result: dict, group: str | None, keep=None) -> list[tuple[str, dict]]:
    """``(label, metrics)`` rows of ``result`` (a group's rows when ``group``), labelled with their
    replication count; ``keep``: method names to take (``None``: all)."""
    rows = result["rows"] if group is None else result["caption_groups"][group]["rows"]
    reps = result["replications"]
    return [(f"{r['method']} ({reps} rep.)", {k: table_value(v) for k, v in r["metrics"].items()})
            for r in rows if keep is None or r["method"] in keep]


GROUPS = ((None, "all pairs"), ("natural", "natural-language captions"), ("label", "label captions"))
BASELINES = {"Real", "Retrieval (train NN)"}


def side_by_side(title: str, entries: list[tuple[str, dict]]) -> str:
    """All / natural / label tables of ``entries``: ``(label prefix, result)``; the first entry gives its
    Real and retrieval rows, the others their generator rows (labelled ``prefix: method``)."""
    first = entries[0][1]
    columns = [tuple(c) for c in entries[-1][1]["columns"]]
    out = [f"#### {title}"]
    for group, name in GROUPS:
        if group is not None and any(group not in r["caption_groups"] for _, r in entries):
            continue
        rows = rows_of(first, group, BASELINES)
        for label, res in entries[1:]:
            for row_label, metrics in rows_of(res, group, {r["method"] for r in res["rows"]} - BASELINES):
                rows.append((f"{label}{': ' if label else ''}{row_label}", metrics))
        n = first["n_pairs"] if group is None else first["caption_groups"][group]["n_pairs"]
        out += ["", f"{name} ({n} pairs):", "", format_table(rows, columns, digits=3)]
    return "\n".join(out)


def summary(task: str, tables: Path, split: str) -> str:
    """Ours (and its int8 run) beside Real, retrieval and, for t2m, T2M-GPT; ``""`` without our table."""
    main = load(tables / f"{task}_{split}.json")
    ours = load(tables / "lm" / f"{task}_{split}.json")
    if ours is None or main is None:
        return ""
    base = load(tables / "t2mgpt" / f"{task}_{split}.json") if task == "t2m" else None
    others = [r for r in (base, ours, load(tables / "lm_int8" / f"{task}_{split}.json")) if r is not None]
    return side_by_side(f"{task}: ours beside Real, retrieval{' and T2M-GPT' if base else ''} ({split} split)",
                        [("", main), *(("", r) for r in others)])


def training_rows(model: Path) -> str:
    """How the evaluated model was trained: one row per stage, following ``init`` back from ``model``
    (steps, samples, ~tokens, wall time between the run's start and its latest checkpoint, val losses)."""
    from datetime import datetime

    from motiongpt2 import runs

    lines = ["| stage | run | steps | samples | tokens (est.) | wall (min) | val loss | val t2m | val m2t | "
             "val motion acc |", "|---|---|---|---|---|---|---|---|---|---|"]
    run, seen = model, set()
    stages = []
    while run is not None and run.exists() and run.resolve() not in seen:
        seen.add(run.resolve())
        step_dir = runs.resolve_step(run, "latest", what="language model")
        meta = runs.read_meta(step_dir)
        recs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        start = next(r for r in recs if r.get("event") == "start")
        train = [r for r in recs if r.get("type") == "train"]
        m = meta.get("metrics") or {}
        steps = int(meta["step"])
        tokens = steps * sum(r["tokens"] for r in train) / max(len(train), 1)
        wall = (datetime.fromisoformat(meta["time"]) - datetime.fromisoformat(start["time"])).total_seconds() / 60
        vals = (m.get("val_loss"), m.get("val_loss_t2m", m.get("val_loss_align-t2m")),
                m.get("val_loss_m2t", m.get("val_loss_align-m2t")), m.get("val_motion_acc"))
        stages.append(f"| {start['stage']} | `{run.name}` | {steps} of {start['total_steps']} | "
                      f"{steps * start['micro_batch'] * start.get('processes', 1):,} | {tokens:,.0f} | {wall:.0f} | "
                      + " | ".join("–" if v is None or v != v else f"{v:.3f}" for v in vals) + " |")  # – : not trained
        init = start.get("init")
        run = Path(init).parent if init else None
    return "\n".join(lines + stages[::-1])


def training_of(model: Path) -> str:
    """The training table of a ``train-lm`` run, or of the run a bundle was made from (stored by
    ``benchmarks/results.py`` in ``docs/results/training/``; a bundle keeps no training log)."""
    if (model / "metrics.jsonl").exists():
        return training_rows(model)
    from motiongpt2 import runs

    source = Path(str(bundle_source(runs.read_meta(model)) or model)).parent
    stored = ROOT / "docs" / "results" / "training" / f"{source.name}.md"
    return stored.read_text().strip() if stored.exists() else f"(no training log for `{model}` on this machine)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=ROOT / "runs" / "lm_smollm2_instruct")
    ap.add_argument("--tables", type=Path, default=CACHE_TABLES)
    ap.add_argument("--split", default="test")
    ap.add_argument("--run", action="store_true", help="compute the language model's tables first")
    ap.add_argument("--replications", type=int, default=3)
    ap.add_argument("--int8", action="store_true", help="also run t2m with int8 layers (one more row)")
    args = ap.parse_args()
    out = args.tables / "lm"
    plan = [command(t, args.model.resolve(), out, args.replications) for t in TASKS]
    if args.int8:
        plan.append(command("t2m", args.model.resolve(), args.tables / "lm_int8", args.replications, "int8"))
    if args.run:
        for cmd in plan:
            print("$", " ".join(shlex.quote(a) for a in cmd), flush=True)
            subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    parts = [s for s in (summary(t, args.tables, args.split) for t in TASKS) if s]
    if not parts:
        sys.exit(f"no language-model tables in {out}: run with --run first")
    for task in TASKS:
        table = table_markdown(out / f"{task}_{args.split}.json")
        if table:
            parts.append(table.replace("### ", "#### Full table: ", 1))
    shown = [shown_command(cmd, args.split, args.tables) for cmd in plan]
    body = (f"The evaluated model `{args.model.name}` (its best step) was trained on these 2 CPU cores "
            "(wall time includes pauses for other jobs):\n\n" + training_of(args.model) +
            "\n\nThe commands:\n\n```bash\n" + "\n".join(shown) + "\n```\n\n" + "\n\n".join(parts))
    print(body)
    write_section("Language model tables (`benchmarks/lm_tables.py`)",
                  "python benchmarks/lm_tables.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]), body)


if __name__ == "__main__":
    main()
