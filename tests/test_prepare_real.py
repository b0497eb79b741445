"""Real mocap from every source rig, imported and featurised: upright, on the floor, facing +Z, left on +X.

The facing step aligns hips/shoulders by construction, so these checks use independent evidence: the feet
(toe minus ankle) must point forward (+Z) at the first frame, the head must be above the pelvis, and the
lowest foot must touch the floor. A mirrored import (left/right swapped) would face the toes backwards.
"""
from __future__ import annotations

import numpy as np
import pytest

from motiongpt2.motion.features import extract_features
from motiongpt2.motion.io.load import load_joints
from motiongpt2.motion.skeleton import HUMANML3D

pytestmark = pytest.mark.shared

# one trial per CMU rig (see the shared data README) and one Bandai-Namco take
CMU_FILES = {
    "cmu-cgspeed-31": "bvh/01_01.bvh",
    "cmu-cgspeed-31-max": "bvh/131_02.bvh",
    "cmu-daz": "bvh/02_02.bvh",
    "cmu-asfnames-31": "bvh/16_01.bvh",
    "cmu-asf": "asfamc/01_02.amc.xz",
    "iclone-cc-base": "bvh/02_05.bvh.xz",
}


def _check_pose(joints: np.ndarray, label: str) -> None:
    j0 = joints[:5].mean(axis=0)  # first frames (T, 22, 3) → (22, 3)
    k = {n: i for i, n in enumerate(HUMANML3D.joint_names)}
    assert j0[k["head"], 1] - j0[k["pelvis"], 1] > 0.35, f"{label}: not upright"
    for side in ("l", "r"):
        toe = j0[k[f"{side}_foot"]] - j0[k[f"{side}_ankle"]]
        assert toe[2] > 0.02, f"{label}: {side} foot points {toe} — not facing +Z"
    for a, b in (("l_hip", "r_hip"), ("l_shoulder", "r_shoulder"), ("l_wrist", "r_wrist"), ("l_ankle", "r_ankle")):
        assert j0[k[a], 0] > j0[k[b], 0], f"{label}: {a} not on +X of {b}"
    feet = joints[:, [7, 8, 10, 11], 1]
    assert abs(feet.min()) < 0.02, f"{label}: lowest foot at {feet.min():.3f} m, not on the floor"


@pytest.mark.parametrize("preset,rel", sorted(CMU_FILES.items()))
def test_every_cmu_rig_imports_upright_facing_z(shared_data, preset, rel):
    path = shared_data / "mocap" / "cmu" / rel
    j = load_joints(path, preset="auto")
    assert j.preset == preset
    _, joints = extract_features(j.positions, HUMANML3D)
    _check_pose(joints, f"{preset} {rel}")


def test_bandai_namco_imports_upright_facing_z(shared_data):
    from motiongpt2.motion.io.archive import iter_archive

    archive = shared_data / "mocap" / "bandai-namco" / "dataset-1.tar.xz"
    name, data = next(iter_archive(archive, wanted={"data/dataset-1_walk_normal_001.bvh"}))
    j = load_joints(data, preset="auto", name=name)
    assert j.preset == "bandai-namco"
    _, joints = extract_features(j.positions, HUMANML3D)
    _check_pose(joints, name)
