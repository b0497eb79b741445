"""BVH reader: FK on tiny hand-written hierarchies, channel orders, CRLF, malformed files."""
from __future__ import annotations

import lzma

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from motiongpt2.errors import MotionFormatError
from motiongpt2.motion.io.bvh import read_bvh
from motiongpt2.motion.io.mocap import euler_to_matrix


def rx(a):
    c, s = np.cos(np.radians(a)), np.sin(np.radians(a))
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def ry(a):
    c, s = np.cos(np.radians(a)), np.sin(np.radians(a))
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def rz(a):
    c, s = np.cos(np.radians(a)), np.sin(np.radians(a))
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


CHAIN = """HIERARCHY
ROOT root
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT mid
  {
    OFFSET 1 0 0
    CHANNELS 3 Yrotation Xrotation Zrotation
    JOINT tip
    {
      OFFSET 1 0 0
      CHANNELS 3 Xrotation Yrotation Zrotation
      End Site
      {
        OFFSET 0 0 2
      }
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.0333333
1 2 3 90 0 0 90 0 0 0 0 0
0 0 0 0 0 0 0 0 0 0 0 0
"""


def test_chain_fk_known_answer():
    # root: Rz(90) at (1,2,3); mid: Ry(90) (world Rz90·Ry90 sends +x to -z, +z to +y)
    m = read_bvh(CHAIN, name="chain.bvh")
    assert m.names == ["root", "mid", "tip", "tip_end"]
    assert list(m.parents) == [-1, 0, 1, 2]
    assert list(m.end_site) == [False, False, False, True]
    assert m.fps == 30.0 and m.n_frames == 2
    w = m.world_positions()
    assert w.shape == (2, 4, 3)
    np.testing.assert_allclose(w[0], [[1, 2, 3], [1, 3, 3], [1, 3, 2], [1, 5, 2]], atol=1e-9)
    np.testing.assert_allclose(w[1], [[0, 0, 0], [1, 0, 0], [2, 0, 0], [2, 0, 2]], atol=1e-9)
    assert m.position_channels[0].all() and not m.position_channels[1:].any()


@pytest.mark.parametrize("order", ["ZXY", "ZYX", "XYZ", "YXZ", "XZY", "YZX"])
def test_euler_orders_intrinsic(order):
    angles = {"X": 30.0, "Y": -50.0, "Z": 70.0}
    chans = " ".join(f"{a}rotation" for a in order)
    text = f"""HIERARCHY
ROOT r
{{
\tOFFSET 0 0 0
\tCHANNELS 3 {chans}
\tJOINT c
\t{{
\t\tOFFSET 1 2 3
\t\tCHANNELS 0
\t}}
}}
MOTION
Frames: 1
Frame Time: 0.01
{' '.join(str(angles[a]) for a in order)}
"""
    m = read_bvh(text, name=f"{order}.bvh")
    elem = {"X": rx, "Y": ry, "Z": rz}
    expect = elem[order[0]](angles[order[0]]) @ elem[order[1]](angles[order[1]]) @ elem[order[2]](angles[order[2]])
    np.testing.assert_allclose(m.local_rotations[0, 0], expect, atol=1e-12)
    np.testing.assert_allclose(m.world_positions()[0, 1], expect @ [1, 2, 3], atol=1e-9)


def test_euler_to_matrix_matches_scipy():
    rng = np.random.default_rng(0)
    a = rng.uniform(-180, 180, (50, 3))
    for order in ("ZXY", "XYZ", "zyx", "xyz", "YZY"):
        np.testing.assert_allclose(euler_to_matrix(a, order), Rotation.from_euler(order, a, degrees=True).as_matrix(),
                                   atol=1e-12)
    np.testing.assert_allclose(euler_to_matrix(a[:, :1], "Z"), Rotation.from_euler("Z", a[:, :1], degrees=True).as_matrix(),
                               atol=1e-12)


def test_position_channels_on_child_crlf_and_spacing(tmp_path):
    text = ("HIERARCHY\r\nROOT  hips\r\n{\r\n OFFSET 0 0 0\r\n   CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation\r\n"
            "\tJOINT  slider\r\n\t{\r\n\t\tOFFSET 5 5 5\r\n\t\tCHANNELS 4 Yposition Zrotation Yrotation Xrotation\r\n"
            "\t\tEnd Site\r\n\t\t{\r\n\t\t\tOFFSET 0 1 0\r\n\t\t}\r\n\t}\r\n}\r\nMOTION\r\nFrames:\t2\r\nFrame Time:\t0.0083333\r\n"
            "0 0 0 0 0 0   7 0 0 90\r\n\r\n1\t1 1  0 0 0 -2 0 0 0\r\n")
    p = tmp_path / "crlf.bvh"
    p.write_bytes(text.encode())
    m = read_bvh(p)
    assert m.fps == 120.0
    assert m.position_channels[1].tolist() == [False, True, False]
    w = m.world_positions()
    # frame 0: slider local translation (5, 7, 5); its X rotation 90° turns the End Site (0,1,0) into (0,0,1)
    np.testing.assert_allclose(w[0, 1], [5, 7, 5], atol=1e-9)
    np.testing.assert_allclose(w[0, 2], [5, 7, 6], atol=1e-9)
    np.testing.assert_allclose(w[1, 1], [6, -1, 6], atol=1e-9)
    assert m.source == str(p)


def test_xz_and_bytes_input(tmp_path):
    p = tmp_path / "chain.bvh.xz"
    p.write_bytes(lzma.compress(CHAIN.encode()))
    a = read_bvh(p)
    b = read_bvh(CHAIN.encode(), name="member.bvh")
    np.testing.assert_allclose(a.world_positions(), b.world_positions())
    assert b.source == "member.bvh"


def _raises_at(text, line, match, name="bad.bvh"):
    with pytest.raises(MotionFormatError, match=match) as ei:
        read_bvh(text, name=name)
    assert ei.value.line == line, str(ei.value)
    msg = str(ei.value)
    assert msg.startswith(f"{name}:{line}:" if line is not None else f"{name}:")
    assert "\n" not in msg and " — " in msg
    return ei.value


def test_truncated_file():
    text = CHAIN.replace("Frames: 2", "Frames: 3")
    _raises_at(text, 26, "truncated: header says 3 frames, found 2")


def test_wrong_value_count_reports_line():
    lines = CHAIN.splitlines()
    lines[23] = "1 2 3 90 0 0 90 0 0 0 0"  # frame 1 (line 24) misses a value
    _raises_at("\n".join(lines) + "\n", 24, "frame 1 has 11 values, expected 12")


def test_non_numeric_reports_line():
    lines = CHAIN.splitlines()
    lines[24] = "0 0 0 0 abc 0 0 0 0 0 0 0"
    _raises_at("\n".join(lines) + "\n", 25, "non-numeric value 'abc' in frame 2")


def test_empty_and_missing_sections(tmp_path):
    p = tmp_path / "empty.bvh"
    p.write_text("")
    with pytest.raises(MotionFormatError, match="empty file"):
        read_bvh(p)
    _raises_at(CHAIN.split("MOTION")[0], None, "no MOTION section")
    _raises_at(CHAIN.replace("HIERARCHY\n", "", 1), 1, "does not start with HIERARCHY")
    _raises_at(CHAIN.replace("Frame Time: 0.0333333\n", ""), 21, "lacks 'Frame Time:'")
    _raises_at(CHAIN.replace("    OFFSET 1 0 0\n    CHANNELS 3 Y", "    OFFSET 1 x 0\n    CHANNELS 3 Y"), 8,
               "expected a number")
    with pytest.raises(MotionFormatError, match="file not found"):
        read_bvh(tmp_path / "nope.bvh")


def test_extra_frames_warn_and_are_dropped():
    text = CHAIN + "0 0 0 0 0 0 0 0 0 0 0 0\n"
    with pytest.warns(UserWarning, match="more frame lines"):
        m = read_bvh(text, name="extra.bvh")
    assert m.n_frames == 2


def test_zero_frames():
    m = read_bvh(CHAIN.split("Frames:")[0] + "Frames: 0\nFrame Time: 0.01\n", name="zero.bvh")
    assert m.n_frames == 0 and m.world_positions().shape == (0, 4, 3)
