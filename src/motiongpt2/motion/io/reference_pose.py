"""Find a reference pose (T-pose) glued to the start of a mocap take.

Many BVH conversions put the rig's rest pose in the first frame so that animation tools can bind a
character to it.  The cgspeed CMU conversions do: the 31-joint files jump from a T-pose to the first
real frame in one frame (a limb moves ~0.65 m in 1/120 s), the Daz-friendly files blend from the
T-pose to the first real frame over ~4 frames.  Left in, those frames are a teleport of the limbs
that a tokenizer or generator would have to learn as motion (at 20 fps they are a 0.6–0.9 m jump).

Rule (:func:`leading_reference_frames`), at the file's native rate, on joint positions relative to
the root joint (pelvis), ``v[i]`` = the fastest joint between frames ``i`` and ``i+1`` in m/s:

1. skip a held pose at the start (``v < hold``, 0.5 m/s);
2. the take starts with a reference pose only if the first or second step then moves a joint
   faster than ``max_speed`` (20 m/s relative to the pelvis: beyond any human limb, whose fastest
   kicks and throws stay well under that);
3. the reference part ends after the last impossible step within ``max_seconds`` (0.25 s) of
   the start (a blend into a fast first pose can dip below the limit and rise again), extended
   while ``v`` stays above
   ``settle`` (3) × the typical speed (median of ``v`` over the following second), so a blend
   into the first real frame is dropped with it.

The result is the number of leading frames to drop (0 for ordinary takes).
"""
from __future__ import annotations

import numpy as np

__all__ = ["leading_reference_frames"]


def leading_reference_frames(positions: np.ndarray, fps: float, *, max_speed: float = 20.0,
                             hold: float = 0.5, settle: float = 3.0,
                             max_seconds: float = 0.25) -> int:
    """Number of leading frames of ``positions`` that are a reference pose (0 when none).

    Args:
        positions: ``(T, J, 3)`` joint positions in metres at the native rate ``fps`` (root first).
        fps: frames per second of ``positions``.
        max_speed, hold, settle, max_seconds: the rule of the module docstring (m/s, m/s, ratio, s).
    """
    pos = np.asarray(positions, dtype=np.float64)
    t = pos.shape[0]
    if t < 4:
        return 0
    local = pos - pos[:, :1]
    v = np.linalg.norm(np.diff(local, axis=0), axis=-1).max(axis=1) * fps   # (T-1,) m/s
    horizon = min(len(v), max(2, int(round(max_seconds * fps))))
    start = 0
    while start < horizon and v[start] < hold:
        start += 1
    first = [i for i in (start, start + 1) if i < horizon and v[i] > max_speed]
    if not first:
        return 0                      # no impossible speed right after the (held) first pose
    k = int(np.nonzero(v[:horizon] > max_speed)[0][-1]) + 1   # frame after the last impossible step
    typical = np.median(v[k: k + max(2, int(round(fps)))]) if k < len(v) else 0.0
    while k < min(len(v), 2 * horizon) and v[k] > settle * typical:
        k += 1
    return k if k < t - 1 else 0
