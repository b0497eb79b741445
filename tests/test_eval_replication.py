"""Replication statistics (mean ± 1.96·σ/√n, σ with ddof=0), Markdown tables, protocol bundles."""
from __future__ import annotations

import numpy as np
import pytest

from motiongpt2.eval import metrics as M
from motiongpt2.eval.replication import format_cell, format_table, replicate, summarize


def test_summarize_matches_reference_formula():
    vals = np.array([0.49, 0.50, 0.51, 0.48, 0.52])
    mean, ci = summarize(vals)
    assert mean == pytest.approx(0.5)
    # population std (np.std default, as the reference get_metric_statistics): sqrt(0.0002)
    assert ci == pytest.approx(1.96 * np.sqrt(0.0002) / np.sqrt(5))
    assert ci != pytest.approx(1.96 * np.std(vals, ddof=1) / np.sqrt(5))
    m, c = summarize([[1.0, 2.0], [3.0, 2.0]])
    np.testing.assert_allclose(m, [2.0, 2.0])
    np.testing.assert_allclose(c, [1.96 / np.sqrt(2), 0.0])
    with pytest.raises(ValueError):
        summarize([])


def test_replicate_seeds_and_ci():
    def fn(rng):
        return {"a": rng.normal(), "b": 2.0}

    out = replicate(fn, n=20, seed=0)
    assert list(out) == ["a", "b"]
    assert out == replicate(fn, n=20, seed=0)
    assert out["a"] != replicate(fn, n=20, seed=1)["a"]
    assert out["b"] == (2.0, 0.0)
    draws = [np.random.default_rng(s).normal() for s in np.random.SeedSequence(0).spawn(20)]
    assert out["a"][0] == pytest.approx(np.mean(draws))
    assert out["a"][1] == pytest.approx(1.96 * np.std(draws) / np.sqrt(20))
    # replication i does not depend on n
    first5 = [np.random.default_rng(s).normal() for s in np.random.SeedSequence(0).spawn(5)]
    assert first5 == draws[:5]
    with pytest.raises(ValueError):
        replicate(lambda rng: {"a": 1.0} if rng.random() < 2 else {}, n=0)


def test_replicate_full_protocol_is_reproducible():
    rng = np.random.default_rng(0)
    text = rng.standard_normal((256, 16))
    gen = text + 0.7 * rng.standard_normal((256, 16))
    real = text + 0.5 * rng.standard_normal((256, 16))
    mm = gen[:100, None, :] + 0.3 * rng.standard_normal((100, 30, 16))

    def run(r):
        return M.text_to_motion_metrics(text, gen, real, r, mm_motion_emb=mm, diversity_times=200)

    a = replicate(run, n=20, seed=7)
    b = replicate(run, n=20, seed=7)
    assert a == b
    assert set(a) == {"R@1", "R@2", "R@3", "MM-Dist", "FID", "Diversity", "MultiModality"}
    assert a["FID"][1] == 0.0  # FID has no randomness
    assert a["R@1"][1] > 0 and a["Diversity"][1] > 0


def test_caption_retrieval_uses_one_shuffle_for_both_caption_sets():
    rng = np.random.default_rng(1)
    motion = rng.standard_normal((96, 8))
    gt = motion + 0.1 * rng.standard_normal((96, 8))
    pred = motion + 2.0 * rng.standard_normal((96, 8))
    out = M.caption_retrieval_metrics(pred, motion, rng=4, gt_text_emb=gt)
    perm = np.random.default_rng(4).permutation(96)
    assert out["R@1"] == M.r_precision(pred[perm], motion[perm], rng=0, shuffle=False)["R@1"]
    assert out["Real R@3"] == M.r_precision(gt[perm], motion[perm], rng=0, shuffle=False)["R@3"]
    assert out["Real R@1"] > out["R@1"]
    assert out["Real MM-Dist"] < out["MM-Dist"]


def test_format_table_layout():
    rows = {
        "Real": {"R@1": (0.511, 0.003), "FID": (0.002, 0.0), "MM-Dist": 2.974},
        "MotionGPT-2": {"R@1": (0.496, 0.0025), "FID": (0.191, 0.004)},
    }
    table = format_table(rows, [("R@1", "R@1 ↑"), ("FID", "FID ↓"), "MM-Dist"])
    assert table.splitlines() == [
        "| Methods | R@1 ↑ | FID ↓ | MM-Dist |",
        "|---|:---:|:---:|:---:|",
        "| Real | 0.511±0.003 | 0.002±0.000 | 2.974 |",
        "| MotionGPT-2 | 0.496±0.003 | 0.191±0.004 | - |",
    ]
    assert format_cell((1.23456, 0.01), digits=2) == "1.23±0.01"
    assert format_cell(None) == "-"
    # list-of-pairs input keeps order
    assert format_table([("b", {"x": 1.0}), ("a", {"x": 2.0})], ["x"]).splitlines()[2].startswith("| b |")
