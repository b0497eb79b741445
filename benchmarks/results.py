"""Write ``docs/RESULTS.md``: the paper's experiments on our real data, from stored protocol tables.

Nothing is computed here; each section names the commands that made its tables.  Fresh tables are first
copied into ``docs/results/`` (committed, so the page can be rebuilt on any machine without the runs):

* Real / retrieval rows (20 replications): ``TABLES/<task>_test.json`` (``benchmarks/protocol_tables.py``);
* T2M-GPT: ``TABLES/t2mgpt/t2m_test.json``; ours: ``TABLES/lm/<task>[-textonly]_test.json``
  (``motiongpt2 evaluate --generator lm:...``, ``--text-only`` for the text-only rows of Table VII);
* the reduced-size arms: ``ABLATIONS/<arm>/eval/<task>_test.json`` (``scripts/ablations.sh <arm>``) and the
  training table of each arm's run;
* the whole-body tokenizers: ``WHOLEBODY/eval/<name>.json`` (``scripts/wholebody_tokenizers.sh``, the
  ``eval-tokenizer --json`` tables of ``part_aware`` and ``plain``), and the language models trained with them:
  ``WHOLEBODY/lm/<name>/pretrained/eval/t2m_test.json`` (``scripts/wholebody_generation.sh``).

A section is (re)written only when every table it needs is stored; other sections of the page are left as
they are, with the commit and date they were written at.  Every table shows all pairs and the
natural-language / label caption groups apart, and the replications of each row.

Usage: python benchmarks/results.py [--tables ~/.cache/motiongpt2/eval_results/tables] [--ablations runs/ablation]
       [--wholebody runs/wholebody] [--model runs/lm_smollm2_instruct]
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _report import ROOT, dirty_files, write_section  # noqa: E402
from lm_tables import BASELINES, GROUPS, load, rows_of, side_by_side, training_rows  # noqa: E402

from motiongpt2.eval.replication import format_table  # noqa: E402
from motiongpt2.tokenizer.evaluate import format_reconstruction_table  # noqa: E402

STORE = ROOT / "docs" / "results"
RESULTS = ROOT / "docs" / "RESULTS.md"
REPORT = ("docs/RESULTS.md", "docs/results")
ARMS = {
    "pretrained": "SmolLM2 weights, stage 2 + stage 3 (prompts V0, LoRA r 32)",
    "random": "same architecture, random weights, stage 2 + stage 3",
    "noalign": "SmolLM2 weights, stage 3 only (twice the steps)",
    "v1": "prompts V1, stage 3 from the pretrained arm's stage 2",
    "v2": "prompts V2, stage 3 from the pretrained arm's stage 2",
    "r8": "LoRA r 8 (alpha 16), both stages",
    "r64": "LoRA r 64 (alpha 16), both stages",
    "gemma": "Gemma-3-270M weights, stage 2 + stage 3",
}
LM_CMD = ("motiongpt2 evaluate --task TASK -d ~/.cache/motiongpt2/datasets/real-body "
          "--generator lm:src/motiongpt2/assets/default_lm --replications REPS --mm-samples 0 --no-retrieval "
          "-o ~/.cache/motiongpt2/eval_results/tables/lm")


def lm_cmd(task: str) -> str:
    """The command that made the stored language-model table of ``task`` (with its replications)."""
    res = stored(f"tables/lm/{task}_test.json")
    return LM_CMD.replace("TASK", task).replace("REPS", str(res["replications"] if res else 1))


# --------------------------------------------------------------------------- the store
WHOLEBODY_TOKENIZERS = ("part_aware", "plain")
WHOLEBODY_LABELS = {"part_aware": "Part-Aware VQ-VAE", "plain": "plain VQ-VAE"}


def collect(tables: Path, ablations: Path, model: Path, wholebody: Path | None = None) -> int:
    """Copy fresh tables (and the training tables of the runs) into ``docs/results``; returns how many."""
    n = 0
    for name in WHOLEBODY_TOKENIZERS if wholebody is not None else ():
        for src, dst in ((wholebody / "eval" / f"{name}.json", f"{name}.json"),
                         (wholebody / "eval" / f"tokenizer_{name}" / "tokenizer_test.json", f"tokenizer_{name}_test.json")):
            if src.exists():
                n += _copy(src, STORE / "wholebody" / dst)
    for src in sorted(tables.rglob("*_test.json")) if tables.exists() else []:
        n += _copy(src, STORE / "tables" / src.relative_to(tables))
    for arm in sorted(p for p in ablations.iterdir() if p.is_dir()) if ablations.exists() else []:
        n += _collect_arm(arm, STORE / "ablation" / arm.name)
    for name in WHOLEBODY_TOKENIZERS if wholebody is not None else ():
        n += _collect_arm(wholebody / "lm" / name / "pretrained", STORE / "wholebody" / "lm" / name)
    if (model / "metrics.jsonl").exists():  # a train-lm run (the bundle keeps no training log)
        _write(STORE / "training" / f"{model.name}.md", training_rows(model))
    return n


def _collect_arm(arm: Path, dst: Path) -> int:
    """Copy one ``scripts/ablations.sh`` arm's tables (``arm/eval``) to ``dst`` with its training table."""
    evaluated = sorted((arm / "eval").glob("*_test.json"))
    for src in evaluated:
        _copy(src, dst / src.name)
    if evaluated and (arm / "instruct" / "metrics.jsonl").exists():  # an evaluated arm's training
        _write(dst / "training.md", training_rows(arm / "instruct"))
    return len(evaluated)


def _copy(src: Path, dst: Path) -> int:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return 1


def _write(dst: Path, text: str) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(text + "\n")


def stored(rel: str) -> dict | None:
    return load(STORE / rel)


# --------------------------------------------------------------------------- tables
def lm_tables(tasks: list[str]) -> list[str] | None:
    """Ours beside Real and retrieval for each task, or ``None`` if any table is missing."""
    parts = []
    for task in tasks:
        main, ours = stored(f"tables/{task}_test.json"), stored(f"tables/lm/{task}_test.json")
        if main is None or ours is None:
            return None
        entries = [("", main)]
        base = stored(f"tables/t2mgpt/{task}_test.json")
        if base is not None:
            entries.append(("", base))
        entries.append(("", ours))
        parts.append(side_by_side(f"{task}: ours beside Real, retrieval{' and T2M-GPT' if base else ''} (test split)",
                                  entries))
    return parts


def text_only_table() -> str | None:
    """Text only vs text + pose (paper Table VII) for the pose tasks with both tables stored."""
    keep = ("R@3", "FID", "MM-Dist", "Diversity", "Recon", "Vel", "Recon-local")
    out = []
    for task, what in (("t2m-init", "initial pose"), ("t2m-last", "last pose"), ("t2m-key", "3 key poses")):
        alone, given = stored(f"tables/lm/{task}-textonly_test.json"), stored(f"tables/lm/{task}_test.json")
        if alone is None or given is None:
            continue
        columns = [tuple(c) for c in given["columns"] if c[0] in keep]
        for group, name in GROUPS[:2]:
            rows = [(f"{label} ({res['replications']} rep.)", metrics) for label, res in
                    (("text only", alone), (f"text + {what}", given))
                    for _, metrics in rows_of(res, group, {r["method"] for r in res["rows"]} - BASELINES)]
            n = given["n_pairs"] if group is None else given["caption_groups"][group]["n_pairs"]
            out += ["", f"{task}, {name} ({n} pairs):", "", format_table(rows, columns, digits=3)]
    return "\n".join(out) if out else None


def arms_table(arms: list[str], tasks: tuple[str, ...] = ("t2m", "m2t")) -> tuple[str, list[str]] | None:
    """The arms' tables (Real first) and training tables, or ``None`` with fewer than two arms stored."""
    parts = []
    present = [a for a in arms if any((STORE / "ablation" / a / f"{t}_test.json").exists() for t in tasks)]
    for task in tasks:
        real = stored(f"tables/{task}_test.json")
        entries = [(f"{arm} ({ARMS[arm]})", stored(f"ablation/{arm}/{task}_test.json")) for arm in present]
        entries = [(label, r) for label, r in entries if r is not None]
        if real is None or len(entries) < 2:
            continue
        parts.append(side_by_side(task, [("", real), *entries]))
    if not parts:
        return None
    for arm in present:
        training = STORE / "ablation" / arm / "training.md"
        if training.exists():
            parts.append(f"Training of `{arm}` (stage 3; its stage 2 in the line above it, when it has one):\n\n"
                         + training.read_text().strip())
    return "\n\n".join(parts), present


def wholebody_results() -> list[dict] | None:
    """The stored ``eval-tokenizer --json`` results of the whole-body tokenizers (one per checkpoint), or ``None``
    unless both are stored."""
    paths = [STORE / "wholebody" / f"{name}.json" for name in WHOLEBODY_TOKENIZERS]
    if not all(p.exists() for p in paths):
        return None
    loaded = [json.loads(p.read_text()) for p in paths]
    return [r for res in loaded for r in (res if isinstance(res, list) else [res])]


def wholebody_protocol() -> str:
    """The tokenizer task of the protocol for both whole-body tokenizers (FID with the whole-body evaluator,
    Hand FID), or ``""`` unless both are stored."""
    results = [stored(f"wholebody/tokenizer_{name}_test.json") for name in WHOLEBODY_TOKENIZERS]
    if any(r is None for r in results):
        return ""
    cmd = ("motiongpt2 evaluate --task tokenizer -d ~/.cache/motiongpt2/datasets/wholebody-composite "
           "-e runs/wholebody/evaluator --generator tokenizer:runs/wholebody/NAME/best --replications "
           f"{results[0]['replications']} -o runs/wholebody/eval/tokenizer_NAME")
    return ("\n\nThe same reconstructions in the evaluation protocol (`" + cmd + "`, NAME = part_aware / plain): FID "
            "with the whole-body evaluator of the generation-level section below, and Hand FID, which compares "
            "the fingers' pose, spread and speed with the real test clips'.\n\n"
            + side_by_side("tokenizer task on wholebody-composite (test split)",
                           [("", results[0]), *((WHOLEBODY_LABELS[n], r) for n, r in zip(WHOLEBODY_TOKENIZERS, results))]))


def wholebody_generation() -> tuple[str, str] | None:
    """``(command, body)`` of Table XI at generation level, or ``None`` unless both arms' t2m tables are stored."""
    results = [stored(f"wholebody/lm/{name}/t2m_test.json") for name in WHOLEBODY_TOKENIZERS]
    if any(r is None for r in results):
        return None
    steps = sorted({int(m.group(1)) for r in results if (m := re.search(r"step-0*(\d+)", r.get("generator") or ""))})
    reps = sorted({r["replications"] for r in results})
    env = (f"STEPS={'/'.join(map(str, steps))} " if steps != [100] else "") + \
        (f"REPS={'/'.join(map(str, reps))} " if reps != [1] else "")
    body = [side_by_side("t2m on wholebody-composite (test split)",
                         [("", results[0]), *((WHOLEBODY_LABELS[n], r) for n, r in zip(WHOLEBODY_TOKENIZERS, results))])]
    for name in WHOLEBODY_TOKENIZERS:
        training = STORE / "wholebody" / "lm" / name / "training.md"
        if training.exists():
            body.append(f"Training with the {WHOLEBODY_LABELS[name]}:\n\n" + training.read_text().strip())
    return env + "bash scripts/wholebody_generation.sh", "\n\n".join(body)


def value(rel: str, key: str, group: str | None = "natural", method: str | None = None) -> float | None:
    """Mean of ``key`` in the stored table ``rel`` for ``method`` (``None``: its generator row), or ``None``."""
    res = stored(rel)
    if res is None or (group is not None and group not in res["caption_groups"]):
        return None
    keep = {method} if method else {r["method"] for r in res["rows"]} - BASELINES
    rows = rows_of(res, group, keep)
    cell = rows[0][1].get(key) if rows else None
    return float(cell[0] if isinstance(cell, tuple) else cell) if cell is not None else None


def targets_table() -> str | None:
    """The issue's targets (natural-language group; all pairs beside), each measured from the stored tables."""
    real, retr = "Real", "Retrieval (train NN)"

    def pair(group):  # the values one target compares, in that group
        return {
            "r3": (value("tables/lm/t2m_test.json", "R@3", group), value("tables/t2m_test.json", "R@3", group, real),
                   value("tables/t2mgpt/t2m_test.json", "R@3", group), value("tables/t2m_test.json", "R@3", group, retr)),
            "fid": (value("tables/lm/t2m_test.json", "FID", group), value("tables/t2mgpt/t2m_test.json", "FID", group),
                    value("tables/t2m_test.json", "FID", group, retr)),
            "arms": (value("ablation/pretrained/t2m_test.json", "R@3", group),
                     value("ablation/random/t2m_test.json", "R@3", group),
                     value("ablation/pretrained/m2t_test.json", "BLEU-4", group),
                     value("ablation/random/m2t_test.json", "BLEU-4", group)),
            "pose": [(task, value(f"tables/lm/{task}-textonly_test.json", "Recon", group),
                      value(f"tables/lm/{task}_test.json", "Recon", group)) for task in ("t2m-init", "t2m-last", "t2m-key")],
            "cap": (value("tables/lm/m2t_test.json", "BLEU-4", group), value("tables/m2t_test.json", "BLEU-4", group, retr),
                    value("tables/lm/m2t_test.json", "CIDEr", group), value("tables/m2t_test.json", "CIDEr", group, retr)),
        }

    def f(x):
        return "–" if x is None else f"{x:.3f}"

    def check(pred, *xs):  # "–" unless every value is measured
        return "–" if any(x is None for x in xs) else ("**met**" if pred(*xs) else "missed")

    def lines(g):  # (target, measured, met) per target for group g
        v = pair(g)
        r3, real_r3, gpt_r3, retr_r3 = v["r3"]
        fid, gpt_fid, retr_fid = v["fid"]
        pre_r3, rnd_r3, pre_b4, rnd_b4 = v["arms"]
        b4, retr_b4, cider, retr_cider = v["cap"]
        out = [
            ("t2m R@3 ≥ 0.95 × Real", f"{f(r3)} vs {f(None if real_r3 is None else 0.95 * real_r3)}",
             check(lambda a, b: a >= 0.95 * b, r3, real_r3)),
            ("t2m R@3 above T2M-GPT and retrieval", f"{f(r3)} vs {f(gpt_r3)} / {f(retr_r3)}",
             check(lambda a, b, c: a > max(b, c), r3, gpt_r3, retr_r3)),
            ("t2m FID below T2M-GPT and retrieval", f"{f(fid)} vs {f(gpt_fid)} / {f(retr_fid)}",
             check(lambda a, b, c: a < min(b, c), fid, gpt_fid, retr_fid)),
            ("pretrained beats random init (t2m R@3; m2t BLEU-4)",
             f"R@3 {f(pre_r3)} vs {f(rnd_r3)}; BLEU-4 {f(pre_b4)} vs {f(rnd_b4)}",
             check(lambda a, b, c, d: a > b and c > d, pre_r3, rnd_r3, pre_b4, rnd_b4)),
        ]
        out += [(f"{task}: Recon with the pose below text only", f"{f(given)} vs {f(alone)}",
                 check(lambda a, b: a < b, given, alone)) for task, alone, given in v["pose"]]
        out.append(("captions beat retrieval on BLEU-4 and CIDEr", f"BLEU-4 {f(b4)} vs {f(retr_b4)}; CIDEr {f(cider)} vs "
                    f"{f(retr_cider)}", check(lambda a, b, c, d: a > b and c > d, b4, retr_b4, cider, retr_cider)))
        return out

    natural, every = lines("natural"), lines(None)
    if all(met == "–" for _, _, met in natural):
        return None
    rows = ["| target | natural-language group: ours vs reference | met | all pairs: ours vs reference | met |",
            "|---|---|:---:|---|:---:|"]
    rows += [f"| {t} | {m} | {met} | {m_all} | {met_all} |"
             for (t, m, met), (_, m_all, met_all) in zip(natural, every)]
    return "\n".join(rows)


# --------------------------------------------------------------------------- sections
def sections() -> list[tuple[str, str, str]]:
    """``(name, command, body)`` of every section whose tables are all stored."""
    out = []
    targets = targets_table()
    if targets:
        out.append(("Targets", "python benchmarks/results.py",
                    "The issue's targets on our data with the bundled evaluator, each computed from the stored tables of "
                    "the sections below (the natural-language group decides; \"–\": not measured). Ours: the bundled "
                    "default model; pretrained / random: the reduced-size arms of the ablation.\n\n" + targets))
    training = STORE / "training" / "lm_smollm2_instruct.md"
    t2m = lm_tables(["t2m"])
    if t2m and stored("tables/t2mgpt/t2m_test.json") is not None:  # Table I is not written without T2M-GPT
        how = f"How the model was trained:\n\n{training.read_text().strip()}\n\n" if training.exists() else ""
        gemma = ("\n\nOurs with Gemma-3-270M was trained at reduced size only (100 + 100 steps); it is compared with "
                 "SmolLM2 at that same size in \"Backbone: Gemma-3-270M (reduced size)\"."
                 if stored("ablation/gemma/t2m_test.json") else "")
        out.append(("Text to motion (paper Table I)",
                    "python benchmarks/protocol_tables.py --run; " + lm_cmd("t2m"), how + t2m[0] + gemma))
    m2t = lm_tables(["m2t"])
    if m2t:
        out.append(("Motion to text (paper Table IV)", lm_cmd("m2t"), m2t[0]))
    pose = lm_tables(["t2m-init", "t2m-last", "t2m-key"])
    if pose:
        alone = text_only_table()
        body = ("Text plus an initial / last / key pose of the test clip; Recon and Vel measure how closely the "
                "generated motion meets the given pose (global joint positions, m, flattened pose norm; lower is "
                "better). They compare world positions, so a motion that reaches the right pose at another place or "
                "facing another way still scores a large Recon; Recon local compares the same poses in the body's "
                "own frame (root-relative, facing-aligned; a key pose takes its nearest generated pose there).\n\n" + "\n\n".join(pose))
        if alone:
            body += ("\n\n#### Text only vs text + pose (paper Table VII)\n\nThe same draws; \"text only\" gives the "
                     "model the caption and length alone (`--text-only`) and scores Recon / Vel against the poses it "
                     "was not given." + alone)
        out.append(("Pose-controlled generation (paper Tables III, VII)",
                    lm_cmd("t2m-init") + "   # and t2m-last, t2m-key; each again with --text-only",
                    body))
    completion = lm_tables(["predict", "inbetween"])
    if completion:
        out.append(("Prediction and in-betweening (paper Table X)",
                    lm_cmd("predict") + "   # and inbetween", "\n\n".join(completion)))
    wholebody = wholebody_results()
    if wholebody:
        steps = sorted({r["step"] for r in wholebody})
        out.append(("Whole-body tokenizers: Part-Aware vs plain VQ-VAE (paper Table XI, tokenizer level)",
                    f"STEPS={'/'.join(map(str, steps))} bash scripts/wholebody_tokenizers.sh",
                    f"Both tokenizers have the same size (2.30M / 2.29M parameters) and schedule ({'/'.join(map(str, steps))} "
                    "steps of batch 64; the configs' full schedule is 4,000), one seed each, on "
                    "`wholebody-composite` (real body mocap with real ManipNet finger mocap attached at the wrists: "
                    "the hands move independently of the captions, so this corpus tests reconstruction, not "
                    "text-conditioned hands). The paper trains on Motion-X, which cannot be shipped.\n\n"
                    + format_reconstruction_table(wholebody) + wholebody_protocol()))
    generation = wholebody_generation()
    if generation:
        command, body = generation
        out.append(("Whole-body generation: Part-Aware vs plain VQ-VAE (paper Table XI, generation level)", command,
                    "The same language-model recipe with each whole-body tokenizer of the section above: SmolLM2-135M, "
                    "stage 2 then stage 3 on text-to-motion only, same steps, data and seeds "
                    "(`scripts/wholebody_generation.sh`). The Part-Aware model writes two tokens per 4 frames (body, "
                    "hand), the plain one a single token. Scored with an evaluator trained on `wholebody-composite` "
                    "(same recipe as the bundled one) and with Hand FID: a text-free Fréchet distance of "
                    "finger-motion descriptors (wrist-relative finger positions, their spread and speed; "
                    "`motiongpt2.eval.hands`), because this corpus's captions say nothing about the fingers and the "
                    "evaluator cannot see them. R-Precision ranks among 32 candidates: chance R@3 is 3/32 = 0.094. The paper's "
                    "Table XI is on Motion-X with a far larger model.\n\n"
                    + body))
    for name, arms, note, tasks in (
            ("Ablations: pretrained weights and stage 2 (reduced size)", ["pretrained", "random", "noalign"],
             "The paper's central claim: a pretrained LLM, aligned to motion in stage 2, generates and describes "
             "motion better than the same model without these. Each arm 100 + 100 steps of 8 samples "
             "(`noalign`: 200 stage-3 steps), same data, seeds and evaluator. The random arm's captions are "
             "degenerate: one token repeated until the 64-token limit (`motiongpt2 caption "
             "~/.cache/motiongpt2/datasets/real-body:000327 -m runs/ablation/random/instruct`), so they score 0 on "
             "the caption metrics; its val m2t loss (10.9, training table below) is that of a uniform guess over the "
             "49,152-token vocabulary (ln 49,152 = 10.8). With random weights the frozen embeddings and output head "
             "carry no language, and the recipe trains only LoRA and the new motion-token rows.", ("t2m", "m2t")),
            ("Prompt design (paper Table IX, reduced size)", ["pretrained", "v1", "v2"],
             "The paper's prompts V0 (ours), V1 and V2 (`lm/prompts.yaml`), each in stage 3 (100 steps) from the "
             "same stage-2 run (100 steps; stage 2's prompts do not depend on the version).", ("t2m",)),
            ("LoRA rank (paper Table XII, reduced size)", ["r8", "pretrained", "r64"],
             "LoRA rank r at the same alpha (16), 100 + 100 steps each.", ("t2m",)),
            ("Backbone: Gemma-3-270M (reduced size)", ["pretrained", "gemma"],
             "The same recipe (100 + 100 steps of 8 samples, LoRA r 32, same data, seeds and evaluator) on "
             "Gemma-3-270M (268M parameters, 262k-token vocabulary) and on SmolLM2-135M (49k tokens). The paper's "
             "backbones are LLaMA-3.1-8B and Gemma-7B.", ("t2m", "m2t"))):
        res = arms_table(arms, tasks)
        if res:
            body, present = res
            cmd = "; ".join(f"bash scripts/ablations.sh {a}" for a in present)
            out.append((name, cmd, f"{note}\n\n{body}"))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tables", type=Path, default=Path.home() / ".cache/motiongpt2/eval_results/tables")
    ap.add_argument("--ablations", type=Path, default=ROOT / "runs" / "ablation")
    ap.add_argument("--wholebody", type=Path, default=ROOT / "runs" / "wholebody",
                    help="the scripts/wholebody_tokenizers.sh and wholebody_generation.sh output folder")
    ap.add_argument("--model", type=Path, default=ROOT / "runs" / "lm_smollm2_instruct",
                    help="the train-lm run of the evaluated model (for its training table, when present)")
    args = ap.parse_args()
    dirty = dirty_files(REPORT)
    if dirty:
        sys.exit(f"docs/RESULTS.md: not written — uncommitted changes in {', '.join(dirty[:5])}; commit first")
    n = collect(args.tables, args.ablations, args.model, args.wholebody)
    print(f"collected {n} tables into {STORE.relative_to(ROOT)}")
    written = sections()
    for name, command, body in written:
        write_section(name, command, body, path=RESULTS, report=REPORT)
        print(f"wrote section: {name}")
    if not written:
        print("no section has all its tables stored; docs/RESULTS.md unchanged")
    write_todo()


EXPECTED = ("Text to motion (paper Table I)", "Motion to text (paper Table IV)",
            "Pose-controlled generation (paper Tables III, VII)", "Prediction and in-betweening (paper Table X)",
            "Ablations: pretrained weights and stage 2 (reduced size)", "Prompt design (paper Table IX, reduced size)",
            "LoRA rank (paper Table XII, reduced size)", "Backbone: Gemma-3-270M (reduced size)",
            "Whole-body tokenizers: Part-Aware vs plain VQ-VAE (paper Table XI, tokenizer level)",
            "Whole-body generation: Part-Aware vs plain VQ-VAE (paper Table XI, generation level)")
TODO = "Not yet measured"


def write_todo() -> None:
    """The closing section: the experiments the page has no section for (always the last section)."""
    text = RESULTS.read_text()
    text = re.sub(rf"^## {TODO}\n.*?(?=^## |\Z)", "", text, flags=re.S | re.M).rstrip() + "\n"
    missing = [name for name in EXPECTED if f"\n## {name}\n" not in text]
    RESULTS.write_text(text + (f"\n## {TODO}\n\n" + "".join(f"- {m}\n" for m in missing) if missing else ""))


if __name__ == "__main__":
    main()
