"""Synthetic motions for tests, demos without data, and smoke checks.

:func:`synthetic_walk` builds a walking-like clip by forward kinematics of a target skeleton: smooth
random local rotations, a root moving forward along a turning heading, and bone lengths that differ from
the target skeleton (so the uniform-skeleton step has work to do).
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from motiongpt2.motion.quaternion import axis_angle_to_quaternion, yaw_quaternion
from motiongpt2.motion.skeleton import HUMANML3D, Skeleton
from motiongpt2.motion.uniform import forward_kinematics


def synthetic_walk(skel: Skeleton = HUMANML3D, T: int = 120, seed: int = 0, turn_rate: float = 1.2,
                   speed: float = 1.1, bone_scale: float = 1.08, max_angle: float = 0.6) -> np.ndarray:
    """``(T, J, 3)`` float64 positions in the skeleton's unit (m or mm), Y-up, at ``skel.fps``.

    Joint rotations are smoothed Gaussian noise clipped to ``max_angle`` rad; the root moves at ``speed``
    m/s along a heading turning at ``turn_rate`` rad/s; bones are ``bone_scale`` × target ± 5 %.
    """
    rng = np.random.default_rng(seed)
    scale = 1000.0 if skel.unit == "mm" else 1.0
    J = skel.n_joints
    aa = np.clip(gaussian_filter1d(rng.normal(size=(T, J, 3)), 4, axis=0) * 2.0, -max_angle, max_angle)
    q = axis_angle_to_quaternion(aa)
    t = np.arange(T) / skel.fps
    yaw = 0.7 + turn_rate * t
    q[:, 0] = yaw_quaternion(yaw)
    step = speed * scale / skel.fps
    root = np.stack([0.4 * scale + np.cumsum(step * np.sin(yaw)),
                     0.95 * scale + 0.03 * scale * np.sin(2 * np.pi * t),
                     -0.3 * scale + np.cumsum(step * np.cos(yaw))], axis=-1)
    lengths = skel.bone_lengths * bone_scale * (1 + 0.05 * rng.normal(size=J))
    return forward_kinematics(q, root, skel, skel.raw_offsets * lengths[:, None])
