"""Hand FID: a text-free distance between the finger motion of two sets of whole-body clips.

The text–motion evaluator learns what captions say, and captions rarely describe fingers (on the
composite corpus they cannot: its finger mocap is attached to body clips without regard to the text),
so its FID hardly sees the hands.  Table XI at generation level needs a measure that does:

* **descriptor** of one clip, ``(210,)``: for the 30 finger joints of the whole-body skeleton, their
  position relative to their own wrist (the features' ``ric`` block: facing-aligned, metres) averaged
  over time (90) and its standard deviation over time (90), and each joint's mean speed relative to
  the wrist (30, m/s at the skeleton's fps).  Pose, range of articulation and how fast the fingers move:
  hand-crafted features in the spirit of the kinetic / geometric FIDs of dance generation (FID_k, FID_g);
* **Hand FID**: the Fréchet distance between the descriptors of a reference set and of a generated
  set, both standardised with the reference's per-dimension mean and standard deviation (so it is
  unit-free; 0 for identical distributions).

Only 623-d whole-body features have hands (:func:`has_hands`).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from motiongpt2.eval.metrics import fid
from motiongpt2.motion.features import feature_slices
from motiongpt2.motion.skeleton import FEATURE_DIMS, FINGER_JOINTS, FINGER_WRISTS, WHOLEBODY

__all__ = ["DESCRIPTOR_DIM", "HAND_JOINTS", "hand_descriptors", "hand_fid", "has_hands"]

#: Finger joints of :data:`WHOLEBODY` (indices 22..51); :data:`FINGER_WRISTS` holds the wrist of each.
HAND_JOINTS = FINGER_JOINTS
#: Length of one clip's descriptor: mean and std of 30 × 3 wrist-relative positions, 30 mean speeds.
DESCRIPTOR_DIM = 2 * 3 * len(HAND_JOINTS) + len(HAND_JOINTS)
_RIC = feature_slices(WHOLEBODY.n_joints)["ric"]


def has_hands(dim: int) -> bool:
    """Whether ``dim``-wide features are whole-body features with finger joints (623)."""
    return FEATURE_DIMS.get(int(dim)) is WHOLEBODY


def hand_descriptors(motions: Sequence[np.ndarray], fps: float = WHOLEBODY.fps) -> np.ndarray:
    """``(N, 210)`` float64 descriptors of ``N`` raw ``(T, 623)`` whole-body feature arrays (see the
    module doc); a one-frame clip has zero std and speed."""
    out = np.empty((len(motions), DESCRIPTOR_DIM), np.float64)
    for i, m in enumerate(motions):
        m = np.asarray(m, np.float64)
        if m.ndim != 2 or m.shape[1] != WHOLEBODY.feature_dim:
            raise ValueError(f"motion #{i} has shape {m.shape}, expected (T, {WHOLEBODY.feature_dim})")
        ric = m[:, _RIC].reshape(len(m), -1, 3)                    # joints 1..51 (root is not in ric)
        rel = ric[:, HAND_JOINTS - 1] - ric[:, FINGER_WRISTS - 1]  # (T, 30, 3) m
        speed = np.linalg.norm(np.diff(rel, axis=0), axis=-1).mean(0) * fps if len(m) > 1 else np.zeros(30)
        out[i] = np.concatenate([rel.mean(0).ravel(), rel.std(0).ravel(), speed])
    return out


def hand_fid(reference: np.ndarray, generated: np.ndarray) -> float:
    """Fréchet distance between ``(N1, 210)`` reference and ``(N2, 210)`` generated descriptors, both
    standardised with the reference's per-dimension mean and std (dimensions constant in the reference
    keep unit scale)."""
    ref = np.asarray(reference, np.float64)
    mu, sd = ref.mean(0), ref.std(0)
    sd = np.where(sd > 1e-9, sd, 1.0)
    return fid((ref - mu) / sd, (np.asarray(generated, np.float64) - mu) / sd)
