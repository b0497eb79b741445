"""Shared input checks for the motion readers: sizes, counts, ranges, finiteness, tree shape.

Every reader (BVH, ASF/AMC, joints ``.npy``, archives) calls these before it allocates or computes,
so that a malformed or hostile file fails fast with one
:class:`~motiongpt2.errors.MotionFormatError` line (``"<file>:<line>: <problem> — <what to do>"``)
instead of a raw exception, a hang or a memory blow-up.

Bounds (generous for real capture; CMU trials are a few thousand frames at 120 fps, 31–100 joints):

* ``MAX_FILE_BYTES`` = 512 MiB of (decompressed) text: ~600k frames of a 31-joint BVH; stops zip bombs.
* ``MAX_LINE_CHARS`` = 1 MiB per BVH line (a frame line of 1000 joints is ~200 KiB) and
  ``MAX_ASF_LINE_CHARS`` = 64 KiB per ASF/AMC line: stops "one 120 MB line" files before tokenizing.
* ``MAX_FRAMES`` = 1,000,000 (2.3 h at 120 fps).
* ``MAX_JOINTS`` = 1,024 (iClone CC rigs have ~100, ~150 with End Sites).
* ``MAX_JOINT_FRAMES`` = 8,000,000 frames × joints: loading takes ~300 B per joint-frame (rotations,
  positions, forward kinematics), so ≤ ~2.4 GB; that is 29 min of the 38-joint CMU skeleton at 120 fps.
* ``MIN_FRAME_TIME`` … ``MAX_FRAME_TIME`` = 1e-4 … 1 s per frame, i.e. ``MIN_FPS`` … ``MAX_FPS`` = 1 … 10,000.
* ``MAX_ABS_COORD`` = 1e6 (file units for offsets/positions, metres for joints): 1 km in millimetres;
  far from float32 overflow even after a unit scale of ``MAX_UNIT_SCALE``.
* ``MAX_ABS_ANGLE`` = 1e6 (degrees or radians): unwrapped angles reach thousands of degrees at most.
* ``MIN_UNIT_SCALE`` … ``MAX_UNIT_SCALE`` = 1e-6 … 1e3 metres per file unit.
* ``MIN_BODY_SIZE`` = 1 cm: a body whose joints all lie within 1 cm of the root (e.g. every OFFSET 0)
  has no usable pose.

All checks are vectorised (no per-frame Python loops); line numbers are searched only on failure.
"""
from __future__ import annotations

import math

import numpy as np

from motiongpt2.errors import MotionFormatError, one_line

__all__ = [
    "MAX_FILE_BYTES", "MAX_LINE_CHARS", "MAX_ASF_LINE_CHARS", "MAX_FRAMES", "MAX_JOINTS", "MAX_JOINT_FRAMES",
    "MIN_FRAME_TIME", "MAX_FRAME_TIME", "MIN_FPS", "MAX_FPS", "MAX_ABS_COORD", "MAX_ABS_ANGLE",
    "MIN_UNIT_SCALE", "MAX_UNIT_SCALE",
    "one_line", "decode_text", "check_file_size", "check_line_lengths", "parse_frame_count", "parse_frame_time",
    "check_fps", "check_joint_frames", "check_joint_count", "first_bad", "check_values", "check_euler_order",
    "tree_order", "check_unit_scale", "check_joints_array", "check_body_size",
]

MAX_FILE_BYTES = 512 * 2**20
MAX_LINE_CHARS = 2**20
MAX_ASF_LINE_CHARS = 2**16
MAX_FRAMES = 1_000_000
MAX_JOINTS = 1024
MAX_JOINT_FRAMES = 8_000_000
MIN_FRAME_TIME = 1e-4
MAX_FRAME_TIME = 1.0
MIN_FPS = 1.0 / MAX_FRAME_TIME
MAX_FPS = 1.0 / MIN_FRAME_TIME
MAX_ABS_COORD = 1e6
MAX_ABS_ANGLE = 1e6
MIN_UNIT_SCALE = 1e-6
MAX_UNIT_SCALE = 1e3
MIN_BODY_SIZE = 0.01  # metres: farthest joint from the root in the first frame

_HINT_CORRUPT = "the file is truncated or corrupt; re-export or re-download it"


def _unicode_codec(data: bytes) -> str | None:
    """``"utf-32"``/``"utf-16"`` (BOM), ``"utf-16-le"``/``"utf-16-be"`` (ASCII text saved as UTF-16 without
    a BOM: every other byte of the first 256 is NUL), or ``None`` for a byte-oriented encoding."""
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "utf-32"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    head = data[:256]
    if len(head) >= 8 and len(data) % 2 == 0:
        if not any(head[1::2]) and all(head[0::2]):
            return "utf-16-le"
        if not any(head[0::2]) and all(head[1::2]):
            return "utf-16-be"
    return None


def decode_text(data: bytes, name: str) -> str:
    """Bytes → text: UTF-8 (with or without BOM), UTF-16/32 with a BOM, UTF-16 ASCII without one, else
    Latin-1. Classic-Mac line ends (``\\r`` only) become ``\\n``.

    Raises MotionFormatError when the text holds NUL characters (binary data, not a text motion file).
    """
    codec = _unicode_codec(data)
    if codec is not None:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            raise MotionFormatError(name, f"broken {codec.upper()} text", "save the file as UTF-8 text") from None
        text = text.lstrip("\ufeff")
    else:
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
    if "\n" not in text and "\r" in text:
        text = text.replace("\r", "\n")
    check_no_nul(text, name)
    return text


def check_no_nul(text: str, name: str) -> None:
    """Refuse text with NUL characters (a binary or corrupted file), naming the first such line."""
    k = text.find("\x00")
    if k >= 0:
        raise MotionFormatError(name, "binary data (NUL bytes) in a text motion file",
                                "this is not a text BVH/ASF/AMC file, or it is corrupt; re-export it",
                                line=text.count("\n", 0, k) + 1)


def check_file_size(name: str, n_bytes: int, what: str = "file") -> None:
    """Refuse a (decompressed) file or archive member larger than :data:`MAX_FILE_BYTES`."""
    if n_bytes > MAX_FILE_BYTES:
        raise MotionFormatError(name, f"{what} is {n_bytes / 2**20:.0f} MiB, over the {MAX_FILE_BYTES // 2**20} MiB limit",
                                "split the take into shorter files (or check that the archive is not corrupt)")


def check_line_lengths(text: str, name: str, max_chars: int = MAX_LINE_CHARS, line0: int = 1) -> None:
    """Refuse text that has a line longer than ``max_chars`` (names the first one; ``line0`` = number of
    the text's first line). Runs before any tokenizing, so a single huge line cannot blow up memory."""
    if len(text) <= max_chars:
        return
    lens = np.fromiter(map(len, text.split("\n")), dtype=np.int64)
    bad = np.flatnonzero(lens > max_chars)
    if bad.size:
        k = int(bad[0])
        raise MotionFormatError(name, f"line of {int(lens[k]):,} characters (limit {max_chars:,})",
                                "line breaks are missing or the file is corrupt; re-export it", line=line0 + k)


def _number(val) -> float:
    """``val`` as a float; NaN (which fails every range and finiteness check) when it is not a number."""
    try:
        return float(val)
    except (TypeError, ValueError):
        return math.nan


def parse_frame_count(val: str, name: str, line: int | None, what: str = "Frames:") -> int:
    """``"343"`` → 343; refuse non-integers, negatives, NaN/inf and counts over :data:`MAX_FRAMES`."""
    x = _number(val)
    if not math.isfinite(x) or x != int(x):
        raise MotionFormatError(name, f"bad frame count {val!r}", f"write '{what} <int>'", line=line)
    if x < 0:
        raise MotionFormatError(name, f"negative frame count {int(x)}", f"fix the {what} line", line=line)
    if x > MAX_FRAMES:
        raise MotionFormatError(name, f"frame count {val} is over the limit of {MAX_FRAMES:,}",
                                f"fix the {what} line, or split the take", line=line)
    return int(x)


def parse_frame_time(val: str, name: str, line: int | None) -> float:
    """``"0.0083333"`` → seconds; refuse NaN/inf and values outside [MIN_FRAME_TIME, MAX_FRAME_TIME]."""
    x = _number(val)
    if math.isnan(x):
        raise MotionFormatError(name, f"bad frame time {val!r}", "write 'Frame Time: <seconds>'", line=line)
    if not x > 0:
        raise MotionFormatError(name, f"Frame Time must be positive, got {val}", "fix the Frame Time: line", line=line)
    if not MIN_FRAME_TIME <= x <= MAX_FRAME_TIME:
        raise MotionFormatError(name, f"Frame Time {val} s is outside {MIN_FRAME_TIME:g}–{MAX_FRAME_TIME:g} s",
                                "write the seconds per frame (e.g. 0.0083333 for 120 fps)", line=line)
    return x


def check_fps(fps, name: str, what: str = "frame rate") -> float:
    """A frame rate as float, refused unless finite and within [MIN_FPS, MAX_FPS]."""
    x = _number(fps)
    if not MIN_FPS <= x <= MAX_FPS:
        raise MotionFormatError(name, f"{what} {fps!r} is not usable",
                                f"give frames per second between {MIN_FPS:g} and {MAX_FPS:g}")
    return x


def check_joint_count(n: int, name: str, line: int | None = None) -> None:
    """Refuse skeletons with more than :data:`MAX_JOINTS` joints (End Sites included)."""
    if n > MAX_JOINTS:
        raise MotionFormatError(name, f"more than {MAX_JOINTS} joints", "this is not a body skeleton, or it is corrupt",
                                line=line)


def check_joint_frames(t: int, j: int, name: str, line: int | None = None) -> None:
    """Refuse ``T × J`` over :data:`MAX_JOINT_FRAMES` before the ``(T, J, 3, 3)`` arrays are allocated."""
    check_joint_count(j, name)
    if t > MAX_FRAMES or t * j > MAX_JOINT_FRAMES:
        raise MotionFormatError(name, f"{t:,} frames × {j} joints is over the limit of {MAX_JOINT_FRAMES:,} joint-frames",
                                "split the take into shorter files", line=line)


def first_bad(values: np.ndarray, limit: float) -> tuple[int, ...] | None:
    """Index of the first element (C order) that is NaN/inf or has ``|x| > limit``; ``None`` if all pass."""
    ok = np.abs(values) <= limit  # NaN compares False
    if ok.all():
        return None
    return tuple(int(i) for i in np.unravel_index(int(np.argmin(ok.ravel())), values.shape))


def check_values(values, name: str, what: str, limit: float = MAX_ABS_COORD, line: int | None = None) -> None:
    """Refuse NaN/inf or ``|x| > limit`` in ``values`` (any shape); ``what`` names them in the message."""
    arr = np.asarray(values, dtype=np.float64)
    bad = first_bad(arr, limit)
    if bad is not None:
        raise MotionFormatError(name, f"{what} holds {float(arr[bad])!r}, not a finite number within ±{limit:g}",
                                "fix the value; " + _HINT_CORRUPT, line=line)


def check_euler_order(order: str, name: str, line: int | None = None, what: str = "axis order",
                      n: int | None = None) -> str:
    """Upper-case Euler order of 1–3 distinct letters from ``XYZ`` (e.g. ``"XYZ"``, ``"ZXY"``; exactly ``n``
    letters when given), else refused."""
    up = order.upper()
    if not (1 <= len(up) <= 3 and set(up) <= set("XYZ") and len(set(up)) == len(up)) or (n and len(up) != n):
        raise MotionFormatError(name, f"bad {what} {order!r}", "use distinct letters X, Y, Z (e.g. XYZ)", line=line)
    return up


def tree_order(kids: dict[str, list[str]], root: str, name: str, lines: dict[str, int] | None = None) -> list[str]:
    """Depth-first order (parents first, children in listed order) of the tree under ``root``.

    Refuses a node reached twice (a cycle, e.g. a bone listed as its own child or ``a b`` + ``b a``,
    or a bone with two parents), so the walk always ends. ``lines[node]`` gives the line to report.
    """
    seen = {root}
    out: list[str] = []
    stack = list(reversed(kids.get(root, [])))
    while stack:
        b = stack.pop()
        if b in seen:
            raise MotionFormatError(name, f"bone {b!r} appears twice in the hierarchy (a cycle or two parents)",
                                    "list each bone once, under a single parent", line=(lines or {}).get(b))
        seen.add(b)
        out.append(b)
        stack.extend(reversed(kids.get(b, [])))
    return out


def check_unit_scale(scale, name: str, line: int | None = None) -> float:
    """Metres per file unit as float, refused unless finite and within [MIN_UNIT_SCALE, MAX_UNIT_SCALE]."""
    x = _number(scale)
    if not MIN_UNIT_SCALE <= x <= MAX_UNIT_SCALE:
        raise MotionFormatError(name, f"unit scale {scale!r} metres per unit is not usable",
                                f"give a positive scale between {MIN_UNIT_SCALE:g} and {MAX_UNIT_SCALE:g} "
                                "(0.01 for centimetres) or 'auto'", line=line)
    return x


def check_joints_array(arr: np.ndarray, name: str, what: str = "joint positions", min_frames: int = 0) -> None:
    """A ``(T, J, 3)`` joint array: at least ``min_frames`` frames, every value finite with
    ``|x| <= MAX_ABS_COORD`` metres (so the float32 copy stays finite and usable)."""
    if arr.shape[0] < min_frames:
        raise MotionFormatError(name, f"motion has {arr.shape[0]} frame(s); at least {min_frames} are needed",
                                "use a longer take (at the output frame rate)")
    bad = first_bad(arr, MAX_ABS_COORD)
    if bad is not None:
        raise MotionFormatError(name, f"{what} hold {float(arr[bad])!r} at frame {bad[0]}, joint {bad[1]}"
                                f" (not finite or beyond ±{MAX_ABS_COORD:g} m)",
                                "check the file's values and unit scale")


def check_body_size(arr: np.ndarray, name: str) -> None:
    """Refuse a ``(T, J, 3)`` body (metres) whose joints all lie within :data:`MIN_BODY_SIZE` of the root in
    the first frame: a collapsed skeleton (e.g. every OFFSET 0) has no pose to learn from."""
    if arr.shape[0] == 0:
        return
    size = float(np.abs(arr[0] - arr[0, :1]).max())
    if size < MIN_BODY_SIZE:
        raise MotionFormatError(name, f"all joints lie within {size:.3g} m of the root: the skeleton has no size",
                                "check the OFFSETs / bone lengths and the unit scale")
