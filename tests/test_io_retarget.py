"""Joint-name retargeting on synthetic skeletons: presets, auto-detection, user maps, units, up axis."""
from __future__ import annotations

import json

import numpy as np
import pytest

from motiongpt2.errors import SkeletonMapError
from motiongpt2.motion.io.bvh import read_bvh
from motiongpt2.motion.io.load import load_joints
from motiongpt2.motion.io.retarget import (
    BODY_NAMES, attach_hands, detect_preset, estimate_unit_scale, get_preset, load_map, orientation_report,
    preset_names, retarget, up_rotation,
)

# Bandai-Namco-like T-pose in cm, facing +Z, the person's left on +X; (name, parent, world position)
TPOSE = [
    ("joint_Root", None, (0, 0, 0)), ("Hips", "joint_Root", (0, 95, 0)), ("Spine", "Hips", (0, 110, 0)),
    ("Chest", "Spine", (0, 120, 0)), ("Neck", "Chest", (0, 145, 0)), ("Head", "Neck", (0, 155, 0)),
    ("Shoulder_L", "Chest", (3, 140, 0)), ("UpperArm_L", "Shoulder_L", (17, 140, 0)),
    ("LowerArm_L", "UpperArm_L", (45, 140, 0)), ("Hand_L", "LowerArm_L", (70, 140, 0)),
    ("Shoulder_R", "Chest", (-3, 140, 0)), ("UpperArm_R", "Shoulder_R", (-17, 140, 0)),
    ("LowerArm_R", "UpperArm_R", (-45, 140, 0)), ("Hand_R", "LowerArm_R", (-70, 140, 0)),
    ("UpperLeg_L", "Hips", (9, 92, 0)), ("LowerLeg_L", "UpperLeg_L", (9, 50, 0)), ("Foot_L", "LowerLeg_L", (9, 8, 0)),
    ("Toes_L", "Foot_L", (9, 0, 14)), ("UpperLeg_R", "Hips", (-9, 92, 0)), ("LowerLeg_R", "UpperLeg_R", (-9, 50, 0)),
    ("Foot_R", "LowerLeg_R", (-9, 8, 0)), ("Toes_R", "Foot_R", (-9, 0, 14)),
]


def make_bvh(joints=TPOSE, axes=lambda p: p, frames=4, rename=None):
    """BVH text of a static T-pose (root translation drifts along +Z each frame)."""
    pos = {n: np.asarray(axes(np.asarray(p, float))) for n, _, p in joints}
    kids = {}
    for n, par, _ in joints:
        kids.setdefault(par, []).append(n)
    rename = rename or {}
    out = ["HIERARCHY"]

    def emit(n, depth):
        par = next(p for m, p, _ in joints if m == n)
        off = pos[n] - (pos[par] if par else 0)
        ind = "  " * depth
        out.append(f"{ind}{'ROOT' if par is None else 'JOINT'} {rename.get(n, n)}")
        out.append(f"{ind}{{")
        out.append(f"{ind}  OFFSET {off[0]:g} {off[1]:g} {off[2]:g}")
        out.append(f"{ind}  CHANNELS {6 if par is None else 3} " +
                   ("Xposition Yposition Zposition " if par is None else "") + "Zrotation Xrotation Yrotation")
        for c in kids.get(n, []):
            emit(c, depth + 1)
        if n not in kids:
            out.append(f"{ind}  End Site\n{ind}  {{\n{ind}    OFFSET 0 0 0\n{ind}  }}")
        out.append(f"{ind}}}")

    emit(joints[0][0], 0)
    nch = 6 + 3 * (len(joints) - 1)
    out += ["MOTION", f"Frames: {frames}", "Frame Time: 0.0333333"]
    for t in range(frames):
        d = axes(np.array([0.0, 0.0, 10.0 * t]))
        out.append(" ".join(f"{v:g}" for v in (list(d) + [0.0] * (nch - 3))))
    return "\n".join(out) + "\n"


def test_presets_all_load():
    names = preset_names()
    for p in ("cmu-cgspeed-31", "cmu-cgspeed-31-max", "cmu-daz", "cmu-asfnames-31", "cmu-asf", "iclone-cc-base",
              "bandai-namco", "manipnet-hand"):
        assert p in names
        jm = get_preset(p)
        if jm.kind == "body":
            assert list(jm.joints) == list(BODY_NAMES)
            for w in jm.joints.values():
                assert sum(w.values()) == pytest.approx(1.0)


def test_auto_detect_bandai_and_metres():
    m = read_bvh(make_bvh(), name="synthetic.bvh")
    jm = detect_preset(m.names, "synthetic.bvh")
    assert jm.name == "bandai-namco"
    pos, info = retarget(m, jm)
    assert pos.shape == (4, 22, 3) and pos.dtype == np.float32
    assert info == {"unit_scale": 0.01, "up_axis": "y", "preset": "bandai-namco"}
    i = BODY_NAMES.index
    np.testing.assert_allclose(pos[0, i("l_hip")], [0.09, 0.92, 0.0], atol=1e-6)
    np.testing.assert_allclose(pos[2, i("r_foot")], [-0.09, 0.0, 0.34], atol=1e-6)
    # spine3 = 0.7 Chest + 0.3 Neck; l_collar = mean(Shoulder_L, UpperArm_L)
    np.testing.assert_allclose(pos[0, i("spine3")], [0, 0.7 * 1.20 + 0.3 * 1.45, 0], atol=1e-6)
    np.testing.assert_allclose(pos[0, i("l_collar")], [0.10, 1.40, 0], atol=1e-6)
    rep = orientation_report(pos)
    assert rep["left_ok"] == 1.0 and rep["height"] == pytest.approx(1.55) and rep["head_above_pelvis"] == pytest.approx(0.6)


def test_user_map_z_up_auto_units(tmp_path):
    """Z-up millimetre copy of the rig with renamed joints + a user JSON map == the Y-up preset result."""
    zup = lambda p: np.array([p[0], -p[2], p[1]]) * 10.0  # Y-up cm -> Z-up mm (right-handed: y_new = -z_old)
    rename = {n: f"bone_{k}" for k, (n, _, _) in enumerate(TPOSE)}
    text = make_bvh(axes=zup, rename=rename)
    preset = json.loads(json.dumps({k: v for k, v in get_preset("bandai-namco").joints.items()}))
    user = {"name": "my-rig", "unit_scale": "auto", "up_axis": "auto",
            "joints": {t: {rename[s]: w for s, w in spec.items()} for t, spec in preset.items()}}
    mp = tmp_path / "my_map.json"
    mp.write_text(json.dumps(user))
    bvh = tmp_path / "zup.bvh"
    bvh.write_text(text)
    with pytest.raises(SkeletonMapError) as ei:
        load_joints(bvh)  # unknown names, no map
    msg = str(ei.value)
    assert msg.startswith(str(bvh)) and "unmatched" in msg and "pelvis" in msg and "map_file" in msg
    j = load_joints(bvh, map_file=mp, fps=None)
    ref = load_joints(make_bvh().encode(), name="ref.bvh", fps=None)
    assert j.info["unit_scale"] == 0.001 and j.info["up_axis"] == "z" and j.preset == "my-rig"
    np.testing.assert_allclose(j.positions, ref.positions, atol=1e-5)


def test_map_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x",\n "joints": {"pelvis": "Hips",}}')
    with pytest.raises(SkeletonMapError, match="invalid JSON") as ei:
        load_map(bad)
    assert ei.value.line == 2
    with pytest.raises(SkeletonMapError, match="lacks target joints"):
        load_map({"name": "x", "joints": {"pelvis": "Hips"}})
    with pytest.raises(SkeletonMapError, match="unknown target joints"):
        load_map({"name": "x", "joints": {"hips": "Hips"}})
    with pytest.raises(SkeletonMapError, match="unknown skeleton preset"):
        get_preset("nope")
    m = read_bvh(make_bvh(), name="s.bvh")
    with pytest.raises(SkeletonMapError, match="no finger joints"):
        retarget(m, get_preset("bandai-namco"), target="wholebody")
    with pytest.raises(SkeletonMapError, match="source joints not found"):
        retarget(m, get_preset("cmu-daz"))


def test_units_axes_helpers():
    assert estimate_unit_scale(150.0) == 0.01 and estimate_unit_scale(1500.0) == 0.001
    assert estimate_unit_scale(1.5) == 1.0 and estimate_unit_scale(26.0) == pytest.approx(0.0254 / 0.45)
    for a in ("x", "y", "z", "-x", "-y", "-z"):
        r = up_rotation(a)
        v = np.zeros(3)
        v["xyz".index(a[-1])] = -1.0 if a.startswith("-") else 1.0
        np.testing.assert_allclose(r @ v, [0, 1, 0])
        assert np.linalg.det(r) == pytest.approx(1.0)


def test_attach_hands_shapes():
    m = read_bvh(make_bvh(), name="s.bvh")
    body, _ = retarget(m, get_preset("bandai-namco"))
    wb = attach_hands(body)
    assert wb.shape == (4, 52, 3)
    # default hand continues the forearm (+X for the left arm)
    assert np.all(wb[:, 22:37, 0] > body[:, 20:21, 0])
    rel = np.ones((4, 15, 3), np.float32) * 0.01
    wb = attach_hands(body, left=rel)
    np.testing.assert_allclose(wb[:, 22:37], body[:, 20:21] + rel)
