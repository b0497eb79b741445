"""Benchmark protocol runner: rows, split honesty, reproducibility, every task's plumbing."""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from motiongpt2.data.layout import compute_mean_std, write_clip, write_dataset_json, write_mean_std, write_splits
from motiongpt2.data.text import TextEntry, fallback_tag
from motiongpt2.errors import DatasetError, MotionGPT2Error
from motiongpt2.eval.evaluator import EvaluatorConfig, EvaluatorNet, load_evaluator, save_evaluator
from motiongpt2.eval.pairs import load_pairs
from motiongpt2.eval.protocol import TASKS, EvalSettings, evaluate, format_markdown, write_results
from motiongpt2.eval.train_evaluator import evaluator_stats
from motiongpt2.eval.word_vectors import WordVectors
from motiongpt2.motion.features import extract_features
from motiongpt2.motion.skeleton import HUMANML3D, WHOLEBODY, Skeleton
from motiongpt2.motion.synthetic import synthetic_walk

SMALL = EvalSettings(mm_samples=6, mm_repeats=12, mm_times=10, bertscore=False)
WORDS = ["sos", "eos", "unk", "a", "person", "walk", "slowly", "quickly", "and", "turn", "left", "right", "someone"]


def _dataset(root: Path, n: dict[str, int], seed: int = 0, speed: float = 1.0, groups=None,
             skel: Skeleton = HUMANML3D) -> Path:
    """Synthetic walks; ``groups(split, k)`` -> caption group of clip ``k`` writes a ``dataset.json``."""
    rng = np.random.default_rng(seed)
    splits, feats_all, k, clips = {}, [], 0, {}
    for split, count in n.items():
        ids = []
        for _ in range(count):
            s, d = ["slowly", "quickly"][k % 2], ["left", "right"][(k // 2) % 2]
            pos = synthetic_walk(skel, T=int(rng.integers(50, 90)), seed=k + 1000 * seed,
                                 speed=speed * (0.5 if s == "slowly" else 1.8), turn_rate=1.5 if d == "left" else -1.5)
            feats, joints = extract_features(pos, skel)
            caps = [f"a person walks {s} and turns {d}", f"someone walks {s} and turns {d}"]
            write_clip(root, f"{split}{k:03d}", feats, joints, [TextEntry(c, fallback_tag(c)) for c in caps])
            feats_all.append(feats)
            ids.append(f"{split}{k:03d}")
            if groups is not None:
                clips[f"{split}{k:03d}"] = {"caption_group": groups(split, k)}
            k += 1
        splits[split] = ids
    write_splits(root, splits)
    write_mean_std(root, *compute_mean_std(feats_all))
    if groups is not None:
        write_dataset_json(root, {"name": root.name, "clips": clips})
    return root


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return _dataset(tmp_path_factory.mktemp("proto_ds"), {"train": 48, "val": 34, "test": 40})


def _untrained_evaluator(data: Path, out: Path) -> Path:
    """An untrained tiny evaluator for ``data``'s features in our checkpoint format (the protocol does
    not need a good one)."""
    torch.manual_seed(0)
    train = load_pairs(data, "train")
    cfg = EvaluatorConfig(dim_pose=train.dim, dim_word=6, max_text_len=8, dim_text_hidden=8, dim_motion_hidden=8,
                          dim_movement_enc_hidden=8, dim_movement_latent=8, dim_coemb_hidden=8)
    net = EvaluatorNet(cfg)
    mean, std = evaluator_stats(train)
    vecs = WordVectors(WORDS, np.random.default_rng(0).normal(size=(len(WORDS), 6)), source="test vectors")
    save_evaluator(out, net, mean, std, vecs, {"name": "untrained"}, {"step": 1})
    return out


@pytest.fixture(scope="module")
def evaluator_dir(data, tmp_path_factory) -> Path:
    return _untrained_evaluator(data, tmp_path_factory.mktemp("ev") / "step-00000001")


class NoiseGenerator:
    """A stand-in model: random motions / fixed captions / identity reconstructions."""

    name = "Noise model"

    def __init__(self, dim=263):
        self.dim = dim

    def generate(self, task, texts, conditions, rng):
        if task == "m2t":
            return ["a person walks" for _ in conditions]
        if task == "tokenizer":
            return [c["motion"] for c in conditions]
        out = []
        for c in conditions:
            m = rng.normal(scale=0.1, size=(int(c["length"]), self.dim)).astype(np.float32)
            if "prefix" in c:
                m[: len(c["prefix"])] = c["prefix"]
            if "suffix" in c:
                m[len(m) - len(c["suffix"]):] = c["suffix"]
            out.append(m)
        return out


def test_real_row_first_and_provenance(data, evaluator_dir, tmp_path):
    res = evaluate("t2m", data, evaluator_dir, generator=NoiseGenerator(), replications=3, seed=1,
                   settings=SMALL, out_dir=tmp_path)
    names = [r["method"] for r in res["rows"]]
    assert names[0] == "Real" and names[1:] == ["Retrieval (train NN)", "Noise model"]
    real = res["rows"][0]["metrics"]
    assert set(real) >= {"R@1", "R@2", "R@3", "FID", "MM-Dist", "Diversity"} and "MultiModality" not in real
    assert 0.0 <= real["FID"][0] < res["rows"][2]["metrics"]["FID"][0]  # two real passes vs noise
    assert "Hand-FID" not in real and ["Hand-FID", "Hand FID ↓"] not in res["columns"]  # no fingers in 263-d
    assert res["rows"][1]["metrics"]["MultiModality"][0] == 0.0  # deterministic retrieval
    assert res["split"] == "test" and not res["validation"] and res["split_files"][0].endswith("test.txt")
    assert res["evaluator"]["name"] == "untrained" and res["seed"] == 1 and res["replications"] == 3
    assert "commit" in res and res["n_pairs"] == 40
    md = format_markdown(res)
    table = [ln for ln in md.splitlines() if ln.startswith("| ")]
    assert table[0].startswith("| Methods | R@1") and table[1].startswith("| Real |")
    assert (tmp_path / "t2m_test.md").read_text() == md
    assert json.loads((tmp_path / "t2m_test.json").read_text())["rows"][0]["method"] == "Real"


def test_whole_body_t2m_and_tokenizer_add_hand_fid(tmp_path_factory):
    root = _dataset(tmp_path_factory.mktemp("wb_ds"), {"train": 36, "val": 4, "test": 34}, skel=WHOLEBODY)
    ev = _untrained_evaluator(root, tmp_path_factory.mktemp("wb_ev") / "step-00000001")
    res = evaluate("t2m", root, ev, generator=NoiseGenerator(623), replications=2, seed=0,
                   settings=dataclasses.replace(SMALL, mm_samples=0), baselines=())
    assert res["columns"][-1] == ["Hand-FID", "Hand FID ↓"]
    real, noise = (r["metrics"]["Hand-FID"][0] for r in res["rows"])
    assert 0.0 <= real < noise  # two real passes over the same fingers vs noise fingers
    assert "Hand FID" in format_markdown(res)
    rec = evaluate("tokenizer", root, ev, generator=NoiseGenerator(623), replications=1, seed=0, settings=SMALL)
    assert rec["columns"][-1] == ["Hand-FID", "Hand FID ↓"]
    real, identity = (r["metrics"]["Hand-FID"][0] for r in rec["rows"])
    assert identity == pytest.approx(real)  # perfect reconstructions have the real fingers


def test_identical_seeds_identical_results(data, evaluator_dir):
    ev = load_evaluator(evaluator_dir)
    a = evaluate("t2m", data, ev, generator=NoiseGenerator(), replications=2, seed=3, settings=SMALL)
    b = evaluate("t2m", data, ev, generator=NoiseGenerator(), replications=2, seed=3, settings=SMALL)
    c = evaluate("t2m", data, ev, generator=NoiseGenerator(), replications=2, seed=4, settings=SMALL)
    assert a["rows"] == b["rows"]
    assert a["rows"] != c["rows"]


def test_refuses_validation_data_labelled_test(data, evaluator_dir, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(data, bad)
    (bad / "test.txt").unlink()
    os.symlink(bad / "val.txt", bad / "test.txt")
    with pytest.raises(DatasetError, match="val"):
        evaluate("t2m", bad, evaluator_dir, replications=1, settings=SMALL)
    (bad / "test.txt").unlink()
    (bad / "test.txt").write_text((bad / "val.txt").read_text())  # a copy of val is not a test split either
    with pytest.raises(DatasetError, match="shares"):
        evaluate("t2m", bad, evaluator_dir, replications=1, settings=SMALL)
    res = evaluate("t2m", data, evaluator_dir, split="val", replications=1, settings=SMALL)
    assert res["split"] == "val" and res["validation"]
    assert "VALIDATION" in format_markdown(res)
    md, js = write_results(res, tmp_path)
    assert md.name == "t2m_val.md" and js.name == "t2m_val.json"


@pytest.mark.parametrize("task", [t for t in TASKS if t != "t2m"])
def test_every_task_runs_with_real_and_retrieval_rows(task, data, evaluator_dir):
    res = evaluate(task, data, evaluator_dir, generator=NoiseGenerator(), replications=2, settings=SMALL)
    names = [r["method"] for r in res["rows"]]
    assert names[0] == "Real" and names[-1] == "Noise model"
    assert ("Retrieval (train NN)" in names) == (task != "tokenizer")
    cols = {c[0] for c in res["columns"]}
    assert cols - {"BERTScore"} <= set(res["rows"][-1]["metrics"])  # every column filled for the model
    for row in res["rows"]:
        assert all(np.isfinite(v[0]) for v in row["metrics"].values())
    real = res["rows"][0]["metrics"]
    if task.startswith("t2m-"):
        assert real["Recon"][0] == 0.0 and real["Vel"][0] == 0.0 and real["Recon-local"][0] == 0.0
    if task in ("predict", "inbetween"):
        assert real["ADE"][0] == 0.0 and res["rows"][-1]["metrics"]["ADE"][0] > 0.0
    if task == "tokenizer":  # identity reconstruction: MPJPE 0, same embeddings as the real pass
        assert res["rows"][-1]["metrics"]["MPJPE"][0] == pytest.approx(0.0, abs=1e-6)
    if task == "m2t":
        assert {"BLEU-1", "BLEU-4", "ROUGE-L", "CIDEr"} <= set(res["rows"][-1]["metrics"])


class PoseCopyGenerator:
    """Puts every given pose at its frame (the rest zeros) and records what it was asked."""

    name = "Pose copier"

    def __init__(self, dim=263):
        self.dim, self.calls = dim, []

    def generate(self, task, texts, conditions, rng):
        self.calls.append((task, [sorted(c) for c in conditions]))
        out = []
        for c in conditions:
            m = np.zeros((int(c["length"]), self.dim), np.float32)
            if "poses" in c:
                m[c["frames"]] = c["poses"]
            out.append(m)
        return out


@pytest.mark.parametrize("task", ["t2m-init", "t2m-last", "t2m-key"])
def test_text_only_variant_withholds_poses_and_scores_against_them(task, data, evaluator_dir, tmp_path):
    gen = PoseCopyGenerator()
    given = evaluate(task, data, evaluator_dir, generator=gen, replications=1, settings=SMALL, baselines=())
    assert gen.calls[-1][0] == task and all("poses" in keys for keys in gen.calls[-1][1])
    withheld = evaluate(task, data, evaluator_dir, generator=gen, replications=1, baselines=(), out_dir=tmp_path,
                        settings=dataclasses.replace(SMALL, withhold_poses=True))
    assert gen.calls[-1][0] == "t2m" and all(keys == ["length"] for keys in gen.calls[-1][1])
    recon = {name: res["rows"][-1]["metrics"]["Recon"][0] for name, res in (("given", given), ("withheld", withheld))}
    # the first frame's pose is the pose itself; later frames also carry the root path before them
    assert recon["withheld"] > recon["given"] + 0.01
    if task == "t2m-init":
        assert recon["given"] == pytest.approx(0.0, abs=1e-5)
    # in the body's own frame the copied pose is exact wherever it is placed
    local = {name: res["rows"][-1]["metrics"]["Recon-local"][0] for name, res in (("given", given), ("withheld", withheld))}
    assert local["given"] == pytest.approx(0.0, abs=1e-6) and local["withheld"] > 0.01
    assert withheld["variant"] == "text-only" and given["variant"] is None
    assert (tmp_path / f"{task}-textonly_test.json").exists()
    assert "text only" in (tmp_path / f"{task}-textonly_test.md").read_text().splitlines()[0]
    with pytest.raises(MotionGPT2Error, match="--text-only"):
        evaluate("t2m", data, evaluator_dir, replications=1, settings=dataclasses.replace(SMALL, withhold_poses=True))


def test_evaluator_bundle_round_trip(data, evaluator_dir, tmp_path):
    """A bundled evaluator stores float16 weights and vectors but its statistics exactly, and embeds like
    the original to float16 precision."""
    from safetensors import safe_open

    from motiongpt2.eval.evaluator import bundle_evaluator

    res = bundle_evaluator(evaluator_dir, tmp_path / "assets" / "ev")
    with safe_open(str(res["path"] / "model.safetensors"), "pt") as f:
        dtypes = {k: f.get_slice(k).get_dtype() for k in f.keys()}
    assert dtypes["evaluator.mean"] == dtypes["evaluator.std"] == "F32"
    assert dtypes["vocab.vectors"] == "F16" and all(v == "F16" for k, v in dtypes.items() if k.startswith("net."))
    a, b = load_evaluator(evaluator_dir), load_evaluator(res["path"])
    assert np.array_equal(a.mean, b.mean) and np.array_equal(a.std, b.std)
    pairs = load_pairs(data, "test")
    crops = [p.features[:20] for p in pairs.pairs[:8]]
    texts = [["a/DET", "person/NOUN", w + "/VERB"] for w in ("walk", "run", "jump")]
    np.testing.assert_allclose(a.embed_texts(texts), b.embed_texts(texts), atol=2e-2, rtol=2e-2)
    np.testing.assert_allclose(a.embed_motions(crops), b.embed_motions(crops), atol=2e-2, rtol=2e-2)
    # the bundle refuses to push the assets folder over the limit
    import motiongpt2.bundle as bundle

    limit = bundle.ASSET_LIMIT_BYTES
    try:
        bundle.ASSET_LIMIT_BYTES = res["bytes"] - 1
        with pytest.raises(ValueError, match="limit"):
            bundle_evaluator(evaluator_dir, tmp_path / "assets" / "ev2")
    finally:
        bundle.ASSET_LIMIT_BYTES = limit
    assert not (tmp_path / "assets" / "ev2").exists()


def test_bad_generator_output_is_reported(data, evaluator_dir):
    class Broken:
        def generate(self, task, texts, conditions, rng):
            return [np.zeros((10, 7), np.float32) for _ in conditions]

    with pytest.raises(MotionGPT2Error, match="output #0"):
        evaluate("t2m", data, evaluator_dir, generator=Broken(), replications=1, settings=SMALL, baselines=())
    with pytest.raises(MotionGPT2Error, match="unknown task"):
        evaluate("t2x", data, evaluator_dir)


# --------------------------------------------------------------------------- caption groups (natural / label)
@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> Path:
    """A second corpus whose clips are all captioned from labels (``dataset.json``), faster walks."""
    return _dataset(tmp_path_factory.mktemp("label_ds"), {"train": 8, "val": 4, "test": 36}, seed=1, speed=2.5,
                    groups=lambda split, k: "label")


@pytest.fixture(scope="module")
def tiny_natural(data, tmp_path_factory) -> Path:
    """``data`` with a dataset.json that marks only 5 test clips natural (the other 35 label)."""
    import shutil

    root = tmp_path_factory.mktemp("tiny") / "ds"
    shutil.copytree(data, root)
    test_ids = (root / "test.txt").read_text().split()
    clips = {cid: {"caption_group": "natural" if i < 5 else "label"} for i, cid in enumerate(test_ids)}
    write_dataset_json(root, {"name": "tiny", "clips": clips})
    return root


def _table_rows(md: str) -> list[str]:
    return [ln for ln in md.splitlines() if ln.startswith("| ")]


def test_caption_groups_two_roots_sizes_rows_and_tables(data, labelled, evaluator_dir, tmp_path):
    """A root without dataset.json (natural) + a labelled root: groups add up and differ from the total."""
    res = evaluate("t2m", [data, labelled], evaluator_dir, generator=NoiseGenerator(), replications=2, seed=1,
                   settings=SMALL, out_dir=tmp_path)
    groups = res["caption_groups"]
    assert list(groups) == ["natural", "label"]
    assert groups["natural"]["n_pairs"] == 40 and groups["label"]["n_pairs"] == 36
    assert sum(g["n_pairs"] for g in groups.values()) == res["n_pairs"] == 76
    assert sum(g["n_clips"] for g in groups.values()) == res["n_clips"]
    names = [r["method"] for r in res["rows"]]
    for g in groups.values():
        assert [r["method"] for r in g["rows"]] == names and g["not_available"] == []
        for row, total in zip(g["rows"], res["rows"]):
            assert list(row["metrics"]) == list(total["metrics"])
            assert all(v is not None and np.isfinite(v[0]) and v[1] is not None for v in row["metrics"].values())
            assert all(0.0 <= row["metrics"][k][0] <= 1.0 for k in ("R@1", "R@2", "R@3"))
    real = {g: groups[g]["rows"][0]["metrics"] for g in groups}
    total = res["rows"][0]["metrics"]
    for k in ("FID", "Diversity", "MM-Dist"):  # different motions in the two corpora
        assert real["natural"][k][0] != pytest.approx(total[k][0])
        assert real["label"][k][0] != pytest.approx(real["natural"][k][0])
    # Markdown: the total table is unchanged, the group table follows with n per row
    md = format_markdown(res)
    plain = format_markdown({k: v for k, v in res.items() if k not in ("caption_groups", "caption_group_notes")})
    assert md.startswith(plain.rstrip("\n")) and "#### By caption group" in md
    rows = _table_rows(md)
    assert rows[1].startswith("| Real |")
    group_rows = [r for r in rows if " — " in r]
    assert [r.split(" |")[0] for r in group_rows[:3]] == ["| Real — all (n=76)", "| Real — natural (n=40)",
                                                         "| Real — label (n=36)"]
    assert len(group_rows) == 3 * len(names) and "| Noise model — label (n=36) |" in md
    assert "- natural: 40 pairs from 40 clips" in md
    js = json.loads((tmp_path / "t2m_test.json").read_text())
    assert js["caption_groups"]["label"]["n_pairs"] == 36 and js["rows"] == json.loads(json.dumps(res["rows"]))


def test_caption_groups_do_not_change_totals(data, tiny_natural, evaluator_dir):
    """Group pools are drawn from their own stream: the totals equal those of a dataset without groups."""
    ev = load_evaluator(evaluator_dir)
    a = evaluate("t2m", data, ev, generator=NoiseGenerator(), replications=2, seed=5, settings=SMALL)
    b = evaluate("t2m", tiny_natural, ev, generator=NoiseGenerator(), replications=2, seed=5, settings=SMALL)
    assert a["rows"] == b["rows"]
    # all pairs in one group: that group reports the total's numbers, the other is empty
    assert a["caption_groups"]["natural"]["rows"] == a["rows"] and a["caption_groups"]["natural"]["n_pairs"] == 40
    assert a["caption_groups"]["label"] == {"n_pairs": 0, "n_clips": 0, "rows": [], "not_available": []}
    assert "- label: 0 pairs from 0 clips" in format_markdown(a)


def test_tiny_caption_group_is_marked_not_available(tiny_natural, evaluator_dir):
    res = evaluate("t2m-init", tiny_natural, evaluator_dir, generator=NoiseGenerator(), replications=2,
                   settings=SMALL)
    nat, lab = res["caption_groups"]["natural"], res["caption_groups"]["label"]
    assert (nat["n_pairs"], lab["n_pairs"]) == (5, 35)
    assert set(nat["not_available"]) == {"R@1", "R@2", "R@3", "FID", "Diversity", "MultiModality"}
    assert lab["not_available"] == []
    for row in nat["rows"]:
        m = row["metrics"]
        assert m["R@1"] is None and m["FID"] is None and m["Diversity"] is None
        for k in ("MM-Dist", "Recon", "Vel"):  # per-pair means exist for any non-empty group
            assert m[k] is not None and np.isfinite(m[k][0])
    # per-pair means: the pair-weighted mean of the groups is the total (MM-Dist of a small group is over all
    # its pairs, the total's only over full pools, so check Recon / Vel)
    for i, row in enumerate(res["rows"]):
        for k in ("Recon", "Vel"):
            combined = (5 * nat["rows"][i]["metrics"][k][0] + 35 * lab["rows"][i]["metrics"][k][0]) / 40
            assert combined == pytest.approx(row["metrics"][k][0], rel=1e-9, abs=1e-12)
    md = format_markdown(res)
    assert "| Real — natural (n=5) | n/a | n/a | n/a | n/a |" in md
    assert "natural group (5 pairs): R@1–3, FID, Diversity, MultiModality n/a" in md


@pytest.mark.parametrize("task", [t for t in TASKS if t not in ("t2m", "t2m-init")])
def test_every_task_reports_caption_groups(task, data, labelled, evaluator_dir):
    res = evaluate(task, [data, labelled], evaluator_dir, generator=NoiseGenerator(), replications=2,
                   settings=SMALL)
    groups = res["caption_groups"]
    assert sum(g["n_pairs"] for g in groups.values()) == res["n_pairs"]
    names = [r["method"] for r in res["rows"]]
    for g, info in groups.items():
        assert [r["method"] for r in info["rows"]] == names
        for row, total in zip(info["rows"], res["rows"]):
            assert list(row["metrics"]) == list(total["metrics"])
            assert all(v is not None and np.isfinite(v[0]) for v in row["metrics"].values())
    if task in ("predict", "inbetween", "tokenizer"):  # per-pair means: groups weighted by size give the total
        key = "MPJPE" if task == "tokenizer" else "ADE"
        n = {g: info["n_pairs"] for g, info in groups.items()}
        combined = sum(n[g] * groups[g]["rows"][-1]["metrics"][key][0] for g in groups) / res["n_pairs"]
        assert combined == pytest.approx(res["rows"][-1]["metrics"][key][0], rel=1e-9)
        if task != "tokenizer":
            assert groups["natural"]["rows"][-1]["metrics"][key][0] != pytest.approx(res["rows"][-1]["metrics"][key][0])
    if task == "m2t":
        assert {"BLEU-1", "BLEU-4", "ROUGE-L", "CIDEr"} <= set(groups["label"]["rows"][-1]["metrics"])
    md = format_markdown(res)
    assert sum(1 for r in _table_rows(md) if " — " in r) == 3 * len(names)


def test_fast_fid_matches_reference_fid():
    from motiongpt2.eval.groups import fast_fid
    from motiongpt2.eval.metrics import fid

    rng = np.random.default_rng(0)
    for n, d in ((200, 16), (40, 16), (12, 16)):  # full rank, n - 1 > d, and rank-deficient
        a = rng.normal(size=(n, d))
        b = 0.8 * rng.normal(size=(n + 3, d)) + 0.3
        assert fast_fid(a, b) == pytest.approx(fid(a, b), rel=1e-6)
    x = rng.normal(size=(50, 8))
    assert fast_fid(x, x) == pytest.approx(0.0, abs=1e-9)
