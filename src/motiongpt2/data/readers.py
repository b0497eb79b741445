"""Read and validate motion–text dataset directories (no torch needed).

Supported layouts, exactly as users download them:

* **HumanML3D** / **KIT-ML** (and what :mod:`motiongpt2.data.layout` writes): ``new_joint_vecs/<id>.npy``
  (263 or 251 dims), ``texts/<id>.txt``, ``train.txt``/``val.txt``/``test.txt``/``all.txt``,
  ``Mean.npy``/``Std.npy``, optional ``new_joints/<id>.npy``.
* **Motion-X** in the HumanTOMATO layout: ``motion_data/vector_623/<subset>/<name>.npy`` (623 dims; ids
  are relative paths such as ``humanml/000001``), ``texts/semantic_texts/<id>.txt`` (one plain caption
  per line, or HumanML3D lines), ``split/{train,val,test,all}.txt``, ``mean_std/<version>/vector_623/
  {mean,std}.npy``. A plain folder of 623-dim ``.npy`` files under ``motion_data/`` plus ``texts/`` with
  one caption per line also works; without split files every motion file is used.

Every problem is reported as one line ``path[:line]: problem — what to do``. Readers skip bad samples
and keep the list in :attr:`MotionTextDataset.skipped`; ``strict=True`` raises
:class:`~motiongpt2.errors.DatasetError` on the first problem instead.
"""
from __future__ import annotations

import dataclasses
import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from motiongpt2.data.layout import read_dataset_json
from motiongpt2.data.text import TextEntry, parse_caption_line, parse_text_line
from motiongpt2.errors import DatasetError
from motiongpt2.motion.skeleton import Skeleton, skeleton_for_dim
from motiongpt2.errors import one_line
from motiongpt2.npy import NpyHeader, npy_header, read_npy_data


# --------------------------------------------------------------------------- kinds
@dataclass(frozen=True)
class KindSpec:
    """Feature dimension, frame rate and accepted length range (frames, inclusive) of a dataset kind."""

    name: str
    dim: int
    fps: float
    min_len: int
    max_len: int

    @property
    def skeleton(self) -> Skeleton:
        return skeleton_for_dim(self.dim)


#: The official HumanML3D / KIT-ML loaders (``Text2MotionDatasetV2``) keep motions with
#: ``min_len <= T < 200`` and crop them to at most 196 frames when sampling; a clip cut from an index range of
#: 200 frames has 199 feature rows and is a valid sample.
KINDS: dict[str, KindSpec] = {
    "humanml3d": KindSpec("humanml3d", 263, 20.0, 40, 199),
    "kit": KindSpec("kit", 251, 12.5, 24, 199),
    "motionx": KindSpec("motionx", 623, 20.0, 40, 300),
}
_KIND_BY_DIM = {k.dim: k.name for k in KINDS.values()}


# --------------------------------------------------------------------------- problems and reports
@dataclass
class Problem:
    """One problem found in a dataset: ``str(p)`` is ``path[:line]: problem — what to do``."""

    path: str
    problem: str
    hint: str = ""
    line: int | None = None
    sample_id: str | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.problem}" + (f" — {self.hint}" if self.hint else "")

    def error(self) -> DatasetError:
        return DatasetError(self.path, self.problem, self.hint, line=self.line)


@dataclass
class Report:
    """Result of :func:`validate_dataset` (or :meth:`MotionTextDataset.report`)."""

    root: str
    kind: str
    n_samples: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def n_ok(self) -> int:
        """Samples checked without any problem."""
        return max(0, self.n_samples - len(self.bad_ids))

    @property
    def bad_ids(self) -> set[str]:
        return {p.sample_id for p in self.problems if p.sample_id is not None}

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]

    def __str__(self) -> str:
        head = (f"{self.root}: {self.kind}, {self.n_samples} samples checked, {self.n_ok} ok, "
                f"{len(self.bad_ids)} bad, {len(self.problems)} problems")
        return "\n".join([head, *self.lines()])

    def raise_first(self) -> None:
        if self.problems:
            raise self.problems[0].error()


class _Strict(Exception):
    pass


# --------------------------------------------------------------------------- samples
@dataclass
class Sample:
    """One clip: ``features`` ``(T, D)`` float32, its text entries and (optionally) joints ``(T, J, 3)``."""

    id: str
    features: np.ndarray
    texts: list[TextEntry]
    joints: np.ndarray | None = None
    fps: float = 20.0

    @property
    def length(self) -> int:
        return int(self.features.shape[0])

    def segments(self, min_frames: int = 1, max_frames: int | None = None) -> list[tuple[str, np.ndarray]]:
        """``(caption, features[first:stop])`` for each text entry with a non-zero time range.

        Frames follow the official loaders: ``[int(start*fps), int(end*fps))``, clipped to the clip.
        Segments shorter than ``min_frames`` (or longer than ``max_frames``) are left out; the
        official HumanML3D loader uses ``min_frames=40`` and keeps segments under 200 frames.
        """
        out = []
        for e in self.texts:
            rng = e.frame_range(self.fps)
            if rng is None:
                continue
            seg = self.features[rng[0]:rng[1]]
            if len(seg) < max(1, min_frames) or (max_frames is not None and len(seg) > max_frames):
                continue
            out.append((e.caption, seg))
        return out


# --------------------------------------------------------------------------- layout discovery
@dataclass
class Layout:
    """The folders and files of one dataset (see :func:`resolve_layout`)."""

    root: Path
    spec: KindSpec
    motion_dir: Path
    text_dir: Path
    joints_dir: Path | None
    split_dir: Path
    mean_path: Path | None
    std_path: Path | None
    plain_text_ok: bool

    def motion_path(self, sid: str) -> Path:
        return self.motion_dir / f"{sid}.npy"

    def text_path(self, sid: str) -> Path:
        return self.text_dir / f"{sid}.txt"

    def joints_path(self, sid: str) -> Path | None:
        return None if self.joints_dir is None else self.joints_dir / f"{sid}.npy"

    def split_path(self, split: str) -> Path:
        return self.split_dir / f"{split}.txt"

    def all_motion_ids(self) -> list[str]:
        ids = []
        for dirpath, dirnames, filenames in os.walk(self.motion_dir):
            dirnames.sort()
            rel = Path(dirpath).relative_to(self.motion_dir)
            for fn in filenames:
                if fn.endswith(".npy") and not fn.startswith("."):
                    ids.append((rel / fn[:-4]).as_posix())
        return sorted(ids)


def _npy_header(path: Path, kinds: str = "fiu") -> NpyHeader:
    """The checked ``.npy`` header (:func:`motiongpt2.npy.npy_header`): DatasetError for a corrupt or
    truncated file, a non-numeric dtype or an absurd size, before any data is read."""
    return npy_header(path, DatasetError, kinds)


def _read_checked(path: Path, hdr: NpyHeader) -> np.ndarray:
    """The data of a checked header (DatasetError if the file changed under us)."""
    return read_npy_data(path, hdr, DatasetError)


def _first_bad_row(arr: np.ndarray) -> int | None:
    """First index along axis 0 holding NaN/inf, or ``None``."""
    finite = np.isfinite(arr.reshape(len(arr), -1)).all(axis=1)
    return None if finite.all() else int(np.argmin(finite))


def _first_npy(folder: Path) -> Path | None:
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for fn in sorted(filenames):
            if fn.endswith(".npy") and not fn.startswith("."):
                return Path(dirpath) / fn
    return None


def _kind_from_meta(path: Path) -> str:
    """``dataset.json``'s ``kind`` (a string), or ``""`` when absent or unreadable (a list, not JSON, nested
    too deep, not UTF-8, huge): the kind is then guessed from the features."""
    try:
        if not path.is_file() or path.stat().st_size > 256 * 2**20:
            return ""
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return ""
    kind = data.get("kind", "") if isinstance(data, dict) else ""
    return kind if isinstance(kind, str) else ""


def resolve_layout(root: str | Path, kind: str = "auto") -> Layout:
    """Where the feature, text, joint and split files of the dataset at ``root`` are, and its kind
    (``kind="auto"``: from the folder names, ``dataset.json`` or the feature dimension)."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(root, "dataset folder does not exist", "check the path (it should contain "
                           "new_joint_vecs/ or motion_data/)")
    if kind not in ("auto", *KINDS):
        raise ValueError(f"kind must be 'auto' or one of {sorted(KINDS)}, not {kind!r}")
    mx_dir = root / "motion_data"
    if mx_dir.is_dir() and kind in ("auto", "motionx"):
        motion_dir = mx_dir / "vector_623" if (mx_dir / "vector_623").is_dir() else mx_dir
        guessed = "motionx"
    elif (root / "new_joint_vecs").is_dir():
        motion_dir = root / "new_joint_vecs"
        guessed = None
    else:
        raise DatasetError(root, "no new_joint_vecs/ (HumanML3D, KIT-ML) or motion_data/ (Motion-X) folder",
                           "point at the dataset root that holds the feature folder")
    if kind == "auto":
        kind = guessed or ""
        if not kind:
            kind = _kind_from_meta(root / "dataset.json")
            if kind not in KINDS:
                first = _first_npy(motion_dir)
                if first is None:
                    raise DatasetError(motion_dir, "no .npy feature files", "add the features or pass kind=")
                try:
                    shape = npy_header(first, DatasetError, check_size=False).shape
                except DatasetError as exc:
                    raise DatasetError(first, f"cannot read .npy header ({exc.problem})",
                                       "pass kind='humanml3d'|'kit'|'motionx' explicitly") from None
                kind = _KIND_BY_DIM.get(shape[-1] if shape else -1, "")
                if not kind:
                    raise DatasetError(first, f"feature shape {shape} matches no known kind "
                                       "(263 HumanML3D, 251 KIT-ML, 623 Motion-X)", "pass kind= explicitly")
    spec = KINDS[kind]
    motionx = kind == "motionx"
    text_dir = root / "texts"
    if motionx:
        for cand in ("semantic_texts", "semantic_labels"):
            if (root / "texts" / cand).is_dir():
                text_dir = root / "texts" / cand
                break
    split_dir = root / "split" if motionx and (root / "split").is_dir() else root
    mean_path = root / "Mean.npy" if (root / "Mean.npy").exists() else None
    std_path = root / "Std.npy" if (root / "Std.npy").exists() else None
    if motionx and mean_path is None:
        cands = sorted((root / "mean_std").glob("**/vector_623/mean.npy")) if (root / "mean_std").is_dir() else []
        cands += [root / "mean.npy"] if (root / "mean.npy").exists() else []
        if cands:
            mean_path = cands[0]
            std_path = cands[0].with_name("std.npy") if cands[0].with_name("std.npy").exists() else None
    joints_dir = root / "new_joints" if (root / "new_joints").is_dir() else None
    return Layout(root, spec, motion_dir, text_dir, joints_dir, split_dir, mean_path, std_path, motionx)




# --------------------------------------------------------------------------- checks
#: Longest sample id accepted in a split file (characters).
MAX_ID_CHARS = 255
#: Longest annotation line accepted in a text file (characters).
MAX_TEXT_LINE_CHARS = 2**16
#: Largest split or text file read (bytes).
MAX_LIST_BYTES = 64 * 2**20


def id_problem(sid: str) -> str | None:
    """Why ``sid`` cannot name a sample inside the dataset root, or ``None``: too long, control characters,
    a backslash, an absolute path or a ``..`` part (it would read outside the dataset)."""
    if len(sid) > MAX_ID_CHARS:
        return f"id of {len(sid):,} characters (limit {MAX_ID_CHARS})"
    if any(ord(c) < 32 or ord(c) == 127 for c in sid):
        return "id holds control characters"
    parts = sid.split("/")
    if "\\" in sid or sid.startswith("/") or os.path.isabs(sid) or any(p in ("", ".", "..") for p in parts):
        return "id is not a plain relative name (absolute, '..', a backslash or empty parts): it would point outside the dataset"
    return None


def _short(sid: str, n: int = 60) -> str:
    return repr(sid if len(sid) <= n else sid[:n] + "…")


def _list_lines(path: Path, emit, what: str) -> list[str] | None:
    """Lines of a split/text file decoded as UTF-8; a problem (and ``None``) when it is unreadable, not
    UTF-8, binary or over :data:`MAX_LIST_BYTES`."""
    try:
        if path.stat().st_size > MAX_LIST_BYTES:
            emit(Problem(str(path), f"{what} is over {MAX_LIST_BYTES // 2**20} MiB", "check that it is a text file"))
            return None
        data = path.read_bytes()
    except OSError as exc:
        emit(Problem(str(path), f"cannot read {what} ({one_line(exc)})", "check the file"))
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        emit(Problem(str(path), f"{what} is not UTF-8 text (byte {data[exc.start]:#04x})", "save it as UTF-8", line))
        return None
    if "\x00" in text:
        emit(Problem(str(path), f"{what} holds NUL bytes (a binary file)", "save it as UTF-8 text",
                     text.count("\n", 0, text.index("\x00")) + 1))
        return None
    return text.splitlines()


def _read_split(path: Path, emit: Callable[[Problem], None]) -> list[tuple[str, int]]:
    """``[(id, line number)]`` of a split file; duplicate and unsafe ids (:func:`id_problem`) are reported
    and dropped, so no id ever names a file outside the dataset."""
    out, seen = [], {}
    for n, raw in enumerate(_list_lines(path, emit, "split file") or [], start=1):
        sid = raw.strip()
        if not sid:
            continue
        if sid.endswith(".npy"):
            sid = sid[:-4]
        bad = id_problem(sid)
        if bad:
            emit(Problem(str(path), f"{bad}: {_short(sid)}", "write one plain sample id per line", n,
                         sid if len(sid) <= MAX_ID_CHARS else sid[:MAX_ID_CHARS]))
            continue
        if sid in seen:
            emit(Problem(str(path), f"id {sid!r} repeats line {seen[sid]}", "delete the duplicate line", n, sid))
            continue
        seen[sid] = n
        out.append((sid, n))
    return out


def _check_mean_std(lay: Layout, emit) -> tuple[np.ndarray | None, np.ndarray | None]:
    if lay.mean_path is None and lay.std_path is None:
        return None, None
    hint = "recompute them with motiongpt2.data.layout.compute_mean_std or restore the official files"
    arrays = []
    for path in (lay.mean_path, lay.std_path):
        if path is None:
            other = lay.std_path if lay.mean_path is None else lay.mean_path
            emit(Problem(str(other), "has no companion Mean/Std file", hint))
            return None, None
        try:
            hdr = _npy_header(path)
            if hdr.shape != (lay.spec.dim,):
                emit(Problem(str(path), f"has shape {hdr.shape}, expected ({lay.spec.dim},) for {lay.spec.name}", hint))
                return None, None
            arr = _read_checked(path, hdr)
        except DatasetError as exc:
            emit(Problem(str(path), exc.problem, hint))
            return None, None
        if not np.isfinite(arr).all():
            emit(Problem(str(path), "contains NaN/Inf", hint))
            return None, None
        arrays.append(arr.astype(np.float32))
    mean, std = arrays
    zero = np.flatnonzero(std <= 0)
    if zero.size:
        emit(Problem(str(lay.std_path), f"has {zero.size} zero or negative entries (first at index {zero[0]}); "
                     "normalising would divide by zero", hint))
        return None, None
    return mean, std


def _read_texts(lay: Layout, sid: str, emit) -> list[TextEntry] | None:
    path = lay.text_path(sid)
    if not path.exists():
        emit(Problem(str(path), "missing text file",
                     f"add {path.name} with one annotation per line, or remove {sid!r} from the split file",
                     None, sid))
        return None
    lines = _list_lines(path, lambda p: emit(dataclasses.replace(p, sample_id=sid)), "text file")
    if lines is None:
        return None
    entries = []
    bad = False
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if len(line) > MAX_TEXT_LINE_CHARS:
            emit(Problem(str(path), f"line of {len(line):,} characters (limit {MAX_TEXT_LINE_CHARS:,})",
                         "write one short caption per line", n, sid))
            bad = True
            continue
        if lay.plain_text_ok and "#" not in line:
            entries.append(parse_caption_line(line))
            continue
        try:
            entries.append(parse_text_line(line, str(path), n))
        except DatasetError as exc:
            emit(Problem(str(path), exc.problem, exc.hint, n, sid))
            bad = True
    if bad:
        return None
    if not entries:
        emit(Problem(str(path), "empty text file (no annotation lines)",
                     f"add at least one caption line, or remove {sid!r} from the split file", None, sid))
        return None
    return entries


def _check_motion(lay: Layout, sid: str, where: tuple[str, int | None], min_len: int, max_len: int,
                  emit, full: bool) -> tuple[int, np.ndarray | None] | None:
    """Header checks (and with ``full`` the values): ``(length, data or None)`` or ``None`` when bad."""
    path = lay.motion_path(sid)
    spec = lay.spec
    drop = f"or remove {sid!r} from the split file"
    if not path.exists():
        emit(Problem(where[0], f"id {sid!r} has no motion file {path}",
                     "restore the file or remove the id from the split file", where[1], sid))
        return None
    try:
        hdr = _npy_header(path)
    except DatasetError as exc:
        emit(Problem(str(path), exc.problem, f"re-export the clip {drop}", None, sid))
        return None
    shape, dtype = hdr.shape, hdr.dtype
    if len(shape) != 2:
        emit(Problem(str(path), f"features have shape {shape}, expected (T, {spec.dim})",
                     f"re-export the clip {drop}", None, sid))
        return None
    if shape[1] != spec.dim:
        other = _KIND_BY_DIM.get(shape[1])
        emit(Problem(str(path), f"feature dimension {shape[1]}, expected {spec.dim} for {spec.name}"
                     + (f" (looks like {other})" if other else ""),
                     f"re-export it with the {spec.name} skeleton {drop}", None, sid))
        return None
    if dtype.kind != "f":
        emit(Problem(str(path), f"dtype {dtype} is not floating point", f"save float32 features {drop}", None, sid))
        return None
    n = shape[0]
    if not (min_len <= n <= max_len):
        emit(Problem(str(path), f"length {n} frames is outside {min_len}..{max_len} "
                     f"({spec.name} at {spec.fps:g} fps)",
                     "remove the id from the split file or open with min_len/max_len", None, sid))
        return None
    data = None
    if full:
        try:
            data = _read_checked(path, hdr)
        except DatasetError as exc:
            emit(Problem(str(path), exc.problem, f"re-export the clip {drop}", None, sid))
            return None
        bad = _first_bad_row(data)
        if bad is not None:
            emit(Problem(str(path), f"contains NaN/Inf (first at frame {bad})",
                         f"re-export the clip {drop}", None, sid))
            return None
        data = data.astype(np.float32, copy=False)
    return n, data


def _check_joints(lay: Layout, sid: str, n: int, emit, full: bool = False) -> bool:
    """Header checks of ``new_joints/<sid>.npy`` (shape ``(n, J, 3)``), and with ``full`` its values
    (NaN/inf); ``True`` when absent or fine."""
    path = lay.joints_path(sid)
    if path is None or not path.exists():
        return True
    j = lay.spec.skeleton.n_joints
    hint = "re-export or delete the joints file"
    try:
        hdr = _npy_header(path)
        if hdr.shape != (n, j, 3):
            emit(Problem(str(path), f"joints have shape {hdr.shape}, expected ({n}, {j}, 3) to match the features",
                         hint, None, sid))
            return False
        if full:
            bad = _first_bad_row(_read_checked(path, hdr))
            if bad is not None:
                emit(Problem(str(path), f"joints contain NaN/Inf (first at frame {bad})", hint, None, sid))
                return False
    except DatasetError as exc:
        emit(Problem(str(path), exc.problem, hint, None, sid))
        return False
    return True


# --------------------------------------------------------------------------- the dataset
class MotionTextDataset(Sequence):
    """A plain sequence of :class:`Sample` (``len``, indexing, iteration); no torch needed.

    Attributes: ``root``, ``kind``, ``split``, ``fps``, ``dim``, ``skeleton``, ``ids``, ``lengths``,
    ``mean``/``std`` (``None`` when absent or invalid), ``skipped`` (problems that made a sample drop
    out), ``problems`` (every problem, including dataset-level ones such as a bad ``Std.npy``).
    """

    def __init__(self, layout: Layout, split: str | None, ids: list[str], lengths: list[int],
                 texts: list[list[TextEntry]], data: list[np.ndarray] | None, mean, std,
                 problems: list[Problem], load_joints: bool):
        self._lay = layout
        self.root = layout.root
        self.kind = layout.spec.name
        self.fps = layout.spec.fps
        self.dim = layout.spec.dim
        self.skeleton = layout.spec.skeleton
        self.split = split
        self.ids = ids
        self.lengths = lengths
        self._texts = texts
        self._data = data
        self.mean = mean
        self.std = std
        self.problems = problems
        self.skipped = [p for p in problems if p.sample_id is not None]
        self.load_joints = load_joints
        self._index = {sid: i for i, sid in enumerate(ids)}

    @property
    def lazy(self) -> bool:
        return self._data is None

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return [self[i] for i in range(*idx.indices(len(self)))]
        if idx < 0:
            idx += len(self)
        if not 0 <= idx < len(self):
            raise IndexError(idx)
        sid = self.ids[idx]
        feats = self._data[idx] if self._data is not None else self._load(sid)
        joints = None
        if self.load_joints:
            jp = self._lay.joints_path(sid)
            if jp is not None and jp.exists():
                joints = _read_checked(jp, _npy_header(jp)).astype(np.float32, copy=False)
        return Sample(sid, feats, list(self._texts[idx]), joints, self.fps)

    def __iter__(self) -> Iterator[Sample]:
        for i in range(len(self)):
            yield self[i]

    def get(self, sample_id: str) -> Sample:
        return self[self._index[sample_id]]

    def texts(self, idx: int) -> list[TextEntry]:
        return list(self._texts[idx])

    def _load(self, sid: str) -> np.ndarray:
        path = self._lay.motion_path(sid)
        data = _read_checked(path, _npy_header(path))
        if not np.isfinite(data).all():
            raise DatasetError(path, "contains NaN/Inf", "run validate_dataset() and fix or remove the clip, "
                               "or open the dataset with lazy=False to skip such clips")
        return data.astype(np.float32, copy=False)

    def normalize(self, x: np.ndarray) -> np.ndarray:
        if self.mean is None:
            raise DatasetError(self.root, "no valid Mean.npy/Std.npy", "compute them with compute_mean_std")
        return (x - self.mean) / self.std

    def denormalize(self, x: np.ndarray) -> np.ndarray:
        if self.mean is None:
            raise DatasetError(self.root, "no valid Mean.npy/Std.npy", "compute them with compute_mean_std")
        return x * self.std + self.mean

    def report(self) -> Report:
        return Report(str(self.root), self.kind, len(self.ids) + len({p.sample_id for p in self.skipped}),
                      list(self.problems))

    def __repr__(self) -> str:
        return (f"MotionTextDataset({str(self.root)!r}, kind={self.kind!r}, split={self.split!r}, "
                f"{len(self)} samples, {len({p.sample_id for p in self.skipped})} skipped)")


def _make_emit(problems: list[Problem], strict: bool):
    def emit(p: Problem) -> None:
        if strict:
            raise p.error()
        problems.append(p)
    return emit


def _split_ids(lay: Layout, split: str | None, emit) -> tuple[list[tuple[str, int | None]], str]:
    """``([(id, line)], source path)`` for a split name, a split file path, or ``None`` (all files)."""
    if split is None:
        return [(sid, None) for sid in lay.all_motion_ids()], str(lay.motion_dir)
    split = os.fspath(split)
    path = Path(split)
    if not (split.endswith(".txt") or os.sep in split or "/" in split):
        path = lay.split_path(split)
        if not path.exists():
            have = [s for s in ("train", "val", "test", "all") if lay.split_path(s).exists()]
            if not have:
                # A bare folder of features (e.g. Motion-X without split files): use every motion file.
                warnings.warn(f"{lay.split_dir}: no split files; using every motion file in {lay.motion_dir}",
                              RuntimeWarning, stacklevel=3)
                return [(sid, None) for sid in lay.all_motion_ids()], str(lay.motion_dir)
            raise DatasetError(path, "split file not found",
                               f"choose one of {have}, pass a split file path, or split=None for every file")
    elif not path.exists():
        raise DatasetError(path, "split file not found", "check the path")
    return _read_split(path, emit), str(path)


def open_dataset(root: str | Path, kind: str = "auto", split: str | None = "train", *, lazy: bool = True,
                 strict: bool = False, min_len: int | None = None, max_len: int | None = None,
                 load_joints: bool = False) -> MotionTextDataset:
    """Open a HumanML3D, KIT-ML or Motion-X directory as a :class:`MotionTextDataset`.

    ``kind``: ``"auto"`` (from the folder names, ``dataset.json`` or the feature dimension),
    ``"humanml3d"``, ``"kit"`` or ``"motionx"``. ``split``: a split name (``train``/``val``/``test``/
    ``all``…), a path to a split file, or ``None`` for every motion file. ``min_len``/``max_len``
    (frames, inclusive) override the kind's defaults (HumanML3D 40..199, KIT 24..199 as the official loaders;
    Motion-X 40..300).

    With ``lazy=True`` (default) only the ``.npy`` headers and the texts are read here; features are
    loaded on access, and a NaN/Inf found then raises :class:`DatasetError` (run
    :func:`validate_dataset` first, or use ``lazy=False``, which loads everything and skips such clips).
    Bad samples are skipped and listed in ``.skipped``; ``strict=True`` raises on the first problem.
    """
    lay = resolve_layout(root, kind)
    problems: list[Problem] = []
    emit = _make_emit(problems, strict)
    lo = lay.spec.min_len if min_len is None else int(min_len)
    hi = lay.spec.max_len if max_len is None else int(max_len)
    mean, std = _check_mean_std(lay, emit)
    pairs, source = _split_ids(lay, split, emit)
    ids, lengths, texts, data = [], [], [], ([] if not lazy else None)
    for sid, line in pairs:
        got = _check_motion(lay, sid, (source, line), lo, hi, emit, full=not lazy)
        if got is None:
            continue
        n, arr = got
        entries = _read_texts(lay, sid, emit)
        if entries is None:
            continue
        if load_joints and not _check_joints(lay, sid, n, emit):
            continue
        ids.append(sid)
        lengths.append(n)
        texts.append(entries)
        if data is not None:
            data.append(arr)
    return MotionTextDataset(lay, split, ids, lengths, texts, data, mean, std, problems, load_joints)


def validate_dataset(root: str | Path, kind: str = "auto", splits: Sequence[str] | None = None, *,
                     min_len: int | None = None, max_len: int | None = None) -> Report:
    """Check a whole dataset directory and return a :class:`Report` (never raises for data problems).

    Checks ``Mean.npy``/``Std.npy``; every split file (default: those of train/val/test/all that exist,
    or every motion file when there are none) for duplicate ids, ids without a motion file and ids in
    two of train/val/test; and each sample once: feature shape and dimension, NaN/Inf (all values are
    read, one file at a time), length range, text file present, non-empty and well-formed (UTF-8, lines
    under 64 Ki characters), joints shape and NaN/Inf when ``new_joints/`` exists, and that ``dataset.json``
    (when present) is a readable JSON object. Ids that are not plain relative names (``../x``, absolute
    paths, backslashes, control characters, over 255 characters) are reported and never opened, so nothing
    outside ``root`` is read.
    """
    lay = resolve_layout(root, kind)
    report = Report(str(lay.root), lay.spec.name)
    emit = _make_emit(report.problems, False)
    lo = lay.spec.min_len if min_len is None else int(min_len)
    hi = lay.spec.max_len if max_len is None else int(max_len)
    _check_mean_std(lay, emit)
    try:
        read_dataset_json(lay.root)
    except DatasetError as exc:
        emit(Problem(exc.path, exc.problem, exc.hint))
    if splits is None:
        splits = [s for s in ("train", "val", "test", "all") if lay.split_path(s).exists()]
    todo: dict[str, tuple[str, int | None]] = {}
    member: dict[str, tuple[str, int]] = {}
    if not splits:
        for sid in lay.all_motion_ids():
            todo[sid] = (str(lay.motion_dir), None)
    for name in splits:
        pairs, source = _split_ids(lay, name, emit)
        for sid, line in pairs:
            todo.setdefault(sid, (source, line))
            if name in ("train", "val", "test"):
                if sid in member and member[sid][0] != source:
                    report.problems.append(Problem(source, f"id {sid!r} is also in {member[sid][0]} "
                                                   f"(line {member[sid][1]})",
                                                   "keep each id in one of train/val/test", line, sid))
                else:
                    member[sid] = (source, line)
    for sid, where in todo.items():
        got = _check_motion(lay, sid, where, lo, hi, emit, full=True)
        if got is not None:
            _check_joints(lay, sid, got[0], emit, full=True)
        if lay.motion_path(sid).exists():  # a dangling split id is one problem, not two
            _read_texts(lay, sid, emit)
    report.n_samples = len(todo)
    return report
