"""ASF/AMC reader on a tiny hand-written skeleton with known FK answers."""
from __future__ import annotations

import lzma

import numpy as np
import pytest

from motiongpt2.errors import MotionFormatError
from motiongpt2.motion.io.asf_amc import find_asf, read_amc, read_asf

ASF = """# a comment line at the top (as in fairmotion's 11.asf)
:version 1.10
:name TEST
:units
  mass 1.0
  length 0.5
  angle deg
:documentation
   tiny test skeleton
:root
   order TX TY TZ RX RY RZ
   axis XYZ
   position 0 0 0
   orientation 0 0 0
:bonedata
  begin
     id 1
     name a
     direction 1 0 0
     length 2
     axis 0 0 0  XYZ
    dof rz
    limits (-180.0 180.0)
  end
  begin
     id 2
     name b
     direction 0 0 1
     length 1
     axis 0 0 90  XYZ
    dof rx
  end
  begin
     id 3
     name c
     direction 0 -1 0
     length 1
     axis 0 0 0 XYZ
  end
:hierarchy
  begin
    root a c
    a b
  end
"""

AMC = """#!OML:ASF test.asf
:FULLY-SPECIFIED
:DEGREES
1
root 1 2 3 0 0 0
a 90
b 0
2
root 0 0 0 0 0 0
a 0
b 90
"""


def test_asf_parse_and_fk(tmp_path):
    asf = read_asf(ASF, name="test.asf")
    assert [b.name for b in asf.bones] == ["a", "b", "c"]
    assert asf.length_unit == 0.5 and asf.unit_scale == pytest.approx(0.0508)
    m = read_amc(AMC, asf=asf, name="test.amc")
    assert m.names == ["root", "a", "b", "c", "b_end", "c_end"]
    assert list(m.parents) == [-1, 0, 1, 0, 2, 3]
    assert m.end_site.tolist() == [False, False, False, False, True, True]
    assert m.fps == 120.0 and m.n_frames == 2
    w = m.world_positions()
    # frame 1: a rotates 90° about z, so bone a (2,0,0) points to +y; b (no rotation) keeps +z
    np.testing.assert_allclose(w[0], [[1, 2, 3], [1, 2, 3], [1, 4, 3], [1, 2, 3], [1, 4, 4], [1, 1, 3]], atol=1e-9)
    # frame 2: b's axis is z-rotated 90°, so its rx dof turns about world y: (0,0,1) -> (1,0,0)
    np.testing.assert_allclose(w[1], [[0, 0, 0], [0, 0, 0], [2, 0, 0], [0, 0, 0], [3, 0, 0], [0, -1, 0]], atol=1e-9)


def test_amc_xz_and_asf_beside(tmp_path):
    (tmp_path / "07.asf").write_text(ASF.replace("\n", "\r\n"))
    (tmp_path / "07_01.amc.xz").write_bytes(lzma.compress(AMC.encode()))
    assert find_asf(tmp_path / "07_01.amc.xz") == tmp_path / "07.asf"
    m = read_amc(tmp_path / "07_01.amc.xz")
    assert m.n_frames == 2 and m.meta["unit_scale"] == pytest.approx(0.0508)


def test_amc_radians_and_slow_path():
    asf = read_asf(ASF.replace("angle deg", "angle rad"), name="r.asf")
    # bones in a different order in frame 2 -> line-by-line parser
    amc = "1\nroot 0 0 0 0 0 0\na 1.5707963267948966\nb 0\n2\nroot 0 0 0 0 0 0\nb 0\na 0\n"
    m = read_amc(amc, asf=asf, name="r.amc")
    np.testing.assert_allclose(m.world_positions()[0, 2], [0, 2, 0], atol=1e-9)
    np.testing.assert_allclose(m.world_positions()[1, 2], [2, 0, 0], atol=1e-9)


def test_amc_errors(tmp_path):
    asf = read_asf(ASF, name="test.asf")
    with pytest.raises(MotionFormatError, match="bone 'a' has 2 values") as ei:
        read_amc(AMC.replace("a 0\n", "a 0 1\n"), asf=asf, name="bad.amc")
    assert ei.value.line == 10 and str(ei.value).startswith("bad.amc:10:")
    with pytest.raises(MotionFormatError, match="not in the ASF") as ei:
        read_amc(AMC.replace("b 90", "zz 90"), asf=asf, name="bad.amc")
    assert ei.value.line == 11
    with pytest.raises(MotionFormatError, match="non-numeric") as ei:
        read_amc(AMC.replace("a 90", "a x9"), asf=asf, name="bad.amc")
    assert ei.value.line == 6
    (tmp_path / "lonely_01.amc").write_text(AMC)
    with pytest.raises(MotionFormatError, match="no ASF skeleton"):
        read_amc(tmp_path / "lonely_01.amc")
    with pytest.raises(MotionFormatError, match="no :bonedata"):
        read_asf(":units\n length 1\n", name="x.asf")
    with pytest.raises(MotionFormatError, match="empty AMC"):
        read_amc("  \n", asf=asf, name="e.amc")
