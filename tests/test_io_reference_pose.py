"""Reference-pose detection on synthetic takes (the real cgspeed files are in test_io_real.py)."""
from __future__ import annotations

import numpy as np
import pytest

from motiongpt2.motion.io.reference_pose import leading_reference_frames
from motiongpt2.motion.skeleton import HUMANML3D
from motiongpt2.motion.synthetic import synthetic_walk
from motiongpt2.motion.uniform import forward_kinematics
from motiongpt2.motion.quaternion import axis_angle_to_quaternion

FPS = 120.0


def take(seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    """A walking take at 120 fps (metres): the 20-fps synthetic walk upsampled linearly."""
    walk = synthetic_walk(HUMANML3D, T=int(seconds * 20) + 1, seed=seed)
    t = np.arange(int(seconds * FPS)) / FPS * 20
    i = np.minimum(t.astype(int), len(walk) - 2)
    w = (t - i)[:, None, None]
    return (1 - w) * walk[i] + w * walk[i + 1]


def t_pose_like(first: np.ndarray) -> np.ndarray:
    """A rest pose at the root of ``first``: every joint rotation zero (arms out, legs straight)."""
    q = axis_angle_to_quaternion(np.zeros((1, HUMANML3D.n_joints, 3)))
    rest = forward_kinematics(q, first[None, 0], HUMANML3D, HUMANML3D.offsets())[0]
    return rest


def test_ordinary_takes_keep_every_frame():
    for seed in range(3):
        assert leading_reference_frames(take(seed=seed), FPS) == 0
    held = np.concatenate([np.repeat(take()[:1], 30, axis=0), take()])  # standing still first
    assert leading_reference_frames(held, FPS) == 0
    assert leading_reference_frames(take()[:3], FPS) == 0


def test_a_t_pose_frame_is_dropped():
    motion = take()
    rest = t_pose_like(motion[0])
    assert np.abs(rest - motion[0]).max() > 0.3          # far from the first real pose
    assert leading_reference_frames(np.concatenate([rest[None], motion]), FPS) == 1
    held = np.concatenate([np.repeat(rest[None], 5, axis=0), motion])
    assert leading_reference_frames(held, FPS) == 5


@pytest.mark.parametrize("blend", [2, 3])
def test_a_t_pose_blended_into_the_take_is_dropped(blend):
    """A fast blend (joints faster than 20 m/s, as in the Daz files) goes; a slow one could be real
    motion and stays (see the next test)."""
    motion = take()
    rest = t_pose_like(motion[0])
    w = np.linspace(0, 1, blend + 2)[1:-1, None, None]
    ramp = (1 - w) * rest + w * motion[0]                # Daz-style ease from the T-pose
    lead = leading_reference_frames(np.concatenate([rest[None], ramp, motion]), FPS)
    assert 1 <= lead <= blend + 1
    # what is left starts at most one small ramp step away from the first real pose
    rest_of_take = np.concatenate([rest[None], ramp, motion])[lead:]
    assert np.abs(rest_of_take[0] - motion[0]).max() < 0.3


def test_a_slow_blend_is_kept_as_motion():
    motion = take()
    rest = t_pose_like(motion[0])
    w = np.linspace(0, 1, 40)[1:-1, None, None]          # 1/3 s: humanly possible speeds
    ramp = (1 - w) * rest + w * motion[0]
    assert leading_reference_frames(np.concatenate([rest[None], ramp, motion]), FPS) == 0
