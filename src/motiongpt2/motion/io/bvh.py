"""BVH (Biovision Hierarchy) reader for any hierarchy.

Supports: any number of ROOTs and joints; 3, 6 or any other number of channels per joint, in any
order (rotation channels give an intrinsic Euler rotation in the order they are listed, e.g.
``Zrotation Xrotation Yrotation`` → ``R = Rz @ Rx @ Ry``; position channels may appear on any
joint and replace that component of the joint's OFFSET); End Sites (kept as leaf joints named
``<parent>_end`` and flagged in ``Mocap.end_site``); tabs/spaces/blank lines; LF, CRLF or mixed
line endings; plain, ``.xz``/``.gz``/``.bz2`` files, bytes or text.

The MOTION block is parsed in one C call (``np.loadtxt``'s tokenizer); only when that fails or the value
count is wrong is the block re-scanned line by line to name the offending line. All errors are
:class:`~motiongpt2.errors.MotionFormatError` with ``"<file>:<line>: <problem> — <what to do>"``.

Angles are degrees; positions stay in file units (see :mod:`.retarget` for unit handling).

Input checks (bounds in :mod:`.validate`), all before the big arrays are allocated: file size and
line length; joint count; ``Frames:`` a finite integer ≤ ``MAX_FRAMES`` that the MOTION text has room
for; ``Frame Time:`` within 1e-4 … 1 s; ``T × J`` ≤ ``MAX_JOINT_FRAMES``; every OFFSET and channel
value finite with ``|x| ≤ 1e6`` (file units or degrees), so the float32 copies downstream stay finite.
"""
from __future__ import annotations

import io
import re
import warnings
from pathlib import Path

import numpy as np

from motiongpt2.errors import MotionFormatError
from motiongpt2.motion.io.archive import read_bytes
from motiongpt2.motion.io.mocap import Mocap, euler_to_matrix
from motiongpt2.motion.io.validate import (
    MAX_ABS_ANGLE, MAX_ABS_COORD, check_file_size, check_joint_count, check_joint_frames, check_line_lengths,
    check_no_nul, decode_text, first_bad, parse_frame_count, parse_frame_time,
)

__all__ = ["read_bvh", "parse_bvh"]

_ROT = {"xrotation": "X", "yrotation": "Y", "zrotation": "Z"}
_POS = {"xposition": 0, "yposition": 1, "zposition": 2}
_MOTION_RE = re.compile(r"^[ \t]*MOTION\b", re.M)
_HINT_TRUNC = "the file is truncated or corrupt; re-export or re-download it"


def read_bvh(source: str | Path | bytes, name: str | None = None) -> Mocap:
    """Read a BVH clip.

    Args:
        source: a path (``.bvh``, ``.bvh.xz``, ``.bvh.gz``), raw ``bytes`` of a BVH file, or the BVH
            text itself (a ``str`` that starts with ``HIERARCHY`` or contains a newline).
        name: display name used as ``Mocap.source`` and in error messages for bytes/text input.

    Returns:
        :class:`Mocap` with ``local_rotations (T, J, 3, 3)``, ``local_positions (T, J, 3)`` (file
        units), ``fps = 1 / Frame Time`` and ``meta = {"format": "bvh", "frame_time", "channels"}``.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        display = name or "<bytes>"
        check_file_size(display, len(source))
        text = decode_text(bytes(source), display)
    elif isinstance(source, str) and ("\n" in source or source.lstrip().upper().startswith("HIERARCHY")):
        text = source
        display = name or "<text>"
    else:
        path = Path(source)
        display = name or str(path)
        if not path.exists():
            raise MotionFormatError(display, "file not found", "check the path")
        text = decode_text(read_bytes(path), display)
    return parse_bvh(text, display)


def _tokens(header: str) -> list[tuple[str, int]]:
    """Whitespace tokens of the hierarchy with their 1-based line numbers (braces split off)."""
    out: list[tuple[str, int]] = []
    for ln, line in enumerate(header.split("\n"), 1):
        line = line.replace("{", " { ").replace("}", " } ")
        out.extend((tok, ln) for tok in line.split())
    return out


def parse_bvh(text: str, name: str = "<text>") -> Mocap:
    """Parse BVH ``text`` (see :func:`read_bvh`); ``name`` is used in messages and ``Mocap.source``."""
    if not text.strip():
        raise MotionFormatError(name, "empty file", "this is not a BVH file; check the path or re-export it")
    text = text.lstrip("\ufeff")
    check_file_size(name, len(text), "text")
    check_line_lengths(text, name)
    check_no_nul(text, name)
    m = _MOTION_RE.search(text)
    if m is None:
        raise MotionFormatError(name, "no MOTION section",
                                "a BVH file needs HIERARCHY ... MOTION / Frames: / Frame Time: ; " + _HINT_TRUNC)
    header = text[: m.start()]
    toks = _tokens(header)
    if not toks or toks[0][0].upper() != "HIERARCHY":
        ln = toks[0][1] if toks else 1
        raise MotionFormatError(name, "file does not start with HIERARCHY",
                                "this is not a BVH file (or it has extra text at the top)", line=ln)

    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    end_site: list[bool] = []
    chans: list[list[str]] = []
    stack: list[int] = []
    i = 1
    n = len(toks)

    def need(k: int) -> None:
        if i + k > n:
            raise MotionFormatError(name, "hierarchy ends unexpectedly", _HINT_TRUNC, line=toks[-1][1])

    def number(tok: str, ln: int) -> float:
        try:
            return float(tok)
        except ValueError:
            raise MotionFormatError(name, f"expected a number in the hierarchy, found {tok!r}",
                                    "fix the OFFSET/CHANNELS line", line=ln) from None

    pending: int | None = None  # joint declared, waiting for "{"
    while i < n:
        tok, ln = toks[i]
        up = tok.upper()
        if up in ("ROOT", "JOINT") or (up == "END" and i + 1 < n and toks[i + 1][0].upper() == "SITE"):
            if pending is not None:
                raise MotionFormatError(name, f"expected '{{' after joint {names[pending]!r}",
                                        "fix the hierarchy braces", line=ln)
            is_end = up == "END"
            i += 2 if is_end else 1
            if is_end:
                if not stack:
                    raise MotionFormatError(name, "End Site outside any joint", "fix the hierarchy", line=ln)
                jname = f"{names[stack[-1]]}_end"
                # swallow an optional name after "End Site" on the same line
                while i < n and toks[i][1] == ln and toks[i][0] != "{":
                    i += 1
            else:
                if up == "JOINT" and not stack:
                    raise MotionFormatError(name, "JOINT outside ROOT", "fix the hierarchy braces", line=ln)
                parts = []
                while i < n and toks[i][1] == ln and toks[i][0] != "{":
                    parts.append(toks[i][0])
                    i += 1
                if not parts:
                    raise MotionFormatError(name, f"{tok} without a name", "name every joint", line=ln)
                jname = " ".join(parts)
            check_joint_count(len(names) + 1, name, line=ln)
            names.append(jname)
            parents.append(stack[-1] if (stack and up != "ROOT") else -1)
            offsets.append([0.0, 0.0, 0.0])
            end_site.append(is_end)
            chans.append([])
            pending = len(names) - 1
        elif tok == "{":
            if pending is None:
                raise MotionFormatError(name, "unexpected '{'", "fix the hierarchy braces", line=ln)
            stack.append(pending)
            pending = None
            i += 1
        elif tok == "}":
            if not stack:
                raise MotionFormatError(name, "unbalanced '}'", "fix the hierarchy braces", line=ln)
            stack.pop()
            i += 1
        elif up == "OFFSET":
            if not stack:
                raise MotionFormatError(name, "OFFSET outside a joint", "fix the hierarchy", line=ln)
            need(4)
            offsets[stack[-1]] = [number(toks[i + k][0], toks[i + k][1]) for k in (1, 2, 3)]
            if first_bad(np.asarray(offsets[stack[-1]]), MAX_ABS_COORD) is not None:
                raise MotionFormatError(name, f"OFFSET {offsets[stack[-1]]} is not finite or beyond ±{MAX_ABS_COORD:g}",
                                        "fix the OFFSET line", line=ln)
            i += 4
        elif up == "CHANNELS":
            if not stack:
                raise MotionFormatError(name, "CHANNELS outside a joint", "fix the hierarchy", line=ln)
            need(2)
            try:
                k = int(toks[i + 1][0])
            except ValueError:
                raise MotionFormatError(name, f"channel count {toks[i + 1][0]!r} is not an integer",
                                        "write CHANNELS <n> <names...>", line=ln) from None
            if not 0 <= k <= 6:
                raise MotionFormatError(name, f"channel count {k} is not between 0 and 6",
                                        "write CHANNELS <n> <names...> with at most 3 position and 3 rotation channels",
                                        line=ln)
            need(2 + k)
            cl = [toks[i + 2 + q][0] for q in range(k)]
            for c in cl:
                if c.lower() not in _ROT and c.lower() not in _POS:
                    raise MotionFormatError(name, f"unknown channel {c!r}",
                                            "channels must be X/Y/Z position or rotation", line=ln)
            if len({c.lower() for c in cl}) < len(cl):
                raise MotionFormatError(name, f"a channel is listed twice ({' '.join(cl)})",
                                        "list each channel once", line=ln)
            if sum(c.lower() in _ROT for c in cl) > 3:
                raise MotionFormatError(name, "more than 3 rotation channels on one joint",
                                        "use at most one rotation channel per axis", line=ln)
            chans[stack[-1]] = cl
            i += 2 + k
        else:
            raise MotionFormatError(name, f"unexpected token {tok!r} in the hierarchy",
                                    "expected ROOT/JOINT/End Site/OFFSET/CHANNELS or braces", line=ln)
    if not names:
        raise MotionFormatError(name, "HIERARCHY has no ROOT", "the hierarchy is empty; re-export the file",
                                line=toks[0][1])
    if stack or pending is not None:
        raise MotionFormatError(name, "hierarchy has unclosed '{'", _HINT_TRUNC, line=toks[-1][1])

    # ---------------------------------------------------------------- MOTION header
    motion_line = header.count("\n") + 1
    pos = m.end()
    frames = frame_time = None
    ln = motion_line
    # walk a few lines after MOTION to find "Frames:" and "Frame Time:" (blank lines allowed)
    rest = text[pos:]
    off = 0
    for _ in range(16):
        nl = rest.find("\n", off)
        line = rest[off:] if nl < 0 else rest[off:nl]
        s = line.strip()
        if s:
            low = " ".join(s.lower().split())
            if low.startswith("frames"):
                val = s.split(":", 1)[1].strip() if ":" in s else s.split()[-1]
                frames = parse_frame_count(val, name, ln)
            elif low.startswith("frame time") or low.startswith("frametime"):
                val = s.split(":", 1)[1].strip() if ":" in s else s.split()[-1]
                frame_time = parse_frame_time(val, name, ln)
            elif ln != motion_line:
                break
        if frames is not None and frame_time is not None:
            off = len(rest) if nl < 0 else nl + 1
            ln += 1
            break
        if nl < 0:
            off = len(rest)
            break
        off = nl + 1
        ln += 1
    if frames is None or frame_time is None:
        missing = "Frames:" if frames is None else "Frame Time:"
        raise MotionFormatError(name, f"MOTION section lacks '{missing}'", _HINT_TRUNC, line=motion_line)
    data_text = rest[off:]
    first_data_line = ln

    nch = sum(len(c) for c in chans)
    if nch == 0:
        _check_room(data_text, frames, name, motion_line + 1)
    check_joint_frames(frames, len(names), name, line=motion_line)
    values = _parse_values(data_text, frames, nch, name, first_data_line)
    _check_channel_values(values, chans, data_text, name, first_data_line)

    # ---------------------------------------------------------------- channels -> transforms
    j = len(names)
    t = frames
    off_arr = np.asarray(offsets, dtype=np.float64).reshape(j, 3)
    local_pos = np.broadcast_to(off_arr, (t, j, 3)).copy()
    local_rot = np.empty((t, j, 3, 3), dtype=np.float64)
    local_rot[:] = np.eye(3)
    pos_mask = np.zeros((j, 3), dtype=bool)
    col = 0
    groups: dict[str, tuple[list[int], list[list[int]]]] = {}  # Euler order -> (joints, columns)
    for k in range(j):
        order = ""
        rcols = []
        for c in chans[k]:
            low = c.lower()
            if low in _POS:
                local_pos[:, k, _POS[low]] = values[:, col]
                pos_mask[k, _POS[low]] = True
            else:
                order += _ROT[low]
                rcols.append(col)
            col += 1
        if order:
            if len(order) == 2 and order[0] == order[1]:
                raise MotionFormatError(name, f"joint {names[k]!r} repeats a rotation axis ({order})",
                                        "use distinct rotation channels")
            gj, gc = groups.setdefault(order, ([], []))
            gj.append(k)
            gc.append(rcols)
    if t:
        for order, (gj, gc) in groups.items():  # one vectorised call per Euler order
            local_rot[:, gj] = euler_to_matrix(values[:, np.asarray(gc)], order)

    fps = 1.0 / frame_time
    if abs(fps - round(fps)) < 2e-3 * fps:
        fps = float(round(fps))
    return Mocap(
        names=names, parents=np.asarray(parents), offsets=off_arr, local_rotations=local_rot,
        local_positions=local_pos, fps=fps, source=name, end_site=np.asarray(end_site, dtype=bool),
        position_channels=pos_mask,
        meta={"format": "bvh", "frame_time": frame_time, "frames_header": frames,
              "channels": [list(c) for c in chans]})


def _check_room(data: str, frames: int, name: str, line: int) -> None:
    """Without channels nothing else bounds ``Frames:``: refuse more frames than the MOTION text has
    lines (one line per frame), before the ``(T, J, 3, 3)`` arrays are allocated."""
    room = data.count("\n") + 1
    if frames > room:
        raise MotionFormatError(name, f"truncated: header says {frames} frames, the file has {room} frame lines",
                                _HINT_TRUNC + " (or correct 'Frames:')", line=line)


def _data_line(data: str, row: int, line0: int) -> int:
    """Line number of the ``row``-th (0-based) non-blank line of the MOTION data (error path only)."""
    seen = -1
    for k, raw in enumerate(data.split("\n")):
        if raw.strip():
            seen += 1
            if seen == row:
                return line0 + k
    return line0


def _check_channel_values(values: np.ndarray, chans: list[list[str]], data: str, name: str, line0: int) -> None:
    """Refuse NaN/inf and out-of-range channel values: positions ``|x| ≤ MAX_ABS_COORD`` file units,
    rotations ``|a| ≤ MAX_ABS_ANGLE`` degrees. Names the frame line of the first offender."""
    if values.size == 0:
        return
    flat = [c.lower() for cl in chans for c in cl]
    limit = np.where(np.array([c in _POS for c in flat]), MAX_ABS_COORD, MAX_ABS_ANGLE)
    ok = np.abs(values) <= limit
    if ok.all():
        return
    row, col = (int(i) for i in np.unravel_index(int(np.argmin(ok.ravel())), values.shape))
    raise MotionFormatError(name, f"frame {row + 1}, channel {col + 1} ({flat[col]}) holds {float(values[row, col])!r}, "
                            f"not a finite number within ±{limit[col]:g}",
                            "fix the value; " + _HINT_TRUNC, line=_data_line(data, row, line0))


def _parse_values(data: str, frames: int, nch: int, name: str, line0: int) -> np.ndarray:
    """``(frames, nch)`` float64 values of the MOTION block; exact line numbers on any error."""
    if frames == 0 or nch == 0:
        return np.zeros((frames, nch), dtype=np.float64)
    try:  # numpy's C tokenizer (numpy >= 1.23): faster than fromstring/split
        vals = np.loadtxt(io.StringIO(data), dtype=np.float64, ndmin=2, comments=None)
    except ValueError:
        vals = None
    if vals is not None and vals.shape == (frames, nch):
        return vals
    # slow path: find the first offending line
    rows = 0
    ln = line0
    last = line0
    extra = False
    for raw in data.split("\n"):
        s = raw.split()
        if s:
            last = ln
            if rows >= frames:
                extra = True
                break
            if len(s) != nch:
                raise MotionFormatError(name, f"frame {rows + 1} has {len(s)} values, expected {nch}",
                                        "every frame line needs one value per channel; " + _HINT_TRUNC, line=ln)
            for tok in s:
                try:
                    float(tok)
                except ValueError:
                    raise MotionFormatError(name, f"non-numeric value {tok!r} in frame {rows + 1}",
                                            "fix or remove that line", line=ln) from None
            rows += 1
        ln += 1
    if rows < frames:
        raise MotionFormatError(name, f"truncated: header says {frames} frames, found {rows}",
                                _HINT_TRUNC + " (or correct 'Frames:')", line=last + 1 if rows else line0)
    # more frame lines than the header announces (or numbers only Python reads, e.g. "1_0"): keep the announced frames
    if extra:
        warnings.warn(f"{name}: more frame lines than 'Frames: {frames}'; extra lines ignored", stacklevel=3)
    return np.array(data.split()[: frames * nch], dtype=np.float64).reshape(frames, nch)
