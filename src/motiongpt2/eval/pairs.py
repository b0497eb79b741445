"""Text–motion pairs as the official evaluation loader builds them, and its random crop.

The official ``Text2MotionDatasetV2`` (used to train the evaluator and in every evaluation) turns a clip
into

* one sample with the whole motion and all its whole-clip captions (``0.0#0.0``), when it has any;
* one sample per caption with a time range, holding only that range (frames
  ``[int(start*fps), int(end*fps))``) when the range is long enough.

Each time a sample is drawn, one caption is chosen at random and the motion is cut with
:func:`official_crop`: a length rounded down to a multiple of ``unit_length`` (4), one unit shorter with
probability 1/3, at a random offset.

Every pair carries the caption group of its clip (``natural`` or ``label``, from the dataset's
``dataset.json``; see :mod:`motiongpt2.data.caption_groups`), so that evaluations can report the two apart.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from motiongpt2.data.caption_groups import NATURAL, caption_groups
from motiongpt2.data.text import TextEntry

from ..errors import DatasetError

__all__ = ["Pair", "PairSet", "crop_window", "load_pairs", "official_crop", "resolve_split_file"]


@dataclass
class Pair:
    """One evaluation sample: raw ``(T, D)`` features and the captions that describe all of it.

    ``group`` is the caption group of the clip (``natural`` / ``label``, :mod:`~motiongpt2.data.caption_groups`).
    """

    id: str
    features: np.ndarray
    texts: list[TextEntry]
    dataset: str = ""
    group: str = NATURAL

    @property
    def length(self) -> int:
        return int(self.features.shape[0])


@dataclass
class PairSet:
    """Pairs read from one or several dataset roots, with where they came from."""

    pairs: list[Pair]
    roots: list[str]
    split: str                      # label derived from the split files actually read
    split_files: list[str]
    kinds: list[str]
    fps: float
    dim: int
    n_clips: int = 0
    datasets: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.pairs)


def resolve_split_file(root: str | Path, split: str, kind: str = "auto") -> Path:
    """The split file that :func:`~motiongpt2.data.readers.open_dataset` reads for ``split`` (a name or
    a path), with symbolic links resolved."""
    from motiongpt2.data.readers import resolve_layout

    split = os.fspath(split)
    if split.endswith(".txt") or "/" in split or os.sep in split:
        path = Path(split)
    else:
        path = resolve_layout(root, kind).split_path(split)
    if not path.exists():
        raise DatasetError(path, "split file not found", "check the dataset root and split name")
    return Path(os.path.realpath(path))


def _dataset_name(root: Path) -> str:
    try:
        import json

        meta = json.loads((root / "dataset.json").read_text(encoding="utf-8"))
        return str(meta.get("name") or root.name)
    except (OSError, ValueError):
        return root.name


def load_pairs(roots: str | Path | Sequence[str | Path], split: str = "train", kind: str = "auto",
               min_len: int | None = None, max_len: int | None = None) -> PairSet:
    """All pairs of ``split`` over ``roots`` (features loaded into memory).

    The returned label ``split`` is the stem of the split file that was actually read (after resolving
    symbolic links), so a ``test.txt`` that points at ``val.txt`` is labelled ``val``.
    """
    from motiongpt2.data.readers import KINDS, open_dataset

    if isinstance(roots, (str, Path)):
        roots = [roots]
    pairs: list[Pair] = []
    files, kinds, labels, names = [], [], set(), []
    fps = dim = None
    n_clips = 0
    for root in roots:
        root = Path(root).expanduser()
        sfile = resolve_split_file(root, split, kind)
        ds = open_dataset(root, kind=kind, split=str(sfile), lazy=False, min_len=min_len, max_len=max_len)
        spec_lo = KINDS[ds.kind].min_len if min_len is None else int(min_len)
        spec_hi = KINDS[ds.kind].max_len if max_len is None else int(max_len)
        if fps is None:
            fps, dim = ds.fps, ds.dim
        elif (ds.fps, ds.dim) != (fps, dim):
            raise DatasetError(root, f"{ds.kind} data ({ds.dim}-d, {ds.fps:g} fps) cannot be mixed with "
                               f"{dim}-d, {fps:g} fps data", "evaluate one kind of dataset at a time")
        name = _dataset_name(root)
        names.append(name)
        files.append(str(sfile))
        kinds.append(ds.kind)
        labels.add(sfile.stem)
        first, clip_ids = len(pairs), []
        for sample in ds:
            n_clips += 1
            whole = [e for e in sample.texts if not e.has_range]
            if whole:
                pairs.append(Pair(sample.id, sample.features, whole, name))
                clip_ids.append(sample.id)
            for j, e in enumerate(t for t in sample.texts if t.has_range):
                a, b = e.frame_range(ds.fps)
                seg = sample.features[a:b]
                if spec_lo <= len(seg) <= spec_hi:
                    pairs.append(Pair(f"{sample.id}#{j}", seg, [e], name))
                    clip_ids.append(sample.id)
        for p, g in zip(pairs[first:], caption_groups(root, clip_ids)):
            p.group = g
    label = labels.pop() if len(labels) == 1 else "+".join(sorted(labels))
    return PairSet(pairs, [str(Path(r).expanduser()) for r in roots], label, files, kinds, float(fps), int(dim),
                   n_clips, names)


def crop_window(n: int, rng: np.random.Generator, unit_length: int = 4) -> tuple[int, int]:
    """``(start, length)`` of the official evaluation crop of an ``n``-frame motion: ``(n // u) * u``
    frames, or one unit fewer with probability 1/3, at a uniformly random offset."""
    double = rng.integers(3) == 2  # np.random.choice(['single', 'single', 'double'])
    m = (n // unit_length - (1 if double else 0)) * unit_length
    if m < unit_length:
        m = (n // unit_length) * unit_length
    start = int(rng.integers(0, n - m + 1))
    return start, int(m)


def official_crop(features: np.ndarray, rng: np.random.Generator, unit_length: int = 4) -> np.ndarray:
    """``features`` cut by :func:`crop_window`."""
    start, m = crop_window(len(features), rng, unit_length)
    return features[start:start + m]
