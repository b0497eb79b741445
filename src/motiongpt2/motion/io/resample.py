"""Frame-rate conversion of joint positions and mocap clips.

HumanML3D down-samples AMASS with an integer stride (``down_sample = int(fps / 20)``;
``pose_seq[::down_sample]``). We do the same whenever ``src_fps / dst_fps`` is an integer
(120 → 20: stride 6; 60 → 20: stride 3) and otherwise interpolate linearly at times
``k / dst_fps`` (30 → 20, 120 → 12.5, up-sampling), positions with lerp and rotations with slerp.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from motiongpt2.motion.io.mocap import Mocap

__all__ = ["resample", "resample_mocap", "resampled_length", "integer_stride", "HUMANML3D_FPS", "KIT_FPS"]

HUMANML3D_FPS = 20.0
KIT_FPS = 12.5


def integer_stride(src_fps: float, dst_fps: float, tol: float = 1e-3) -> int | None:
    """``src/dst`` when it is a whole number ≥ 1 (within ``tol``), else ``None``."""
    if src_fps <= 0 or dst_fps <= 0:
        raise ValueError(f"frame rates must be positive (got {src_fps}, {dst_fps})")
    r = src_fps / dst_fps
    k = round(r)
    return int(k) if k >= 1 and abs(r - k) < tol else None


def _times(n: int, src_fps: float, dst_fps: float) -> np.ndarray:
    """Source-frame positions (fractional) of the output frames: ``k * src/dst`` up to ``n - 1``."""
    if n == 0:
        return np.zeros(0)
    m = int(np.floor((n - 1) * dst_fps / src_fps + 1e-9)) + 1
    return np.arange(m) * (src_fps / dst_fps)


def resampled_length(n: int, src_fps: float, dst_fps: float) -> int:
    """Number of output frames :func:`resample` produces for ``n`` input frames.

    Integer stride ``s``: ``ceil(n / s)`` (HumanML3D); otherwise ``floor((n-1)·dst/src) + 1``.
    """
    s = integer_stride(src_fps, dst_fps)
    if s is not None:
        return -(-n // s)
    return len(_times(n, src_fps, dst_fps))


def resample(x: np.ndarray, src_fps: float, dst_fps: float) -> np.ndarray:
    """Resample ``(T, ...)`` frames (e.g. ``(T, J, 3)`` positions) from ``src_fps`` to ``dst_fps``.

    Exact stride (``x[::s]``) when ``src/dst`` is an integer ``s``, linear interpolation otherwise.
    Returns an array of the same dtype with :func:`resampled_length` frames.
    """
    x = np.asarray(x)
    s = integer_stride(src_fps, dst_fps)
    if s is not None:
        return x[::s]
    t = _times(len(x), src_fps, dst_fps)
    i0 = np.floor(t).astype(np.int64)
    i1 = np.minimum(i0 + 1, len(x) - 1)
    w = (t - i0).reshape((-1,) + (1,) * (x.ndim - 1))
    out = x[i0] * (1.0 - w) + x[i1] * w
    return out.astype(x.dtype, copy=False)


def _slerp_matrices(r: np.ndarray, i0: np.ndarray, i1: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Slerp ``(T, J, 3, 3)`` rotations between frames ``i0`` and ``i1`` with weights ``w`` (vectorised)."""
    t, j = r.shape[:2]
    q = Rotation.from_matrix(r.reshape(-1, 3, 3)).as_quat().reshape(t, j, 4)
    q0, q1 = q[i0], q[i1]
    dot = np.sum(q0 * q1, axis=-1, keepdims=True)
    q1 = np.where(dot < 0, -q1, q1)
    dot = np.clip(np.abs(dot), 0.0, 1.0)
    theta = np.arccos(dot)
    sin = np.sin(theta)
    ww = w[:, None, None]
    small = sin < 1e-6
    a = np.where(small, 1.0 - ww, np.sin((1.0 - ww) * theta) / np.where(small, 1.0, sin))
    b = np.where(small, ww, np.sin(ww * theta) / np.where(small, 1.0, sin))
    qo = a * q0 + b * q1
    qo /= np.linalg.norm(qo, axis=-1, keepdims=True)
    return Rotation.from_quat(qo.reshape(-1, 4)).as_matrix().reshape(len(i0), j, 3, 3)


def resample_mocap(m: Mocap, dst_fps: float) -> Mocap:
    """A :class:`Mocap` at ``dst_fps``: frame stride when the ratio is an integer, else lerp of
    local positions and slerp of local rotations."""
    s = integer_stride(m.fps, dst_fps)
    if s is not None:
        out = m.subset_frames(slice(None, None, s))
    else:
        t = _times(m.n_frames, m.fps, dst_fps)
        i0 = np.floor(t).astype(np.int64)
        i1 = np.minimum(i0 + 1, m.n_frames - 1)
        w = t - i0
        out = m.subset_frames(i0)
        out.local_positions = m.local_positions[i0] * (1 - w)[:, None, None] + m.local_positions[i1] * w[:, None, None]
        if len(t):
            out.local_rotations = _slerp_matrices(m.local_rotations, i0, i1, w)
    out.fps = float(dst_fps)
    return out
