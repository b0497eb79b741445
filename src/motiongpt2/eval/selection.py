"""Model selection of the evaluator trainer: R@3 on natural-language pairs, without leaking trials.

A language model is judged on natural sentences (:mod:`motiongpt2.data.caption_groups`), and captions
generated from labels make retrieval far easier, so the evaluator's best checkpoint is chosen on the
validation R@3 of the **natural** caption group, not of all validation pairs.  Prepared data hardly
has natural validation clips (the official HumanML3D split puts most captioned CMU ids in test:
``cmu-humanml3d`` val holds 1 natural clip of 42), so :func:`selection_split` builds the selection set
as follows.

1. The validation pairs are split by the caption group of their clip (``natural`` / ``label``).
2. With at least ``min_pairs`` (32, one R-Precision pool) natural validation pairs, those are the
   selection set and no training clip is held out.
3. Otherwise they are completed from the training split.  The natural training clips are grouped by
   source trial (:func:`trial_of`); the trials are sorted, shuffled with a fixed ``seed`` and the first
   ``max(1, round(fraction · n))`` (25 %) are held out — more, in the same order, while the selection
   set has fewer than ``min_pairs`` pairs, up to half of the trials.  *Every* training clip of a
   held-out trial (its mirrored ``M`` copies and its label-captioned clips included) leaves the
   training set, and its natural pairs join the selection set: a trial is never split between
   training and selection.
4. When there is no natural clip, or even half of the natural trials cannot fill ``min_pairs`` pairs,
   the selection falls back on all validation pairs (metric ``R@3``) and nothing is held out.

The selection metric is ``select_R@3`` (ties: the earliest step); :meth:`Selection.record` — the
metric name, the held-out trials and clip ids per dataset, the numbers of natural / label validation
pairs and of selection pairs — is written to ``metrics.jsonl`` and to every checkpoint's ``meta.json``.

**Trial of a clip**: ``dataset.json`` ``clips[id]["trial"]`` (CMU recipes), else ``["take"]``
(Bandai-Namco), else the id without a leading ``M`` (mirrored copy) and without a trailing ``_NN``
chunk suffix.  Trials are per dataset root.
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..data.caption_groups import CAPTION_GROUPS, NATURAL, caption_groups
from ..data.layout import read_dataset_json
from .pairs import Pair, PairSet

__all__ = ["SELECT_PREFIX", "Selection", "clip_id", "group_pairs", "selection_split", "subset", "trial_of"]

#: Prefix of the selection-set metrics (``select_R@3``).
SELECT_PREFIX = "select_"
_CHUNK = re.compile(r"_\d+$")


def clip_id(pair: Pair) -> str:
    """The clip a pair was cut from (``"000123#2"`` → ``"000123"``)."""
    return pair.id.split("#", 1)[0]


def trial_of(cid: str, meta: Mapping[str, Any] | None = None) -> str:
    """Source trial of clip ``cid`` (module docstring); ``meta`` is its ``dataset.json`` entry."""
    meta = meta or {}
    for key in ("trial", "take"):
        if meta.get(key):
            return str(meta[key])
    base = cid[1:] if cid.startswith("M") else cid
    return _CHUNK.sub("", base)


def subset(pairs: PairSet, keep: Iterable[Pair], split: str | None = None) -> PairSet:
    """``pairs`` restricted to ``keep`` (provenance kept, ``n_clips`` recounted, ``split`` relabelled)."""
    keep = list(keep)
    return dataclasses.replace(pairs, pairs=keep, n_clips=len({(p.dataset, clip_id(p)) for p in keep}),
                               split=split or pairs.split)


class _ClipInfo:
    """Caption group and trial of every clip of a :class:`PairSet`, from its roots' ``dataset.json``."""

    def __init__(self, pairs: PairSet):
        self.group: dict[tuple[str, str], str] = {}
        self.trial: dict[tuple[str, str], str] = {}
        for name, root in zip(pairs.datasets, pairs.roots):
            ids = sorted({clip_id(p) for p in pairs.pairs if p.dataset == name})
            try:
                clips = read_dataset_json(Path(root)).get("clips", {}) or {}
            except (OSError, ValueError):
                clips = {}
            for cid, group in zip(ids, caption_groups(root, ids)):
                self.group[name, cid] = group
                self.trial[name, cid] = trial_of(cid, clips.get(cid) if isinstance(clips, dict) else None)

    def group_of(self, p: Pair) -> str:
        return self.group[p.dataset, clip_id(p)]

    def trial_of(self, p: Pair) -> tuple[str, str]:
        """``(dataset, trial)``: trials are per dataset."""
        return p.dataset, self.trial[p.dataset, clip_id(p)]


def group_pairs(pairs: PairSet) -> dict[str, PairSet]:
    """``{"natural": ..., "label": ...}``: the pairs of each caption group (empty groups included)."""
    info = _ClipInfo(pairs)
    return {g: subset(pairs, (p for p in pairs.pairs if info.group_of(p) == g)) for g in CAPTION_GROUPS}


@dataclass
class Selection:
    """The outcome of :func:`selection_split`.

    Attributes:
        train: the training pairs (held-out trials removed).
        pairs: the selection set (natural val pairs + natural pairs of the held-out trials).
        metric: ``"select_R@3"``, or ``"R@3"`` (all validation pairs) in the fallback.
        held_out: ``{dataset: [clip ids]}`` removed from training.
        held_out_trials: ``{dataset: [trials]}``.
        n_val_pairs: validation pairs per caption group.
        n_natural_train_trials: natural training trials before holding out.
        note: how the set was built (one line).
    """

    train: PairSet
    pairs: PairSet
    metric: str
    held_out: dict[str, list[str]] = field(default_factory=dict)
    held_out_trials: dict[str, list[str]] = field(default_factory=dict)
    n_val_pairs: dict[str, int] = field(default_factory=dict)
    n_natural_train_trials: int = 0
    note: str = ""

    def record(self) -> dict[str, Any]:
        """What a run records about its model selection (JSON-ready)."""
        return {"metric": self.metric, "n_selection_pairs": len(self.pairs),
                "n_val_natural_pairs": self.n_val_pairs.get(NATURAL, 0),
                "n_val_label_pairs": sum(n for g, n in self.n_val_pairs.items() if g != NATURAL),
                "n_natural_train_trials": self.n_natural_train_trials,
                "n_held_out_trials": sum(len(v) for v in self.held_out_trials.values()),
                "n_held_out_clips": sum(len(v) for v in self.held_out.values()),
                "held_out_trials": self.held_out_trials, "held_out_ids": self.held_out, "note": self.note}


def selection_split(train: PairSet, val: PairSet, *, min_pairs: int = 32, fraction: float = 0.25,
                    seed: int = 0) -> Selection:
    """Build the selection set and the training set without its trials (module docstring).

    Args:
        train, val: the pairs of the training and validation splits (:func:`~.pairs.load_pairs`).
        min_pairs: the smallest usable selection set (one R-Precision pool).
        fraction: share of the natural training trials held out first.
        seed: the trial shuffle.
    """
    val_groups = group_pairs(val)
    n_val = {g: len(ps) for g, ps in val_groups.items()}
    natural_val = val_groups[NATURAL]
    info = _ClipInfo(train)
    natural: dict[tuple[str, str], list[Pair]] = {}
    for p in train.pairs:
        if info.group_of(p) == NATURAL:
            natural.setdefault(info.trial_of(p), []).append(p)
    natural_trials = sorted(natural)
    base = dict(n_val_pairs=n_val, n_natural_train_trials=len(natural_trials))
    if len(natural_val) >= min_pairs:
        return Selection(train, natural_val, SELECT_PREFIX + "R@3", note="natural validation pairs", **base)
    order = [natural_trials[i] for i in np.random.default_rng(seed).permutation(len(natural_trials))]
    k = max(1, round(fraction * len(order))) if order else 0
    n_sel = len(natural_val) + sum(len(natural[t]) for t in order[:k])
    while n_sel < min_pairs and k < len(order) // 2:
        n_sel += len(natural[order[k]])
        k += 1
    if not order or n_sel < min_pairs:
        why = "no natural clips" if not order else f"only {n_sel} natural pairs within half of the trials"
        return Selection(train, val, "R@3", note=f"{why}: selected on all validation pairs", **base)
    held = set(order[:k])
    keep = [p for p in train.pairs if info.trial_of(p) not in held]
    extra = [p for t in sorted(held) for p in natural[t]]
    ids: dict[str, set[str]] = {}
    for p in train.pairs:
        if info.trial_of(p) in held:
            ids.setdefault(p.dataset, set()).add(clip_id(p))
    trial_names: dict[str, list[str]] = {}
    for name, trial in sorted(held):
        trial_names.setdefault(name, []).append(trial)
    return Selection(subset(train, keep), subset(val, list(natural_val.pairs) + extra, "selection"), SELECT_PREFIX + "R@3",
                     {n: sorted(v) for n, v in ids.items()}, trial_names,
                     note=f"{len(natural_val)} natural validation pairs + {len(extra)} natural pairs of {k} of "
                          f"{len(order)} natural training trials (seed {seed}), held out of training",
                     **base)
