"""Train (or resume) the reference artefacts every table depends on, and record how they were made.

The chain, each step one documented CLI command (resumable: re-running the script continues where a
killed run stopped, and finished runs are left as they are):

1. ``motiongpt2 prepare cmu-humanml3d | bandai-namco | real-body`` — the real corpora (official heading);
2. ``motiongpt2 train-tokenizer`` — the VQ-VAE the baseline and the language model use;
3. ``motiongpt2 train-evaluator`` — the reference text-motion evaluator (Guo et al., GloVe 50d),
   selected on the natural-language caption group;
4. ``motiongpt2 train-baseline`` — the T2M-GPT baseline over the tokenizer's best checkpoint.

Steps 2 and 3 ship with the package (``assets/default_lm/motion_tokenizer``, ``assets/evaluator_guo_glove50``),
so by default only the datasets and the baseline are made here (``--only`` adds the others: retraining them
gives other codebooks and another evaluator, so other numbers); the report describes a bundle where this
machine has no run.

Writes the section "Reference artefacts" of BENCHMARKS.md: for each run its command, configuration,
steps, wall time (summed over sessions from the run's ``metrics.jsonl``), the selected checkpoint and
its selection metric.

Usage: python benchmarks/reference_runs.py [--runs runs] [--only datasets,tokenizer,evaluator,baseline] [--dry-run]
"""
from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _report import (  # noqa: E402
    BUNDLED_EVALUATOR, BUNDLED_TOKENIZER, CLI, ROOT, bundle_source, reference_tokenizer, write_section)
DATASETS = "~/.cache/motiongpt2/datasets"


def chain(runs: Path) -> list[dict]:
    """The reference runs, in dependency order."""
    d = Path(DATASETS).expanduser()
    return [
        {"name": "datasets", "cmd": [[CLI, "prepare", r] for r in ("cmu-humanml3d", "bandai-namco", "real-body")],
         "done": lambda: all((d / r / "dataset.json").exists() for r in ("cmu-humanml3d", "bandai-namco", "real-body"))},
        {"name": "tokenizer", "run": runs / "vq_cpu_small", "config": "configs/tokenizer/vqvae_cpu_small.yaml",
         "bundle": BUNDLED_TOKENIZER,
         "cmd": [[CLI, "train-tokenizer", "-c", "configs/tokenizer/vqvae_cpu_small.yaml", "-d", str(d / "real-body"),
                  "-o", str(runs / "vq_cpu_small"), "--threads", "1"]]},
        {"name": "evaluator", "run": runs / "evaluator_guo_glove50", "config": "configs/eval/evaluator_guo_glove50.yaml",
         "bundle": BUNDLED_EVALUATOR,
         "cmd": [[CLI, "train-evaluator", "-c", "configs/eval/evaluator_guo_glove50.yaml", "-d", str(d / "real-body"),
                  "-o", str(runs / "evaluator_guo_glove50")]]},
        {"name": "baseline", "run": runs / "t2mgpt_cpu_small", "config": "configs/baselines/t2mgpt_cpu_small.yaml",
         "cmd": [[CLI, "train-baseline", "-c", "configs/baselines/t2mgpt_cpu_small.yaml", "-d", str(d / "real-body"),
                  "-t", str(reference_tokenizer(runs)), "-o", str(runs / "t2mgpt_cpu_small"), "--threads", "1",
                  # a CPU budget: 3,000 steps of batch 64 with the LR drop at 80% (the config's full schedule
                  # is 20,000 steps)
                  "--override", "train.max_iters=3000", "--override", "train.lr_milestones=[2400]"]]},
    ]


def read_metrics(run: Path) -> list[dict]:
    path = run / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wall_hours(records: list[dict]) -> tuple[float, int]:
    """Total wall time (h) over a run's sessions and the number of sessions.

    A session starts at an ``info`` record with ``event`` start/resume and ends at the last record with
    a ``time`` before the next session starts.
    """
    sessions: list[list[datetime]] = []
    for r in records:
        t = r.get("time")
        if r.get("type") == "info" and r.get("event") in ("start", "resume"):
            sessions.append([])
        if t and sessions:
            sessions[-1].append(datetime.fromisoformat(t))
    total = sum((s[-1] - s[0]).total_seconds() for s in sessions if len(s) > 1)
    return total / 3600.0, len(sessions)


def resolve_pointer(run: Path, name: str) -> Path | None:
    ptr = run / name
    if ptr.is_file():
        return run / ptr.read_text().strip()
    return ptr if ptr.is_dir() else None


def describe(step: dict) -> list[str]:
    """The step's lines: its run when this machine has it, else the bundle the package ships of it."""
    run: Path = step["run"]
    records = read_metrics(run)
    hours, sessions = wall_hours(records)
    steps = max((r.get("step", 0) for r in records), default=0)
    best = resolve_pointer(run, "best") or resolve_pointer(run, "latest")
    bundle = step.get("bundle")
    from_bundle = best is None and bundle is not None and (bundle / "meta.json").exists()
    if from_bundle:
        best = bundle
    meta = {}
    if best is not None and (best / "meta.json").exists():
        meta = json.loads((best / "meta.json").read_text())
    selection = {k: v for k, v in (meta.get("metrics") or {}).items() if isinstance(v, (int, float))}
    first = sorted(selection, key=lambda k: not (k.startswith("best_") or "select" in k))  # the selection metric first
    shown = ", ".join(f"{k} {selection[k]:.4g}" for k in first[:8]) or "-"
    cmd = " ".join(shlex.quote(a) for a in step["cmd"][0]).replace(CLI, "motiongpt2")
    if from_bundle:
        source = bundle_source(meta) or "?"
        trained = (f"- config: `{step['config']}`; bundled as `{best.relative_to(ROOT)}` (step {meta.get('step', '?')} "
                   f"of the run `{source}`); the run's log is not on this machine")
    else:
        trained = f"- config: `{step['config']}`; steps logged: {steps}; wall time {hours:.2f} h over {sessions} session(s)"
    return [
        f"### {step['name']}",
        "",
        f"- command: `{cmd}`",
        trained,
        f"- selected checkpoint: `{best}` (commit {meta.get('git_commit', meta.get('commit', '?'))}); its metrics: {shown}",
        "",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=Path, default=ROOT / "runs")
    ap.add_argument("--only", default="datasets,baseline",
                    help="steps to run (default datasets,baseline: the tokenizer and the evaluator are bundled with the "
                         "package; add tokenizer,evaluator to retrain them, which changes every number)")
    ap.add_argument("--dry-run", action="store_true", help="print the commands, run nothing, write nothing")
    ap.add_argument("--report-only", action="store_true", help="write the section from the existing runs")
    args = ap.parse_args()
    wanted = set(args.only.split(","))
    names = [s["name"] for s in chain(args.runs) if s["name"] in wanted]
    for name in [] if args.report_only else names:
        # the chain again per step: the baseline takes a tokenizer trained by an earlier step
        step = next(s for s in chain(args.runs) if s["name"] == name)
        if "done" in step and step["done"]():
            continue
        for cmd in step["cmd"]:
            print("$", " ".join(shlex.quote(a) for a in cmd), flush=True)
            if not args.dry_run:
                subprocess.run(cmd, cwd=ROOT, check=True)
    if args.dry_run:
        return
    lines = ["Every table in this file is computed with these runs (or their bundles). Re-running the script resumes "
             "unfinished runs.", ""]
    for step in chain(args.runs):
        if "run" in step:
            lines += describe(step)
    body = "\n".join(lines)
    print(body)
    write_section("Reference artefacts (`benchmarks/reference_runs.py`)", "python benchmarks/reference_runs.py", body)


if __name__ == "__main__":
    main()
