"""Which kind of text captions each clip: natural sentences written by people, or generated from labels.

A language model is judged on natural language; a corpus whose captions are generated from a few labels
(Bandai-Namco content × style, CMU database one-liners put into a template) makes text-motion retrieval
far easier than real sentences do, so every evaluation reports the two groups apart.

Caption sources (``Caption.source`` of the recipes) and their group:

* ``natural`` — ``humanml3d/*`` (HumanML3D annotators), ``kitml`` (KIT-ML annotators), ``user``
  (captions a user supplied to ``prepare custom``);
* ``label`` — ``bandai-labels`` (content × style templates), ``cmu-description`` (the CMU database's
  trial description in a template).

``prepare`` records each clip's group in ``dataset.json`` (``clips[id]["caption_group"]``).  Datasets
prepared before that key existed are labelled from their corpus / ``captions`` meta; a folder without
``dataset.json`` (an official HumanML3D or KIT-ML download) is all ``natural``.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from .corpora import clip_records

__all__ = ["CAPTION_GROUPS", "NATURAL", "LABEL", "caption_group_of_sources", "caption_groups"]

NATURAL, LABEL = "natural", "label"
#: Group names in the order tables show them.
CAPTION_GROUPS = (NATURAL, LABEL)

_LABEL_SOURCES = ("bandai-labels", "cmu-description")
_LABEL_CORPORA = ("bandai-namco",)


def caption_group_of_sources(sources: Iterable[str]) -> str:
    """``natural`` when every caption source is written by people, else ``label``.

    A clip with no captions is ``label`` (it cannot count as natural language).
    """
    sources = [str(s) for s in sources]
    if not sources:
        return LABEL
    return LABEL if any(s in _LABEL_SOURCES or s.startswith("label") for s in sources) else NATURAL


def _group_from_meta(meta: dict) -> str | None:
    if meta.get("caption_group") in CAPTION_GROUPS:
        return meta["caption_group"]
    if meta.get("corpus") in _LABEL_CORPORA:
        return LABEL
    kind = meta.get("captions")  # cmu-humanml3d recipe: "humanml3d", or the trial-text source
    if kind is not None:
        return NATURAL if kind in ("humanml3d", "kitml") else LABEL
    return None


def caption_groups(root: str | Path, ids: Sequence[str]) -> list[str]:
    """One caption group (:data:`NATURAL` or :data:`LABEL`) per clip id of the dataset at ``root``."""
    clips = clip_records(root)
    out = []
    for cid in ids:
        meta = clips.get(cid)
        group = _group_from_meta(meta) if meta is not None else None
        out.append(group or (NATURAL if not clips else LABEL))
    return out
