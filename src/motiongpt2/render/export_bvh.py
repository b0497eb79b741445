"""Joint positions (or HumanML3D-style features) → BVH with joint rotations.

The exported hierarchy is the target skeleton itself (22 HumanML3D / 52 whole-body joints, or any
:class:`~motiongpt2.motion.skeleton.Skeleton`): one BVH joint per skeleton joint, named like
``skel.joint_names``, an ``End Site`` below every leaf. Every BVH joint carries ``Zrotation
Xrotation Yrotation`` channels (intrinsic ZXY, degrees, 6 decimals); the root also carries
``Xposition Yposition Zposition``. ``Frame Time`` is ``1 / fps``.

How the rotations are found (:func:`solve_rotations`)
-----------------------------------------------------
In BVH the rotation of joint ``k`` turns the OFFSETs of ``k``'s *children*; the position of a child
``c`` is ``p[k] + W[k] @ O[c]`` with ``W`` the world rotation of ``k``. So

* **Rest pose.** Every joint with one child gets ``O[c] = raw_offsets[c] × L[c]`` where ``L[c]`` is
  the clip's bone length (mean over frames): the rest pose is the skeleton's ``raw_offsets`` pose
  (HumanML3D: standing, arms hanging down, feet and head pointing forward) with the clip's own
  bone lengths.
* **Joints with several children** (pelvis → hips + spine, spine3 → neck + collars, wrists → five
  finger bases): one rotation can only place all children exactly when their geometry relative to
  the parent is rigid (true for SMPL-derived data, for the uniform-skeleton output and for most mocap
  rigs). Their rest OFFSETs are therefore the clip's *own* sibling geometry (a rigid template fitted
  to all frames by generalised Procrustes, which equals any single frame's geometry when it is
  rigid), turned as a whole so the *primary* child (the one continuing the parent's direction:
  spine1 for the pelvis, neck for spine3, the middle finger for a wrist) points along its
  ``raw_offsets`` direction and the other children are as close as possible to theirs. The world
  rotation is the least-squares (Kabsch) fit of the template onto the frame's child bones. A
  T-pose built purely from ``raw_offsets`` would make the hips exactly sideways and the spine
  exactly up, which real skeletons never are, so every frame would carry a residual of a few cm.
* **Joints with one child**: the bone direction fixes the rotation up to a twist about the bone.
  ``twist="minimal"`` (default for joints) takes the smallest rotation relative to the parent's
  frame (no twist relative to the parent; continuous through time except at a 180° bend from the
  rest direction). ``twist="features"`` takes the twist from the 6D rotations of HumanML3D
  features (the official per-bone rotations, chained with the official "chains start at the root"
  quirk), swung minimally onto the decoded bone direction.
* **Leaves** keep their parent's orientation (identity local rotation).

Twist never changes joint positions: positions are reproduced exactly (to the written precision)
whenever bone lengths and the sibling geometry are constant over the clip. Where they are not
(e.g. positions decoded from generated features, whose bone lengths wobble), ``stretch="auto"``
gives exactly the joints whose local translation varies by more than ``tol`` three position
channels (``Xposition Yposition Zposition`` before the rotations) holding that translation, so the
file still reproduces every joint within the written precision; ``stretch="never"`` keeps
rotation-only joints (what most retargeting tools expect) and reports the residual error in
:attr:`BvhExport.max_error`.

Euler angles are decomposed per frame with the branch (``x`` vs ``180° − x``) closest to the
previous frame and unwrapped, so curves are continuous through gimbal lock (e.g. an arm raised
forward is exactly ``X = −90°`` for a hanging rest arm).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..motion.quaternion import (
    cont6d_to_quaternion,
    qbetween,
    qmul,
    quaternion_to_matrix,
)
from ..motion.skeleton import HUMANML3D, KIT, WHOLEBODY, Skeleton, skeleton_for_dim

__all__ = [
    "BvhExport",
    "bvh_from_joints",
    "features_global_rotations",
    "joints_from_input",
    "matrix_to_euler_zxy",
    "solve_rotations",
    "write_bvh",
]

_SKELETONS_BY_J = {s.n_joints: s for s in (HUMANML3D, KIT, WHOLEBODY)}
_UNIT_SCALE = {"m": 1.0, "cm": 100.0, "mm": 1000.0}


# --------------------------------------------------------------------------- inputs
def _skeleton(skeleton, n_joints: int) -> Skeleton:
    if isinstance(skeleton, Skeleton):
        skel = skeleton
    elif isinstance(skeleton, str):
        from ..motion.skeleton import get_skeleton
        skel = get_skeleton(skeleton)
    elif skeleton is None:
        try:
            skel = _SKELETONS_BY_J[n_joints]
        except KeyError:
            raise ValueError(f"cannot infer the skeleton from J={n_joints}; pass skeleton= "
                             "(HumanML3D 22, KIT 21, whole-body 52)") from None
    else:
        raise TypeError(f"skeleton must be a Skeleton, a name or None, not {type(skeleton).__name__}")
    if skel.n_joints != n_joints:
        raise ValueError(f"skeleton {skel.name!r} has {skel.n_joints} joints, the motion has {n_joints}")
    return skel


def joints_from_input(data, skeleton=None) -> tuple[np.ndarray, Skeleton, np.ndarray | None]:
    """``(T, J, 3)`` joints or ``(T, D)`` features → ``(positions float64, skeleton, global_rot | None)``.

    Features (``D`` = 263 / 251 / 623, de-normalised) are decoded with
    :func:`~motiongpt2.motion.features.recover_from_ric`; their 6D rotations are returned as
    ``(T, J, 3, 3)`` world rotations (:func:`features_global_rotations`) for the twist.
    """
    arr = np.asarray(data)
    if arr.ndim == 2:
        from ..motion.features import recover_from_ric
        skel = skeleton_for_dim(arr.shape[-1]) if skeleton is None else _skeleton(
            skeleton, skeleton_for_dim(arr.shape[-1]).n_joints)
        feats = arr.astype(np.float64)
        pos = recover_from_ric(feats, skel.n_joints)
        return pos, skel, features_global_rotations(feats, skel)
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise ValueError(f"expected joints (T, J, 3) or features (T, D), got shape {arr.shape}")
    if arr.shape[0] < 1:
        raise ValueError("the motion has no frames")
    pos = arr.astype(np.float64)
    if not np.all(np.isfinite(pos)):
        raise ValueError("joint positions contain NaN or inf")
    return pos, _skeleton(skeleton, arr.shape[1]), None


def features_global_rotations(features: np.ndarray, skel: Skeleton) -> np.ndarray:
    """``(T, J, 3, 3)`` world rotation of the bone ending at each joint, from the 6D feature slots.

    Inverts the official IK: ``G[k] = G[rotation_parent[k]] · local[k]`` with ``G[0]`` the root yaw
    recovered from the rotation velocities (chains start at the root, official quirk). ``G[k]``
    maps ``raw_offsets[k]`` onto the bone direction. Index 0 holds the root yaw.
    """
    from ..motion.features import feature_slices, recover_root_rot_pos
    from ..motion.uniform import rotation_parents

    feats = np.asarray(features, dtype=np.float64)
    J = skel.n_joints
    r_quat, _ = recover_root_rot_pos(feats)
    local = cont6d_to_quaternion(feats[:, feature_slices(J)["rot6d"]].reshape(len(feats), J - 1, 6))
    rp = rotation_parents(skel)
    glob = np.empty((len(feats), J, 4))
    glob[:, 0] = r_quat
    order = [j for chain in skel.chains for j in chain[1:]]
    for k in order:
        glob[:, k] = qmul(glob[:, rp[k]], local[:, k - 1])
    return quaternion_to_matrix(glob)


# --------------------------------------------------------------------------- rotation helpers
def _between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Shortest-arc rotation matrices taking directions ``a`` onto ``b`` (broadcast, ``(..., 3, 3)``)."""
    return quaternion_to_matrix(qbetween(a, b))


def _kabsch(src: np.ndarray, dst: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """Rotations ``R (T, 3, 3)`` minimising ``Σ_c w_c |R src[c] − dst[t, c]|²``; src ``(C, 3)`` or ``(T, C, 3)``."""
    src = np.broadcast_to(src, dst.shape)
    if w is None:
        w = np.ones(dst.shape[-2])
    h = np.einsum("c,tci,tcj->tij", w, dst, src)       # Σ w dst srcᵀ
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(u @ vt))
    d = np.where(d == 0, 1.0, d)
    diag = np.ones(h.shape[:-1])
    diag[:, 2] = d
    return (u * diag[:, None, :]) @ vt


def _unit(v: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.where(n > 1e-12, v / np.maximum(n, 1e-300), fallback)


def _primary_child(skel: Skeleton, k: int, kids: list[int]) -> int:
    """The child continuing ``k``'s direction (root: the one pointing up; ties: a "middle" finger)."""
    raw = np.asarray(skel.raw_offsets, dtype=np.float64)
    own = raw[k] if skel.parents[k] >= 0 and np.linalg.norm(raw[k]) > 0 else np.array([0.0, 1.0, 0.0])
    best, score = kids[0], -np.inf
    for c in kids:
        s = float(np.dot(_unit(raw[c], raw[c]), own))
        s += 0.01 * ("middle" in skel.joint_names[c].lower())
        if s > score + 1e-9:
            best, score = c, s
    return best


def matrix_to_euler_zxy(m: np.ndarray) -> np.ndarray:
    """``(T, ..., 3, 3)`` rotation matrices → continuous ``(T, ..., 3)`` intrinsic ZXY angles (degrees).

    ``R = Rz(z) @ Rx(x) @ Ry(y)``; columns are ``(z, x, y)`` in channel order. Per frame the branch
    (``x``, or ``180° − x`` with ``z, y + 180°``) nearest the previous frame is chosen, then each
    angle is moved by multiples of 360° to be nearest its previous value.
    """
    m = np.asarray(m, dtype=np.float64)
    sx = np.clip(m[..., 2, 1], -1.0, 1.0)
    x = np.arcsin(sx)
    cx = np.sqrt(np.maximum(1.0 - sx * sx, 0.0))
    lock = cx < 1e-7
    z = np.where(lock, np.arctan2(m[..., 1, 0], m[..., 0, 0]), np.arctan2(-m[..., 0, 1], m[..., 1, 1]))
    y = np.where(lock, 0.0, np.arctan2(-m[..., 2, 0], m[..., 2, 2]))
    a = np.stack([z, x, y], axis=-1)                                   # branch 1, x in [-90°, 90°]
    b = np.stack([z + np.pi, np.pi - x, y + np.pi], axis=-1)           # branch 2, same rotation
    out = np.empty_like(a)
    two_pi = 2.0 * np.pi

    def wrap_to(v, ref):
        return v + two_pi * np.round((ref - v) / two_pi)

    out[0] = a[0]
    for t in range(1, len(a)):
        prev = out[t - 1]
        ca, cb = wrap_to(a[t], prev), wrap_to(b[t], prev)
        da = np.abs(ca - prev).sum(-1)
        db = np.abs(cb - prev).sum(-1)
        out[t] = np.where((db < da)[..., None], cb, ca)
    return np.rad2deg(out)


# --------------------------------------------------------------------------- solver
@dataclass
class BvhExport:
    """A solved BVH: hierarchy, rest offsets and per-frame local transforms (skeleton units).

    Attributes:
        names: joint names (skeleton order); ``parents`` their parent indices.
        offsets: ``(J, 3)`` rest OFFSET of each joint in its parent's frame (root: zeros).
        end_offsets: ``(J, 3)`` End Site offset of each leaf (zeros for non-leaves).
        local_rotations: ``(T, J, 3, 3)`` rotation of each joint relative to its parent.
        world_rotations: ``(T, J, 3, 3)``.
        local_translations: ``(T, J, 3)`` translation of each joint in its parent's frame (root:
            world position); equals ``offsets`` where the joint has no position channels.
        position_channels: ``(J,)`` bool, joints written with position channels (root always).
        fps: frames per second; ``unit`` of the offsets/translations.
        max_error: largest FK error over joints and frames (skeleton units) before rounding.
    """

    names: list[str]
    parents: np.ndarray
    offsets: np.ndarray
    end_offsets: np.ndarray
    local_rotations: np.ndarray
    world_rotations: np.ndarray
    local_translations: np.ndarray
    position_channels: np.ndarray
    fps: float
    unit: str
    max_error: float = 0.0
    info: dict = field(default_factory=dict)

    def world_positions(self) -> np.ndarray:
        """``(T, J, 3)`` forward kinematics of the solved transforms."""
        T, J = self.local_translations.shape[:2]
        pos = np.empty((T, J, 3))
        for k in range(J):
            p = int(self.parents[k])
            if p < 0:
                pos[:, k] = self.local_translations[:, k]
            else:
                pos[:, k] = pos[:, p] + np.einsum("tab,tb->ta", self.world_rotations[:, p],
                                                  self.local_translations[:, k])
        return pos

    def to_text(self, decimals: int = 6, scale: float = 1.0) -> str:
        """The BVH file text; ``scale`` multiplies every length (e.g. 100 for centimetres)."""
        J = len(self.names)
        kids: list[list[int]] = [[] for _ in range(J)]
        for k in range(1, J):
            kids[int(self.parents[k])].append(k)
        fmt = f"{{:.{decimals}f}}"
        lines = ["HIERARCHY"]

        def vec(v):
            return " ".join(fmt.format(float(x) * scale) for x in v)

        def emit(k, depth):
            ind = "  " * depth
            head = "ROOT" if self.parents[k] < 0 else "JOINT"
            lines.append(f"{ind}{head} {self.names[k]}")
            lines.append(f"{ind}{{")
            lines.append(f"{ind}  OFFSET {vec(self.offsets[k])}")
            if self.position_channels[k]:
                lines.append(f"{ind}  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation")
            else:
                lines.append(f"{ind}  CHANNELS 3 Zrotation Xrotation Yrotation")
            for c in kids[k]:
                emit(c, depth + 1)
            if not kids[k]:
                lines.append(f"{ind}  End Site")
                lines.append(f"{ind}  {{")
                lines.append(f"{ind}    OFFSET {vec(self.end_offsets[k])}")
                lines.append(f"{ind}  }}")
            lines.append(f"{ind}}}")

        order: list[int] = []

        def walk(k):
            order.append(k)
            for c in kids[k]:
                walk(c)

        for r in np.flatnonzero(self.parents < 0):
            emit(int(r), 0)
            walk(int(r))
        T = self.local_rotations.shape[0]
        lines += ["MOTION", f"Frames: {T}", f"Frame Time: {1.0 / self.fps:.8f}"]
        # columns in hierarchy (depth-first) order
        eul = matrix_to_euler_zxy(self.local_rotations[:, order])          # (T, J, 3)
        cols = []
        for i, k in enumerate(order):
            if self.position_channels[k]:
                cols.append(self.local_translations[:, k] * scale)
            cols.append(eul[:, i])
        table = np.concatenate(cols, axis=1) if cols else np.zeros((T, 0))
        table = np.round(table, decimals)
        table[table == 0] = 0.0                                             # no "-0.000000"
        body = "\n".join(" ".join(fmt.format(v) for v in row) for row in table.tolist())
        return "\n".join(lines) + "\n" + body + "\n"


def solve_rotations(positions: np.ndarray, skel: Skeleton, fps: float, *, twist: str = "minimal",
                    global_rot: np.ndarray | None = None, stretch: str = "auto",
                    tol: float | None = None) -> BvhExport:
    """Per-joint BVH rotations reproducing ``positions`` (see the module docstring).

    Args:
        positions: ``(T, J, 3)`` joint positions in ``skel.unit``, Y-up.
        skel: the skeleton (parents must precede children).
        fps: frame rate of ``positions``.
        twist: ``"minimal"`` or ``"features"`` (needs ``global_rot``).
        global_rot: ``(T, J, 3, 3)`` world rotation of the bone ending at each joint (from features).
        stretch: ``"auto"`` (position channels on joints whose local translation varies by more than
            ``tol``), ``"never"`` or ``"always"``.
        tol: translation tolerance in skeleton units (default 1e-5 m, i.e. 0.01 mm).

    Returns:
        :class:`BvhExport` (units of ``skel``).
    """
    if twist not in ("minimal", "features"):
        raise ValueError(f"twist must be 'minimal' or 'features', not {twist!r}")
    if stretch not in ("auto", "never", "always"):
        raise ValueError(f"stretch must be 'auto', 'never' or 'always', not {stretch!r}")
    if twist == "features" and global_rot is None:
        raise ValueError("twist='features' needs feature input (6D rotations)")
    if not fps or fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    P = np.asarray(positions, dtype=np.float64)
    T, J = P.shape[:2]
    unit_m = 1000.0 if skel.unit == "mm" else 1.0
    tol = 1e-5 * unit_m if tol is None else float(tol)
    parents = np.asarray(skel.parents, dtype=np.int64)
    if any(parents[k] >= k for k in range(1, J)) or parents[0] >= 0:
        raise ValueError("skeleton joints must be ordered parents first with the root at index 0")
    kids: list[list[int]] = [[] for _ in range(J)]
    for k in range(1, J):
        kids[parents[k]].append(k)
    raw = np.asarray(skel.raw_offsets, dtype=np.float64)

    V = np.zeros_like(P)
    V[:, 1:] = P[:, 1:] - P[:, parents[1:]]                      # bone vectors (T, J, 3)
    L = np.linalg.norm(V, axis=-1).mean(0)                       # mean bone lengths (J,)
    rawdir = _unit(raw, np.array([0.0, 1.0, 0.0]))
    fallback_dir = _unit(V.mean(0), rawdir)
    rawdir = np.where(np.linalg.norm(raw, axis=-1, keepdims=True) > 0, rawdir, fallback_dir)

    O = np.zeros((J, 3))
    W = np.empty((T, J, 3, 3))
    primary = {}
    # ---- rest offsets
    for k in range(J):
        ch = kids[k]
        if len(ch) == 1:
            O[ch[0]] = rawdir[ch[0]] * L[ch[0]]
        elif len(ch) >= 2:
            c0 = _primary_child(skel, k, ch)
            primary[k] = c0
            dst = V[:, ch]                                        # (T, C, 3)
            tmpl = dst[0].copy()
            for _ in range(3):                                    # generalised Procrustes
                R = _kabsch(tmpl, dst)
                tmpl = np.einsum("tji,tcj->ci", R, dst) / T      # mean of Rᵀ dst
            i0 = ch.index(c0)
            B = _between(_unit(tmpl[i0], rawdir[c0]), rawdir[c0])
            w = B @ tmpl.T                                        # (3, C)
            a = rawdir[c0]
            # best twist about a so the other children approach their raw directions
            num = den = 0.0
            for i, c in enumerate(ch):
                if c == c0:
                    continue
                wc = _unit(w[:, i], rawdir[c])
                perp = wc - a * np.dot(a, wc)
                num += float(np.dot(rawdir[c], np.cross(a, perp)))
                den += float(np.dot(rawdir[c], perp))
            th = np.arctan2(num, den) if (num or den) else 0.0
            K = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
            Rt = np.eye(3) + np.sin(th) * K + (1 - np.cos(th)) * (K @ K)
            O[ch] = (Rt @ B @ tmpl.T).T
    # ---- world rotations, parents first
    for k in range(J):
        ch = kids[k]
        p = parents[k]
        Wp = W[:, p] if p >= 0 else np.broadcast_to(np.eye(3), (T, 3, 3))
        if len(ch) >= 2:
            W[:, k] = _kabsch(O[ch], V[:, ch])
        elif len(ch) == 1:
            c = ch[0]
            d = _unit(V[:, c], np.broadcast_to(rawdir[c], (T, 3)))
            if twist == "features":
                G = global_rot[:, c]                               # maps raw[c] -> bone direction
                g = np.einsum("tij,j->ti", G, rawdir[c])
                W[:, k] = _between(g, d) @ G
            else:
                local_d = np.einsum("tji,tj->ti", Wp, d)           # direction in the parent frame
                W[:, k] = Wp @ _between(np.broadcast_to(rawdir[c], (T, 3)), local_d)
        else:
            W[:, k] = Wp
    # ---- local transforms
    Rl = np.empty_like(W)
    Rl[:, 0] = W[:, 0]
    Wpar = W[:, parents[1:]]
    Rl[:, 1:] = np.einsum("tkji,tkjl->tkil", Wpar, W[:, 1:])
    Tl = np.empty((T, J, 3))
    Tl[:, 0] = P[:, 0]
    Tl[:, 1:] = np.einsum("tkji,tkj->tki", Wpar, V[:, 1:])       # exact local translation
    dev = np.zeros(J)
    dev[1:] = np.abs(Tl[:, 1:] - O[None, 1:]).max(axis=(0, 2)) if T else 0.0
    if stretch == "always":
        pos_ch = np.ones(J, dtype=bool)
    elif stretch == "auto":
        pos_ch = dev > tol
    else:
        pos_ch = np.zeros(J, dtype=bool)
    pos_ch[0] = True
    Tl[:, ~pos_ch] = O[~pos_ch]
    # End Sites: half the leaf's bone along its rest direction (2 cm at least)
    ends = np.zeros((J, 3))
    for k in range(J):
        if not kids[k]:
            d = O[k] if np.linalg.norm(O[k]) > 0 else rawdir[k] * L[k]
            ends[k] = _unit(d, np.array([0.0, 1.0, 0.0])) * max(0.5 * L[k], 0.02 * unit_m)
    out = BvhExport(names=list(skel.joint_names), parents=parents, offsets=O, end_offsets=ends,
                    local_rotations=Rl, world_rotations=W, local_translations=Tl,
                    position_channels=pos_ch, fps=float(fps), unit=skel.unit,
                    info={"skeleton": skel.name, "twist": twist, "stretch": stretch,
                          "bone_length_variation": dev.tolist(), "primary_child": primary})
    err = np.linalg.norm(out.world_positions() - P, axis=-1)
    out.max_error = float(err.max()) if err.size else 0.0
    return out


def bvh_from_joints(data, fps: float = 20.0, skeleton=None, *, twist: str = "auto",
                    stretch: str = "auto", tol: float | None = None) -> BvhExport:
    """Solve a BVH from joints ``(T, J, 3)`` or features ``(T, D)`` (``twist="auto"``: from the 6D
    rotations when the input is features, else minimal)."""
    pos, skel, grot = joints_from_input(data, skeleton)
    if twist == "auto":
        twist = "features" if grot is not None else "minimal"
    return solve_rotations(pos, skel, fps, twist=twist, global_rot=grot, stretch=stretch, tol=tol)


def write_bvh(data, out_path: str | Path, fps: float = 20.0, skeleton=None, *, unit: str = "m",
              twist: str = "auto", stretch: str = "auto", tol: float | None = None,
              decimals: int = 6) -> BvhExport:
    """Write a BVH file of a motion.

    Args:
        data: joints ``(T, J, 3)`` (metres, Y-up; J = 22, 52, or 21 for KIT in mm) or de-normalised
            features ``(T, 263 | 623 | 251)``.
        out_path: the ``.bvh`` file to write (parent folders are created).
        fps: frame rate of ``data`` (``Frame Time = 1 / fps``).
        skeleton: a :class:`Skeleton`, its name, or ``None`` (inferred from ``J`` / ``D``).
        unit: length unit of the file: ``"m"`` (default), ``"cm"`` or ``"mm"``.
        twist: ``"auto"``, ``"minimal"`` or ``"features"`` (see :func:`solve_rotations`).
        stretch: ``"auto"``, ``"never"`` or ``"always"`` (see :func:`solve_rotations`).
        tol: stretch tolerance in skeleton units.
        decimals: digits after the point for lengths and angles.

    Returns:
        The :class:`BvhExport` that was written (``max_error`` in skeleton units).
    """
    if unit not in _UNIT_SCALE:
        raise ValueError(f"unit must be one of {sorted(_UNIT_SCALE)}, not {unit!r}")
    exp = bvh_from_joints(data, fps, skeleton, twist=twist, stretch=stretch, tol=tol)
    src = 1.0 if exp.unit == "m" else 1e-3
    scale = src * _UNIT_SCALE[unit]
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(exp.to_text(decimals=decimals, scale=scale))
    exp.info["file_unit"] = unit
    exp.info["file_scale"] = scale
    return exp
