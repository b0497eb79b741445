"""Reading and validating dataset directories (HumanML3D / KIT-ML / Motion-X layouts)."""
from __future__ import annotations

import numpy as np
import pytest

from motiongpt2.data.layout import compute_mean_std, write_clip, write_dataset_json, write_mean_std, write_splits
from motiongpt2.data.readers import Sample, open_dataset, validate_dataset
from motiongpt2.data.text import TextEntry
from motiongpt2.errors import DatasetError

E1 = TextEntry("a man waves.", [("a", "DET"), ("man", "NOUN"), ("wave", "VERB")])
E2 = TextEntry("then he sits.", [("then", "ADV"), ("he", "PRON"), ("sit", "VERB")], 1.0, 2.5)


def _feats(rng, n, d=263):
    return rng.normal(size=(n, d)).astype(np.float32)


def make_dataset(root, n_clips=6, dim=263, joints=True, seed=0):
    """A tiny valid dataset: ids 000000.. with random features; splits 4/1/1; Mean/Std; dataset.json."""
    rng = np.random.default_rng(seed)
    n_joints = {263: 22, 251: 21, 623: 52}[dim]
    ids, arrays = [], []
    for i in range(n_clips):
        sid = f"{i:06d}"
        f = _feats(rng, 40 + 13 * i, dim)
        j = rng.normal(size=(len(f), n_joints, 3)).astype(np.float32) if joints else None
        write_clip(root, sid, f, j, [E1, E2] if i % 2 == 0 else [E1])
        ids.append(sid)
        arrays.append(f)
    write_splits(root, {"train": ids[:-2], "val": ids[-2:-1], "test": ids[-1:]})
    write_mean_std(root, *compute_mean_std(arrays))
    write_dataset_json(root, {"kind": {263: "humanml3d", 251: "kit", 623: "motionx"}[dim], "sources": ["test"]})
    return ids, arrays


def test_round_trip(tmp_path):
    ids, arrays = make_dataset(tmp_path)
    ds = open_dataset(tmp_path)  # kind auto, split train, lazy
    assert ds.kind == "humanml3d" and ds.fps == 20.0 and ds.dim == 263 and ds.lazy
    assert len(ds) == 4 and ds.ids == ids[:4] and ds.skipped == [] and ds.problems == []
    assert ds.lengths == [len(a) for a in arrays[:4]]
    for i, s in enumerate(ds):
        assert isinstance(s, Sample) and s.id == ids[i]
        assert s.features.dtype == np.float32 and np.array_equal(s.features, arrays[i])
        assert s.texts == ([E1, E2] if i % 2 == 0 else [E1])
        assert s.joints is None
    assert ds[-1].id == ids[3] and [s.id for s in ds[1:3]] == ids[1:3]
    assert ds.get(ids[2]).id == ids[2]
    assert ds.mean.shape == ds.std.shape == (263,)
    np.testing.assert_allclose(ds.denormalize(ds.normalize(arrays[0])), arrays[0], atol=1e-4)

    eager = open_dataset(tmp_path, split="all", lazy=False, load_joints=True)
    assert len(eager) == 6 and not eager.lazy
    s = eager[5]
    assert np.array_equal(s.features, arrays[5]) and s.joints.shape == (len(arrays[5]), 22, 3)
    assert [x.id for x in open_dataset(tmp_path, split="test")] == ids[5:]
    assert [x.id for x in open_dataset(tmp_path, split=str(tmp_path / "val.txt"))] == ids[4:5]
    assert len(open_dataset(tmp_path, split=None)) == 6
    with pytest.raises(DatasetError, match="split file not found"):
        open_dataset(tmp_path, split="nsim_test")


def test_kit_auto_kind(tmp_path):
    make_dataset(tmp_path, dim=251, n_clips=3)
    (tmp_path / "dataset.json").unlink()  # detected from the feature dimension alone
    ds = open_dataset(tmp_path, split="all")
    assert ds.kind == "kit" and ds.fps == 12.5 and ds.dim == 251 and len(ds) == 3


def test_segments():
    feats = np.arange(100 * 263, dtype=np.float32).reshape(100, 263)
    s = Sample("x", feats, [E1, E2, TextEntry("late", [], 4.0, 9.0), TextEntry("short", [], 0.5, 0.6)], fps=20.0)
    segs = s.segments()
    assert [c for c, _ in segs] == ["then he sits.", "late", "short"]
    assert np.array_equal(segs[0][1], feats[20:50])          # [int(1.0*20), int(2.5*20))
    assert np.array_equal(segs[1][1], feats[80:100])         # clipped to the clip
    assert [c for c, _ in s.segments(min_frames=10)] == ["then he sits.", "late"]


# ----------------------------------------------------------------------------- validation
def _break_things(root):
    """Add one bad sample per problem kind; return {id: (path suffix, line or None, phrase)}."""
    rng = np.random.default_rng(5)
    good = E1.to_line() + "\n"
    bad: dict[str, tuple[str, int | None, str]] = {}

    def put(sid, feats=None, text=good):
        if feats is not None:
            np.save(root / "new_joint_vecs" / f"{sid}.npy", feats)
        if text is not None:
            (root / "texts" / f"{sid}.txt").write_text(text)

    put("wrongdim", _feats(rng, 60, 250))
    bad["wrongdim"] = ("new_joint_vecs/wrongdim.npy", None, "feature dimension 250, expected 263")
    nan = _feats(rng, 60)
    nan[7, 100] = np.nan
    put("nan", nan)
    bad["nan"] = ("new_joint_vecs/nan.npy", None, "contains NaN/Inf (first at frame 7)")
    put("short", _feats(rng, 30))
    bad["short"] = ("new_joint_vecs/short.npy", None, "length 30 frames is outside 40..199")
    put("long", _feats(rng, 250))
    bad["long"] = ("new_joint_vecs/long.npy", None, "length 250 frames is outside 40..199")
    put("notext", _feats(rng, 60), text=None)
    bad["notext"] = ("texts/notext.txt", None, "missing text file")
    put("emptytext", _feats(rng, 60), text="\n\n")
    bad["emptytext"] = ("texts/emptytext.txt", None, "empty text file")
    put("badline", _feats(rng, 60), text=good + "this line has no fields\n" + good)
    bad["badline"] = ("texts/badline.txt", 2, "expected 4 '#'-separated fields")
    ids = ["000000", "000001", "000002", "000003"]
    extra = ["wrongdim", "nan", "short", "long", "notext", "emptytext", "badline", "ghost"]
    (root / "train.txt").write_text("".join(i + "\n" for i in ids + extra))
    bad["ghost"] = ("train.txt", len(ids) + len(extra), "id 'ghost' has no motion file")
    return bad


def _check_messages(problems, bad, root):
    by_id = {}
    for p in problems:
        by_id.setdefault(p.sample_id, []).append(p)
    for sid, (suffix, line, phrase) in bad.items():
        (p,) = by_id[sid]
        expected_where = f"{root / suffix}" + (f":{line}" if line is not None else "")
        msg = str(p)
        assert msg.startswith(expected_where + ": "), msg
        assert phrase in msg and " — " in msg, msg
        assert "\n" not in msg


def test_validation_messages_and_skips(tmp_path):
    make_dataset(tmp_path)
    bad = _break_things(tmp_path)

    report = validate_dataset(tmp_path)
    assert not report.ok
    assert report.bad_ids == set(bad)
    _check_messages(report.problems, bad, tmp_path)
    assert report.n_samples == 6 + len(bad) and report.n_ok == 6  # train, val and test files
    assert str(report).splitlines()[0].endswith(f"6 ok, {len(bad)} bad, {len(bad)} problems")

    eager = open_dataset(tmp_path, lazy=False)
    assert eager.ids == ["000000", "000001", "000002", "000003"]
    assert {p.sample_id for p in eager.skipped} == set(bad)
    _check_messages(eager.skipped, bad, tmp_path)

    # lazy: headers and texts only, so the NaN clip is kept and fails loudly on access
    lazy = open_dataset(tmp_path)
    assert {p.sample_id for p in lazy.skipped} == set(bad) - {"nan"}
    i = lazy.ids.index("nan")
    with pytest.raises(DatasetError, match="nan.npy: contains NaN/Inf"):
        lazy[i]

    # configurable length range
    relaxed = open_dataset(tmp_path, lazy=False, min_len=20, max_len=300)
    assert {"short", "long"} <= set(relaxed.ids)

    with pytest.raises(DatasetError) as ei:
        open_dataset(tmp_path, lazy=False, strict=True)
    assert str(ei.value) == str(eager.skipped[0])


def test_mean_std_problems(tmp_path):
    make_dataset(tmp_path, n_clips=3)
    np.save(tmp_path / "Std.npy", np.ones(250, np.float32))
    rep = validate_dataset(tmp_path)
    assert [str(p) for p in rep.problems] == [
        f"{tmp_path / 'Std.npy'}: has shape (250,), expected (263,) for humanml3d — recompute them with "
        "motiongpt2.data.layout.compute_mean_std or restore the official files"]
    std = np.ones(263, np.float32)
    std[[5, 9]] = 0.0
    np.save(tmp_path / "Std.npy", std)
    (p,) = validate_dataset(tmp_path).problems
    assert "2 zero or negative entries (first at index 5)" in str(p) and p.sample_id is None
    ds = open_dataset(tmp_path, split="all")
    assert len(ds) == 3 and ds.mean is None and ds.std is None and ds.skipped == [] and len(ds.problems) == 1
    with pytest.raises(DatasetError, match="Std.npy: has 2 zero"):
        open_dataset(tmp_path, strict=True)


def test_split_duplicates_and_leakage(tmp_path):
    make_dataset(tmp_path, n_clips=4)
    (tmp_path / "train.txt").write_text("000000\n000001\n000000\n")
    (tmp_path / "test.txt").write_text("000001\n000003\n")
    rep = validate_dataset(tmp_path)
    msgs = rep.lines()
    assert f"{tmp_path / 'train.txt'}:3: id '000000' repeats line 1 — delete the duplicate line" in msgs
    assert any(m.startswith(f"{tmp_path / 'test.txt'}:1: id '000001' is also in") for m in msgs)


def test_missing_root_and_unknown_layout(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        open_dataset(tmp_path / "nope")
    with pytest.raises(DatasetError, match="no new_joint_vecs/"):
        open_dataset(tmp_path)


def test_joints_shape_checked(tmp_path):
    make_dataset(tmp_path, n_clips=3)
    np.save(tmp_path / "new_joints" / "000001.npy", np.zeros((10, 22, 3), np.float32))
    ds = open_dataset(tmp_path, split="all", load_joints=True)
    assert ds.ids == ["000000", "000002"]
    assert "joints have shape (10, 22, 3), expected (53, 22, 3)" in str(ds.skipped[0])
    assert len(open_dataset(tmp_path, split="all")) == 3  # joints not requested: not checked


# ----------------------------------------------------------------------------- Motion-X
def test_motionx_humantomato_layout(tmp_path):
    rng = np.random.default_rng(3)
    root = tmp_path / "Motion-X"
    ids = ["humanml/000001", "humanml/000002", "animation/Ways_to_Catch_1"]
    for sid in ids:
        p = root / "motion_data" / "vector_623" / f"{sid}.npy"
        p.parent.mkdir(parents=True, exist_ok=True)
        np.save(p, _feats(rng, 80, 623))
        t = root / "texts" / "semantic_texts" / f"{sid}.txt"
        t.parent.mkdir(parents=True, exist_ok=True)
        if sid.startswith("humanml"):
            t.write_text(E1.to_line() + "\n" + E2.to_line() + "\n")
        else:
            t.write_text("a person catches a ball with both hands.\nthe person catches.\n")
    (root / "split").mkdir()
    (root / "split" / "train.txt").write_text("\n".join(ids[:2]) + "\n")
    (root / "split" / "all.txt").write_text("\n".join(ids) + "\n")
    ms = root / "mean_std" / "version1" / "vector_623"
    ms.mkdir(parents=True)
    np.save(ms / "mean.npy", np.zeros(623, np.float32))
    np.save(ms / "std.npy", np.ones(623, np.float32))

    ds = open_dataset(root)
    assert ds.kind == "motionx" and ds.ids == ids[:2] and ds.mean.shape == (623,)
    assert ds[0].texts == [E1, E2]
    full = open_dataset(root, split="all", lazy=False)
    s = full.get("animation/Ways_to_Catch_1")
    assert s.features.shape == (80, 623)
    assert [e.caption for e in s.texts] == ["a person catches a ball with both hands.", "the person catches."]
    assert s.texts[0].tokens == [] and not s.texts[0].has_range
    assert validate_dataset(root).ok


def test_motionx_bare_folders(tmp_path):
    rng = np.random.default_rng(4)
    for sid, n in (("a", 50), ("b", 301)):
        (tmp_path / "motion_data").mkdir(exist_ok=True)
        np.save(tmp_path / "motion_data" / f"{sid}.npy", _feats(rng, n, 623))
        (tmp_path / "texts").mkdir(exist_ok=True)
        (tmp_path / "texts" / f"{sid}.txt").write_text("someone dances.\n")
    with pytest.warns(RuntimeWarning, match="no split files"):
        ds = open_dataset(tmp_path, kind="motionx")
    assert ds.ids == ["a"] and "length 301 frames is outside 40..300" in str(ds.skipped[0])
    assert ds[0].texts[0].caption == "someone dances."
    # a HumanML3D-kind dataset does not accept plain caption lines
    make_dataset(tmp_path / "h", n_clips=1)
    (tmp_path / "h" / "texts" / "000000.txt").write_text("someone dances.\n")
    ds = open_dataset(tmp_path / "h", split="all")
    assert len(ds) == 0 and "000000.txt:1: expected 4 '#'-separated fields" in str(ds.skipped[0])
