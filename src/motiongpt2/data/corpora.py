"""Which corpus each clip of a prepared dataset comes from (for corpus-balanced sampling).

A merged dataset such as ``real-body`` holds clips of several corpora (CMU with HumanML3D captions,
Bandai-Namco, ...) in very different amounts.  ``prepare`` records each clip's corpus in
``dataset.json`` (``clips[id]["corpus"]``: the recipe that made it).  Datasets prepared before that
key existed, or by other tools, are labelled from the clip's recorded ``source`` path: the first
folder below the sources' common parent (``.../mocap/cmu/...`` → ``cmu``).  Clips without any
record get the dataset's folder name, so a plain HumanML3D folder is one corpus.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from .layout import read_dataset_json

__all__ = ["clip_records", "corpus_labels"]


def _source_path(source: str) -> str:
    """The file part of ``"<path>"`` or ``"<archive>:<member>"`` (a Windows drive colon is kept)."""
    cut = source.find(":", 2)
    return source if cut < 0 else source[:cut]


def _labels_from_sources(sources: dict[str, str]) -> dict[str, str]:
    """``{clip_id: label}`` from ``{clip_id: source path}``: first folder below the common parent."""
    dirs = {cid: os.path.dirname(_source_path(src)) for cid, src in sources.items()}
    if not dirs:
        return {}
    common = os.path.commonpath(list(dirs.values())) if len(set(dirs.values())) > 1 else None
    out = {}
    for cid, d in dirs.items():
        if common is None:
            out[cid] = os.path.basename(d) or d
        else:
            rel = os.path.relpath(d, common)
            out[cid] = rel.split(os.sep)[0] if rel != "." else os.path.basename(common)
    return out


def clip_records(root: str | Path) -> dict[str, dict]:
    """``dataset.json``'s per-clip records ``{clip_id: {...}}`` of the dataset at ``root`` (``{}`` when the
    file is absent, unreadable or holds no such mapping)."""
    try:
        clips = read_dataset_json(root).get("clips", {}) or {}
    except (OSError, ValueError, AttributeError):
        return {}
    return {cid: c for cid, c in clips.items() if isinstance(c, dict)} if isinstance(clips, dict) else {}


def corpus_labels(root: str | Path, ids: Sequence[str]) -> list[str]:
    """One corpus name per clip id of the prepared dataset at ``root`` (see the module docstring)."""
    clips = clip_records(root)
    default = Path(root).name
    named = {cid: str(c["corpus"]) for cid, c in clips.items() if c.get("corpus")}
    derived = _labels_from_sources({cid: str(c["source"]) for cid, c in clips.items()
                                    if "corpus" not in c and c.get("source")})
    return [named.get(i) or derived.get(i) or default for i in ids]
