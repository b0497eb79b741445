"""load_joints dispatch: .npy joints, bytes with a name, archives, AMC with its ASF, errors."""
from __future__ import annotations

import zipfile

import numpy as np
import pytest

from motiongpt2.errors import MotionFormatError, SkeletonMapError
from motiongpt2.motion.io import iter_joints, load_joints
from test_io_asf_amc import AMC, ASF
from test_io_retarget import make_bvh


def test_npy_joints(tmp_path):
    x = np.random.default_rng(0).normal(size=(12, 22, 3)).astype(np.float32)
    np.save(tmp_path / "j.npy", x)
    j = load_joints(tmp_path / "j.npy")
    np.testing.assert_array_equal(j.positions, x)
    assert j.fps == 20.0 and j.preset == "npy"
    j = load_joints(tmp_path / "j.npy", npy_fps=60.0)
    np.testing.assert_array_equal(j.positions, x[::3])
    np.save(tmp_path / "bad.npy", np.zeros((5, 7)))
    with pytest.raises(MotionFormatError, match="shape"):
        load_joints(tmp_path / "bad.npy")
    with pytest.raises(MotionFormatError, match="unsupported motion file type"):
        load_joints(tmp_path / "x.fbx")


def test_bytes_and_zip(tmp_path):
    text = make_bvh(frames=7)
    j = load_joints(text.encode(), name="clip.bvh")
    assert j.positions.shape == (5, 22, 3) and j.preset == "bandai-namco"  # 30 fps -> 20 fps
    assert j.info["native_frames"] == 7 and j.info["native_fps"] == 30.0
    z = tmp_path / "clips.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("a.bvh", text)
        zf.writestr("b.bvh", text)
        zf.writestr("readme.txt", "x")
    got = list(iter_joints(z, fps=None))
    assert [g.source for g in got] == [f"{z}!a.bvh", f"{z}!b.bvh"] and got[0].n_frames == 7
    wb = load_joints(text.encode(), name="clip.bvh", fps=None, preset="bandai-namco")
    assert wb.skeleton == "humanml3d"


def test_amc_through_load_joints(tmp_path):
    (tmp_path / "07.asf").write_text(ASF)
    (tmp_path / "07_01.amc").write_text(AMC)
    with pytest.raises(SkeletonMapError) as ei:
        load_joints(tmp_path / "07_01.amc")
    assert str(ei.value).startswith(str(tmp_path / "07_01.amc")) and "unmatched" in str(ei.value)
