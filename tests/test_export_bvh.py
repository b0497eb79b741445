"""BVH export: round trip through our reader (≤ 1 mm per joint per frame), rotations, Euler angles."""
from __future__ import annotations

import numpy as np
import pytest

from motiongpt2.motion.features import extract_features, recover_from_ric
from motiongpt2.motion.io.bvh import read_bvh
from motiongpt2.motion.io.mocap import euler_to_matrix
from motiongpt2.motion.skeleton import HUMANML3D, WHOLEBODY
from motiongpt2.motion.synthetic import synthetic_motion
from motiongpt2.render.export_bvh import (
    bvh_from_joints,
    features_global_rotations,
    matrix_to_euler_zxy,
    write_bvh,
)

MM = 1e-3


def reread(path, names):
    """World positions of ``names`` re-read through our BVH reader, file units."""
    m = read_bvh(path)
    idx = [m.names.index(n) for n in names]
    return m, m.world_positions()[:, idx]


@pytest.mark.parametrize("skel", [HUMANML3D, WHOLEBODY], ids=lambda s: s.name)
def test_roundtrip_rigid_motion_rotation_only(tmp_path, skel):
    pos = synthetic_motion(skel, seconds=4.0, fps=20.0, seed=1)
    exp = write_bvh(pos, tmp_path / "m.bvh", fps=20.0)
    m, back = reread(tmp_path / "m.bvh", exp.names)
    err = np.linalg.norm(back - pos, axis=-1)
    assert err.max() < 0.01 * MM, err.max()
    # constant bone lengths and rigid siblings: only the root needs position channels
    assert exp.position_channels.tolist() == [True] + [False] * (skel.n_joints - 1)
    assert m.fps == 20.0 and abs(m.meta["frame_time"] - 0.05) < 1e-8
    assert m.n_frames == len(pos)
    # the hierarchy is the skeleton's: names, parents (End Sites appended as leaves)
    real = [i for i, e in enumerate(m.end_site) if not e]
    assert sorted(m.names[i] for i in real) == sorted(skel.joint_names)
    for k, name in enumerate(skel.joint_names):
        par = m.parents[m.names.index(name)]
        assert (par < 0) if k == 0 else m.names[par] == skel.joint_names[skel.parents[k]]
    assert int(m.end_site.sum()) == sum(1 for k in range(skel.n_joints) if k not in skel.parents)


def test_roundtrip_bone_length_noise_uses_position_channels(tmp_path):
    rng = np.random.default_rng(3)
    pos = synthetic_motion(HUMANML3D, seconds=2.0, seed=2) + rng.normal(0, 0.004, (40, 22, 3))
    exp = write_bvh(pos, tmp_path / "n.bvh", fps=30.0)
    _, back = reread(tmp_path / "n.bvh", exp.names)
    assert np.linalg.norm(back - pos, axis=-1).max() < 0.01 * MM
    assert exp.position_channels.sum() > 1
    never = bvh_from_joints(pos, 30.0, stretch="never")
    assert not never.position_channels[1:].any()
    assert 1 * MM < never.max_error < 0.05                       # rotation-only: bounded residual


def test_features_input_and_twist_from_6d(tmp_path):
    pos = synthetic_motion(HUMANML3D, seconds=3.0, seed=4)
    feats = extract_features(pos)[0]
    exp = write_bvh(feats, tmp_path / "f.bvh", fps=20.0)
    assert exp.info["twist"] == "features"
    _, back = reread(tmp_path / "f.bvh", exp.names)
    ref = recover_from_ric(feats.astype(np.float64))
    assert np.linalg.norm(back - ref, axis=-1).max() < 1 * MM
    # the decoded 6D rotations map each raw rest direction onto the decoded bone direction
    G = features_global_rotations(feats, HUMANML3D)
    par = np.asarray(HUMANML3D.parents)
    bone = ref[:, 1:] - ref[:, par[1:]]
    bone /= np.linalg.norm(bone, axis=-1, keepdims=True)
    mapped = np.einsum("tkij,kj->tki", G[:, 1:], HUMANML3D.raw_offsets[1:])
    assert np.abs(mapped - bone).max() < 1e-3


def test_cm_unit_and_twist_minimal(tmp_path):
    pos = synthetic_motion(HUMANML3D, seconds=1.0, seed=5)
    exp = write_bvh(pos, tmp_path / "c.bvh", fps=25.0, unit="cm", twist="minimal")
    m, back = reread(tmp_path / "c.bvh", exp.names)
    assert np.linalg.norm(back / 100.0 - pos, axis=-1).max() < 0.01 * MM
    assert m.fps == 25.0


def test_euler_zxy_continuous_through_gimbal_lock():
    # an arm swinging forward through X = -90 deg while twisting: the matrices must be reproduced
    # exactly and the angle curves must stay continuous (no 180/360 deg jumps between frames)
    t = np.linspace(0, 1, 200)
    ang = np.stack([40 * np.sin(3 * t), -90 + 30 * np.cos(5 * t), 60 * t], -1)
    R = euler_to_matrix(ang, "ZXY")
    eul = matrix_to_euler_zxy(R)
    assert np.abs(euler_to_matrix(eul, "ZXY") - R).max() < 1e-9
    x_near_lock = np.abs(np.abs(eul[:, 1]) % 360 - 90) < 5
    assert x_near_lock.any()
    steps = np.abs(np.diff(eul, axis=0))
    assert (steps[~(x_near_lock[1:] | x_near_lock[:-1])] < 10).all()


def test_real_clip_roundtrip(tmp_path, shared_data):
    from motiongpt2.motion.io.load import load_joints

    clip = shared_data / "mocap" / "cmu" / "bvh" / "01_01.bvh"
    if not clip.exists():
        pytest.skip(f"{clip} not found")
    pos = load_joints(clip).positions.astype(np.float64)
    exp = write_bvh(pos, tmp_path / "cmu.bvh", fps=20.0)
    _, back = reread(tmp_path / "cmu.bvh", exp.names)
    err = np.linalg.norm(back - pos, axis=-1)
    assert err.max() < 1 * MM, err.max()
    feats = extract_features(pos)[0]
    exp = write_bvh(feats, tmp_path / "cmu_f.bvh", fps=20.0)
    _, back = reread(tmp_path / "cmu_f.bvh", exp.names)
    assert np.linalg.norm(back - recover_from_ric(feats.astype(np.float64)), axis=-1).max() < 1 * MM


def test_bad_inputs(tmp_path):
    with pytest.raises(ValueError, match="infer the skeleton"):
        write_bvh(np.zeros((5, 7, 3)), tmp_path / "x.bvh")
    with pytest.raises(ValueError, match="fps"):
        write_bvh(synthetic_motion(HUMANML3D, 1.0), tmp_path / "x.bvh", fps=0)
    with pytest.raises(ValueError, match="twist"):
        write_bvh(synthetic_motion(HUMANML3D, 1.0), tmp_path / "x.bvh", twist="features")
    with pytest.raises(ValueError, match="unit"):
        write_bvh(synthetic_motion(HUMANML3D, 1.0), tmp_path / "x.bvh", unit="ft")
