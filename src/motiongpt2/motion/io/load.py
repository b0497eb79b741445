"""One entry point from a motion file to target-skeleton joint positions.

* :func:`load_mocap` — ``.bvh`` / ``.bvh.xz`` / ``.amc`` / ``.amc.xz`` → :class:`Mocap`.
* :func:`load_joints` — any of those, or a ``(T, J, 3)`` joints ``.npy``, → :class:`Joints`
  (``(T, 22|52, 3)`` float32, metres, Y-up, resampled to ``fps``).
* :func:`load_hand_joints` — a hand-only BVH (ManipNet) → :class:`~.retarget.HandJoints`.
* :func:`iter_joints` — :func:`load_joints` over every file of a folder or archive (no extraction).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from motiongpt2.errors import MotionFormatError
from motiongpt2.motion.io.archive import iter_members, strip_compression
from motiongpt2.motion.io.asf_amc import read_amc
from motiongpt2.motion.io.bvh import read_bvh
from motiongpt2.motion.io.mocap import Mocap
from motiongpt2.motion.io.reference_pose import leading_reference_frames
from motiongpt2.motion.io.resample import resample, resample_mocap
from motiongpt2.motion.io.retarget import HandJoints, hand_joints, resolve_map, retarget
from motiongpt2.motion.skeleton import HUMANML3D, WHOLEBODY

__all__ = ["Joints", "load_mocap", "load_joints", "load_hand_joints", "iter_joints", "motion_kind"]


@dataclass
class Joints:
    """Joint positions on a target skeleton.

    Attributes:
        positions: ``(T, J, 3)`` float32, metres, Y-up (J = 22 HumanML3D or 52 whole-body).
        fps: frame rate of ``positions``.
        skeleton: ``"humanml3d"`` or ``"wholebody"``.
        source: the file (or archive member) it came from.
        preset: the joint map used (``"npy"`` for joint files).
        info: ``{"unit_scale", "up_axis", "native_fps", "native_frames", "dropped_leading_frames"}``
            (+ ``"header_fps"`` for mocap files: the rate the file itself states).
    """

    positions: np.ndarray
    fps: float
    skeleton: str
    source: str
    preset: str
    info: dict = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        return int(self.positions.shape[0])


def motion_kind(name: str) -> str:
    """``"bvh"``, ``"amc"``, ``"npy"`` or ``""`` from a file name (compression suffix ignored)."""
    base = strip_compression(str(name)).lower()
    for k in ("bvh", "amc", "npy"):
        if base.endswith("." + k):
            return k
    return ""


def load_mocap(source: str | Path | bytes, asf: str | Path | None = None, name: str | None = None) -> Mocap:
    """Read a ``.bvh``/``.bvh.xz`` or ``.amc``/``.amc.xz`` (ASF found beside it unless ``asf`` is given).

    ``source`` may be bytes, with ``name`` giving the file name (its suffix picks the reader).
    """
    label = name or (str(source) if not isinstance(source, (bytes, bytearray)) else "<bytes>")
    kind = motion_kind(label)
    if kind == "bvh":
        return read_bvh(source, name=name)
    if kind == "amc":
        return read_amc(source, asf=asf, name=name)
    raise MotionFormatError(label, "unsupported motion file type",
                            "use .bvh, .bvh.xz, .amc (+ .asf), .amc.xz or a (T, J, 3) joints .npy")


def _load_npy(source, name: str, target: str, fps: float | None, npy_fps: float | None) -> Joints:
    try:
        arr = np.load(source, allow_pickle=False) if not isinstance(source, (bytes, bytearray)) else \
            np.load(__import__("io").BytesIO(source), allow_pickle=False)
    except (ValueError, OSError) as err:
        raise MotionFormatError(name, f"not a readable .npy ({err})", "save joints with np.save(path, array)") from None
    want = HUMANML3D.n_joints if target == "humanml3d" else WHOLEBODY.n_joints
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[1] not in (22, 52):
        raise MotionFormatError(name, f"joint array has shape {arr.shape}",
                                "expected (T, 22, 3) HumanML3D or (T, 52, 3) whole-body joints in metres, Y-up")
    if arr.shape[1] < want:
        raise MotionFormatError(name, f"{arr.shape[1]} joints cannot give the {want}-joint {target} skeleton",
                                "use target='humanml3d' for 22-joint files")
    if not np.all(np.isfinite(arr)):
        raise MotionFormatError(name, "joint array contains NaN/inf", "clean the file")
    arr = arr[:, :want].astype(np.float32)
    src_fps = npy_fps or (fps or HUMANML3D.fps)
    out = resample(arr, src_fps, fps) if fps else arr
    return Joints(out, fps or src_fps, target, name, "npy",
                  {"unit_scale": 1.0, "up_axis": "y", "native_fps": src_fps, "native_frames": len(arr)})


def load_joints(source: str | Path | bytes, preset: str = "auto", map_file: str | Path | dict | None = None,
                target: str = "humanml3d", fps: float | None = 20.0, asf: str | Path | None = None,
                name: str | None = None, npy_fps: float | None = None,
                drop_reference_pose: bool = True, native_fps: float | None = None) -> Joints:
    """Load a motion file as target-skeleton joints.

    Args:
        source: ``.bvh``, ``.bvh.xz``, ``.amc``/``.amc.xz`` (ASF beside it or ``asf=``), or a
            ``(T, 22|52, 3)`` ``.npy`` (metres, Y-up). Bytes are accepted with ``name``.
        preset: joint-map preset name or ``"auto"`` (detect from joint names).
        map_file: a user JSON map (overrides ``preset``; schema in :mod:`.retarget`).
        target: ``"humanml3d"`` (22 joints) or ``"wholebody"`` (52; needs finger joints in the map).
        fps: output frame rate (20 for HumanML3D, 12.5 for KIT); ``None`` keeps the native rate.
        asf: the ASF skeleton for AMC input.
        name: display/file name for bytes input.
        npy_fps: frame rate of a ``.npy`` input (default: same as ``fps``, i.e. no resampling).
        drop_reference_pose: drop a rest pose (T-pose) glued to the start of a mocap take
            (:mod:`.reference_pose`; cgspeed CMU BVH files have one); the number of native frames
            dropped is ``info["dropped_leading_frames"]``.
        native_fps: the take's true frame rate when the file is known to state a wrong one (a
            dataset manifest that knows better, e.g. CMU salsa BVH whose header says 120 fps for
            60-fps takes; AMC files, which carry no rate, default to 120). It wins over the file;
            ``info["header_fps"]`` keeps what the file said.

    Returns:
        :class:`Joints` with ``positions (T', J, 3)`` float32 metres Y-up.

    Raises:
        MotionFormatError: unreadable/malformed file. SkeletonMapError: no map fits the skeleton.
    """
    if target not in ("humanml3d", "wholebody"):
        raise ValueError(f"target must be 'humanml3d' or 'wholebody', not {target!r}")
    label = name or (str(source) if not isinstance(source, (bytes, bytearray)) else "<bytes>")
    if motion_kind(label) == "npy":
        return _load_npy(source, label, target, fps, npy_fps)
    mocap = load_mocap(source, asf=asf, name=name)
    header_fps = mocap.fps
    if native_fps is not None:
        if not (np.isfinite(native_fps) and 0.1 <= native_fps <= 10000):
            raise MotionFormatError(label, f"frame rate {native_fps!r} is not usable", "give a rate in frames per second")
        mocap = dataclasses.replace(mocap, fps=float(native_fps))
    jmap = resolve_map(mocap.names, preset, map_file, source=label)
    pos, info = retarget(mocap, jmap, target)
    lead = leading_reference_frames(pos, mocap.fps) if drop_reference_pose else 0
    pos = pos[lead:]
    info["dropped_leading_frames"] = lead
    out_fps = fps or mocap.fps
    if fps:
        pos = resample(pos, mocap.fps, fps)
    info.update(native_fps=mocap.fps, native_frames=mocap.n_frames, header_fps=header_fps)
    return Joints(pos, float(out_fps), target, label, jmap.name, info)


def load_hand_joints(source: str | Path | bytes, preset: str = "auto", map_file: str | Path | dict | None = None,
                     fps: float | None = None, side: str | None = None, name: str | None = None) -> HandJoints:
    """Load a hand-only BVH (ManipNet ``leftHand.bvh``/``rightHand.bvh``) as 15 MANO finger joints.

    ``side`` defaults to ``"left"``/``"right"`` when the file name contains it. ``fps`` resamples
    (e.g. 20 to match a body at HumanML3D rate; rotations by slerp).
    """
    label = name or (str(source) if not isinstance(source, (bytes, bytearray)) else "<bytes>")
    mocap = load_mocap(source, name=name)
    if fps:
        mocap = resample_mocap(mocap, fps)
    jmap = resolve_map(mocap.names, preset, map_file, source=label, kind="hand")
    if side is None:
        low = Path(label).name.lower()
        side = "left" if "left" in low else "right" if "right" in low else ""
    return hand_joints(mocap, jmap, side)


def iter_joints(source: str | Path, preset: str = "auto", map_file=None, target: str = "humanml3d",
                fps: float | None = 20.0, suffixes=(".bvh",)) -> Iterator[Joints]:
    """:func:`load_joints` for each BVH/npy in a folder or archive, read lazily without extracting.

    Member sources are reported as ``<archive>!<member>``. (AMC needs its ASF; load AMC files with
    :func:`load_joints` directly.)
    """
    for member, data in iter_members(source, suffixes=suffixes):
        yield load_joints(data, preset=preset, map_file=map_file, target=target, fps=fps,
                          name=f"{source}!{member}")
