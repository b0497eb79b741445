"""Frame-rate conversion: integer stride like HumanML3D, interpolation otherwise."""
from __future__ import annotations

import numpy as np
import pytest

from motiongpt2.motion.io.bvh import read_bvh
from motiongpt2.motion.io.resample import integer_stride, resample, resample_mocap, resampled_length


def test_integer_stride_matches_humanml3d():
    x = np.arange(125 * 2 * 3, dtype=np.float32).reshape(125, 2, 3)
    out = resample(x, 120, 20)
    np.testing.assert_array_equal(out, x[::6])  # pose_seq[::int(120/20)]
    assert len(out) == resampled_length(125, 120, 20) == 21
    assert integer_stride(60, 20) == 3 and integer_stride(30, 20) is None
    np.testing.assert_array_equal(resample(x, 20, 20), x)


def test_linear_interpolation():
    t = np.arange(31, dtype=np.float64)  # 30 fps, value = frame index
    x = np.stack([t, 2 * t, -t], axis=-1)[:, None, :]  # (31, 1, 3)
    out = resample(x, 30, 20)
    assert len(out) == resampled_length(31, 30, 20) == 21
    np.testing.assert_allclose(out[:, 0, 0], np.arange(21) * 1.5)
    kit = resample(x, 30, 12.5)
    np.testing.assert_allclose(kit[:, 0, 1], 2 * np.arange(len(kit)) * 2.4)
    up = resample(x, 30, 60)
    assert len(up) == 61 and up[1, 0, 0] == pytest.approx(0.5)


def test_resample_mocap_slerp():
    text = """HIERARCHY
ROOT r
{
 OFFSET 0 0 0
 CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
 End Site
 {
  OFFSET 1 0 0
 }
}
MOTION
Frames: 3
Frame Time: 0.0333333
0 0 0 0 0 0
3 0 0 90 0 0
6 0 0 180 0 0
"""
    m = read_bvh(text, name="r.bvh")
    r = resample_mocap(m, 20)
    assert r.n_frames == 2 and r.fps == 20
    w = r.world_positions()
    # t = 1.5 source frames: x = 4.5, rotation 135° about z
    np.testing.assert_allclose(w[1, 0], [4.5, 0, 0], atol=1e-9)
    np.testing.assert_allclose(w[1, 1] - w[1, 0], [np.cos(np.radians(135)), np.sin(np.radians(135)), 0], atol=1e-9)
    s = resample_mocap(m, 10)  # 30 -> 10: stride 3
    assert s.n_frames == 1
