"""HumanML3D-style motion features (the official ``process_file`` recipe) and their inverse.

Layout of one feature row for a skeleton with ``J`` joints (``D = 12 J − 1``; 263 for HumanML3D,
251 for KIT-ML, 623 for the 52-joint whole body)::

    [0]                     root rotation velocity about +Y (rad/frame, half-angle convention, see below)
    [1:3]                   root linear velocity (x, z) in the root (heading) frame (unit/frame)
    [3]                     root height y (unit)
    [4 : 4+3(J-1)]          ric: positions of joints 1..J-1 relative to the root XZ, heading removed
    [.. : ..+6(J-1)]        cont6d local rotations of joints 1..J-1 (from IK, first two matrix columns)
    [.. : ..+3J]            local velocities of all joints, rotated into the per-frame heading (unit/frame)
    [D-4 : D]               foot contacts (left heel/ankle, left toe, right heel/ankle, right toe) in {0, 1}

``T`` joint frames give ``T − 1`` feature rows (row ``t`` holds the pose of frame ``t`` and the
velocities from ``t`` to ``t + 1``).

Recipe (``extract_features``): uniform skeleton → floor at the lowest joint (official: minimum over
all joints and frames) → first-frame root XZ to the origin → rotate so frame 0 faces +Z → foot
contacts (squared per-frame displacement < ``skel.feet_threshold``) → IK with the smoothed facing
direction (sigma 20 frames) for the root yaw and the 6D rotations → root velocities, ric, local
velocities.

Heading: by default the IK root yaw uses the official (hip-reversed) across vector, so features are
interchangeable with official HumanML3D files, Mean/Std and evaluator checkpoints; ``heading=
"consistent"`` is the corrected variant (see :mod:`motiongpt2.motion.uniform`). Decoding
(``recover_from_ric``) is the same for both: the heading is stored in the features themselves.

Rotation velocity: the official code stores ``arcsin(y)`` of ``r[t+1] r[t]^-1`` (the sine of half
the yaw change), and ``recover_root_rot_pos`` integrates it as the half-angle of the yaw quaternion.
The official code breaks when the (``w >= 0``) root yaw wraps through ±180° (``w`` of the product
becomes negative and the sign of the step flips); here the product is sign-fixed to ``w >= 0`` first,
which gives identical values everywhere else.
"""
from __future__ import annotations

import numpy as np

from ..errors import FeatureError
from .quaternion import qinv, qmul, qrot, quaternion_to_cont6d, yaw_quaternion
from .skeleton import HUMANML3D, Skeleton, skeleton_for_dim
from .uniform import (
    check_heading, forward_direction, inverse_kinematics, root_rotation, uniform_skeleton,
)

__all__ = [
    "extract_features", "normalize_positions", "foot_contacts", "recover_root_rot_pos",
    "recover_from_ric", "feature_slices", "n_joints_for_dim", "check_positions", "MAX_ABS_POSITION_M",
]


def n_joints_for_dim(dim: int) -> int:
    """Number of joints of a ``dim``-wide feature vector (263 → 22, 251 → 21, 623 → 52)."""
    return skeleton_for_dim(int(dim)).n_joints


def feature_slices(n_joints: int) -> dict[str, slice]:
    """Named slices of the feature vector for ``n_joints`` joints.

    Keys: ``rot_vel``, ``lin_vel``, ``root_y``, ``root`` (first 4), ``ric``, ``rot6d``, ``local_vel``,
    ``feet``.
    """
    j = n_joints
    ric0 = 4
    rot0 = ric0 + 3 * (j - 1)
    vel0 = rot0 + 6 * (j - 1)
    feet0 = vel0 + 3 * j
    return {
        "rot_vel": slice(0, 1), "lin_vel": slice(1, 3), "root_y": slice(3, 4), "root": slice(0, 4),
        "ric": slice(ric0, rot0), "rot6d": slice(rot0, vel0), "local_vel": slice(vel0, feet0),
        "feet": slice(feet0, feet0 + 4),
    }


# --------------------------------------------------------------------------- extraction
def normalize_positions(positions: np.ndarray, skel: Skeleton = HUMANML3D) -> np.ndarray:
    """Put a motion on the floor, its first root XZ at the origin, and make frame 0 face +Z.

    Same steps as the official ``process_file`` after the uniform-skeleton step: the floor is the
    lowest Y of any joint over the whole clip (official behaviour; for normal motions this is a
    foot joint), the translation removes frame 0's root X and Z, and one yaw rotation about the
    origin turns frame 0's facing direction (up × across of hips and shoulders) onto +Z.

    Args:
        positions: ``(T, J, 3)`` joint positions in ``skel.unit``, Y-up.

    Returns:
        ``(T, J, 3)`` float64 positions.
    """
    pos = np.array(positions, dtype=np.float64)
    pos[..., 1] -= pos[..., 1].min()
    root0 = pos[0, 0] * np.array([1.0, 0.0, 1.0])
    pos -= root0
    q0 = root_rotation(forward_direction(pos[:1], skel))[0]
    return qrot(q0, pos)


def foot_contacts(positions: np.ndarray, skel: Skeleton = HUMANML3D,
                  threshold: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Binary foot contacts from the squared per-frame displacement of the foot joints.

    ``contact[t] = (|p[t+1] − p[t]|² < threshold)`` per foot joint (official ``foot_detect``; the
    official height factors are unused there too).

    Args:
        positions: ``(T, J, 3)`` positions in ``skel.unit`` at ``skel.fps``.
        threshold: squared displacement threshold (unit²/frame²); default ``skel.feet_threshold``.

    Returns:
        ``(feet_l, feet_r)``, each ``(T − 1, 2)`` float32 for (heel/ankle, toe).
    """
    thr = skel.feet_threshold if threshold is None else threshold
    pos = np.asarray(positions, dtype=np.float64)
    out = []
    for ids in (list(skel.foot_left), list(skel.foot_right)):
        d = pos[1:, ids] - pos[:-1, ids]
        out.append(((d ** 2).sum(-1) < thr).astype(np.float32))
    return out[0], out[1]


def extract_features(positions: np.ndarray, skel: Skeleton = HUMANML3D, uniform: bool = True,
                     feet_threshold: float | None = None,
                     smooth_forward: bool = True,
                     heading: str = "official") -> tuple[np.ndarray, np.ndarray]:
    """HumanML3D features of a joint-position motion (official ``process_file``).

    Args:
        positions: ``(T, J, 3)`` joint positions, ``T >= 2``, in ``skel.unit`` (metres for
            HumanML3D / whole body, millimetres for KIT-ML), Y-up, at ``skel.fps`` (20 fps for
            HumanML3D; resample beforehand).
        skel: target skeleton (``J`` must match).
        uniform: retarget onto the skeleton's target bone lengths first (official pipeline).
        feet_threshold: contact threshold (unit²/frame²), default ``skel.feet_threshold``.
        smooth_forward: smooth the facing direction for the root yaw (official: ``True``).
        heading: IK heading convention, ``"official"`` (default; matches official HumanML3D
            features) or ``"consistent"`` (corrected; not interchangeable with official data).

    Returns:
        ``features`` ``(T − 1, 12 J − 1)`` float32 and ``joints`` ``(T − 1, J, 3)`` float32 with
        ``joints = recover_from_ric(features)`` (how the official pipeline stores ``new_joints``);
        it equals the normalised (uniform-skeleton) positions of frames ``0..T−2``.

    Raises:
        FeatureError (a ``ValueError`` and a one-line ``MotionGPT2Error``): wrong shape, fewer than 2
        frames, NaN/inf or values beyond ±1e6 m (:func:`check_positions`), or a degenerate pose whose
        features would not be finite (never returns NaN/inf).
    """
    pos = check_positions(positions, skel)
    check_heading(heading)
    with np.errstate(all="ignore"):  # non-finite results are refused below, with one clear line
        features, joints = _extract(pos, skel, uniform, feet_threshold, smooth_forward, heading)
    bad = ~(np.isfinite(features).all(axis=1) & np.isfinite(joints).all(axis=(1, 2)))
    if bad.any():
        raise FeatureError(f"features are not finite from frame {int(np.argmax(bad))} on (degenerate pose: "
                           "hips and shoulders in one place, zero-length bones, or values too large)")
    return features, joints


#: Largest joint coordinate accepted by :func:`extract_features`, in metres (×1000 for millimetre skeletons):
#: the readers' bound (``motion.io.validate.MAX_ABS_COORD``), so every loaded motion is feature-ready.
MAX_ABS_POSITION_M = 1e6


def check_positions(positions, skel: Skeleton = HUMANML3D) -> np.ndarray:
    """``positions`` as ``(T, J, 3)`` float64, refused with a one-line :class:`~motiongpt2.errors.FeatureError`
    unless ``J == skel.n_joints``, ``T >= 2`` and every value is finite within ±:data:`MAX_ABS_POSITION_M`
    metres (in ``skel.unit``)."""
    try:
        pos = np.asarray(positions, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise FeatureError(f"joint positions are not numbers ({' '.join(str(err).split())[:100]})") from None
    if pos.ndim != 3 or pos.shape[-1] != 3 or pos.shape[1] != skel.n_joints:
        raise FeatureError(f"expected positions (T, {skel.n_joints}, 3) for skeleton {skel.name!r}, "
                           f"got {pos.shape}")
    if pos.shape[0] < 2:
        raise FeatureError(f"need at least 2 frames to compute features, got {pos.shape[0]}")
    limit = MAX_ABS_POSITION_M * (1000.0 if skel.unit == "mm" else 1.0)
    ok = np.abs(pos) <= limit  # NaN compares False
    if not ok.all():
        t, j, _ = np.unravel_index(int(np.argmin(ok.ravel())), pos.shape)
        raise FeatureError(f"joint positions hold {pos[t, j][~ok[t, j]][0]!r} at frame {t}, joint {j} "
                           f"(not finite or beyond ±{limit:g} {skel.unit})")
    return pos


def _extract(pos: np.ndarray, skel: Skeleton, uniform: bool, feet_threshold: float | None, smooth_forward: bool,
             heading: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`extract_features` on checked ``(T, J, 3)`` float64 positions (results may hold NaN)."""
    if uniform:
        pos = uniform_skeleton(pos, skel)
    pos = normalize_positions(pos, skel)
    T, J = pos.shape[:2]

    feet_l, feet_r = foot_contacts(pos, skel, feet_threshold)

    quats = inverse_kinematics(pos, skel, smooth_forward=smooth_forward, heading=heading)
    cont6d = quaternion_to_cont6d(quats[:, 1:])                            # (T, J-1, 6)
    r_rot = quats[:, 0]                                                      # (T, 4)

    # root linear velocity in the heading frame of the next frame (official)
    velocity = qrot(r_rot[1:], pos[1:, 0] - pos[:-1, 0])                    # (T-1, 3)
    r_vel = qmul(r_rot[1:], qinv(r_rot[:-1]))                                # (T-1, 4)
    r_vel_y = np.where(r_vel[:, 0] < 0, -r_vel[:, 2], r_vel[:, 2])
    rot_vel = np.arcsin(np.clip(r_vel_y, -1.0, 1.0))

    # rotation-invariant coordinates: root-relative in XZ, heading removed
    ric = pos.copy()
    ric[..., 0] -= pos[:, 0:1, 0]
    ric[..., 2] -= pos[:, 0:1, 2]
    ric = qrot(r_rot[:, None], ric)
    root_y = ric[:, 0, 1]

    local_vel = qrot(r_rot[:-1, None], pos[1:] - pos[:-1])                  # (T-1, J, 3)

    n = T - 1
    features = np.concatenate([
        rot_vel[:, None], velocity[:, [0, 2]], root_y[:n, None],
        ric[:n, 1:].reshape(n, -1), cont6d[:n].reshape(n, -1), local_vel.reshape(n, -1),
        feet_l, feet_r,
    ], axis=-1).astype(np.float32)
    joints = recover_from_ric(features, J)
    return features, joints


# --------------------------------------------------------------------------- recovery
def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


def recover_root_rot_pos(features):
    """Root yaw quaternions and root positions from features (official ``recover_root_rot_pos``).

    Args:
        features: ``(..., T, D)`` numpy array or torch tensor.

    Returns:
        ``(r_rot_quat (..., T, 4), r_pos (..., T, 3))`` of the same type (numpy results in float64
        unless the input is float32/float64 already, which is kept). ``r_rot_quat`` is the heading
        removal rotation (yaw ``2·Σ rot_vel``), ``r_pos`` the root position (XZ integrated from the
        linear velocities, Y = root height). Frame 0 has zero yaw and XZ at the origin.
    """
    if _is_torch(features):
        import torch
        data = features
        rot_vel = data[..., 0]
        ang = torch.cumsum(torch.cat([torch.zeros_like(rot_vel[..., :1]), rot_vel[..., :-1]], -1), -1)
        zero = torch.zeros_like(ang)
        r_quat = torch.stack([torch.cos(ang), zero, torch.sin(ang), zero], -1)
        vx = torch.cat([torch.zeros_like(rot_vel[..., :1]), data[..., :-1, 1]], -1)
        vz = torch.cat([torch.zeros_like(rot_vel[..., :1]), data[..., :-1, 2]], -1)
        step = qrot(qinv(r_quat), torch.stack([vx, zero, vz], -1))
        r_pos = torch.cumsum(step, dim=-2)
        r_pos = torch.stack([r_pos[..., 0], data[..., 3], r_pos[..., 2]], -1)
        return r_quat, r_pos
    data = np.asarray(features)
    dtype = data.dtype if data.dtype in (np.float32, np.float64) else np.float64
    data = data.astype(np.float64)
    rot_vel = data[..., 0]
    ang = np.zeros_like(rot_vel)
    ang[..., 1:] = rot_vel[..., :-1]
    ang = np.cumsum(ang, axis=-1)
    r_quat = yaw_quaternion(2.0 * ang)   # (cos ang, 0, sin ang, 0)
    step = np.zeros(data.shape[:-1] + (3,))
    step[..., 1:, 0] = data[..., :-1, 1]
    step[..., 1:, 2] = data[..., :-1, 2]
    r_pos = np.cumsum(qrot(qinv(r_quat), step), axis=-2)
    r_pos[..., 1] = data[..., 3]
    return r_quat.astype(dtype), r_pos.astype(dtype)


def recover_from_ric(features, n_joints: int | None = None):
    """Global joint positions from features (official ``recover_from_ric``).

    Args:
        features: ``(..., T, D)`` numpy array or torch tensor (the torch path is differentiable).
        n_joints: number of joints; inferred from ``D`` (263 → 22, 251 → 21, 623 → 52) if omitted.

    Returns:
        ``(..., T, J, 3)`` positions (same type; numpy keeps float32/float64 of the input).
    """
    D = features.shape[-1]
    J = n_joints_for_dim(D) if n_joints is None else int(n_joints)
    sl = feature_slices(J)["ric"]
    if _is_torch(features):
        import torch
        r_quat, r_pos = recover_root_rot_pos(features)
        local = features[..., sl].reshape(*features.shape[:-1], J - 1, 3)
        pos = qrot(qinv(r_quat)[..., None, :], local)
        pos = pos + torch.stack([r_pos[..., 0], torch.zeros_like(r_pos[..., 0]), r_pos[..., 2]],
                                -1)[..., None, :]
        return torch.cat([r_pos[..., None, :], pos], dim=-2)
    data = np.asarray(features)
    dtype = data.dtype if data.dtype in (np.float32, np.float64) else np.float64
    data = data.astype(np.float64)
    r_quat, r_pos = recover_root_rot_pos(data)
    local = data[..., sl].reshape(data.shape[:-1] + (J - 1, 3))
    pos = qrot(qinv(r_quat)[..., None, :], local)
    pos[..., 0] += r_pos[..., None, 0]
    pos[..., 2] += r_pos[..., None, 2]
    return np.concatenate([r_pos[..., None, :], pos], axis=-2).astype(dtype)
