"""SMPL-style pose parameters (AMASS-like ``.npz``): axis-angle per joint + root translation.

For users who drive their own body model. The arrays follow the AMASS layout:

* ``poses``  ``(T, J*3)`` float32 — axis-angle (radians) of every joint relative to its parent,
  joint order = ``joint_names`` (22 SMPL body joints for HumanML3D, 52 = SMPL-H/SMPL-X body + MANO
  fingers order of our whole-body skeleton); ``poses[:, :3]`` is the global root orientation.
* ``trans``  ``(T, 3)`` float32 — world position of the root joint (pelvis), metres.
* ``mocap_framerate`` — fps; ``gender`` — ``"neutral"``.
* ``joint_names``, ``parents``, ``rest_offsets (J, 3)`` (the rest skeleton the rotations are
  relative to), ``up_axis`` (``"y"`` or ``"z"``), ``joints (T, J, 3)`` (the positions they were
  solved from), ``translation_residual (T, J, 3)`` (local translation minus rest offset; zero where
  the geometry is rigid), ``note``.

**Limitation.** The rotations are those of :mod:`.export_bvh` (same solver): rotations of *our*
skeleton relative to the rest pose given by ``skel.raw_offsets`` × the clip's bone lengths
(standing, arms hanging down, feet pointing forward; siblings of a branching joint keep the clip's
own geometry), **not** SMPL's T-pose with its exact joint locations. Feeding ``poses`` to an SMPL
model therefore gives the right overall motion only after a per-joint rest-pose correction
(``R_smpl[k] = C[parent]ᵀ R[k] C[k]`` with ``C`` mapping the SMPL rest frame onto ours), and
``trans`` is the pelvis position rather than SMPL's ``trans`` (which excludes the rest pelvis
offset). Forward kinematics with ``rest_offsets`` reproduces ``joints`` up to
``translation_residual``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..motion.quaternion import matrix_to_quaternion, quaternion_to_axis_angle
from .export_bvh import BvhExport, bvh_from_joints

__all__ = ["smpl_params", "write_smpl_npz"]

#: Y-up (ours) → Z-up (AMASS): rotate +90° about X, (x, y, z) → (x, −z, y).
_Y_TO_Z = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])

NOTE = ("poses are axis-angle rotations of the motiongpt2 skeleton relative to its raw_offsets rest "
        "pose (arms down) with rest_offsets as bone vectors, not SMPL's T-pose; trans is the pelvis "
        "world position")


def smpl_params(data, fps: float = 20.0, skeleton=None, *, up: str = "y",
                twist: str = "auto") -> dict:
    """AMASS-like arrays of a motion (joints ``(T, J, 3)`` or features ``(T, D)``); see the module doc.

    Args:
        up: ``"y"`` (our convention) or ``"z"`` (AMASS world; root orientation and translation are
            rotated +90° about X).
    """
    if up not in ("y", "z"):
        raise ValueError(f"up must be 'y' or 'z', not {up!r}")
    # rotations do not depend on ``stretch``; "always" keeps the exact local translations
    exp: BvhExport = bvh_from_joints(data, fps, skeleton, twist=twist, stretch="always")
    rot = exp.local_rotations.copy()
    joints = exp.world_positions()                                     # == the input positions
    trans = joints[:, 0].copy()
    resid = exp.local_translations - exp.offsets[None]
    resid[:, 0] = 0.0
    if up == "z":
        rot[:, 0] = _Y_TO_Z @ rot[:, 0]
        trans = trans @ _Y_TO_Z.T
        joints = joints @ _Y_TO_Z.T
    aa = quaternion_to_axis_angle(matrix_to_quaternion(rot))           # (T, J, 3)
    T, J = aa.shape[:2]
    return {
        "poses": aa.reshape(T, J * 3).astype(np.float32),
        "trans": trans.astype(np.float32),
        "mocap_framerate": np.float64(fps),
        "gender": np.str_("neutral"),
        "joint_names": np.array(exp.names),
        "parents": np.asarray(exp.parents, dtype=np.int64),
        "rest_offsets": exp.offsets.astype(np.float32),
        "joints": joints.astype(np.float32),
        "translation_residual": resid.astype(np.float32),
        "up_axis": np.str_(up),
        "unit": np.str_(exp.unit),
        "note": np.str_(NOTE),
    }


def write_smpl_npz(data, out_path: str | Path, fps: float = 20.0, skeleton=None, *, up: str = "y",
                   twist: str = "auto") -> dict:
    """Write :func:`smpl_params` to ``out_path`` (``np.savez``, no pickles); returns the arrays."""
    params = smpl_params(data, fps, skeleton, up=up, twist=twist)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, **params)
    return params
