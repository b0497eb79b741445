"""Dataset-directory writer and the official mean/std recipe."""
from __future__ import annotations

import json

import numpy as np
import pytest

from motiongpt2.data.layout import (GROUP_NAMES, compute_mean_std, feature_groups, read_dataset_json,
                                    write_clip, write_dataset_json, write_mean_std, write_splits,
                                    write_texts)
from motiongpt2.data.text import TextEntry, parse_text_line
from motiongpt2.motion.skeleton import HUMANML3D, KIT, WHOLEBODY


def _official_mean_std(data: np.ndarray, joints_num: int) -> tuple[np.ndarray, np.ndarray]:
    """The HumanML3D cal_mean_variance recipe written out directly (whole array in memory)."""
    mean = data.mean(axis=0)
    std = data.std(axis=0)
    j = joints_num
    cuts = [0, 1, 3, 4, 4 + (j - 1) * 3, 4 + (j - 1) * 9, 4 + (j - 1) * 9 + j * 3, data.shape[1]]
    for a, b in zip(cuts[:-1], cuts[1:]):
        std[a:b] = std[a:b].mean()
    return mean, std


@pytest.mark.parametrize("skel, cuts", [
    (HUMANML3D, [0, 1, 3, 4, 67, 193, 259, 263]),
    (KIT, [0, 1, 3, 4, 64, 184, 247, 251]),
    (WHOLEBODY, [0, 1, 3, 4, 157, 463, 619, 623]),
])
def test_feature_groups(skel, cuts):
    groups = feature_groups(skel)
    assert [n for n, _ in groups] == list(GROUP_NAMES)
    assert [sl.start for _, sl in groups] + [groups[-1][1].stop] == cuts
    assert feature_groups(skel.feature_dim) == groups


@pytest.mark.parametrize("skel", [HUMANML3D, KIT])
def test_compute_mean_std_matches_official_recipe(skel):
    rng = np.random.default_rng(0)
    d = skel.feature_dim
    scales = rng.uniform(0.1, 3.0, size=d)  # a different spread in every dimension
    clips = [(rng.normal(size=(int(n), d)) * scales + rng.normal(size=d)).astype(np.float32)
             for n in rng.integers(40, 120, size=7)]
    mean, std = compute_mean_std((c for c in clips), skel)  # a generator: streaming
    ref_mean, ref_std = _official_mean_std(np.concatenate(clips).astype(np.float64), skel.n_joints)
    assert mean.shape == std.shape == (d,) and mean.dtype == std.dtype == np.float32
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(std, ref_std, rtol=1e-5)
    # group structure: constant inside each group, changes exactly at the group boundaries
    changes = [0] + [i for i in range(1, d) if std[i] != std[i - 1]]
    assert changes == [sl.start for _, sl in feature_groups(skel)]
    raw = np.concatenate(clips).astype(np.float64).std(axis=0)
    for _, sl in feature_groups(skel):
        assert np.allclose(std[sl], raw[sl].mean(), rtol=1e-5)


def test_compute_mean_std_scale_and_errors():
    rng = np.random.default_rng(1)
    clips = [rng.normal(size=(50, 263)).astype(np.float32) for _ in range(3)]
    _, base = compute_mean_std(clips)
    _, scaled = compute_mean_std(clips, HUMANML3D, scale={"foot_contact": 5.0})
    assert np.allclose(scaled[259:], base[259:] / 5.0) and np.array_equal(scaled[:259], base[:259])
    bad = clips + [np.full((10, 263), np.nan, np.float32)]
    with pytest.raises(ValueError, match="#3 contains NaN"):
        compute_mean_std(bad)
    with pytest.raises(ValueError, match="shape"):
        compute_mean_std([clips[0], np.zeros((5, 251), np.float32)])
    with pytest.raises(ValueError, match="unknown group"):
        compute_mean_std(clips, scale={"feet": 2.0})
    const = [c.copy() for c in clips]
    for c in const:
        c[:, 259:] = 0.0
    with pytest.warns(RuntimeWarning, match="foot_contact"):
        _, s = compute_mean_std(const)
    assert np.all(s[259:] == 1.0)


def test_write_clip_and_splits(tmp_path):
    rng = np.random.default_rng(2)
    feats = rng.normal(size=(60, 263)).astype(np.float64)
    joints = rng.normal(size=(60, 22, 3))
    entries = [TextEntry("a man waves.", [("a", "DET"), ("man", "NOUN"), ("wave", "VERB")], 0.0, 0.0),
               TextEntry("then he sits.", [("then", "ADV"), ("he", "PRON"), ("sit", "VERB")], 1.0, 2.5)]
    write_clip(tmp_path, "000001", feats, joints, entries)
    f = np.load(tmp_path / "new_joint_vecs" / "000001.npy")
    assert f.dtype == np.float32 and f.shape == (60, 263) and np.allclose(f, feats, atol=1e-6)
    assert np.load(tmp_path / "new_joints" / "000001.npy").shape == (60, 22, 3)
    lines = (tmp_path / "texts" / "000001.txt").read_text().splitlines()
    assert [parse_text_line(x) for x in lines] == entries
    assert not [p for p in tmp_path.rglob("*.tmp")], "temporary files left behind"
    write_texts(tmp_path, "000001", [entries[1]])
    assert (tmp_path / "texts" / "000001.txt").read_text() == entries[1].to_line() + "\n"

    with pytest.raises(ValueError, match="joints must be"):
        write_clip(tmp_path, "000002", feats, joints[:-1], entries)
    with pytest.raises(ValueError, match="NaN"):
        bad = feats.copy()
        bad[3, 3] = np.inf
        write_clip(tmp_path, "000002", bad)
    with pytest.raises(ValueError, match="feature dimension"):
        write_clip(tmp_path, "000002", feats[:, :100])
    with pytest.raises(ValueError, match="clip id"):
        write_clip(tmp_path, "../x", feats)
    assert not (tmp_path / "new_joint_vecs" / "000002.npy").exists()

    out = write_splits(tmp_path, {"train": ["b", "a"], "val": ["c"], "test": ["d"]})
    assert out["all"] == ["a", "b", "c", "d"]
    assert (tmp_path / "train.txt").read_text() == "b\na\n"
    assert (tmp_path / "all.txt").read_text().split() == ["a", "b", "c", "d"]
    with pytest.raises(ValueError, match="both split"):
        write_splits(tmp_path, {"train": ["a"], "test": ["a"]})
    with pytest.raises(ValueError, match="repeats"):
        write_splits(tmp_path, {"train": ["a", "a"]})


def test_mean_std_and_dataset_json(tmp_path):
    write_mean_std(tmp_path, np.zeros(263), np.ones(263))
    assert np.load(tmp_path / "Mean.npy").dtype == np.float32
    with pytest.raises(ValueError):
        write_mean_std(tmp_path, np.zeros(263), np.zeros(263))
    meta = {"kind": "humanml3d", "sources": ["cmu"], "counts": {"train": 3}, "licence": "CC BY-NC 4.0",
            "command": "motiongpt2 prepare ..."}
    write_dataset_json(tmp_path, meta)
    assert read_dataset_json(tmp_path) == meta
    assert json.loads((tmp_path / "dataset.json").read_text())["counts"] == {"train": 3}
    assert read_dataset_json(tmp_path / "nowhere") == {}
