"""Acclaim ASF (skeleton) + AMC (motion) reader → :class:`~motiongpt2.motion.io.mocap.Mocap`.

ASF sections read: ``:units`` (``length`` scale, ``angle deg|rad``), ``:root`` (``order``, ``axis``,
``position``, ``orientation``), ``:bonedata`` (``name``, ``direction``, ``length``, ``axis a b c
ORDER``, ``dof``), ``:hierarchy``. Comment lines (``#``) anywhere are skipped (the CMU ``11.asf``
from fairmotion has one at the top). AMC: optional header (``#``, ``:FULLY-SPECIFIED``,
``:DEGREES``/``:RADIANS``), then per frame an integer frame number followed by ``bone v1 v2 ...``
lines; bones without dof are absent and stay at rest.

Kinematics (Acclaim convention, column vectors, as in the CMU viewer / AMCParser)::

    W_root = C_root · M_root · C_root⁻¹,   p_root = (TX, TY, TZ)
    W_b    = W_parent · C_b · M_b · C_b⁻¹
    end_b  = start_b + W_b · (length_b · direction_b)

where ``C`` is the ``axis`` rotation and ``M`` the AMC rotation, both extrinsic Euler rotations in
the listed order (``XYZ`` / ``rx ry rz`` → ``Rz·Ry·Rx``).

Joint layout of the returned Mocap: joint 0 is ``root``; every bone becomes a joint named after the
bone and placed at the **start** of the bone (= the end of its parent bone; this is the layout of
the CMU BVH conversions, e.g. joint ``lfemur`` sits at the hip), and the end of every leaf bone is
an extra End-Site joint ``<bone>_end`` (flagged in ``Mocap.end_site``). So every bone end is a
joint: the end of bone ``b`` is the position of its children. Units stay those of the file;
``meta["unit_scale"]`` = metres per file unit assuming the Acclaim convention
``inches = value / length`` (CMU: ``length 0.45`` → 0.0564 m per unit).

Input checks (bounds in :mod:`.validate`): file size and line length; every keyword has its values;
Euler axis orders are distinct letters of ``XYZ``; dof names are known (``rx ry rz tx ty tz l``);
``:units length`` gives a unit scale within 1e-6 … 1e3 m; directions, lengths, axes and positions
are finite with ``|x| ≤ 1e6``; bone names are unique; ``:hierarchy`` is a tree (cycles and bones with
two parents are refused, so the walk always ends); ``T × J`` ≤ ``MAX_JOINT_FRAMES`` before the arrays
are allocated; every AMC value is finite and within ±1e6 (degrees, radians or file units).
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from motiongpt2.errors import MotionFormatError
from motiongpt2.motion.io.archive import read_bytes, strip_compression
from motiongpt2.motion.io.mocap import Mocap, euler_to_matrix
from motiongpt2.motion.io.validate import (
    MAX_ABS_ANGLE, MAX_ABS_COORD, MAX_ASF_LINE_CHARS, MAX_FRAMES, check_euler_order, check_file_size, check_fps,
    check_joint_count, check_joint_frames, check_line_lengths, check_unit_scale, check_values, decode_text, tree_order,
)

__all__ = ["Asf", "read_asf", "read_amc", "find_asf", "AMC_FPS"]

AMC_FPS = 120.0  # CMU AMC files are 120 fps (no rate is stored in the file)
_ROT_DOF = ("rx", "ry", "rz")
_POS_DOF = {"tx": 0, "ty": 1, "tz": 2}
_KNOWN_DOF = set(_ROT_DOF) | set(_POS_DOF) | {"l"}  # "l": Acclaim bone-length dof (read, not applied)
_MAX_TOKEN = 32  # longest AMC token the vectorised path accepts (a float needs < 25 characters)


class Bone:
    __slots__ = ("name", "direction", "length", "axis", "axis_order", "dof", "parent", "line")

    def __init__(self, name: str, line: int):
        self.name = name
        self.direction = np.zeros(3)
        self.length = 0.0
        self.axis = np.zeros(3)
        self.axis_order = "XYZ"
        self.dof: list[str] = []
        self.parent = "root"
        self.line = line


class Asf:
    """A parsed ASF skeleton.

    Attributes:
        bones: bones in hierarchy order (parents first).
        length_unit: ``:units length`` value (1.0 if absent).
        angle_unit: ``"deg"`` or ``"rad"``.
        root_order: root dof order, e.g. ``["tx", "ty", "tz", "rx", "ry", "rz"]``.
        root_axis: root axis order (``"XYZ"``); root_position / root_orientation: (3,) each.
        source: file name.
    """

    def __init__(self) -> None:
        self.bones: list[Bone] = []
        self.length_unit = 1.0
        self.angle_unit = "deg"
        self.root_order = ["tx", "ty", "tz", "rx", "ry", "rz"]
        self.root_axis = "XYZ"
        self.root_position = np.zeros(3)
        self.root_orientation = np.zeros(3)
        self.source = ""

    @property
    def unit_scale(self) -> float:
        """Metres per file length unit (Acclaim: inches = value / length)."""
        return 0.0254 / self.length_unit


def _read_text(source: str | Path | bytes, name: str | None) -> tuple[str, str]:
    """``(text, display name)`` of an ASF/AMC given as path, bytes or text; size and line lengths checked."""
    if isinstance(source, (bytes, bytearray)):
        data, display = bytes(source), name or "<bytes>"
        check_file_size(display, len(data))
    elif isinstance(source, str) and "\n" in source:
        data, display = None, name or "<text>"
    else:
        display = name or str(source)
        if not Path(source).exists():
            raise MotionFormatError(display, "file not found", "check the path")
        data = read_bytes(source)
    text = source if data is None else decode_text(data, display)
    check_file_size(display, len(text), "text")
    check_line_lengths(text, display, MAX_ASF_LINE_CHARS)
    return text.lstrip("\ufeff"), display


def _dofs(tok: list[str], name: str, ln: int) -> list[str]:
    """Lower-cased dof names after ``dof``/``order``, refused unless known and distinct."""
    out = [t.lower() for t in tok[1:]]
    bad = [d for d in out if d not in _KNOWN_DOF]
    if bad or len(set(out)) != len(out):
        raise MotionFormatError(name, f"bad dof list {' '.join(tok[1:])!r}",
                                "use distinct names from rx ry rz tx ty tz l", line=ln)
    return out


def read_asf(source: str | Path | bytes, name: str | None = None) -> Asf:
    """Parse an ASF skeleton (path, ``.asf.xz``, bytes or text)."""
    text, name = _read_text(source, name)
    if not text.strip():
        raise MotionFormatError(name, "empty ASF file", "pass the subject's .asf skeleton file")
    asf = Asf()
    asf.source = name
    section = None
    bone: Bone | None = None
    by_name: dict[str, Bone] = {}
    hierarchy: list[tuple[str, list[str], int]] = []
    seen_bonedata = False
    for ln, raw in enumerate(text.split("\n"), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith(":"):
            parts = line.split()
            section = parts[0][1:].lower()
            if section == "bonedata":
                seen_bonedata = True
            continue
        tok = line.split()
        key = tok[0].lower()

        def num(vals: list[str], n: int, limit: float = MAX_ABS_COORD) -> np.ndarray:
            try:
                out = np.array([float(v) for v in vals[:n]])
            except ValueError:
                raise MotionFormatError(name, f"expected {n} numbers after {tok[0]!r}", "fix the ASF line",
                                        line=ln) from None
            if out.size != n:
                raise MotionFormatError(name, f"expected {n} numbers after {tok[0]!r}", "fix the ASF line", line=ln)
            check_values(out, name, f"{tok[0]!r}", limit, line=ln)
            return out

        def arg(k: int = 1) -> str:
            if len(tok) <= k:
                raise MotionFormatError(name, f"{tok[0]!r} without a value", "fix the ASF line", line=ln)
            return tok[k]

        if section == "units":
            if key == "length":
                asf.length_unit = float(num(tok[1:], 1)[0])
                if not asf.length_unit > 0:
                    raise MotionFormatError(name, f"length unit {tok[1]} is not positive",
                                            "write ':units length <value>' (CMU: 0.45)", line=ln)
                check_unit_scale(asf.unit_scale, name, line=ln)
            elif key == "angle":
                asf.angle_unit = "rad" if arg().lower().startswith("rad") else "deg"
        elif section == "root":
            if key == "order":
                asf.root_order = _dofs(tok, name, ln)
            elif key == "axis":
                asf.root_axis = check_euler_order(arg(), name, ln, n=3)
            elif key == "position":
                asf.root_position = num(tok[1:], 3)
            elif key == "orientation":
                asf.root_orientation = num(tok[1:], 3, MAX_ABS_ANGLE)
        elif section == "bonedata":
            if key == "begin":
                bone = Bone("", ln)
            elif key == "end":
                if bone is None or not bone.name:
                    raise MotionFormatError(name, "bone block without a name", "add 'name <bone>'", line=ln)
                if bone.name in by_name or bone.name == "root":
                    raise MotionFormatError(name, f"bone name {bone.name!r} is used twice", "give every bone its own name",
                                            line=bone.line)
                check_joint_count(2 * len(asf.bones) + 3, name, line=ln)  # bones + End Sites + root
                by_name[bone.name] = bone
                asf.bones.append(bone)
                bone = None
            elif bone is not None:
                if key == "name":
                    bone.name = arg()
                elif key == "direction":
                    bone.direction = num(tok[1:], 3)
                elif key == "length":
                    bone.length = float(num(tok[1:], 1)[0])
                    if bone.length < 0:
                        raise MotionFormatError(name, f"negative bone length {tok[1]}", "fix the length line", line=ln)
                elif key == "axis":
                    bone.axis = num(tok[1:], 3, MAX_ABS_ANGLE)
                    if len(tok) > 4:
                        bone.axis_order = check_euler_order(tok[4], name, ln, n=3)
                elif key == "dof":
                    bone.dof = _dofs(tok, name, ln)
        elif section == "hierarchy":
            if key in ("begin", "end"):
                continue
            hierarchy.append((tok[0], tok[1:], ln))
    if not seen_bonedata or not asf.bones:
        raise MotionFormatError(name, "no :bonedata section", "this is not an ASF skeleton file")
    child_line: dict[str, int] = {}
    for parent, children, ln in hierarchy:
        if parent != "root" and parent not in by_name:
            raise MotionFormatError(name, f"hierarchy names unknown bone {parent!r}", "fix :hierarchy", line=ln)
        for c in children:
            if c not in by_name:
                raise MotionFormatError(name, f"hierarchy names unknown bone {c!r}", "fix :hierarchy", line=ln)
            if c == parent:
                raise MotionFormatError(name, f"bone {c!r} is listed as its own child in :hierarchy",
                                        "a bone's children must be other bones", line=ln)
            if c in child_line:
                raise MotionFormatError(name, f"bone {c!r} is given two parents in :hierarchy",
                                        "list each bone once, under a single parent", line=ln)
            child_line[c] = ln
            by_name[c].parent = parent
    # order bones parents-first (depth-first from the root, children in hierarchy order); refuses cycles
    kids: dict[str, list[str]] = {}
    for parent, children, _ in hierarchy:
        kids.setdefault(parent, []).extend(children)
    ordered = [by_name[b] for b in tree_order(kids, "root", name, child_line)]
    reached = {id(b) for b in ordered}
    missing = [b.name for b in asf.bones if id(b) not in reached]
    if missing:
        raise MotionFormatError(name, f"bones not connected to the root: {', '.join(missing[:5])}",
                                "list every bone under :hierarchy (a bone may not be its own ancestor)",
                                line=child_line.get(missing[0]))
    asf.bones = ordered
    return asf


def find_asf(amc_path: str | Path) -> Path | None:
    """The ASF beside an AMC: ``SS_TT.amc[.xz]`` → ``SS.asf``, else the only ``*.asf`` in the folder."""
    p = Path(amc_path)
    stem = Path(strip_compression(p.name)).stem
    folder = p.parent
    cands = []
    if "_" in stem:
        subj = stem.split("_")[0]
        cands += [folder / f"{subj}.asf", folder / f"{subj}.asf.xz"]
    cands += [folder / f"{stem}.asf", folder / f"{stem}.asf.xz"]
    for c in cands:
        if c.exists():
            return c
    found = sorted(folder.glob("*.asf")) + sorted(folder.glob("*.asf.xz"))
    return found[0] if len(found) == 1 else None


_FRAME_RE = re.compile(r"^\s*\d+\s*$")


def read_amc(source: str | Path | bytes, asf: Asf | str | Path | None = None, name: str | None = None,
             fps: float = AMC_FPS) -> Mocap:
    """Read an AMC motion (path, ``.amc.xz``, bytes or text) with its ASF skeleton.

    Args:
        source: the AMC.
        asf: a parsed :class:`Asf` or its path; ``None`` looks beside the AMC (:func:`find_asf`).
        name: display name for bytes/text input.
        fps: frame rate (AMC stores none; CMU is 120).

    Returns:
        :class:`Mocap` (file units; ``meta["unit_scale"]`` metres per unit) with ``T`` = number of
        frame records.
    """
    if asf is None:
        if isinstance(source, (bytes, bytearray)) or (isinstance(source, str) and "\n" in source):
            raise MotionFormatError(name or "<amc>", "no ASF skeleton given", "pass asf=<subject>.asf")
        found = find_asf(source)
        if found is None:
            raise MotionFormatError(source, "no ASF skeleton beside this AMC",
                                    "pass the skeleton explicitly (asf=... / --asf SS.asf)")
        asf = found
    if not isinstance(asf, Asf):
        asf = read_asf(asf)
    fps = check_fps(fps, name or ("<bytes>" if isinstance(source, (bytes, bytearray)) else
                                  "<text>" if isinstance(source, str) and "\n" in source else str(source)))
    text, name = _read_text(source, name)
    if not text.strip():
        raise MotionFormatError(name, "empty AMC file", "re-download or re-export the motion")

    # ---------------------------------------------------------------- header
    lines = text.split("\n")
    angle_unit = asf.angle_unit
    i = 0
    while i < len(lines):
        s = lines[i].strip()
        if not s or s.startswith("#"):
            i += 1
            continue
        if s.startswith(":"):
            if s.upper().startswith(":RADIANS"):
                angle_unit = "rad"
            elif s.upper().startswith(":DEGREES"):
                angle_unit = "deg"
            i += 1
            continue
        break
    first_line = i + 1
    if i >= len(lines) or not _FRAME_RE.match(lines[i]):
        raise MotionFormatError(name, "expected a frame number", "this does not look like an AMC file",
                                line=min(first_line, len(lines)))

    ndof = {"root": len(asf.root_order)}
    for b in asf.bones:
        ndof[b.name] = len(b.dof)
    body = "\n".join(lines[i:])
    limits = _limits(asf)
    values, order = _amc_values(body, ndof, name, first_line, limits)
    t = values.shape[0]
    parents_used = {b.parent for b in asf.bones}
    check_joint_frames(t, 1 + len(asf.bones) + sum(b.name not in parents_used for b in asf.bones), name)

    # ---------------------------------------------------------------- build the Mocap
    bones = asf.bones
    bidx = {b.name: k + 1 for k, b in enumerate(bones)}
    has_child = {b.parent for b in bones}
    names = ["root"] + [b.name for b in bones]
    parents = [-1] + [0 if b.parent == "root" else bidx[b.parent] for b in bones]
    vec = {b.name: b.length * b.direction for b in bones}
    offsets = [np.zeros(3)] + [np.zeros(3) if b.parent == "root" else vec[b.parent] for b in bones]
    end_site = [False] * len(names)
    for b in bones:
        if b.name not in has_child:
            names.append(f"{b.name}_end")
            parents.append(bidx[b.name])
            offsets.append(vec[b.name])
            end_site.append(True)
    j = len(names)
    off = np.asarray(offsets, dtype=np.float64)
    deg = angle_unit == "deg"
    rot = np.empty((t, j, 3, 3), dtype=np.float64)
    rot[:] = np.eye(3)
    pos = np.broadcast_to(off, (t, j, 3)).copy()
    pos_mask = np.zeros((j, 3), dtype=bool)

    def apply(k: int, dofs: list[str], cols: np.ndarray, axis_vals: np.ndarray, axis_order: str) -> None:
        rcols = [c for d, c in zip(dofs, cols) if d in _ROT_DOF]
        raxes = "".join(d[1] for d in dofs if d in _ROT_DOF)
        for d, c in zip(dofs, cols):
            if d in _POS_DOF:
                pos[:, k, _POS_DOF[d]] = values[:, c]
                pos_mask[k, _POS_DOF[d]] = True
        c_mat = euler_to_matrix(axis_vals, axis_order.lower(), degrees=deg)
        if raxes and t:
            m = euler_to_matrix(values[:, rcols], raxes, degrees=deg)
            rot[:, k] = c_mat @ m @ c_mat.T
    # root
    cols0 = order.get("root")
    if cols0 is not None:
        apply(0, asf.root_order, cols0, asf.root_orientation, asf.root_axis)
        if not pos_mask[0].any():
            pos[:, 0] = asf.root_position
    for b in bones:
        cols = order.get(b.name)
        if cols is not None and b.dof:
            apply(bidx[b.name], b.dof, cols, b.axis, b.axis_order)
    return Mocap(names=names, parents=np.asarray(parents), offsets=off, local_rotations=rot,
                 local_positions=pos, fps=float(fps), source=name, end_site=np.asarray(end_site),
                 position_channels=pos_mask,
                 meta={"format": "amc", "asf": asf.source, "length_unit": asf.length_unit,
                       "unit_scale": asf.unit_scale, "angle_unit": angle_unit})


def _limits(asf: Asf) -> dict[str, np.ndarray]:
    """``{bone: (ndof,) largest allowed |value|}``: file units for tx/ty/tz/l, angle units otherwise."""
    out = {"root": np.array([MAX_ABS_ANGLE if d in _ROT_DOF else MAX_ABS_COORD for d in asf.root_order])}
    for b in asf.bones:
        out[b.name] = np.array([MAX_ABS_ANGLE if d in _ROT_DOF else MAX_ABS_COORD for d in b.dof])
    return out


def _amc_values(body: str, ndof: dict[str, int], name: str, line0: int,
                limits: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Parse AMC frame records → ``(T, C)`` values and ``{bone: column indices}``.

    Fast path: the bone layout of the first frame repeats in every frame, so the token stream
    reshapes to ``(T, tokens_per_frame)``; otherwise (or when a value is out of range) a
    line-by-line parse names the bad line. ``limits``: see :func:`_limits`.
    """
    toks = body.split()
    if toks and max(map(len, toks)) > _MAX_TOKEN:  # keeps the (N, per) string array small
        return _amc_slow(body, ndof, name, line0, limits)
    # layout of frame 1
    layout: list[tuple[str, int]] = []
    k = 1
    while k < len(toks) and not toks[k].isdigit():
        bname = toks[k]
        if bname not in ndof:
            return _amc_slow(body, ndof, name, line0, limits)
        layout.append((bname, ndof[bname]))
        k += 1 + ndof[bname]
    per = k
    if per > 1 and len(toks) % per == 0:
        arr = np.array(toks).reshape(-1, per)
        ok = True
        col = 1
        order: dict[str, np.ndarray] = {}
        vcols = []
        for bname, n in layout:
            if not np.all(arr[:, col] == bname):
                ok = False
                break
            order[bname] = np.arange(len(vcols), len(vcols) + n)
            vcols.extend(range(col + 1, col + 1 + n))
            col += 1 + n
        if ok:
            try:
                frames_no = arr[:, 0].astype(np.int64)
                vals = arr[:, vcols].astype(np.float64)
            except (ValueError, OverflowError):
                return _amc_slow(body, ndof, name, line0, limits)
            lim = np.concatenate([limits[b] for b, _ in layout]) if layout else np.zeros(0)
            in_range = bool(np.all(np.abs(vals) <= lim))
            if in_range and (np.all(np.diff(frames_no) == 1) or len(frames_no) <= 1):
                if len(vals) > MAX_FRAMES:
                    raise MotionFormatError(name, f"{len(vals):,} frames is over the limit of {MAX_FRAMES:,}",
                                            "split the take into shorter files")
                return vals, order
    return _amc_slow(body, ndof, name, line0, limits)


def _amc_slow(body: str, ndof: dict[str, int], name: str, line0: int,
              limits: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Line-by-line AMC parse (irregular files and error reports): every line checked, bad ones named."""
    cols: dict[str, np.ndarray] = {}
    ncol = 0
    for b, n in ndof.items():
        cols[b] = np.arange(ncol, ncol + n)
        ncol += n
    frames: list[np.ndarray] = []
    cur: np.ndarray | None = None
    for off, raw in enumerate(body.split("\n")):
        ln = line0 + off
        tok = raw.split()
        if not tok or tok[0].startswith("#"):
            continue
        if len(tok) == 1 and tok[0].isdigit():
            if len(frames) >= MAX_FRAMES:
                raise MotionFormatError(name, f"more than {MAX_FRAMES:,} frames", "split the take into shorter files",
                                        line=ln)
            cur = np.zeros(ncol)
            frames.append(cur)
            continue
        if cur is None:
            raise MotionFormatError(name, "bone values before the first frame number", "fix the AMC file", line=ln)
        b = tok[0]
        if b not in ndof:
            raise MotionFormatError(name, f"bone {b!r} is not in the ASF skeleton",
                                    "use the ASF of the same subject (SS.asf for SS_TT.amc)", line=ln)
        if len(tok) - 1 != ndof[b]:
            raise MotionFormatError(name, f"bone {b!r} has {len(tok) - 1} values, the ASF gives it {ndof[b]} dof",
                                    "use the ASF of the same subject, or fix the line", line=ln)
        try:
            vals = [float(v) for v in tok[1:]]
        except ValueError:
            raise MotionFormatError(name, f"non-numeric value on bone {b!r}", "fix or remove that line",
                                    line=ln) from None
        for v, lim in zip(vals, limits[b]):
            if not (math.isfinite(v) and abs(v) <= lim):
                raise MotionFormatError(name, f"bone {b!r} has value {v!r}, not a finite number within ±{lim:g}",
                                        "fix the value; the file is corrupt or not in degrees/file units", line=ln)
        cur[cols[b]] = vals
    return np.asarray(frames).reshape(len(frames), ncol), cols
