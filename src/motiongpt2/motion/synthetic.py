"""Synthetic motions for tests, demos without data, and smoke checks.

:func:`synthetic_walk` builds a walking-like clip by forward kinematics of a target skeleton: smooth
random local rotations, a root moving forward along a turning heading, and bone lengths that differ from
the target skeleton (so the uniform-skeleton step has work to do). :func:`synthetic_motion` builds a
rig-like clip whose bone lengths and sibling geometry are constant, so a rotation-only BVH reproduces it
exactly (export tests and benchmarks).
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from motiongpt2.motion.quaternion import axis_angle_to_quaternion, quaternion_to_matrix, yaw_quaternion
from motiongpt2.motion.skeleton import HUMANML3D, Skeleton, get_skeleton
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


def synthetic_motion(skeleton, seconds: float = 3.0, fps: float = 20.0, seed: int = 0) -> np.ndarray:
    """A smooth made-up motion ``(T, J, 3)`` (metres) for tests, benchmarks and demos.

    Forward kinematics of the skeleton's rest offsets (siblings spread by a fixed random turn, so
    branching joints have non-collinear children, like real rigs) with sinusoidal local rotations of
    up to ~40° per joint, a turning root and forward travel. Bone lengths and sibling geometry are
    constant, so a rotation-only BVH reproduces it exactly.
    """
    skel = skeleton if isinstance(skeleton, Skeleton) else get_skeleton(skeleton)
    rng = np.random.default_rng(seed)
    J = skel.n_joints
    T = max(2, round(seconds * fps))
    t = np.arange(T) / fps
    parents = np.asarray(skel.parents)
    offs = skel.offsets() * (1e-3 if skel.unit == "mm" else 1.0)
    kids = [[c for c in range(J) if parents[c] == k] for k in range(J)]
    for k in range(J):
        if len(kids[k]) > 1:
            for c in kids[k]:
                spread = quaternion_to_matrix(axis_angle_to_quaternion(rng.normal(0, 0.35, 3)))
                offs[c] = spread @ offs[c]
    amp = rng.uniform(0.15, 0.7, (J, 3))
    freq = rng.uniform(0.3, 1.2, (J, 3))
    phase = rng.uniform(0, 2 * np.pi, (J, 3))
    aa = amp[None] * np.sin(2 * np.pi * freq[None] * t[:, None, None] + phase[None])   # (T, J, 3)
    aa[:, 0] = 0.0
    aa[:, 0, 1] = 0.6 * t                                                              # root yaw
    R = quaternion_to_matrix(axis_angle_to_quaternion(aa))
    W = np.empty((T, J, 3, 3))
    P = np.zeros((T, J, 3))
    P[:, 0] = np.stack([0.3 * np.sin(0.5 * t), 0.95 + 0.03 * np.sin(4 * t), 0.8 * t], -1)
    for k in range(J):
        p = parents[k]
        if p < 0:
            W[:, k] = R[:, k]
        else:
            W[:, k] = W[:, p] @ R[:, k]
            P[:, k] = P[:, p] + np.einsum("tij,j->ti", W[:, p], offs[k])
    if skel.unit == "mm":
        P *= 1000.0
    return P
