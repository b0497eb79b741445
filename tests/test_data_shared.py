"""Checks against the official HumanML3D / KIT-ML files in ../shared/data (skipped when absent)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from motiongpt2.data.layout import compute_mean_std, feature_groups, write_clip, write_mean_std
from motiongpt2.data.readers import open_dataset, validate_dataset
from motiongpt2.data.text import TextEntry, swap_left_right
from motiongpt2.motion.skeleton import HUMANML3D, KIT

pytestmark = pytest.mark.shared


def _change_points(v: np.ndarray) -> list[int]:
    return [0] + [i for i in range(1, len(v)) if v[i] != v[i - 1]]


def test_group_boundaries_match_official_humanml3d_std(shared_data):
    std = np.load(shared_data / "annotations" / "humanml3d" / "Std.npy")
    assert std.shape == (263,) and std.dtype == np.float32
    official = _change_points(std)
    ours = [sl.start for _, sl in feature_groups(HUMANML3D)]
    assert official == ours == [0, 1, 3, 4, 67, 193, 259]
    # our compute_mean_std on any data changes value at exactly the official positions
    rng = np.random.default_rng(0)
    clips = (rng.normal(size=(60, 263)) * rng.uniform(0.1, 2.0, 263) for _ in range(4))
    mean, our_std = compute_mean_std(clips, HUMANML3D)
    assert _change_points(our_std) == official
    assert mean.shape == (263,) and mean.dtype == np.float32


def test_group_boundaries_match_kit_std(shared_data):
    std = np.load(shared_data / "annotations" / "kitml" / "kit_std.npy")
    assert std.shape == (251,)
    assert _change_points(std) == [sl.start for _, sl in feature_groups(KIT)]


def test_official_mean_std_pass_validation(tmp_path, shared_data):
    ann = shared_data / "annotations" / "humanml3d"
    mean, std = np.load(ann / "Mean.npy"), np.load(ann / "Std.npy")
    write_mean_std(tmp_path, mean, std)
    for split in ("train", "val", "test", "all"):
        (tmp_path / f"{split}.txt").write_bytes((ann / f"{split}.txt").read_bytes())
    # one real id with a (random) clip; every other id of the official splits has no motion file here
    first = (ann / "train.txt").read_text().split()[0]
    rng = np.random.default_rng(0)
    write_clip(tmp_path, first, rng.normal(size=(80, 263)).astype(np.float32), None,
               [TextEntry("a man kicks.", [("a", "DET"), ("man", "NOUN"), ("kick", "VERB")])])
    ds = open_dataset(tmp_path, split="train")
    assert ds.ids == [first] and ds.mean is not None
    n_train = len((ann / "train.txt").read_text().split())
    assert len(ds.skipped) == n_train - 1
    assert all("has no motion file" in str(p) and p.line is not None for p in ds.skipped)
    rep = validate_dataset(tmp_path)
    assert not any(p.sample_id is None for p in rep.problems)  # official Mean/Std and splits are clean
    assert not any("is also in" in p.problem or "repeats" in p.problem for p in rep.problems)


def test_swap_left_right_matches_official_mirrored_captions(shared_data):
    caps = json.loads((shared_data / "annotations" / "humanml3d" / "captions.json").read_text())
    total = hits = 0
    for mid, entries in caps.items():
        if not mid.startswith("M") or mid[1:] not in caps or len(caps[mid[1:]]) != len(entries):
            continue
        mirrored = {e["caption"] for e in entries}
        for e in caps[mid[1:]]:
            total += 1
            hits += swap_left_right(e["caption"]) in mirrored
    assert total > 5000
    # the rest are the official substring replacement ("upright" -> "upleft") and re-annotated pairs
    assert hits / total > 0.995, (hits, total)
