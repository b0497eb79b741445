"""ADE/FDE, pose-control Recon/Vel, MPJPE and the completion/reconstruction bundles."""
from __future__ import annotations

import numpy as np
import pytest

from motiongpt2.eval import completion as K
from motiongpt2.eval import metrics as M


def _offset_motion(t: int, j: int, norms: np.ndarray, rng) -> np.ndarray:
    """(t, j, 3) displacement whose flattened per-frame norm is ``norms[t]``."""
    d = rng.standard_normal((t, j * 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    return (d * norms[:, None]).reshape(t, j, 3)


def test_ade_fde_known_answer_and_padding_ignored():
    rng = np.random.default_rng(0)
    b, t, j = 3, 40, 22
    gt = rng.standard_normal((b, t, j, 3))
    pred = gt.copy()
    for i in range(b):
        pred[i] += _offset_motion(t, j, np.arange(t, dtype=float), rng)  # frame t is off by exactly t
    lengths = np.array([40, 30, 25])
    pred[1, 30:] += 1e6  # padding beyond the length must not count
    pred[2, 25:] = np.nan
    start = np.array([8, 6, 5])  # first 20% given
    out = K.ade_fde(pred, gt, lengths=lengths, start=start)
    ade = np.mean([np.mean(np.arange(s, L)) for s, L in zip(start, lengths)])
    fde = np.mean(lengths - 1)
    assert out["ADE"] == pytest.approx(ade)
    assert out["FDE"] == pytest.approx(fde)
    # in-betweening window [start, end)
    win = K.ade_fde(pred, gt, lengths=lengths, start=5, end=15)
    assert win["ADE"] == pytest.approx(np.mean(np.arange(5, 15)))
    assert win["FDE"] == pytest.approx(14.0)


def test_ade_per_joint_vs_loop():
    rng = np.random.default_rng(1)
    pred, gt = rng.standard_normal((2, 10, 5, 3)), rng.standard_normal((2, 10, 5, 3))
    out = K.ade_fde(pred, gt, per_joint=True)
    loop = [np.mean([np.linalg.norm(pred[b, f, k] - gt[b, f, k]) for f in range(10) for k in range(5)]) for b in range(2)]
    assert out["ADE"] == pytest.approx(np.mean(loop))
    flat = K.ade_fde(pred, gt)
    loop = [np.mean([np.linalg.norm((pred[b, f] - gt[b, f]).ravel()) for f in range(10)]) for b in range(2)]
    assert flat["ADE"] == pytest.approx(np.mean(loop))
    with pytest.raises(ValueError):
        K.ade_fde(pred, gt, start=10)


def test_velocity():
    x = np.array([[0.0], [1.0], [3.0], [6.0]])
    np.testing.assert_array_equal(K.velocity(x), [[1.0], [1.0], [2.0], [3.0]])
    with pytest.raises(ValueError):
        K.velocity(x[:1])


def _smooth_motion(t: int, j: int, rng) -> np.ndarray:
    return np.cumsum(rng.standard_normal((t, j, 3)) * 0.1, axis=0)


def test_pose_control_initial_known_answer():
    rng = np.random.default_rng(2)
    target = _smooth_motion(60, 22, rng)
    gen = _smooth_motion(50, 22, rng)
    gen[:5] = target[:5] + _offset_motion(5, 22, np.full(5, 0.5), rng)  # constant-norm offsets
    frames = np.arange(5)
    out = K.pose_control_errors(gen, target, frames, "initial")
    assert out["Recon"] == pytest.approx(0.5)
    np.testing.assert_array_equal(out["matched"], frames)
    vg, vt = K.velocity(gen), K.velocity(target)
    vel = np.mean([np.linalg.norm((vg[f] - vt[f]).ravel()) for f in frames])
    assert out["Vel"] == pytest.approx(vel)
    exact = target.copy()
    assert K.pose_control_errors(exact, target, frames, "initial")["Recon"] == 0.0


def test_pose_control_last_aligns_to_the_end():
    rng = np.random.default_rng(3)
    target = _smooth_motion(40, 22, rng)
    gen = np.concatenate([_smooth_motion(20, 22, rng), target[-30:]])  # 50 frames, ends like target
    frames = np.arange(35, 40)
    out = K.pose_control_errors(gen, target, frames, "last")
    np.testing.assert_array_equal(out["matched"], np.arange(45, 50))
    assert out["Recon"] == 0.0 and out["Vel"] == 0.0


def test_pose_control_key_poses_nearest_frame():
    rng = np.random.default_rng(4)
    target = _smooth_motion(60, 22, rng) * 10
    shift = 7
    gen = np.concatenate([_smooth_motion(shift, 22, rng) * 10 + 100.0, target])  # target delayed by 7
    frames = np.array([10, 25, 40])
    out = K.pose_control_errors(gen, target, frames, "key")
    np.testing.assert_array_equal(out["matched"], frames + shift)
    assert out["Recon"] == 0.0 and out["Vel"] == pytest.approx(0.0, abs=1e-12)
    # brute-force nearest frame on a perturbed generation
    noisy = gen + rng.standard_normal(gen.shape)
    got = K.match_frames(noisy, target, frames, "key")
    brute = [min(range(len(noisy)), key=lambda t: np.sum((noisy[t] - target[f]) ** 2)) for f in frames]
    np.testing.assert_array_equal(got, brute)
    agg = K.pose_control_metrics([gen, noisy], [target, target], [frames, frames], "key")
    single = K.pose_control_errors(noisy, target, frames, "key")
    assert agg["Recon"] == pytest.approx(single["Recon"] / 2)
    with pytest.raises(ValueError):
        K.match_frames(gen, target, frames, "middle")
    with pytest.raises(ValueError):
        K.pose_control_errors(gen[:5], target, frames, "initial")


def test_mpjpe_known_answer():
    rng = np.random.default_rng(5)
    gt = rng.standard_normal((2, 12, 22, 3))
    offsets = rng.standard_normal((22, 3))
    offsets /= np.linalg.norm(offsets, axis=1, keepdims=True)
    offsets *= np.arange(22)[:, None]  # joint k off by exactly k
    pred = gt + offsets
    assert K.mpjpe(pred, gt) == pytest.approx(np.mean(np.arange(22)))
    pred[1, 8:] = 1e9  # beyond length
    assert K.mpjpe(pred, gt, lengths=[12, 8]) == pytest.approx(np.mean(np.arange(22)))
    # a global translation vanishes after root alignment
    moved = gt + np.array([1.0, 2.0, 3.0])
    assert K.mpjpe(moved, gt) == pytest.approx(np.sqrt(14))
    assert K.mpjpe(moved, gt, root_align=True) == pytest.approx(0.0, abs=1e-12)


def test_completion_and_reconstruction_bundles():
    rng = np.random.default_rng(6)
    real = rng.standard_normal((400, 16))
    gen = real + 0.5
    joints = rng.standard_normal((4, 20, 22, 3))
    out = K.completion_metrics(joints, joints, gen, real, rng=3, start=4)
    assert out["FID"] == pytest.approx(16 * 0.25, rel=1e-6)  # pure mean shift
    assert out["Diversity"] == M.diversity(gen, rng=3)
    assert out["ADE"] == 0.0 and out["FDE"] == 0.0
    rec = K.reconstruction_metrics(real, real, joints, joints + np.array([0.0, 0.0, 0.01]))
    assert rec["FID"] == pytest.approx(0.0, abs=1e-8)
    assert rec["MPJPE"] == pytest.approx(0.01)
