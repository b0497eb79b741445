"""Target skeletons of the motion-language pipeline.

Three skeletons are used by the feature formats:

* ``HUMANML3D`` — 22 SMPL body joints, 20 fps, metres, Y-up, faces +Z; 263-dim features.
* ``KIT``       — 21 KIT-ML (MMM) joints, 12.5 fps, millimetres, Y-up, faces +Z; 251-dim features.
* ``WHOLEBODY`` — 52 joints (22 SMPL body + 15 MANO finger joints per hand), 20 fps, metres; 623-dim features
  (HumanTOMATO / Motion-X layout).

Every skeleton carries its joint names, parent indices, kinematic chains (for drawing and for the
uniform-skeleton step), the rest-pose unit direction of each joint from its parent (``raw_offsets``,
used for inverse kinematics) and the target bone lengths (``bone_lengths``) that the official
"uniform skeleton" step retargets every clip to.

Conventions (HumanML3D): left is +X when the person faces +Z, up is +Y.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Skeleton:
    """A kinematic tree with the metadata the feature recipe needs.

    Attributes:
        name: short identifier (``"humanml3d"``, ``"kit"``, ``"wholebody"``).
        joint_names: ``J`` names, index = joint id.
        parents: ``(J,)`` parent index per joint, ``-1`` for the root.
        chains: kinematic chains (lists of joint ids starting at the root or a branch joint).
        raw_offsets: ``(J, 3)`` rest-pose unit direction of each joint from its parent.
        bone_lengths: ``(J,)`` target length of the bone ending at each joint (units of ``unit``).
        face_joints: ``(r_hip, l_hip, r_shoulder, l_shoulder)`` ids used to find the facing direction.
        foot_left / foot_right: ``(heel/ankle, toe)`` ids used for foot contacts.
        leg: ``(hip, knee)`` ids whose bone lengths set the root-translation scale (uniform skeleton).
        fps: native frame rate of the format (frames per second).
        unit: ``"m"`` or ``"mm"``; positions and bone lengths are in this unit.
        feet_threshold: contact threshold on squared per-frame foot speed (unit²/frame²).
        mirror: ``(J,)`` index of the left/right counterpart of each joint (itself on the mid-line).
    """

    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    chains: tuple[tuple[int, ...], ...]
    raw_offsets: np.ndarray
    bone_lengths: np.ndarray
    face_joints: tuple[int, int, int, int]
    foot_left: tuple[int, int]
    foot_right: tuple[int, int]
    leg: tuple[int, int]
    fps: float
    unit: str
    feet_threshold: float
    mirror: tuple[int, ...] = field(default=())

    @property
    def n_joints(self) -> int:
        return len(self.joint_names)

    @property
    def feature_dim(self) -> int:
        """Size of the HumanML3D-style feature vector: 4 + (J-1)·3 + (J-1)·6 + J·3 + 4."""
        j = self.n_joints
        return 4 + (j - 1) * 9 + j * 3 + 4

    def index(self, name: str) -> int:
        return self.joint_names.index(name)

    def offsets(self) -> np.ndarray:
        """``(J, 3)`` rest-pose offsets (unit directions × target bone lengths)."""
        return self.raw_offsets * self.bone_lengths[:, None]

    def children(self) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in self.parents]
        for j, p in enumerate(self.parents):
            if p >= 0:
                out[p].append(j)
        return out


def _mirror_table(names: tuple[str, ...]) -> tuple[int, ...]:
    """Counterpart of each joint found by swapping ``left``/``right`` (or ``l_``/``r_``) in its name."""
    pairs = [("left_", "right_"), ("l_", "r_"), ("L", "R")]
    table = []
    for n in names:
        partner = n
        for a, b in pairs:
            if n.startswith(a):
                partner = b + n[len(a):]
                break
            if n.startswith(b):
                partner = a + n[len(b):]
                break
        table.append(names.index(partner) if partner in names else names.index(n))
    return tuple(table)


def _parents_from_chains(n: int, chains) -> tuple[int, ...]:
    parents = [-1] * n
    for chain in chains:
        for a, b in zip(chain[:-1], chain[1:]):
            parents[b] = a
    return tuple(parents)


# --------------------------------------------------------------------------- HumanML3D (SMPL 22)
_HML_NAMES = (
    "pelvis", "l_hip", "r_hip", "spine1", "l_knee", "r_knee", "spine2", "l_ankle", "r_ankle",
    "spine3", "l_foot", "r_foot", "neck", "l_collar", "r_collar", "head", "l_shoulder",
    "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist",
)
_HML_CHAINS = ((0, 2, 5, 8, 11), (0, 1, 4, 7, 10), (0, 3, 6, 9, 12, 15), (9, 14, 17, 19, 21),
               (9, 13, 16, 18, 20))
_HML_RAW = np.array([
    [0, 0, 0], [1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, -1, 0], [0, 1, 0], [0, -1, 0],
    [0, -1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1], [0, 1, 0], [1, 0, 0], [-1, 0, 0], [0, 0, 1],
    [0, -1, 0], [0, -1, 0], [0, -1, 0], [0, -1, 0], [0, -1, 0], [0, -1, 0]], dtype=np.float64)
# Bone lengths (m) of the official HumanML3D target skeleton (clip 000021), joint 0..21.
_HML_LENGTHS = np.array([
    0.0, 0.103074, 0.109883, 0.131568, 0.393623, 0.390188, 0.143190, 0.432433, 0.425644, 0.057365,
    0.143382, 0.149419, 0.219360, 0.137487, 0.143383, 0.103039, 0.131614, 0.122984, 0.256840,
    0.263092, 0.266012, 0.269876], dtype=np.float64)

HUMANML3D = Skeleton(
    name="humanml3d",
    joint_names=_HML_NAMES,
    parents=(-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19),
    chains=_HML_CHAINS,
    raw_offsets=_HML_RAW,
    bone_lengths=_HML_LENGTHS,
    face_joints=(2, 1, 17, 16),
    foot_left=(7, 10),
    foot_right=(8, 11),
    leg=(5, 8),  # official: l_idx1, l_idx2 = 5, 8 (right knee, right ankle)
    fps=20.0,
    unit="m",
    feet_threshold=0.002,
    mirror=_mirror_table(_HML_NAMES),
)

# --------------------------------------------------------------------------- KIT-ML (MMM 21)
# Index conventions follow the official text-to-motion code (paramUtil.kit_kinematic_chain,
# kit_raw_offsets, face_joint_indx = [11, 16, 5, 8] as (r_hip, l_hip, r_shoulder, l_shoulder),
# fid_r = [14, 15], fid_l = [19, 20], l_idx1, l_idx2 = 17, 18, feet threshold 0.05). That code
# treats joints 11.. as the *right* leg and 5.. as the *right* arm, and the feature vector's foot
# contacts are ordered (fid_l, fid_r) = ((19, 20), (14, 15)); the names below follow that
# (geometric) convention so that "left" means the same thing as for HumanML3D features.
# NOTE: the MMM / TEMOS joint list names the same indices the other way round
# ("LS", "LE", "LW", "RS", ... "LH", "LK", "LA", "LMrot", "LF", "RH", ...): index 5 is MMM's
# *LS* and 11 MMM's *LH*. The KIT-ML xyz export is presumably a reflection of the MMM frame; only
# the indices matter for the features.
_KIT_NAMES = (
    "root", "BP", "BT", "BLN", "BUN", "RS", "RE", "RW", "LS", "LE", "LW",
    "RH", "RK", "RA", "RMrot", "RF", "LH", "LK", "LA", "LMrot", "LF",
)
_KIT_CHAINS = ((0, 11, 12, 13, 14, 15), (0, 16, 17, 18, 19, 20), (0, 1, 2, 3, 4), (3, 5, 6, 7),
               (3, 8, 9, 10))
_KIT_RAW = np.array([
    [0, 0, 0], [0, 1, 0], [0, 1, 0], [0, 1, 0], [0, 1, 0], [1, 0, 0], [0, -1, 0], [0, -1, 0],
    [-1, 0, 0], [0, -1, 0], [0, -1, 0], [1, 0, 0], [0, -1, 0], [0, -1, 0], [0, 0, 1], [0, 0, 1],
    [-1, 0, 0], [0, -1, 0], [0, -1, 0], [0, 0, 1], [0, 0, 1]], dtype=np.float64)
# Typical adult MMM bone lengths in millimetres (KIT-ML units). NOT the official target: the official
# KIT-ML uniform skeleton takes its offsets from clip "03950_gt" of the KIT-ML joints, which is not
# available here; replace these with that clip's bone lengths for bit-compatible KIT features.
_KIT_LENGTHS = np.array([
    0.0, 40.0, 230.0, 240.0, 160.0, 190.0, 280.0, 250.0, 190.0, 280.0, 250.0,
    95.0, 420.0, 420.0, 60.0, 110.0, 95.0, 420.0, 420.0, 60.0, 110.0], dtype=np.float64)

KIT = Skeleton(
    name="kit",
    joint_names=_KIT_NAMES,
    parents=_parents_from_chains(21, _KIT_CHAINS),
    chains=_KIT_CHAINS,
    raw_offsets=_KIT_RAW,
    bone_lengths=_KIT_LENGTHS,
    face_joints=(11, 16, 5, 8),
    foot_left=(19, 20),
    foot_right=(14, 15),
    leg=(17, 18),
    fps=12.5,
    unit="mm",
    # Official value (motion_process.py calls process_file(source_data, 0.05) for KIT-ML). The data
    # is in millimetres, so this only flags (nearly) motionless feet; kept for feature compatibility.
    feet_threshold=0.05,
    mirror=tuple([0, 1, 2, 3, 4, 8, 9, 10, 5, 6, 7, 16, 17, 18, 19, 20, 11, 12, 13, 14, 15]),
)

# --------------------------------------------------------------------------- whole body (52)
_FINGERS = ("index", "middle", "pinky", "ring", "thumb")
_HAND_NAMES_L = tuple(f"left_{f}{k}" for f in _FINGERS for k in (1, 2, 3))
_HAND_NAMES_R = tuple(f"right_{f}{k}" for f in _FINGERS for k in (1, 2, 3))
_WB_NAMES = tuple(n.replace("l_", "left_", 1) if n.startswith("l_") else
                  n.replace("r_", "right_", 1) if n.startswith("r_") else n
                  for n in _HML_NAMES) + _HAND_NAMES_L + _HAND_NAMES_R


def _hand_parents(wrist: int, first: int) -> list[int]:
    out = []
    for f in range(5):
        base = first + 3 * f
        out += [wrist, base, base + 1]
    return out


_WB_PARENTS = tuple(HUMANML3D.parents) + tuple(_hand_parents(20, 22)) + tuple(_hand_parents(21, 37))
_WB_CHAINS = _HML_CHAINS + tuple((20, 22 + 3 * f, 23 + 3 * f, 24 + 3 * f) for f in range(5)) + \
    tuple((21, 37 + 3 * f, 38 + 3 * f, 39 + 3 * f) for f in range(5))
# Fingers continue the arm direction (arms hang down, (0,-1,0), in the official rest pose).
_WB_RAW = np.concatenate([_HML_RAW, np.tile([[0.0, -1.0, 0.0]], (30, 1))], axis=0)
# MANO-like finger bone lengths (m): wrist→knuckle, proximal, middle phalanx for index, middle,
# pinky, ring, thumb (thumb: wrist→CMC, metacarpal, proximal).
_FINGER_LEN = np.array([
    [0.095, 0.038, 0.023], [0.094, 0.043, 0.026], [0.083, 0.030, 0.018], [0.088, 0.040, 0.025],
    [0.035, 0.035, 0.031]], dtype=np.float64).reshape(-1)
_WB_LENGTHS = np.concatenate([_HML_LENGTHS, _FINGER_LEN, _FINGER_LEN])

WHOLEBODY = Skeleton(
    name="wholebody",
    joint_names=_WB_NAMES,
    parents=_WB_PARENTS,
    chains=_WB_CHAINS,
    raw_offsets=_WB_RAW,
    bone_lengths=_WB_LENGTHS,
    face_joints=(2, 1, 17, 16),
    foot_left=(7, 10),
    foot_right=(8, 11),
    leg=(5, 8),
    fps=20.0,
    unit="m",
    feet_threshold=0.002,
    mirror=_mirror_table(_WB_NAMES),
)



def _finger_wrists(skel: Skeleton, n_body: int) -> tuple[np.ndarray, np.ndarray]:
    fingers = np.arange(n_body, skel.n_joints)
    wrists = []
    for j in fingers:
        while j >= n_body:  # climb to the first body joint: the wrist
            j = skel.parents[j]
        wrists.append(j)
    return fingers, np.asarray(wrists, np.int64)


#: The whole-body skeleton's 30 finger joints (22..51: left hand, then right) and the wrist each hangs from
#: (20 left, 21 right), read from its parents.
FINGER_JOINTS, FINGER_WRISTS = _finger_wrists(WHOLEBODY, HUMANML3D.n_joints)

SKELETONS: dict[str, Skeleton] = {s.name: s for s in (HUMANML3D, KIT, WHOLEBODY)}
FEATURE_DIMS: dict[int, Skeleton] = {s.feature_dim: s for s in SKELETONS.values()}


def skeleton_for_dim(dim: int) -> Skeleton:
    """The skeleton whose feature vector has ``dim`` entries (263, 251 or 623)."""
    try:
        return FEATURE_DIMS[dim]
    except KeyError:
        raise ValueError(f"feature dimension {dim} is not one of {sorted(FEATURE_DIMS)} "
                         "(HumanML3D 263, KIT-ML 251, whole-body 623)") from None


def get_skeleton(name: str) -> Skeleton:
    try:
        return SKELETONS[name]
    except KeyError:
        raise ValueError(f"unknown skeleton {name!r}; choose one of {sorted(SKELETONS)}") from None
