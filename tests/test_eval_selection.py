"""Evaluator model selection: natural-language pairs completed from held-out training trials.

Fixture: a small dataset whose ``dataset.json`` marks caption groups and trials as the recipes do —
natural CMU-like trials with mirrored ``M`` copies (some with a ``trial`` key, some only recognisable
from their ``XX_YY_NN`` chunk ids), label-captioned clips (some inside natural trials), and a
validation split with a single natural clip, as prepared ``cmu-humanml3d`` data has.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from motiongpt2.data.layout import compute_mean_std, write_clip, write_dataset_json, write_mean_std, write_splits
from motiongpt2.eval.pairs import load_pairs
from motiongpt2.eval.selection import clip_id, group_pairs, selection_split, trial_of

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "configs" / "eval" / "evaluator_tiny_test.yaml"
N_NATURAL_TRIALS = 40


def make_dataset(root: Path) -> Path:
    """40 natural train trials (clip + mirror each; every 4th trial also has a label clip), 40 label train
    trials, and a val split of 1 natural + 35 label clips."""
    rng = np.random.default_rng(0)
    clips: dict[str, dict] = {}
    splits: dict[str, list[str]] = {"train": [], "val": []}
    feats_all = []

    def add(split: str, cid: str, group: str, trial: str | None, caption: str) -> None:
        feats = rng.normal(size=(int(rng.integers(48, 80)), 263)).astype(np.float32)
        write_clip(root, cid, feats, None, [caption])
        meta = {"caption_group": group, "mirrored": cid.startswith("M")}
        if trial is not None:
            meta["trial"] = trial
        clips[cid] = meta
        splits[split].append(cid)
        feats_all.append(feats)

    for t in range(N_NATURAL_TRIALS):
        trial = f"{t + 1:02d}_01"
        # even trials carry a "trial" key; odd ones are only recognisable from their chunk ids
        key = trial if t % 2 == 0 else None
        for cid in (f"{trial}_00", f"M{trial}_00"):
            add("train", cid, "natural", key, "a person walks forward and waves")
        if t % 4 == 0:
            add("train", f"{trial}_01", "label", key, "a person performs a wave")
    for t in range(40):
        add("train", f"L{t:03d}", "label", f"label_{t}", "a person performs a jump")
    add("val", "99_01_00", "natural", "99_01", "someone jumps over an obstacle")
    for t in range(35):
        add("val", f"V{t:03d}", "label", f"val_{t}", "a person performs a bow")
    write_splits(root, splits)
    write_mean_std(root, *compute_mean_std(feats_all))
    write_dataset_json(root, {"name": "selection-fixture", "clips": clips})
    return root


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("sel"))


def test_trial_of_uses_dataset_json_then_the_id():
    assert trial_of("000123", {"trial": "60_01"}) == "60_01"
    assert trial_of("Mbn1-bow-001", {"take": "dataset-1_bow_001"}) == "dataset-1_bow_001"
    assert trial_of("M07_01_03") == trial_of("07_01_03") == "07_01"
    assert trial_of("M000123") == "000123"


def test_selection_completes_natural_val_with_whole_held_out_trials(data):
    train, val = load_pairs(data, "train"), load_pairs(data, "val")
    groups = group_pairs(val)
    assert (len(groups["natural"]), len(groups["label"])) == (1, 35)
    sel = selection_split(train, val, min_pairs=32, fraction=0.25, seed=0)
    rec = sel.record()
    assert sel.metric == rec["metric"] == "select_R@3"
    assert rec["n_val_natural_pairs"] == 1 and rec["n_val_label_pairs"] == 35
    assert rec["n_natural_train_trials"] == N_NATURAL_TRIALS
    # 25 % of the trials (10) give 1 + 20 pairs: more trials, in the same seeded order, until 32
    trials = rec["held_out_trials"]["selection-fixture"]
    assert len(trials) == 16 and len(sel.pairs) == 33
    held_ids = set(rec["held_out_ids"]["selection-fixture"])
    train_ids = {clip_id(p) for p in sel.train.pairs}
    # no leakage: every clip of a held-out trial — mirrored copies and label clips included — left training
    for t in trials:
        family = {f"{t}_00", f"M{t}_00"} | ({f"{t}_01"} if (int(t[:2]) - 1) % 4 == 0 else set())
        assert family <= held_ids and not family & train_ids
    assert len(train_ids) + len(held_ids) == len({clip_id(p) for p in train.pairs})
    assert {trial_of(c) for c in train_ids}.isdisjoint(trials)
    # the selection set: the natural val pair and only the natural pairs of the held-out trials
    sel_ids = {clip_id(p) for p in sel.pairs.pairs}
    assert "99_01_00" in sel_ids and sel_ids - {"99_01_00"} == {i for i in held_ids if not i.endswith("_01")}
    # fixed seed: the same trials every time; another seed picks others
    assert selection_split(train, val, seed=0).held_out == sel.held_out
    assert selection_split(train, val, seed=1).held_out != sel.held_out
    json.dumps(rec)  # recorded as JSON in metrics.jsonl and meta.json


def test_selection_without_holding_out_or_without_natural_clips(data):
    train, val = load_pairs(data, "train"), load_pairs(data, "val")
    enough = selection_split(train, val, min_pairs=1)  # the one natural val pair is a whole selection set
    assert enough.held_out == {} and len(enough.pairs) == 1 and enough.train is train
    labels_only = group_pairs(train)["label"]
    none = selection_split(labels_only, val, min_pairs=32)
    assert none.metric == "R@3" and none.held_out == {} and none.pairs is val
    assert "no natural clips" in none.note


def test_evaluator_run_records_selection_and_trains_without_held_out_clips(data, tmp_path):
    from motiongpt2.eval.evaluator import load_evaluator
    from motiongpt2.eval.train_evaluator import train_evaluator

    res = train_evaluator(data, tmp_path / "ev", TINY, max_steps=2, progress=False,
                          overrides={"train.eval_every": 2, "train.val_replications": 1})
    assert res["selection_metric"] == "select_R@3" and res["step"] == 2
    n_held = res["selection"]["n_held_out_clips"]
    assert n_held > 0
    ev = load_evaluator(tmp_path / "ev")
    assert ev.meta["selection"] == res["selection"] and ev.meta["model"] == "evaluator"
    assert ev.meta["data"]["train_pairs"] == len(load_pairs(data, "train")) - n_held
    recs = [json.loads(line) for line in (tmp_path / "ev" / "metrics.jsonl").read_text().splitlines()]
    assert recs[0]["type"] == "info" and recs[0]["selection"]["metric"] == "select_R@3"
    val = [r for r in recs if r["type"] == "val"][-1]
    assert {"R@3", "label_R@3", "select_R@3", "select_R@1"} <= set(val) and "natural_R@3" not in val
    assert ev.meta["metrics"]["best_select_R@3"] == val["select_R@3"]
