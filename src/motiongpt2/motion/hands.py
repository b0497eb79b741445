"""Attach real finger motion to body motion: the composite whole-body (52-joint) corpus.

Real whole-body text–motion data (Motion-X) is not redistributable, so the composite corpus puts real
finger articulation from hand-only mocap (ManipNet) on real body clips:

1. each hand clip's 15 MANO joints, expressed in its own wrist frame (``HandJoints.local``), are turned
   into a **canonical hand frame** fixed to the hand's bones: ``u`` = wrist → middle knuckle,
   ``v`` = palm normal (pointing out of the palm: flexing fingers move towards it), ``w = u × v``;
2. on the body, a **wrist frame** is built per frame from the arm: ``U`` = elbow → wrist (forearm),
   ``V`` = the direction from the wrist towards the trunk (spine3), orthogonal to ``U`` (the palm of a
   relaxed arm faces the body), ``W = U × V``;
3. finger joints = wrist + canonical coordinates on ``(U, V, W)``. Both frames are right-handed, so the
   mapping is a proper rotation: a left hand stays a left hand (thumb forward for a hanging arm).

The hand therefore follows the body's wrist (position and forearm direction); finger rotations come
from the finger mocap. The wrist's own twist is not known from 22 body joints and is set by the rule in 2.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from motiongpt2.motion.skeleton import HUMANML3D, WHOLEBODY

# Indices into the 15 MANO joints (index1..3, middle1..3, pinky1..3, ring1..3, thumb1..3).
_INDEX1, _MIDDLE1, _MIDDLE3, _PINKY1 = 0, 3, 5, 6


def _normalize(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def canonical_hand(local: np.ndarray) -> np.ndarray:
    """``(T, 15, 3)`` finger joints in the wrist frame → the same points in the canonical hand frame.

    The frame is fitted once per clip from the mean knuckle positions (rigid relative to the wrist):
    ``u`` towards the middle knuckle, ``v`` the palm normal (sign: the mean middle-finger flexion
    direction), ``w = u × v``. Returns float32 metres, columns ``(u, v, w)``.
    """
    mean = local.mean(axis=0)
    u = _normalize(mean[_MIDDLE1])
    n = np.cross(mean[_INDEX1], mean[_PINKY1])
    n = _normalize(n - u * (n @ u))
    flex = (local[:, _MIDDLE3] - local[:, _MIDDLE1]).mean(axis=0)
    v = n if flex @ n >= 0 else -n
    w = np.cross(u, v)
    basis = np.stack([u, v, w], axis=1)  # (3, 3), columns = canonical axes in wrist coordinates
    return (local @ basis).astype(np.float32)


def wrist_frames(body: np.ndarray, side: str) -> np.ndarray:
    """``(T, 3, 3)`` body wrist frames (columns ``U, V, W``) for ``side`` ∈ {left, right} of 22 joints."""
    k = {n: i for i, n in enumerate(HUMANML3D.joint_names)}
    s = "l" if side == "left" else "r"
    wrist, elbow = body[:, k[f"{s}_wrist"]], body[:, k[f"{s}_elbow"]]
    u = _normalize(wrist - elbow)
    to_trunk = body[:, k["spine3"]] - wrist
    v = to_trunk - u * np.sum(to_trunk * u, axis=-1, keepdims=True)
    # a forearm pointing straight at the trunk leaves v undefined: fall back to the body's up axis
    degenerate = np.linalg.norm(v, axis=-1) < 1e-6
    if degenerate.any():
        up = np.array([0.0, 1.0, 0.0])
        v[degenerate] = up - u[degenerate] * (u[degenerate] @ up)[:, None]
    v = _normalize(v)
    return np.stack([u, v, np.cross(u, v)], axis=-1)


def attach_canonical_hands(body: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """``(T, 22, 3)`` body + canonical ``(T, 15, 3)`` left/right hands → ``(T, 52, 3)`` whole-body joints."""
    t = body.shape[0]
    if left.shape[0] != t or right.shape[0] != t:
        raise ValueError(f"hands have {left.shape[0]}/{right.shape[0]} frames, body has {t}")
    out = np.empty((t, WHOLEBODY.n_joints, 3), dtype=np.float32)
    out[:, :22] = body
    for side, hand, wrist_id, first in (("left", left, 20, 22), ("right", right, 21, 37)):
        frames = wrist_frames(body.astype(np.float64), side)
        out[:, first:first + 15] = body[:, wrist_id:wrist_id + 1] + np.einsum("tij,tkj->tki", frames, hand)
    return out


@dataclass
class HandBank:
    """Canonical finger clips per side at one fps, sampled deterministically per body clip."""

    fps: float
    clips: dict[str, list[np.ndarray]] = field(default_factory=lambda: {"left": [], "right": []})
    sources: dict[str, list[str]] = field(default_factory=lambda: {"left": [], "right": []})

    def __len__(self) -> int:
        return sum(len(v) for v in self.clips.values())

    def sample(self, side: str, n: int, key: str) -> np.ndarray:
        """``(n, 15, 3)`` canonical hand frames for ``side``, chosen by a hash of ``key``; clips shorter
        than ``n`` are played forward then backward (ping-pong) so the motion stays continuous."""
        clips = self.clips[side]
        if not clips:
            raise ValueError(f"the hand bank has no {side} hand")
        h = int(hashlib.sha1(f"{key}/{side}".encode()).hexdigest()[:12], 16)
        clip = clips[h % len(clips)]
        if len(clip) < n:
            cycle = np.concatenate([clip, clip[-2:0:-1]]) if len(clip) > 2 else clip
            clip = np.concatenate([cycle] * (n // len(cycle) + 1))
        start = (h // len(clips)) % (len(clip) - n + 1)
        return clip[start:start + n]


def load_hand_bank(source: Path, fps: float = 20.0) -> HandBank:
    """Read every ``leftHand``/``rightHand`` BVH of a folder or archive (ManipNet) into a :class:`HandBank`."""
    from motiongpt2.motion.io.archive import iter_members
    from motiongpt2.motion.io.load import load_hand_joints

    bank = HandBank(fps=fps)
    for name, data in iter_members(source, suffixes=(".bvh",)):
        hand = load_hand_joints(data, name=name, fps=fps)
        if hand.side not in ("left", "right"):
            continue
        bank.clips[hand.side].append(canonical_hand(hand.local))
        bank.sources[hand.side].append(f"{source}:{name}")
    return bank
