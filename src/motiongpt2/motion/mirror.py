"""Left/right mirroring of joint positions and of HumanML3D feature vectors.

The mirror is the reflection ``M = diag(−1, 1, 1)`` (negate X; X is the person's left when facing
+Z) combined with swapping every joint with its counterpart ``skel.mirror`` — what the official
HumanML3D augmentation does to build the ``M``-prefixed clips.

``mirror_features`` acts on features directly. Every step of the feature recipe except the
uniform-skeleton retargeting commutes with ``M`` (floor, origin, facing, foot contacts, the smoothed
root yaw and the IK all do, because ``raw_offsets`` and the chains are mirror-symmetric), so
``mirror_features(extract_features(p, uniform=False)) == extract_features(mirror_joints(p),
uniform=False)`` up to float32 rounding. The official target skeleton is not exactly symmetric
(e.g. left hip 0.1031 m, right hip 0.1099 m) and the leg scale uses the right leg only, so with
``uniform=True`` the two differ slightly.

Effect on each part of the feature row:

* rot_vel → −rot_vel (yaw changes sign); lin_vel x → −x; root height unchanged.
* ric and local velocities: negate x and swap joints.
* 6D rotations: ``R → M R M`` (quaternion ``(w, x, y, z) → (w, x, −y, −z)``), so the first column
  ``c0 → (c0x, −c0y, −c0z)`` and the second ``c1 → (−c1x, c1y, c1z)``; then swap joints.
* foot contacts: left and right pairs swap.
"""
from __future__ import annotations

import numpy as np

from .features import feature_slices
from .skeleton import HUMANML3D, Skeleton, skeleton_for_dim

__all__ = ["mirror_joints", "mirror_features"]


def _mirror_table(skel: Skeleton) -> np.ndarray:
    table = np.asarray(skel.mirror if skel.mirror else range(skel.n_joints), dtype=np.int64)
    if not np.array_equal(table[table], np.arange(len(table))):
        raise ValueError(f"mirror table of {skel.name!r} is not an involution")
    return table


def mirror_joints(positions, skel: Skeleton = HUMANML3D):
    """Mirror joint positions: negate X and swap left/right joints.

    Args:
        positions: ``(..., J, 3)`` numpy array or torch tensor.

    Returns:
        Mirrored positions of the same shape and type.
    """
    table = _mirror_table(skel)
    out = positions[..., table, :]
    sign = np.array([-1.0, 1.0, 1.0])
    if type(positions).__module__.startswith("torch"):
        import torch
        return out * torch.as_tensor(sign, dtype=out.dtype, device=out.device)
    out = np.asarray(out)
    return (out * sign).astype(out.dtype, copy=False)


def mirror_features(features, skel: Skeleton | None = None):
    """Mirror HumanML3D-layout features directly (see module docstring).

    Args:
        features: ``(..., D)`` numpy array or torch tensor, ``D = 12 J − 1``.
        skel: skeleton; inferred from ``D`` (263/251/623) when omitted.

    Returns:
        Mirrored features, same shape and type; ``mirror_features`` is an involution.
    """
    D = features.shape[-1]
    skel = skeleton_for_dim(D) if skel is None else skel
    if skel.feature_dim != D:
        raise ValueError(f"features have {D} dims but skeleton {skel.name!r} needs {skel.feature_dim}")
    J = skel.n_joints
    table = _mirror_table(skel)
    sl = feature_slices(J)

    # permutation of feature indices and a per-index sign
    idx = np.arange(D)
    sign = np.ones(D)
    sign[0] = -1.0            # rot vel
    sign[1] = -1.0            # lin vel x
    # ric: joints 1..J-1
    ric = np.arange(sl["ric"].start, sl["ric"].stop).reshape(J - 1, 3)
    idx[sl["ric"]] = ric[table[1:] - 1].reshape(-1)
    sign[sl["ric"]] = np.tile([-1.0, 1.0, 1.0], J - 1)
    rot = np.arange(sl["rot6d"].start, sl["rot6d"].stop).reshape(J - 1, 6)
    idx[sl["rot6d"]] = rot[table[1:] - 1].reshape(-1)
    sign[sl["rot6d"]] = np.tile([1.0, -1.0, -1.0, -1.0, 1.0, 1.0], J - 1)
    vel = np.arange(sl["local_vel"].start, sl["local_vel"].stop).reshape(J, 3)
    idx[sl["local_vel"]] = vel[table].reshape(-1)
    sign[sl["local_vel"]] = np.tile([-1.0, 1.0, 1.0], J)
    f0 = sl["feet"].start
    idx[sl["feet"]] = [f0 + 2, f0 + 3, f0, f0 + 1]

    out = features[..., idx]
    if type(features).__module__.startswith("torch"):
        import torch
        return out * torch.as_tensor(sign, dtype=out.dtype, device=out.device)
    out = np.asarray(out)
    return (out * sign).astype(out.dtype, copy=False)
