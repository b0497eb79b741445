"""Write ``docs/RESULTS.md``: the paper's experiments on our real data, from the stored protocol tables.

Reads (nothing is computed here; each table's command is printed beside it):

* Real / retrieval rows (20 replications): ``TABLES/<task>_test.json`` (``benchmarks/protocol_tables.py``);
* T2M-GPT: ``TABLES/t2mgpt/t2m_test.json``; ours (the trained model): ``TABLES/lm/<task>_test.json``
  (``benchmarks/lm_tables.py --run``);
* the ablations: ``runs/ablation/<arm>/eval/<task>_test.json`` (``scripts/ablations.sh <arm>``).

Every table shows all pairs and the natural-language / label caption groups apart, the replications of
each row, and how our setting differs from the paper's.  Experiments without stored tables are listed as
not yet measured.

Usage: python benchmarks/results.py [--tables ~/.cache/motiongpt2/eval_results/tables] [--ablations runs/ablation]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _report import ROOT, commit, dirty_files, machine, portable  # noqa: E402
from lm_tables import load, rows_of, summary, training_rows  # noqa: E402

from motiongpt2.eval.replication import format_table  # noqa: E402

ARMS = (("pretrained", "SmolLM2 weights, stage 2 + stage 3"),
        ("random", "same architecture, random weights, stage 2 + stage 3"),
        ("noalign", "SmolLM2 weights, stage 3 only (twice the steps)"))
GROUPS = ((None, "all pairs"), ("natural", "natural-language captions"), ("label", "label captions"))

SETTING = """Our setting differs from the paper's, and the numbers are not comparable to its tables:

- **Model**: SmolLM2-135M-Instruct + LoRA (r = 32) instead of LLaMA-3.1-8B / Gemma; trained on 2 CPU cores.
- **Training**: 500 stage-2 + 600 stage-3 steps of 8 samples (about one epoch of our data) instead of 100 + 50
  epochs; the ablations use 100 + 100 steps per arm.
- **Data**: `real-body` (CMU mocap + Bandai-Namco, 4,886 train motions, HumanML3D / KIT-ML captions where they exist
  and captions made from the Bandai-Namco content x style labels elsewhere), not HumanML3D (AMASS cannot be shipped).
- **Evaluator**: our reference evaluator (Guo et al.'s architecture with GloVe-50, trained on `real-body`), not the
  official HumanML3D one; the official one is supported (`scripts/humanml3d_recipe.sh`).
- **Replications**: Real, retrieval and T2M-GPT rows have 20; the language-model rows fewer (each replication
  generates ~850 motions or captions on the CPU), and MultiModality is skipped for them (`--mm-samples 0`).
- **Caption groups**: label captions ("a person walks, style: tired") are easy to retrieve and inflate R-Precision
  (Real R@3 0.99 on them); the natural-language group is the one to read."""


def group_tables(entries: list[tuple[str, dict | None, bool]]) -> str:
    """All / natural / label tables of ``entries``: ``(row label, result json, real)``; ``real`` takes the
    result's Real row, otherwise its generator rows (Real left out)."""
    first = next((r for _, r, _ in entries if r is not None), None)
    if first is None:
        return ""
    columns = [tuple(c) for c in first["columns"]]
    out = []
    for group, title in GROUPS:
        rows = []
        for label, res, real in entries:
            if res is None or (group is not None and group not in res["caption_groups"]):
                continue
            for name, metrics in rows_of(res, group):
                if name.startswith("Real") == real:
                    rows.append((f"{label} ({name.rsplit('(', 1)[-1]}", metrics))
        n = first["n_pairs"] if group is None else first["caption_groups"][group]["n_pairs"]
        out += ["", f"{title} ({n} pairs):", "", format_table(rows, columns, digits=3)]
    return "\n".join(out)


def ablation_section(root: Path, tables: Path) -> str:
    lines = ["## Ablations: pretrained weights and stage 2 (reduced size)", "",
             "The paper's central claim is that a pretrained LLM, aligned to motion in stage 2, generates and "
             "describes motion better than the same model without these. Three arms of the same recipe, each "
             "100 + 100 steps (`noalign`: 200 stage-3 steps), same data, seeds and evaluator:", "",
             "```bash", "for arm in pretrained random noalign; do bash scripts/ablations.sh $arm; done", "```", ""]
    found = False
    for task in ("t2m", "m2t"):
        arms = [(f"{arm}: {what}", load(root / arm / "eval" / f"{task}_test.json"), False) for arm, what in ARMS]
        if not any(r for _, r, _ in arms):
            continue
        found = True
        lines += [f"### {task}", group_tables([("Real", load(tables / f"{task}_test.json"), True), *arms]), ""]
    for arm, _ in ARMS:
        run = root / arm / "instruct"
        if found and (run / "metrics.jsonl").exists():
            lines += [f"Training of `{arm}`:", "", training_rows(run), ""]
    if not found:
        lines.append("Not yet measured.")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tables", type=Path, default=Path.home() / ".cache/motiongpt2/eval_results/tables")
    ap.add_argument("--ablations", type=Path, default=ROOT / "runs" / "ablation")
    ap.add_argument("--model", type=Path, default=ROOT / "runs" / "lm_smollm2_instruct")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "RESULTS.md")
    args = ap.parse_args()
    dirty = dirty_files()
    if dirty:
        sys.exit(f"docs/RESULTS.md: not written — uncommitted changes in {', '.join(dirty[:5])}; commit first")
    t2m, m2t = summary("t2m", args.tables, "test"), summary("m2t", args.tables, "test")
    pose = [summary(t, args.tables, "test") for t in ("t2m-init", "t2m-last", "t2m-key")]
    completion = [summary(t, args.tables, "test") for t in ("predict", "inbetween")]
    todo = ["ours with Gemma-3-270M", "prompt design V0/V1/V2 (Table IX)", "LoRA rank (Table XII)",
            "whole-body Part-Aware vs plain VQ-VAE at generation level (Table XI; tokenizer level: BENCHMARKS.md)"]
    if not any(pose):
        todo.insert(0, "pose-controlled generation (Tables III, VII) for our model (Real and retrieval rows exist)")
    if not any(completion):
        todo.insert(1, "prediction and in-betweening (Table X) for our model (Real and baselines exist)")
    lm_cmd = "motiongpt2 evaluate --task TASK -d ~/.cache/motiongpt2/datasets/real-body -e runs/evaluator_guo_glove50 " \
             "--generator lm:runs/lm_smollm2_instruct --replications 1 --mm-samples 0 --no-retrieval " \
             "-o ~/.cache/motiongpt2/eval_results/tables/lm"
    body = ["# Results on our real data\n",
            f"Written by `python benchmarks/results.py` from stored tables; machine: {machine()}; "
            f"date {time.strftime('%Y-%m-%d')}; commit {commit()}. Each table names the command that made it.\n",
            SETTING, "",
            "## Text to motion (paper Table I)", "",
            "```bash",
            "python benchmarks/protocol_tables.py            # Real, retrieval (20 replications)",
            "python benchmarks/reference_runs.py             # the evaluator, the VQ-VAE, T2M-GPT",
            "python benchmarks/lm_tables.py --model runs/lm_smollm2_instruct --run --replications 1   # ours",
            "```", "",
            "How the model was trained:", "", training_rows(args.model) if args.model.exists() else "(run folder absent)",
            "", t2m or "Not yet measured.", "",
            "## Motion to text (paper Table IV)", "", m2t or "Not yet measured.", ""]
    if any(pose):
        body += ["## Pose-controlled generation (paper Tables III, VII)", "",
                 "Text plus an initial / last / key pose of the test clip; Recon and Vel measure how closely the "
                 "generated motion meets the given pose (lower is better), beside the text-only t2m table above.", "",
                 f"```bash\n{lm_cmd.replace('TASK', 't2m-init')}   # and t2m-last, t2m-key\n```", "",
                 *[x for x in pose if x], ""]
    if any(completion):
        body += ["## Prediction and in-betweening (paper Table X)", "",
                 f"```bash\n{lm_cmd.replace('TASK', 'predict')}   # and inbetween\n```", "",
                 *[x for x in completion if x], ""]
    body += [ablation_section(args.ablations, args.tables), "",
             "## Not yet measured", "", *[f"- {t}" for t in todo], ""]
    text = portable("\n".join(body))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
