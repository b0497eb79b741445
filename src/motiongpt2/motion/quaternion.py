"""Quaternion and rotation helpers (HumanML3D conventions).

Quaternions are stored as ``(..., 4)`` arrays in ``(w, x, y, z)`` order, any leading shape, and
represent the rotation ``v -> q v q*`` (right-handed, active). Rotation matrices are ``(..., 3, 3)``
and act on column vectors (``R @ v``). The continuous 6D representation is the first two *columns*
of the rotation matrix concatenated, ``(..., 6) = [R[:, 0], R[:, 1]]`` (the HumanML3D / Zhou et al.
convention).

Everything is vectorised numpy. ``qmul``, ``qinv``, ``qrot``, ``qnormalize``,
``quaternion_to_matrix``, ``quaternion_to_cont6d`` and ``cont6d_to_matrix`` also accept torch
tensors (they only use indexing, arithmetic and stacking and dispatch on the input type), so they can
be used inside training code with autograd.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "qnormalize", "qmul", "qinv", "qrot", "qbetween", "qfix", "qslerp",
    "quaternion_to_matrix", "matrix_to_quaternion", "quaternion_to_cont6d", "cont6d_to_matrix",
    "cont6d_to_quaternion", "axis_angle_to_quaternion", "quaternion_to_axis_angle",
    "yaw_quaternion", "mirror_quaternion", "identity_quaternion",
]


# --------------------------------------------------------------------------- backend helpers
def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


def _stack(parts, x):
    if _is_torch(x):
        import torch
        return torch.stack(parts, dim=-1)
    return np.stack(parts, axis=-1)


def _cat(parts, x):
    if _is_torch(x):
        import torch
        return torch.cat(parts, dim=-1)
    return np.concatenate(parts, axis=-1)


def _sqrt(x):
    if _is_torch(x):
        import torch
        return torch.sqrt(x)
    return np.sqrt(x)


def _broadcast(a, b):
    """Broadcast the leading (all but last) axes of ``a`` and ``b``; torch if either is a tensor."""
    if _is_torch(a) or _is_torch(b):
        import torch
        ref = a if _is_torch(a) else b
        a = a if _is_torch(a) else torch.as_tensor(np.asarray(a), dtype=ref.dtype, device=ref.device)
        b = b if _is_torch(b) else torch.as_tensor(np.asarray(b), dtype=ref.dtype, device=ref.device)
        if a.dtype != b.dtype:
            dt = torch.promote_types(a.dtype, b.dtype)
            a, b = a.to(dt), b.to(dt)
        shape = torch.broadcast_shapes(a.shape[:-1], b.shape[:-1])
        return a.expand(*shape, a.shape[-1]), b.expand(*shape, b.shape[-1])
    a = np.asarray(a)
    b = np.asarray(b)
    shape = np.broadcast_shapes(a.shape[:-1], b.shape[:-1])
    return np.broadcast_to(a, shape + a.shape[-1:]), np.broadcast_to(b, shape + b.shape[-1:])


def _as_float(x):
    if _is_torch(x):
        return x
    x = np.asarray(x)
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)


def _cross(a, b):
    """Cross product over the last axis (numpy or torch)."""
    ax, ay, az = a[..., 0], a[..., 1], a[..., 2]
    bx, by, bz = b[..., 0], b[..., 1], b[..., 2]
    return _stack([ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx], a)


# --------------------------------------------------------------------------- core algebra
def identity_quaternion(shape=(), dtype=np.float64) -> np.ndarray:
    """``shape + (4,)`` identity quaternions ``(1, 0, 0, 0)``."""
    q = np.zeros(tuple(shape) + (4,), dtype=dtype)
    q[..., 0] = 1.0
    return q


def qnormalize(q, eps: float = 1e-12):
    """Unit quaternions ``(..., 4)``; zero-norm inputs are returned unchanged (divided by ``eps``)."""
    q = _as_float(q)
    n = _sqrt((q * q).sum(-1))[..., None]
    if _is_torch(q):
        return q / n.clamp_min(eps)
    return q / np.maximum(n, eps)


def qmul(a, b):
    """Hamilton product ``a ⊗ b`` of ``(..., 4)`` quaternions (broadcasting leading shapes).

    ``qrot(qmul(a, b), v) == qrot(a, qrot(b, v))``.
    """
    a, b = _broadcast(_as_float(a), _as_float(b))
    aw, ax, ay, az = a[..., 0], a[..., 1], a[..., 2], a[..., 3]
    bw, bx, by, bz = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    return _stack([
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    ], a)


def qinv(q):
    """Inverse of unit quaternions ``(..., 4)`` (the conjugate ``(w, -x, -y, -z)``)."""
    q = _as_float(q)
    return _stack([q[..., 0], -q[..., 1], -q[..., 2], -q[..., 3]], q)


def qrot(q, v):
    """Rotate vectors ``v (..., 3)`` by unit quaternions ``q (..., 4)`` (leading shapes broadcast).

    Uses ``v + 2w (u × v) + 2 u × (u × v)`` with ``u = (x, y, z)``.
    """
    q, v = _broadcast(_as_float(q), _as_float(v))
    u = q[..., 1:]
    w = q[..., :1]
    uv = _cross(u, v)
    uuv = _cross(u, uv)
    return v + 2.0 * (w * uv + uuv)


def qbetween(v0, v1, eps: float = 1e-9) -> np.ndarray:
    """Shortest-arc unit quaternion rotating direction ``v0`` onto ``v1``; ``(..., 3) -> (..., 4)``.

    Same formula as the official ``qbetween_np`` (``w = |v0||v1| + v0·v1``, ``xyz = v0 × v1``,
    normalised, so ``w >= 0``) but robust for (anti-)parallel inputs: opposite vectors get a 180°
    rotation about an axis perpendicular to ``v0``.
    """
    v0, v1 = _broadcast(np.asarray(v0, dtype=np.float64), np.asarray(v1, dtype=np.float64))
    xyz = np.cross(v0, v1)
    n0 = np.linalg.norm(v0, axis=-1)
    n1 = np.linalg.norm(v1, axis=-1)
    w = n0 * n1 + (v0 * v1).sum(-1)
    q = np.concatenate([w[..., None], xyz], axis=-1)
    norm = np.linalg.norm(q, axis=-1)
    bad = norm <= eps * np.maximum(n0 * n1, eps)
    if np.any(bad):
        a = v0[bad]
        # perpendicular axis: cross with the coordinate axis least aligned with a
        e = np.eye(3)[np.argmin(np.abs(a), axis=-1)]
        axis = np.cross(a, e)
        axis /= np.maximum(np.linalg.norm(axis, axis=-1, keepdims=True), 1e-300)
        q[bad] = np.concatenate([np.zeros((len(a), 1)), axis], axis=-1)
        norm = np.linalg.norm(q, axis=-1)
    return q / np.maximum(norm, 1e-300)[..., None]


def qfix(q: np.ndarray) -> np.ndarray:
    """Remove sign flips along axis 0 of ``(T, ..., 4)`` so consecutive quaternions have dot ≥ 0."""
    q = np.asarray(q, dtype=np.float64)
    if len(q) < 2:
        return q.copy()
    dots = (q[1:] * q[:-1]).sum(-1)
    flips = np.cumsum(dots < 0, axis=0) % 2
    sign = np.concatenate([np.ones_like(flips[:1]), 1 - 2 * flips], axis=0)
    return q * sign[..., None]


def qslerp(q0, q1, t) -> np.ndarray:
    """Spherical linear interpolation between unit quaternions (shortest path).

    Args:
        q0, q1: ``(..., 4)`` unit quaternions.
        t: interpolation weight, scalar or array broadcastable to the leading shape (0 → q0, 1 → q1).
    """
    q0 = np.asarray(q0, dtype=np.float64)
    q1 = np.asarray(q1, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)[..., None]
    dot = (q0 * q1).sum(-1, keepdims=True)
    q1 = np.where(dot < 0, -q1, q1)
    dot = np.abs(dot)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    sin_t = np.sin(theta)
    small = sin_t < 1e-6
    safe = np.where(small, 1.0, sin_t)
    w0 = np.where(small, 1.0 - t, np.sin((1.0 - t) * theta) / safe)
    w1 = np.where(small, t, np.sin(t * theta) / safe)
    return qnormalize(w0 * q0 + w1 * q1)


# --------------------------------------------------------------------------- conversions
def quaternion_to_matrix(q):
    """``(..., 4)`` quaternions (normalised here) → ``(..., 3, 3)`` rotation matrices (numpy/torch)."""
    q = qnormalize(q)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    xx, yy, zz = x * x, y * y, z * z
    xy, xz, yz = x * y, x * z, y * z
    wx, wy, wz = w * x, w * y, w * z
    rows = [
        _stack([1 - 2 * (yy + zz), 2 * (xy - wz), 2 * (xz + wy)], q),
        _stack([2 * (xy + wz), 1 - 2 * (xx + zz), 2 * (yz - wx)], q),
        _stack([2 * (xz - wy), 2 * (yz + wx), 1 - 2 * (xx + yy)], q),
    ]
    if _is_torch(q):
        import torch
        return torch.stack(rows, dim=-2)
    return np.stack(rows, axis=-2)


def matrix_to_quaternion(m) -> np.ndarray:
    """``(..., 3, 3)`` rotation matrices → ``(..., 4)`` unit quaternions with ``w >= 0``.

    Vectorised Shepperd method: for every matrix the numerically best of the four candidate
    formulas (largest of ``w², x², y², z²``) is used.
    """
    m = np.asarray(m, dtype=np.float64)
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    tr = m00 + m11 + m22
    cand = np.stack([tr, m00, m11, m22], axis=-1)
    best = np.argmax(cand, axis=-1)
    # 4 * component^2 for the selected component
    s = np.sqrt(np.maximum(1.0 + 2.0 * np.take_along_axis(cand, best[..., None], -1)[..., 0] - tr,
                           1e-300)) * 2.0
    q = np.empty(m.shape[:-2] + (4,))
    d21, d02, d10 = m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]
    s21, s02, s10 = m[..., 2, 1] + m[..., 1, 2], m[..., 0, 2] + m[..., 2, 0], m[..., 1, 0] + m[..., 0, 1]
    opts = [
        np.stack([0.25 * s, d21 / s, d02 / s, d10 / s], -1),
        np.stack([d21 / s, 0.25 * s, s10 / s, s02 / s], -1),
        np.stack([d02 / s, s10 / s, 0.25 * s, s21 / s], -1),
        np.stack([d10 / s, s02 / s, s21 / s, 0.25 * s], -1),
    ]
    for k in range(4):
        sel = best == k
        q[sel] = opts[k][sel]
    q = np.where(q[..., :1] < 0, -q, q)
    return qnormalize(q)


def quaternion_to_cont6d(q):
    """``(..., 4)`` quaternions → ``(..., 6)`` continuous 6D rotations (first two matrix columns)."""
    m = quaternion_to_matrix(q)
    return _cat([m[..., :, 0], m[..., :, 1]], m)


def cont6d_to_matrix(c):
    """``(..., 6)`` 6D rotations → ``(..., 3, 3)`` matrices by Gram–Schmidt (numpy or torch).

    ``x = normalize(c[:3])``, ``z = normalize(x × c[3:])``, ``y = z × x``; columns ``[x, y, z]``.
    """
    c = _as_float(c)
    x_raw, y_raw = c[..., 0:3], c[..., 3:6]
    x = x_raw / _sqrt((x_raw * x_raw).sum(-1))[..., None]
    z = _cross(x, y_raw)
    z = z / _sqrt((z * z).sum(-1))[..., None]
    y = _cross(z, x)
    if _is_torch(c):
        import torch
        return torch.stack([x, y, z], dim=-1)
    return np.stack([x, y, z], axis=-1)


def cont6d_to_quaternion(c) -> np.ndarray:
    """``(..., 6)`` 6D rotations → ``(..., 4)`` unit quaternions (``w >= 0``)."""
    return matrix_to_quaternion(cont6d_to_matrix(np.asarray(c, dtype=np.float64)))


def axis_angle_to_quaternion(aa) -> np.ndarray:
    """``(..., 3)`` axis-angle vectors (axis × angle in radians) → ``(..., 4)`` unit quaternions."""
    aa = np.asarray(aa, dtype=np.float64)
    angle = np.linalg.norm(aa, axis=-1, keepdims=True)
    half = 0.5 * angle
    small = angle < 1e-8
    # sin(half)/angle with a Taylor fallback near 0
    k = np.where(small, 0.5 - angle ** 2 / 48.0, np.sin(half) / np.where(small, 1.0, angle))
    return np.concatenate([np.cos(half), aa * k], axis=-1)


def quaternion_to_axis_angle(q) -> np.ndarray:
    """``(..., 4)`` quaternions → ``(..., 3)`` axis-angle vectors with angle in ``[0, π]``."""
    q = qnormalize(np.asarray(q, dtype=np.float64))
    q = np.where(q[..., :1] < 0, -q, q)
    sin_half = np.linalg.norm(q[..., 1:], axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(sin_half, q[..., :1])
    small = sin_half < 1e-8
    k = np.where(small, 2.0 + angle ** 2 / 12.0, angle / np.where(small, 1.0, sin_half))
    return q[..., 1:] * k


def yaw_quaternion(angle) -> np.ndarray:
    """Rotation by ``angle`` radians about +Y: ``(...,)`` → ``(..., 4)``."""
    angle = np.asarray(angle, dtype=np.float64)
    q = np.zeros(angle.shape + (4,))
    q[..., 0] = np.cos(0.5 * angle)
    q[..., 2] = np.sin(0.5 * angle)
    return q


def mirror_quaternion(q):
    """Conjugate a rotation by the reflection ``X -> -X``: ``R' = M R M``, ``M = diag(-1, 1, 1)``.

    In quaternion form ``(w, x, y, z) -> (w, x, -y, -z)`` (the axis is a pseudo-vector).
    """
    q = _as_float(q)
    return _stack([q[..., 0], q[..., 1], -q[..., 2], -q[..., 3]], q)
