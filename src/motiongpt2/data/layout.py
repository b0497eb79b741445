"""Write a dataset directory in the HumanML3D layout, and the official mean/std recipe.

Layout (the same for HumanML3D, KIT-ML and our whole-body datasets)::

    <root>/
      new_joint_vecs/<id>.npy   (T, D) float32 features, D = 263 | 251 | 623
      new_joints/<id>.npy       (T, J, 3) float32 joint positions (same T as the features)
      texts/<id>.txt            one "caption#word/POS ...#start#end" line per annotation
      train.txt val.txt test.txt all.txt   one id per line
      Mean.npy Std.npy          (D,) float32 normalisation statistics
      dataset.json              free-form metadata (sources, counts, licences, command)

Every file is written atomically: to a temporary file in the same folder, then renamed, so an
interrupted run never leaves a half-written clip behind.
"""
from __future__ import annotations

import json
import re
import unicodedata
import warnings
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from motiongpt2.data.text import TextEntry, format_text_line, tag_captions
from motiongpt2.atomic import atomic_save_npy, atomic_write_text  # noqa: F401 (re-exported)
from motiongpt2.motion.skeleton import Skeleton, skeleton_for_dim

FEATURES_DIR = "new_joint_vecs"
JOINTS_DIR = "new_joints"
TEXTS_DIR = "texts"
SPLIT_NAMES = ("train", "val", "test", "all")
MEAN_FILE = "Mean.npy"
STD_FILE = "Std.npy"
META_FILE = "dataset.json"


# --------------------------------------------------------------------------- clips and splits
def _check_id(clip_id: str) -> str:
    clip_id = str(clip_id)
    parts = clip_id.split("/")
    if (not clip_id or clip_id != clip_id.strip() or any(c in clip_id for c in " \t\n#\\")
            or clip_id.startswith("/") or any(p in ("", ".", "..") for p in parts)):
        raise ValueError(f"clip id {clip_id!r} must be a non-empty relative name without spaces, '#', '\\' or '..'")
    return clip_id


#: Longest clip id :func:`safe_id` makes (characters, before a de-duplicating suffix).
MAX_ID_CHARS = 120
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_.\-]+")


def safe_id(name: str) -> str:
    """A clip id from any file name: accents dropped (``é`` → ``e``), every run of characters other than
    ASCII letters, digits, ``_``, ``.`` and ``-`` → ``_`` (so ``my walk``, ``walk#1``, ``a\\b``, ``a/b``
    all become plain names), no leading ``.``/``-``/``_``, at most :data:`MAX_ID_CHARS` characters;
    ``"clip"`` when nothing is left."""
    text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode("ascii")
    text = _UNSAFE_ID.sub("_", text).lstrip("._-").rstrip(".")[:MAX_ID_CHARS].rstrip(".")
    return text or "clip"


def unique_ids(names: Sequence[str], reserved_prefix: str = "M") -> list[str]:
    """:func:`safe_id` of each name, made distinct by ``_2``, ``_3``… suffixes in order of appearance.

    With ``reserved_prefix`` (mirrored copies are written as ``"M" + id``) an id never equals another one
    with the prefix added (``walk`` and ``Mwalk`` cannot both be used). Case-insensitive, so the ids stay
    distinct on case-insensitive file systems."""
    taken: set[str] = set()
    out = []
    for name in names:
        base = safe_id(name)
        cand, k = base, 1
        while cand.lower() in taken or (reserved_prefix + cand).lower() in taken:
            k += 1
            cand = f"{base}_{k}"
        taken.add(cand.lower())
        if reserved_prefix:
            taken.add((reserved_prefix + cand).lower())
        out.append(cand)
    return out


def _coerce_entries(entries: Iterable[TextEntry | str]) -> list[TextEntry]:
    entries = list(entries)
    raw = [i for i, e in enumerate(entries) if isinstance(e, str)]
    if raw:
        tagged = tag_captions([entries[i] for i in raw])
        for i, toks in zip(raw, tagged):
            entries[i] = TextEntry(entries[i].strip(), toks, 0.0, 0.0)
    for e in entries:
        if not isinstance(e, TextEntry):
            raise TypeError(f"text entries must be TextEntry or str, not {type(e).__name__}")
    return entries  # type: ignore[return-value]


def write_clip(root: str | Path, clip_id: str, features: np.ndarray, joints: np.ndarray | None = None,
               text_entries: Iterable[TextEntry | str] = ()) -> None:
    """Write one clip: features, optional joints and its text file (each file atomically).

    ``features`` is ``(T, D)`` with ``D`` in 263/251/623 and finite values; ``joints``, when given, is
    ``(T, J, 3)`` with the same ``T`` and the ``J`` of the skeleton of ``D``. Plain strings in
    ``text_entries`` are tagged with :func:`~motiongpt2.data.text.tag_captions` (whole clip).
    Raises ``ValueError`` on inconsistent input (a bug in the caller, not a user-file problem).
    """
    root = Path(root)
    clip_id = _check_id(clip_id)
    feats = np.asarray(features)
    if feats.ndim != 2:
        raise ValueError(f"{clip_id}: features must be (T, D), got shape {feats.shape}")
    skel = skeleton_for_dim(feats.shape[1])
    if feats.shape[0] == 0 or not np.isfinite(feats).all():
        raise ValueError(f"{clip_id}: features are empty or contain NaN/Inf")
    if joints is not None:
        jnt = np.asarray(joints)
        if jnt.shape != (feats.shape[0], skel.n_joints, 3):
            raise ValueError(f"{clip_id}: joints must be {(feats.shape[0], skel.n_joints, 3)} "
                             f"to match features {feats.shape}, got {jnt.shape}")
        if not np.isfinite(jnt).all():
            raise ValueError(f"{clip_id}: joints contain NaN/Inf")
    entries = _coerce_entries(text_entries)
    lines = [e.to_line() for e in entries]
    atomic_save_npy(root / FEATURES_DIR / f"{clip_id}.npy", feats.astype(np.float32, copy=False))
    if joints is not None:
        atomic_save_npy(root / JOINTS_DIR / f"{clip_id}.npy", jnt.astype(np.float32, copy=False))
    atomic_write_text(root / TEXTS_DIR / f"{clip_id}.txt", "".join(line + "\n" for line in lines))


def write_texts(root: str | Path, clip_id: str, entries: Iterable[TextEntry | str]) -> None:
    """Write (replace) ``texts/<clip_id>.txt`` atomically; plain strings are tagged (whole clip)."""
    lines = [format_text_line(e.caption, e.tokens, e.start, e.end) for e in _coerce_entries(entries)]
    atomic_write_text(Path(root) / TEXTS_DIR / f"{_check_id(clip_id)}.txt", "".join(s + "\n" for s in lines))


write_text_file = write_texts


def write_splits(root: str | Path, splits: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Write ``<name>.txt`` for each split (one id per line); ``all.txt`` too when not given.

    ``all`` defaults to the union of the other splits in sorted order. Raises ``ValueError`` when an
    id is repeated within a split or appears in two of train/val/test (data leakage).
    """
    root = Path(root)
    out: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    for name, ids in splits.items():
        if not name or "/" in name or name.endswith(".txt"):
            raise ValueError(f"split name {name!r} must be a plain name such as 'train'")
        ids = [_check_id(i) for i in ids]
        if len(set(ids)) != len(ids):
            dup = sorted({i for i in ids if ids.count(i) > 1})[:5]
            raise ValueError(f"split {name!r} repeats ids {dup}")
        if name != "all":
            for i in ids:
                if i in seen and seen[i] != name:
                    raise ValueError(f"id {i!r} is in both split {seen[i]!r} and {name!r}")
                seen[i] = name
        out[name] = ids
    if "all" not in out:
        out["all"] = sorted(seen)
    for name, ids in out.items():
        atomic_write_text(root / f"{name}.txt", "".join(i + "\n" for i in ids))
    return out


def write_mean_std(root: str | Path, mean: np.ndarray, std: np.ndarray) -> None:
    mean = np.asarray(mean, dtype=np.float32)
    std = np.asarray(std, dtype=np.float32)
    if mean.ndim != 1 or mean.shape != std.shape:
        raise ValueError(f"mean {mean.shape} and std {std.shape} must be equal (D,) vectors")
    if not (np.isfinite(std).all() and (std > 0).all()):
        raise ValueError("std must be finite and > 0 everywhere")
    atomic_save_npy(Path(root) / MEAN_FILE, mean)
    atomic_save_npy(Path(root) / STD_FILE, std)


def write_dataset_json(root: str | Path, meta: Mapping) -> None:
    """Write ``dataset.json`` (free-form metadata: sources, counts, licences, command …)."""
    text = json.dumps(dict(meta), indent=2, sort_keys=True, ensure_ascii=False, default=str)
    atomic_write_text(Path(root) / META_FILE, text + "\n")


def read_dataset_json(root: str | Path) -> dict:
    """``dataset.json`` of ``root`` as a dict (``{}`` when there is none); one :class:`DatasetError` line
    when it is not a readable JSON object (not UTF-8, invalid, nested too deep, a list, over 256 MiB)."""
    from motiongpt2.errors import DatasetError

    path = Path(root) / META_FILE
    if not path.exists():
        return {}
    hint = "fix or delete dataset.json (prepare writes it again)"
    try:
        if path.stat().st_size > 256 * 2**20:
            raise DatasetError(path, "over 256 MiB", hint)
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as err:
        text = " ".join(str(err).split())[:120] if not isinstance(err, RecursionError) else "nested too deep"
        raise DatasetError(path, f"not a readable JSON file ({text})", hint) from None
    if not isinstance(data, dict):
        raise DatasetError(path, f"top level is a {type(data).__name__}, not an object", hint)
    return data


# --------------------------------------------------------------------------- mean / std
#: Names of the feature groups, in order (see ARCHITECTURE.md, "HumanML3D features").
GROUP_NAMES = ("root_rot_vel", "root_lin_vel", "root_y", "ric", "rot6d", "local_vel", "foot_contact")


def feature_groups(skeleton: Skeleton | int) -> list[tuple[str, slice]]:
    """``[(name, slice)]`` of the 7 feature groups of a skeleton (or of a feature dimension).

    For ``J`` joints: root rotation velocity ``[0:1]``, root linear velocity ``[1:3]``, root height
    ``[3:4]``, ric ``[4:4+3(J-1)]``, rot6d ``[.. +6(J-1)]``, local velocity ``[.. +3J]``, foot contacts
    (last 4).
    """
    skel = skeleton_for_dim(skeleton) if isinstance(skeleton, (int, np.integer)) else skeleton
    j = skel.n_joints
    bounds = [0, 1, 3, 4, 4 + 3 * (j - 1), 4 + 9 * (j - 1), 4 + 9 * (j - 1) + 3 * j, skel.feature_dim]
    return [(n, slice(a, b)) for n, a, b in zip(GROUP_NAMES, bounds[:-1], bounds[1:])]


class _Moments:
    """Streaming per-dimension mean and variance (Chan et al. parallel merge, float64)."""

    def __init__(self, dim: int):
        self.n = 0
        self.mean = np.zeros(dim, np.float64)
        self.m2 = np.zeros(dim, np.float64)

    def add(self, x: np.ndarray) -> None:
        x = np.asarray(x, dtype=np.float64)
        nb = x.shape[0]
        if nb == 0:
            return
        mb = x.mean(axis=0)
        m2b = ((x - mb) ** 2).sum(axis=0)
        n = self.n + nb
        delta = mb - self.mean
        self.mean += delta * (nb / n)
        self.m2 += m2b + delta ** 2 * (self.n * nb / n)
        self.n = n

    def std(self) -> np.ndarray:
        return np.sqrt(self.m2 / self.n)


def compute_mean_std(feature_arrays: Iterable[np.ndarray], skeleton: Skeleton | int | None = None, *,
                     scale: Mapping[str, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean and Std over all frames of all clips, with the official per-group averaged Std.

    Follows the HumanML3D ``cal_mean_variance`` notebook: ``Mean`` is the per-dimension mean over every
    frame; ``Std`` is the per-dimension (population) std, then replaced inside each of the 7 groups of
    :func:`feature_groups` by the group average divided by the group's scale (``1.0`` for every group
    in the official notebook, which reproduces the published ``Std.npy``). ``scale`` overrides some
    groups, e.g. ``{"foot_contact": 5.0}`` for the ``feat_bias`` variants of other repositories.

    Streaming: ``feature_arrays`` may be a generator; only running sums are kept. Every array must be
    ``(T, D)`` with the same ``D`` and finite values (``ValueError`` naming the array index otherwise).
    A group whose Std is 0 (constant over the data) gets Std 1.0 with a warning.
    """
    moments: _Moments | None = None
    dim = None
    for i, arr in enumerate(feature_arrays):
        arr = np.asarray(arr)
        if arr.ndim != 2 or (dim is not None and arr.shape[1] != dim):
            raise ValueError(f"feature array #{i} has shape {arr.shape}, expected (T, {dim or 'D'})")
        if not np.isfinite(arr).all():
            raise ValueError(f"feature array #{i} contains NaN/Inf; remove or fix that clip first")
        if moments is None:
            dim = arr.shape[1]
            moments = _Moments(dim)
        moments.add(arr)
    if moments is None or moments.n == 0:
        raise ValueError("no frames to compute mean/std from")
    if skeleton is None:
        skeleton = dim
    groups = feature_groups(skeleton)
    if groups[-1][1].stop != dim:
        raise ValueError(f"features have {dim} dims but the skeleton expects {groups[-1][1].stop}")
    scale = dict(scale or {})
    unknown = set(scale) - set(GROUP_NAMES)
    if unknown:
        raise ValueError(f"unknown group names {sorted(unknown)}; choose from {GROUP_NAMES}")
    raw = moments.std()
    std = np.empty(dim, np.float64)
    for name, sl in groups:
        val = raw[sl].mean() / float(scale.get(name, 1.0))
        if not val > 0:
            warnings.warn(f"feature group {name!r} is constant over the data (std 0); using std 1.0",
                          RuntimeWarning, stacklevel=2)
            val = 1.0
        std[sl] = val
    return moments.mean.astype(np.float32), std.astype(np.float32)
