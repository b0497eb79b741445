"""SMPL-style npz, plain joints npy/json, and the export dispatcher."""
from __future__ import annotations

import json

import numpy as np
import pytest

from motiongpt2.motion.quaternion import axis_angle_to_quaternion, quaternion_to_matrix
from motiongpt2.motion.skeleton import HUMANML3D, WHOLEBODY
from motiongpt2.motion.synthetic import synthetic_motion
from motiongpt2.render.export import export_motion
from motiongpt2.render.export_smpl import smpl_params


def fk_from_npz(p) -> np.ndarray:
    """Forward kinematics of ``poses``/``trans`` with ``rest_offsets`` (+ residuals)."""
    T = len(p["trans"])
    J = len(p["joint_names"])
    R = quaternion_to_matrix(axis_angle_to_quaternion(p["poses"].reshape(T, J, 3).astype(np.float64)))
    W = np.empty_like(R)
    pos = np.zeros((T, J, 3))
    off = p["rest_offsets"].astype(np.float64)[None] + p["translation_residual"]
    for k, par in enumerate(p["parents"]):
        if par < 0:
            W[:, k], pos[:, k] = R[:, k], p["trans"]
        else:
            W[:, k] = W[:, par] @ R[:, k]
            pos[:, k] = pos[:, par] + np.einsum("tij,tj->ti", W[:, par], off[:, k])
    return pos


@pytest.mark.parametrize("skel", [HUMANML3D, WHOLEBODY], ids=lambda s: s.name)
def test_smpl_npz_layout_and_fk(tmp_path, skel):
    pos = synthetic_motion(skel, seconds=2.0, seed=7)
    rep = export_motion(pos, tmp_path / "m.npz", fps=20.0)
    assert rep["format"] == "npz" and rep["frames"] == len(pos) and rep["skeleton"] == skel.name
    p = dict(np.load(tmp_path / "m.npz", allow_pickle=False))
    J = skel.n_joints
    assert p["poses"].shape == (len(pos), J * 3) and p["poses"].dtype == np.float32
    assert p["trans"].shape == (len(pos), 3)
    assert float(p["mocap_framerate"]) == 20.0 and str(p["gender"]) == "neutral"
    assert list(p["joint_names"]) == list(skel.joint_names)
    assert np.abs(p["translation_residual"]).max() < 1e-5           # rigid motion: rotations suffice
    assert np.linalg.norm(fk_from_npz(p) - pos, axis=-1).max() < 1e-4  # float32 storage
    assert "not SMPL" in str(p["note"])


def test_smpl_z_up(tmp_path):
    pos = synthetic_motion(HUMANML3D, seconds=1.0, seed=8)
    y = smpl_params(pos, 20.0)
    z = smpl_params(pos, 20.0, up="z")
    assert np.allclose(z["trans"][:, 2], y["trans"][:, 1], atol=1e-6)   # height is Z
    assert np.allclose(z["trans"][:, 1], -y["trans"][:, 2], atol=1e-6)
    zpos = fk_from_npz(z)
    assert np.allclose(zpos[..., 2], pos[..., 1], atol=1e-4)
    with pytest.raises(ValueError):
        smpl_params(pos, 20.0, up="x")


def test_npy_json_and_features(tmp_path):
    pos = synthetic_motion(HUMANML3D, seconds=1.0, seed=9)
    export_motion(pos, tmp_path / "a.npy", fps=20.0)
    assert np.allclose(np.load(tmp_path / "a.npy"), pos, atol=1e-6)
    rep = export_motion(pos, tmp_path / "sub" / "a.json", fps=20.0)
    doc = json.loads((tmp_path / "sub" / "a.json").read_text())
    assert doc["fps"] == 20.0 and doc["skeleton"] == "humanml3d" and doc["n_frames"] == len(pos)
    assert doc["joint_names"] == list(HUMANML3D.joint_names) and doc["parents"][0] == -1
    assert np.abs(np.array(doc["joints"]) - pos).max() < 1e-5
    assert rep["seconds"] >= 0
    from motiongpt2.motion.features import extract_features, recover_from_ric
    feats = extract_features(pos)[0]
    export_motion(feats, tmp_path / "f.npy")
    assert np.allclose(np.load(tmp_path / "f.npy"), recover_from_ric(feats.astype(np.float64)), atol=1e-5)
    rep = export_motion(feats, tmp_path / "f.bvh")
    assert rep["max_error"] < 1e-3 and "pelvis" in rep["position_channels"]


def test_dispatcher_errors(tmp_path):
    pos = synthetic_motion(HUMANML3D, seconds=0.5)
    with pytest.raises(ValueError, match=r"\.bvh, \.npz"):
        export_motion(pos, tmp_path / "a.fbx")
    with pytest.raises(TypeError):
        export_motion(pos, tmp_path / "a.npy", unit="cm")
    with pytest.raises(ValueError, match="feature dimension 22"):
        export_motion(np.zeros((3, 22)), tmp_path / "a.npy")
    export_motion(pos, tmp_path / "a.dat", fmt="npy")
    assert np.load(tmp_path / "a.dat").shape == pos.shape
