"""Tests of motiongpt2.motion.quaternion (numpy, plus the torch-compatible helpers)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from motiongpt2.motion.quaternion import (
    axis_angle_to_quaternion, cont6d_to_matrix, cont6d_to_quaternion, matrix_to_quaternion,
    mirror_quaternion, qbetween, qfix, qinv, qmul, qnormalize, qrot, qslerp, quaternion_to_axis_angle,
    quaternion_to_cont6d, quaternion_to_matrix, yaw_quaternion,
)

RNG = np.random.default_rng(0)


def rand_quat(*shape):
    return qnormalize(RNG.normal(size=shape + (4,)))


def same_rotation(a, b, atol=1e-9):
    """Quaternions equal up to sign."""
    d = np.minimum(np.abs(a - b).max(-1), np.abs(a + b).max(-1))
    return np.all(d < atol)


def test_qrot_matches_matrix_and_preserves_norm():
    q = rand_quat(5, 7)
    v = RNG.normal(size=(5, 7, 3))
    r = qrot(q, v)
    m = quaternion_to_matrix(q)
    np.testing.assert_allclose(r, np.einsum("...ij,...j->...i", m, v), atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(r, axis=-1), np.linalg.norm(v, axis=-1), atol=1e-12)
    # a 90° rotation about +Y maps +Z to +X
    np.testing.assert_allclose(qrot(yaw_quaternion(np.pi / 2), [0.0, 0.0, 1.0]), [1.0, 0.0, 0.0],
                               atol=1e-12)


def test_qmul_composition_and_inverse():
    a, b = rand_quat(10), rand_quat(10)
    v = RNG.normal(size=(10, 3))
    np.testing.assert_allclose(qrot(qmul(a, b), v), qrot(a, qrot(b, v)), atol=1e-12)
    np.testing.assert_allclose(quaternion_to_matrix(qmul(a, b)),
                               quaternion_to_matrix(a) @ quaternion_to_matrix(b), atol=1e-12)
    ident = qmul(a, qinv(a))
    np.testing.assert_allclose(ident, np.tile([1.0, 0, 0, 0], (10, 1)), atol=1e-12)
    # broadcasting of leading shapes
    assert qmul(rand_quat(3, 1), rand_quat(1, 4)).shape == (3, 4, 4)
    assert qrot(rand_quat(3, 1), RNG.normal(size=(3, 5, 3))).shape == (3, 5, 3)


def test_qbetween_generic_parallel_and_opposite():
    v0 = RNG.normal(size=(50, 3))
    v1 = RNG.normal(size=(50, 3))
    q = qbetween(v0, v1)
    u0 = v0 / np.linalg.norm(v0, axis=-1, keepdims=True)
    u1 = v1 / np.linalg.norm(v1, axis=-1, keepdims=True)
    np.testing.assert_allclose(qrot(q, u0), u1, atol=1e-10)
    assert np.all(q[:, 0] >= 0)
    # parallel → identity, opposite → 180° about a perpendicular axis, no NaN
    special = qbetween([[0, 1, 0], [0, 1, 0], [1, 2, 3], [0, 0, 2]], [[0, 3, 0], [0, -1, 0], [-1, -2, -3],
                                                                     [0, 0, -1]])
    assert np.all(np.isfinite(special))
    np.testing.assert_allclose(special[0], [1, 0, 0, 0], atol=1e-12)
    src = np.array([[0, 1, 0], [1, 2, 3], [0, 0, 2]], dtype=float)
    for q, s in zip(special[1:], src):
        np.testing.assert_allclose(qrot(q, s), -s, atol=1e-10)


def test_matrix_quaternion_round_trip_including_180_degrees():
    q = rand_quat(200)
    q = np.where(q[:, :1] < 0, -q, q)
    np.testing.assert_allclose(matrix_to_quaternion(quaternion_to_matrix(q)), q, atol=1e-10)
    # 180° rotations (w = 0) about each axis and identity
    hard = np.array([[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [1, 0, 0, 0], [0, 0.6, 0.8, 0]], float)
    assert same_rotation(matrix_to_quaternion(quaternion_to_matrix(hard)), hard)


def test_cont6d_round_trip_and_convention():
    q = rand_quat(4, 6)
    c = quaternion_to_cont6d(q)
    m = quaternion_to_matrix(q)
    # 6D = first two columns of the rotation matrix (HumanML3D convention)
    np.testing.assert_allclose(c[..., :3], m[..., :, 0], atol=1e-12)
    np.testing.assert_allclose(c[..., 3:], m[..., :, 1], atol=1e-12)
    np.testing.assert_allclose(cont6d_to_matrix(c), m, atol=1e-10)
    assert same_rotation(cont6d_to_quaternion(c), q, atol=1e-9)
    # Gram-Schmidt of an unnormalised, non-orthogonal 6D vector gives a proper rotation
    r = cont6d_to_matrix(RNG.normal(size=(20, 6)))
    np.testing.assert_allclose(r @ np.swapaxes(r, -1, -2), np.broadcast_to(np.eye(3), r.shape), atol=1e-10)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-10)


def test_axis_angle_round_trip_and_small_angles():
    aa = RNG.normal(size=(100, 3))
    aa = aa / np.linalg.norm(aa, axis=-1, keepdims=True) * RNG.uniform(0, np.pi - 1e-3, (100, 1))
    np.testing.assert_allclose(quaternion_to_axis_angle(axis_angle_to_quaternion(aa)), aa, atol=1e-9)
    tiny = np.array([[1e-10, 0, 0], [0, 0, 0]])
    np.testing.assert_allclose(quaternion_to_axis_angle(axis_angle_to_quaternion(tiny)), tiny, atol=1e-15)
    np.testing.assert_allclose(axis_angle_to_quaternion([0, np.pi / 2, 0]), yaw_quaternion(np.pi / 2),
                               atol=1e-12)


def test_qslerp_endpoints_midpoint_and_shortest_path():
    a, b = yaw_quaternion(0.2), yaw_quaternion(1.0)
    np.testing.assert_allclose(qslerp(a, b, 0.0), a, atol=1e-12)
    np.testing.assert_allclose(qslerp(a, b, 1.0), b, atol=1e-12)
    np.testing.assert_allclose(qslerp(a, b, 0.5), yaw_quaternion(0.6), atol=1e-12)
    # -b is the same rotation: slerp takes the short way
    assert same_rotation(qslerp(a, -b, 0.5), yaw_quaternion(0.6))
    # per-element t
    t = np.linspace(0, 1, 5)
    out = qslerp(np.broadcast_to(a, (5, 4)), np.broadcast_to(b, (5, 4)), t)
    np.testing.assert_allclose(out, yaw_quaternion(0.2 + 0.8 * t), atol=1e-12)


def test_qfix_removes_sign_flips():
    q = yaw_quaternion(np.linspace(0, 8 * np.pi, 200))
    flipped = q * np.where(RNG.random(200) < 0.5, -1.0, 1.0)[:, None]
    fixed = qfix(flipped)
    assert np.all((fixed[1:] * fixed[:-1]).sum(-1) > 0)
    assert same_rotation(fixed, q)


def test_mirror_quaternion_is_reflection_conjugation():
    q = rand_quat(30)
    M = np.diag([-1.0, 1.0, 1.0])
    np.testing.assert_allclose(quaternion_to_matrix(mirror_quaternion(q)),
                               M @ quaternion_to_matrix(q) @ M, atol=1e-12)


def test_torch_helpers_match_numpy():
    q = rand_quat(3, 8)
    v = RNG.normal(size=(3, 8, 3))
    c = RNG.normal(size=(3, 8, 6))
    tq, tv, tc = (torch.from_numpy(x) for x in (q, v, c))
    np.testing.assert_allclose(qrot(tq, tv).numpy(), qrot(q, v), atol=1e-12)
    np.testing.assert_allclose(qinv(tq).numpy(), qinv(q), atol=0)
    np.testing.assert_allclose(qmul(tq, tq).numpy(), qmul(q, q), atol=1e-12)
    np.testing.assert_allclose(cont6d_to_matrix(tc).numpy(), cont6d_to_matrix(c), atol=1e-12)
    np.testing.assert_allclose(quaternion_to_cont6d(tq).numpy(), quaternion_to_cont6d(q), atol=1e-12)
    # float32 tensors with gradients
    tc32 = torch.from_numpy(c.astype(np.float32)).requires_grad_(True)
    cont6d_to_matrix(tc32).sum().backward()
    assert tc32.grad is not None and torch.isfinite(tc32.grad).all()


@pytest.mark.parametrize("shape", [(), (7,), (2, 3, 4)])
def test_shapes(shape):
    q = rand_quat(*shape)
    assert quaternion_to_matrix(q).shape == shape + (3, 3)
    assert quaternion_to_cont6d(q).shape == shape + (6,)
    assert matrix_to_quaternion(quaternion_to_matrix(q)).shape == shape + (4,)
    assert quaternion_to_axis_angle(q).shape == shape + (3,)
