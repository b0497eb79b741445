"""Inverse / forward kinematics and the official HumanML3D "uniform skeleton" retargeting step.

The rotation convention is the one of the official HumanML3D ``Skeleton`` class, kept exactly so
that the 6D rotation features match the official data:

* The "rotation of joint ``k``" orients the bone that *ends* at ``k``: its global rotation
  ``G[k] = qbetween(raw_offsets[k], unit(p[k] - p[parent[k]]))``.
* Local rotations are chained along ``skel.chains``; every chain starts from the **root** rotation,
  including chains that branch off a non-root joint (e.g. the arms, which start at spine3): this is
  the official (legacy) behaviour, so the local rotation of the collars is relative to the root.
  ``rotation_parents(skel)`` gives, per joint, the joint whose global rotation its local one is
  relative to.
* The root rotation is the yaw that turns the body's forward direction onto +Z
  (forward = up × across), and frame 0's root rotation is forced to the identity (as in the official
  code). Bone positions in FK do not depend on the root rotation (it cancels in ``G``), so
  ``forward_kinematics(inverse_kinematics(p))`` reproduces ``p`` for any root rotation.
* **Heading** (``heading=``): the official ``Skeleton.inverse_kinematics_np`` unpacks
  ``face_joint_idx`` as ``l_hip, r_hip, sdr_r, sdr_l`` although the list holds
  ``(r_hip, l_hip, r_shoulder, l_shoulder)``, so its IK uses
  ``across = (l_hip − r_hip) + (r_shoulder − l_shoulder)`` (hip term reversed), while the first-frame
  facing step of ``process_file`` uses the consistent ``(r_hip − l_hip) + (r_shoulder − l_shoulder)``.
  ``"official"`` (the default of :func:`inverse_kinematics`) reproduces the official features, Mean/Std
  and evaluator inputs; ``"consistent"`` uses the consistent vector everywhere (a corrected heading
  that is not interchangeable with official HumanML3D data).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.ndimage import gaussian_filter1d

from ..errors import FeatureError
from .quaternion import qbetween, qinv, qmul, qnormalize, qrot, yaw_quaternion
from .skeleton import HUMANML3D, Skeleton

__all__ = [
    "rotation_parents", "forward_direction", "root_rotation", "inverse_kinematics",
    "forward_kinematics", "bone_offsets", "uniform_skeleton", "SMOOTH_FORWARD_SIGMA", "HEADINGS",
    "check_heading",
]

#: Heading conventions of the IK root yaw (see the module docstring).
HEADINGS = ("official", "consistent")


def check_heading(heading: str) -> str:
    """Return ``heading`` if it is one of :data:`HEADINGS`, else raise a one-line ``ValueError``."""
    if heading not in HEADINGS:
        raise ValueError(f"heading must be one of {', '.join(HEADINGS)}, got {heading!r}")
    return heading

#: Gaussian sigma (frames) of the official forward-direction smoothing (``smooth_forward=True``).
SMOOTH_FORWARD_SIGMA = 20.0


@lru_cache(maxsize=None)
def _chain_order(skel_name: str, chains: tuple[tuple[int, ...], ...], n: int):
    """Joints in chain order and their rotation parent (legacy: chain starts use the root)."""
    order, rot_parent = [], np.zeros(n, dtype=np.int64)
    for chain in chains:
        for j in range(1, len(chain)):
            order.append(chain[j])
            rot_parent[chain[j]] = chain[j - 1] if j > 1 else 0
    return tuple(order), rot_parent


def rotation_parents(skel: Skeleton) -> np.ndarray:
    """``(J,)`` index of the joint whose global rotation each local rotation is relative to.

    Equals ``skel.parents`` except for the first joint of each chain, which is relative to the root
    (official HumanML3D convention). Entry 0 is 0 (unused).
    """
    return _chain_order(skel.name, skel.chains, skel.n_joints)[1].copy()


def forward_direction(positions: np.ndarray, skel: Skeleton, smooth: bool = False,
                      heading: str = "consistent") -> np.ndarray:
    """Horizontal facing direction per frame, ``(T, J, 3) -> (T, 3)`` (not normalised).

    ``across = unit((r_hip − l_hip) + (r_shoulder − l_shoulder))`` (``heading="consistent"``, the
    official first-frame facing step) or ``unit((l_hip − r_hip) + (r_shoulder − l_shoulder))``
    (``heading="official"``, the official IK); ``forward = up × across`` (zero Y). With ``smooth`` the
    official Gaussian smoothing (sigma 20 frames, mode ``nearest``) is applied before the (caller's)
    normalisation, exactly like the official code.
    """
    r_hip, l_hip, r_sdr, l_sdr = skel.face_joints
    if check_heading(heading) == "official":
        r_hip, l_hip = l_hip, r_hip
    across = (positions[..., r_hip, :] - positions[..., l_hip, :]) + \
        (positions[..., r_sdr, :] - positions[..., l_sdr, :])
    across = across / np.linalg.norm(across, axis=-1, keepdims=True)
    # up × across with up = (0, 1, 0)
    forward = np.stack([across[..., 2], np.zeros_like(across[..., 0]), -across[..., 0]], axis=-1)
    if smooth and forward.shape[0] > 1:
        forward = gaussian_filter1d(forward, SMOOTH_FORWARD_SIGMA, axis=0, mode="nearest")
    return forward


def root_rotation(forward: np.ndarray) -> np.ndarray:
    """Yaw quaternions ``(T, 4)`` turning horizontal ``forward (T, 3)`` onto +Z.

    Identical to the official ``qbetween(forward, +Z)`` (``w >= 0``) but also defined when the
    body faces exactly −Z.
    """
    angle = np.arctan2(forward[..., 0], forward[..., 2])
    return yaw_quaternion(-angle)


def inverse_kinematics(positions: np.ndarray, skel: Skeleton = HUMANML3D,
                       smooth_forward: bool = False, heading: str = "official") -> np.ndarray:
    """Local joint rotations of a motion (official ``Skeleton.inverse_kinematics_np``).

    Args:
        positions: ``(T, J, 3)`` joint positions (any unit), Y-up.
        skel: the skeleton (``raw_offsets``, ``chains``, ``face_joints``).
        smooth_forward: smooth the facing direction before computing the root rotation (the
            official feature extraction uses ``True``; the uniform-skeleton step ``False``).
        heading: ``"official"`` (hip term reversed, as the official IK) or ``"consistent"``; see
            the module docstring. Only the root yaw and the local rotations of chain starts change.

    Returns:
        ``(T, J, 4)`` float64 quaternions (w, x, y, z): index 0 is the root yaw (identity at frame
        0), index ``k`` the rotation of the bone ending at ``k`` relative to ``rotation_parents``.
    """
    positions = np.asarray(positions, dtype=np.float64)
    T, J = positions.shape[:2]
    order, rot_parent = _chain_order(skel.name, skel.chains, J)
    parents = np.asarray(skel.parents)

    root = root_rotation(forward_direction(positions, skel, smooth=smooth_forward, heading=heading))
    root[0] = (1.0, 0.0, 0.0, 0.0)

    idx = np.asarray(order)
    bones = positions[:, idx] - positions[:, parents[idx]]                       # (T, K, 3)
    norm = np.linalg.norm(bones, axis=-1, keepdims=True)
    raw = np.broadcast_to(skel.raw_offsets[idx], bones.shape)
    dirs = np.where(norm > 1e-12, bones / np.maximum(norm, 1e-300), raw)          # degenerate bone
    glob = np.empty((T, J, 4))
    glob[:, 0] = root
    glob[:, idx] = qbetween(raw, dirs)
    quats = np.empty((T, J, 4))
    quats[:, 0] = root
    quats[:, idx] = qmul(qinv(glob[:, rot_parent[idx]]), glob[:, idx])
    return quats


def bone_offsets(positions0: np.ndarray, skel: Skeleton) -> np.ndarray:
    """``(J, 3)`` rest offsets of a clip: ``raw_offsets`` × bone lengths measured on one frame ``(J, 3)``."""
    positions0 = np.asarray(positions0, dtype=np.float64)
    parents = np.asarray(skel.parents)
    lengths = np.zeros(len(parents))
    lengths[1:] = np.linalg.norm(positions0[1:] - positions0[parents[1:]], axis=-1)
    return skel.raw_offsets * lengths[:, None]


def forward_kinematics(quats: np.ndarray, root_pos: np.ndarray, skel: Skeleton = HUMANML3D,
                       offsets: np.ndarray | None = None) -> np.ndarray:
    """Joint positions from local rotations (official ``forward_kinematics_np``).

    Args:
        quats: ``(T, J, 4)`` local rotations in the convention of :func:`inverse_kinematics`
            (index 0 = root rotation; chains start from it).
        root_pos: ``(T, 3)`` root positions.
        skel: the skeleton (chains, parents).
        offsets: ``(J, 3)`` or ``(T, J, 3)`` rest offsets; default ``skel.offsets()`` (target bone
            lengths, in ``skel.unit``).

    Returns:
        ``(T, J, 3)`` float64 joint positions.
    """
    quats = qnormalize(np.asarray(quats, dtype=np.float64))
    root_pos = np.asarray(root_pos, dtype=np.float64)
    T, J = quats.shape[:2]
    offsets = skel.offsets() if offsets is None else np.asarray(offsets, dtype=np.float64)
    offsets = np.broadcast_to(offsets, (T, J, 3))
    order, rot_parent = _chain_order(skel.name, skel.chains, J)
    parents = skel.parents
    glob = np.empty((T, J, 4))
    glob[:, 0] = quats[:, 0]
    joints = np.empty((T, J, 3))
    joints[:, 0] = root_pos
    for k in order:
        glob[:, k] = qmul(glob[:, rot_parent[k]], quats[:, k])
        joints[:, k] = joints[:, parents[k]] + qrot(glob[:, k], offsets[:, k])
    return joints


def uniform_skeleton(positions: np.ndarray, skel: Skeleton = HUMANML3D) -> np.ndarray:
    """Retarget a motion onto the skeleton's target bone lengths (official ``uniform_skeleton``).

    Bone directions are kept (IK then FK with ``skel.offsets()``); the root trajectory is scaled by
    ``tgt_leg_len / src_leg_len`` where a leg length is the sum of the lengths of the bones ending at
    ``skel.leg`` (official: joints 5 and 8 for HumanML3D, i.e. right knee and ankle), the source
    lengths being measured on frame 0.

    Args:
        positions: ``(T, J, 3)`` joint positions in ``skel.unit`` (metres for HumanML3D), Y-up.

    Returns:
        ``(T, J, 3)`` float64 positions with ``|p[k] - p[parent[k]]| == skel.bone_lengths[k]``.

    Raises:
        FeatureError: the source leg (bones ending at ``skel.leg``) has zero length in frame 0.
    """
    positions = np.asarray(positions, dtype=np.float64)
    src = bone_offsets(positions[0], skel)
    tgt = skel.offsets()
    a, b = skel.leg
    src_leg = np.abs(src[a]).max() + np.abs(src[b]).max()
    tgt_leg = np.abs(tgt[a]).max() + np.abs(tgt[b]).max()
    if not src_leg > 1e-9 * tgt_leg:  # NaN/0: the root path could not be scaled (inf/NaN features before)
        raise FeatureError(f"the leg bones ending at joints {a} and {b} have zero length in frame 0: "
                           "cannot scale the motion onto the target skeleton")
    scale = tgt_leg / src_leg
    quats = inverse_kinematics(positions, skel, smooth_forward=False)
    return forward_kinematics(quats, positions[:, 0] * scale, skel, tgt)
