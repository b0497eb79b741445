"""The in-memory motion-capture clip shared by every reader (BVH, ASF/AMC).

A :class:`Mocap` is a kinematic tree plus per-frame local transforms, in the file's own units and
axes (no unit or up-axis conversion happens here; see :mod:`motiongpt2.motion.io.retarget`).

Forward kinematics convention (BVH / ASF, column vectors)::

    R_world[j] = R_world[parent] @ R_local[j]
    p_world[j] = p_world[parent] + R_world[parent] @ t_local[j]

where ``t_local[j]`` is the joint's OFFSET, or the values of its position channels where it has them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Mocap:
    """A motion-capture clip: skeleton + per-frame local transforms.

    Attributes:
        names: ``J`` joint names (End Sites are named ``<parent>_end``).
        parents: ``(J,)`` int parent index, ``-1`` for the root; parents precede children.
        offsets: ``(J, 3)`` float64 rest offset of each joint from its parent, file units.
        local_rotations: ``(T, J, 3, 3)`` float64 rotation of each joint relative to its parent
            (identity for End Sites and for joints without rotation channels).
        local_positions: ``(T, J, 3)`` float64 translation of each joint in its parent's frame: the
            OFFSET, with the components that have position channels replaced by the channel values.
        fps: frames per second (``1 / Frame Time``).
        source: the file the clip was read from (display name for in-memory input).
        end_site: ``(J,)`` bool, True for BVH End Sites / ASF bone-end leaves.
        position_channels: ``(J, 3)`` bool, True where a position channel drives that component.
        meta: reader-specific extras (e.g. ``{"format": "bvh", "frames_header": T}`` or the ASF
            ``{"length_unit": 0.45, "unit_scale": 0.0564}``).
    """

    names: list[str]
    parents: np.ndarray
    offsets: np.ndarray
    local_rotations: np.ndarray
    local_positions: np.ndarray
    fps: float
    source: str = ""
    end_site: np.ndarray | None = None
    position_channels: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        j = len(self.names)
        self.parents = np.asarray(self.parents, dtype=np.int64)
        if self.end_site is None:
            self.end_site = np.zeros(j, dtype=bool)
        if self.position_channels is None:
            self.position_channels = np.zeros((j, 3), dtype=bool)

    # ------------------------------------------------------------------ shape helpers
    @property
    def n_frames(self) -> int:
        """``T``, the number of frames."""
        return int(self.local_rotations.shape[0])

    @property
    def n_joints(self) -> int:
        """``J``, the number of joints including End Sites."""
        return len(self.names)

    @property
    def duration(self) -> float:
        """Clip length in seconds (``T / fps``)."""
        return self.n_frames / self.fps if self.fps else 0.0

    def index(self, name: str) -> int:
        """Index of joint ``name`` (ValueError if absent)."""
        return self.names.index(name)

    def children(self) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in self.names]
        for j, p in enumerate(self.parents):
            if p >= 0:
                out[int(p)].append(j)
        return out

    # ------------------------------------------------------------------ kinematics
    def world_transforms(self, frames: slice | np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Forward kinematics.

        Args:
            frames: optional frame selection (slice or index array) to evaluate only some frames.

        Returns:
            ``(rotations (T, J, 3, 3), positions (T, J, 3))`` world rotation and position of every
            joint, file units. Loops over joints (parents first), vectorised over frames.
        """
        rl = self.local_rotations if frames is None else self.local_rotations[frames]
        tl = self.local_positions if frames is None else self.local_positions[frames]
        t, j = rl.shape[:2]
        rw = np.empty((t, j, 3, 3), dtype=np.float64)
        pw = np.empty((t, j, 3), dtype=np.float64)
        for k in range(j):
            p = int(self.parents[k])
            if p < 0:
                rw[:, k] = rl[:, k]
                pw[:, k] = tl[:, k]
            else:
                rw[:, k] = np.matmul(rw[:, p], rl[:, k])
                pw[:, k] = pw[:, p] + np.einsum("tab,tb->ta", rw[:, p], tl[:, k])
        return rw, pw

    def world_positions(self, frames: slice | np.ndarray | None = None) -> np.ndarray:
        """``(T, J, 3)`` float64 world joint positions in file units and axes."""
        return self.world_transforms(frames)[1]

    def rest_positions(self) -> np.ndarray:
        """``(J, 3)`` joint positions of the rest pose (OFFSETs only, no rotation, root at origin)."""
        out = np.zeros((self.n_joints, 3), dtype=np.float64)
        for k in range(self.n_joints):
            p = int(self.parents[k])
            if p >= 0:
                out[k] = out[p] + self.offsets[k]
        return out

    def subset_frames(self, frames: slice | np.ndarray) -> "Mocap":
        """A copy holding only ``frames`` (fps unchanged)."""
        return Mocap(
            names=list(self.names), parents=self.parents.copy(), offsets=self.offsets.copy(),
            local_rotations=self.local_rotations[frames], local_positions=self.local_positions[frames],
            fps=self.fps, source=self.source, end_site=self.end_site.copy(),
            position_channels=self.position_channels.copy(), meta=dict(self.meta))

    def __repr__(self) -> str:  # keep reprs short (arrays are large)
        return (f"Mocap(source={Path(self.source).name if self.source else ''!r}, T={self.n_frames}, "
                f"J={self.n_joints}, fps={self.fps:g})")


def _axis_matrices(axis: str, angle: np.ndarray) -> np.ndarray:
    """``(..., 3, 3)`` rotation matrices about a principal ``axis`` ("X"/"Y"/"Z") by ``angle`` radians."""
    c, s = np.cos(angle), np.sin(angle)
    out = np.zeros(angle.shape + (3, 3), dtype=np.float64)
    i = "XYZ".index(axis.upper())
    j, k = ((1, 2), (2, 0), (0, 1))[i]
    out[..., i, i] = 1.0
    out[..., j, j] = c
    out[..., k, k] = c
    out[..., j, k] = -s
    out[..., k, j] = s
    return out


def euler_to_matrix(angles: np.ndarray, order: str, degrees: bool = True) -> np.ndarray:
    """Euler angles → rotation matrices, vectorised (same result as scipy ``Rotation.from_euler``).

    Args:
        angles: ``(..., k)`` angles, one column per letter of ``order`` (k = 1..3).
        order: axis letters. Upper case = intrinsic (BVH: ``"ZXY"`` → ``Rz @ Rx @ Ry``); lower case =
            extrinsic (ASF/AMC: ``"xyz"`` → rotate about x first, i.e. ``Rz @ Ry @ Rx``).
        degrees: angles in degrees (default) or radians.

    Returns:
        ``(..., 3, 3)`` float64 matrices (column-vector convention).

    Implemented with numpy (about 3× faster than scipy for large batches); the tests check it
    against :class:`scipy.spatial.transform.Rotation`.
    """
    a = np.asarray(angles, dtype=np.float64)
    if degrees:
        a = np.deg2rad(a)
    if a.shape[-1] != len(order):
        raise ValueError(f"{a.shape[-1]} angle columns for Euler order {order!r}")
    if order.islower():  # extrinsic abc == intrinsic CBA with reversed angles
        order = order[::-1].upper()
        a = a[..., ::-1]
    out = _axis_matrices(order[0], a[..., 0])
    for q in range(1, len(order)):
        out = np.matmul(out, _axis_matrices(order[q], a[..., q]))
    return out
