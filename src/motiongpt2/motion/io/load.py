"""One entry point from a motion file to target-skeleton joint positions.

* :func:`load_mocap` — ``.bvh`` / ``.bvh.xz`` / ``.amc`` / ``.amc.xz`` → :class:`Mocap`.
* :func:`load_joints` — any of those, or a ``(T, J, 3)`` joints ``.npy``, → :class:`Joints`
  (``(T, 22|52, 3)`` float32, metres, Y-up, resampled to ``fps``).
* :func:`load_hand_joints` — a hand-only BVH (ManipNet) → :class:`~.retarget.HandJoints`.
* :func:`iter_joints` — :func:`load_joints` over every file of a folder or archive (no extraction).

Joints ``.npy`` files are checked from their header before the data is read (magic, version,
numeric dtype, ``(T, 22|52, 3)`` shape, ``T`` ≤ ``MAX_FRAMES``, enough bytes in the file), then for
finite values within ±1e6 m. Every result of :func:`load_joints` is checked the same way (finite in
float32, at least ``min_frames`` frames), so features can be computed from it.
"""
from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from motiongpt2.errors import MotionFormatError
from motiongpt2.npy import check_not_truncated, stream_header
from motiongpt2.motion.io.archive import iter_members, read_bytes, strip_compression
from motiongpt2.motion.io.asf_amc import read_amc
from motiongpt2.motion.io.bvh import read_bvh
from motiongpt2.motion.io.mocap import Mocap
from motiongpt2.motion.io.reference_pose import leading_reference_frames
from motiongpt2.motion.io.resample import resample, resample_mocap, resampled_length
from motiongpt2.motion.io.retarget import HandJoints, hand_joints, resolve_map, retarget
from motiongpt2.motion.io.validate import (
    MAX_FRAMES, check_body_size, check_file_size, check_fps, check_joint_frames, check_joints_array,
)
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


_NPY_HINT = "save joints with np.save(path, array) as a (T, 22|52, 3) float array in metres, Y-up"


def _npy_stream(source, name: str) -> tuple[io.IOBase, int]:
    """``(binary file object, total bytes)`` of a ``.npy`` given as bytes, a path or a compressed path."""
    if isinstance(source, (bytes, bytearray)):
        check_file_size(name, len(source))
        return io.BytesIO(source), len(source)
    path = Path(source)
    if strip_compression(path.name) != path.name or not path.is_file():
        data = read_bytes(path)  # decompresses (capped) or raises "file not found"
        return io.BytesIO(data), len(data)
    size = path.stat().st_size
    check_file_size(name, size)
    return open(path, "rb"), size


def read_npy_joints(source, name: str) -> np.ndarray:
    """A joints ``.npy`` → ``(T, 22|52, 3)`` array in its stored numeric dtype, validated from the header
    before any data is read (so a header claiming 10^12 rows is refused without allocating)."""
    fh, size = _npy_stream(source, name)
    with fh:
        hdr = stream_header(fh, size, name, MotionFormatError, check_size=False)
        shape, dtype = hdr.shape, hdr.dtype
        if len(shape) != 3 or shape[2] != 3 or shape[1] not in (22, 52) or shape[0] < 0:
            raise MotionFormatError(name, f"joint array has shape {tuple(shape)}",
                                    "expected (T, 22, 3) HumanML3D or (T, 52, 3) whole-body joints in metres, Y-up")
        if shape[0] > MAX_FRAMES:
            raise MotionFormatError(name, f"joint array claims {shape[0]:,} frames, over the limit of {MAX_FRAMES:,}",
                                    "split the motion, or re-save the file (its header may be corrupt)")
        check_not_truncated(hdr, name, MotionFormatError)
        data = fh.read(hdr.nbytes)
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if hdr.fortran else "C")


def _load_npy(source, name: str, target: str, fps: float | None, npy_fps: float | None,
              min_frames: int) -> Joints:
    arr = read_npy_joints(source, name)
    want = HUMANML3D.n_joints if target == "humanml3d" else WHOLEBODY.n_joints
    if arr.shape[1] < want:
        raise MotionFormatError(name, f"{arr.shape[1]} joints cannot give the {want}-joint {target} skeleton",
                                "use target='humanml3d' for 22-joint files")
    check_joints_array(arr, name)
    arr = arr[:, :want].astype(np.float32)
    check_body_size(arr, name)
    src_fps = check_fps(npy_fps, name, "npy_fps") if npy_fps else (fps or HUMANML3D.fps)
    out = _resample_checked(arr, src_fps, fps, name) if fps else arr
    check_joints_array(out, name, min_frames=min_frames)
    return Joints(out, fps or src_fps, target, name, "npy",
                  {"unit_scale": 1.0, "up_axis": "y", "native_fps": src_fps, "native_frames": len(arr)})


def _resample_checked(pos: np.ndarray, src_fps: float, dst_fps: float, name: str) -> np.ndarray:
    """:func:`resample` after checking that the output (up-sampling included) stays under the size caps."""
    check_joint_frames(resampled_length(len(pos), src_fps, dst_fps), pos.shape[1], name)
    return resample(pos, src_fps, dst_fps)


def load_joints(source: str | Path | bytes, preset: str = "auto", map_file: str | Path | dict | None = None,
                target: str = "humanml3d", fps: float | None = 20.0, asf: str | Path | None = None,
                name: str | None = None, npy_fps: float | None = None,
                drop_reference_pose: bool = True, native_fps: float | None = None, min_frames: int = 2) -> Joints:
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
        min_frames: fewest output frames accepted (2: what feature extraction needs).

    Returns:
        :class:`Joints` with ``positions (T', J, 3)`` float32 metres Y-up.

    Raises:
        MotionFormatError: unreadable/malformed file, values not finite (or beyond ±1e6 m) after the unit
            conversion, or fewer than ``min_frames`` frames. SkeletonMapError: no map fits the skeleton.
    """
    if target not in ("humanml3d", "wholebody"):
        raise ValueError(f"target must be 'humanml3d' or 'wholebody', not {target!r}")
    label = name or (str(source) if not isinstance(source, (bytes, bytearray)) else "<bytes>")
    if fps:
        fps = check_fps(fps, label, "output frame rate")
    if motion_kind(label) == "npy":
        return _load_npy(source, label, target, fps, npy_fps, min_frames)
    mocap = load_mocap(source, asf=asf, name=name)
    header_fps = mocap.fps
    if native_fps is not None:
        mocap = dataclasses.replace(mocap, fps=check_fps(native_fps, label))
    jmap = resolve_map(mocap.names, preset, map_file, source=label)
    pos, info = retarget(mocap, jmap, target)
    check_joints_array(pos, label, "retargeted joint positions")
    check_body_size(pos, label)
    lead = leading_reference_frames(pos, mocap.fps) if drop_reference_pose else 0
    pos = pos[lead:]
    info["dropped_leading_frames"] = lead
    out_fps = fps or mocap.fps
    if fps:
        pos = _resample_checked(pos, mocap.fps, fps, label)
    check_joints_array(pos, label, min_frames=min_frames)
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
        fps = check_fps(fps, label, "output frame rate")
        check_joint_frames(resampled_length(mocap.n_frames, mocap.fps, fps), mocap.n_joints, label)
        mocap = resample_mocap(mocap, fps)
    jmap = resolve_map(mocap.names, preset, map_file, source=label, kind="hand")
    if side is None:
        low = Path(label).name.lower()
        side = "left" if "left" in low else "right" if "right" in low else ""
    hand = hand_joints(mocap, jmap, side)
    check_joints_array(hand.relative, label, "finger joint positions")
    check_joints_array(hand.wrist_position[:, None], label, "wrist positions")
    return hand


def iter_joints(source: str | Path, preset: str = "auto", map_file=None, target: str = "humanml3d",
                fps: float | None = 20.0, suffixes=(".bvh",)) -> Iterator[Joints]:
    """:func:`load_joints` for each BVH/npy in a folder or archive, read lazily without extracting.

    Member sources are reported as ``<archive>!<member>``. (AMC needs its ASF; load AMC files with
    :func:`load_joints` directly.)
    """
    for member, data in iter_members(source, suffixes=suffixes):
        yield load_joints(data, preset=preset, map_file=map_file, target=target, fps=fps,
                          name=f"{source}!{member}")
