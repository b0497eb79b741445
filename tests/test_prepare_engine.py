"""End-to-end `prepare custom` and the command line, on fixtures the tests write themselves."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from motiongpt2 import api
from motiongpt2.cli import app
from motiongpt2.data.readers import open_dataset, validate_dataset
from motiongpt2.motion.synthetic import synthetic_walk
from motiongpt2.render.export import export_motion

runner = CliRunner()


@pytest.fixture(scope="module")
def custom_source(tmp_path_factory):
    """A folder with 3 joint files (one long: chunked), a truncated BVH, and a file with no caption."""
    root = tmp_path_factory.mktemp("mocap")
    np.save(root / "walk_a.npy", synthetic_walk(T=90, seed=1).astype(np.float32))
    np.save(root / "walk_b.npy", synthetic_walk(T=120, seed=2, turn_rate=-0.8).astype(np.float32))
    np.save(root / "long_c.npy", synthetic_walk(T=500, seed=3).astype(np.float32))
    np.save(root / "nocap.npy", synthetic_walk(T=80, seed=4).astype(np.float32))
    export_motion(synthetic_walk(T=100, seed=5), root / "exported.bvh", fps=20.0)  # our own BVH re-imports
    (root / "broken.bvh").write_text("HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0 0\n  CHANNELS 6 Xposition Yposition "
                                     "Zposition Zrotation Xrotation Yrotation\n}\nMOTION\nFrames: 3\nFrame Time: 0.05\n"
                                     "0 0 0 0 0 0\n")
    captions = root / "captions.csv"
    captions.write_text("file,caption,split\n"
                        "walk_a.npy,a person walks forward and turns to the left,train\n"
                        "walk_a.npy,someone walks in a curve,train\n"
                        "walk_b.npy,a person walks turning right,test\n"
                        "long_c.npy,a person walks for a long time,train\n"
                        "broken.bvh,this file is truncated,train\n"
                        "exported.bvh,a person walks and turns,train\n")
    return root, captions


def test_prepare_custom_writes_a_valid_humanml3d_layout(custom_source, tmp_path):
    src, captions = custom_source
    out = tmp_path / "ds"
    rep = api.prepare("custom", out, source=src, captions=captions, workers=2, progress=False)
    # walk_a, walk_b, long_c → 3 chunks, exported.bvh; each mirrored
    assert rep.clips["total"] == 2 * (1 + 1 + 3 + 1)
    assert rep.clips["test"] == 2 and rep.clips["train"] == 10
    assert np.load(out / "new_joint_vecs" / "exported.npy").shape == (99, 263)
    assert any("broken.bvh" in f and "truncated" in f.lower() or "broken.bvh" in f for f in rep.failures)
    assert any("nocap.npy" in s and "no caption" in s for s in rep.skipped)
    ids = sorted(p.stem for p in (out / "new_joint_vecs").glob("*.npy"))
    assert "walk_a" in ids and "Mwalk_a" in ids and "long_c_00" in ids and "long_c_02" in ids
    f = np.load(out / "new_joint_vecs" / "walk_a.npy")
    j = np.load(out / "new_joints" / "walk_a.npy")
    assert f.shape == (89, 263) and j.shape == (89, 22, 3)
    assert all(40 <= len(np.load(p)) <= 196 for p in (out / "new_joint_vecs").glob("*.npy"))
    # captions with POS tags; mirrored captions swap left/right
    line = (out / "texts" / "walk_a.txt").read_text().splitlines()[0]
    assert re.fullmatch(r"a person walks forward and turns to the left#(\S+/\S+ )+\S+/\S+#0\.0#0\.0", line)
    assert "to the right" in (out / "texts" / "Mwalk_a.txt").read_text()
    assert np.load(out / "Mean.npy").shape == (263,) and (np.load(out / "Std.npy") > 0).all()
    meta = json.loads((out / "dataset.json").read_text())
    assert meta["counts"]["clips"] == 12 and meta["failures"] and meta["skipped"] and meta["command"]
    report = validate_dataset(out)
    assert report.ok, report.lines()
    ds = open_dataset(out, split="train")
    assert len(ds) == 10 and ds[0].features.shape[1] == 263


def test_mirrored_clip_is_the_mirror_of_the_original(custom_source, tmp_path):
    from motiongpt2.motion.mirror import mirror_joints

    src, captions = custom_source
    out = tmp_path / "ds"
    api.prepare("custom", out, source=src, captions=captions, workers=1, progress=False)
    j = np.load(out / "new_joints" / "walk_b.npy")
    mj = np.load(out / "new_joints" / "Mwalk_b.npy")
    # The official target skeleton is not symmetric and the root path is scaled by the right leg's length,
    # which is the source's left leg after mirroring (±5 % here): compare within 10 % of the path length.
    assert np.allclose(j[:, 0, 1], mj[:, 0, 1], atol=0.02)
    mirrored = mirror_joints(j)
    path = np.linalg.norm(mj[-1, 0, [0, 2]])
    assert path > 1.0
    assert np.abs(mirrored[:, 0, [0, 2]] - mj[:, 0, [0, 2]]).max() < 0.1 * path
    assert np.sign(mj[-1, 0, 0]) == np.sign(mirrored[-1, 0, 0]) == -np.sign(j[-1, 0, 0])


def test_cli_help_has_examples():
    for cmd in ("prepare", "render", "convert", "validate", "demo"):
        res = runner.invoke(app, [cmd, "--help"])
        assert res.exit_code == 0 and "Example" in res.output, cmd


def test_cli_user_errors_are_one_line_without_traceback(tmp_path):
    res = runner.invoke(app, ["prepare", "custom", "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and "--source" in res.output and "Traceback" not in res.output
    bad = tmp_path / "bad.bvh"
    bad.write_text("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 3 Xrotation Yrotation Zrotation\n}\n"
                   "MOTION\nFrames: 2\nFrame Time: 0.05\n0 0 0\n0 zero 0\n")
    res = runner.invoke(app, ["convert", str(bad), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert f"{bad}:" in res.output.replace("\n", "")
    res = runner.invoke(app, ["render", str(tmp_path / "missing.npy"), "--out", str(tmp_path / "a.mp4")])
    assert res.exit_code == 2 and "file not found" in res.output


def test_cli_convert_and_render(tmp_path):
    np.save(tmp_path / "walk.npy", synthetic_walk(T=60).astype(np.float32))
    res = runner.invoke(app, ["convert", str(tmp_path / "walk.npy"), "--out", str(tmp_path / "walk")])
    assert res.exit_code == 0, res.output
    feats = np.load(tmp_path / "walk.features.npy")
    assert feats.shape == (59, 263)
    res = runner.invoke(app, ["render", str(tmp_path / "walk.features.npy"), "--out", str(tmp_path / "walk.gif")])
    assert res.exit_code == 0, res.output
    import imageio.v3 as iio

    assert iio.imread(tmp_path / "walk.gif", index=None).shape[0] == 59
