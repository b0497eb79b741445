"""Reference captions of the captioning metrics: the argument type and its normalisation.

Shared by :mod:`.caption_metrics` (BLEU, ROUGE-L, CIDEr-D) and :mod:`.bertscore`, which therefore do
not import each other at module level.
"""
from __future__ import annotations

from collections.abc import Sequence

__all__ = ["RefsLike", "normalize_refs"]

#: ``N`` references, each a caption or a list of captions of the same motion.
RefsLike = Sequence[str | Sequence[str]]


def normalize_refs(cands: Sequence[str], refs: RefsLike) -> list[list[str]]:
    """Refs as ``N`` non-empty lists of strings (a bare string becomes a one-element list)."""
    if isinstance(cands, str) or isinstance(refs, str):
        raise TypeError("cands and refs must be sequences of captions, not a single string")
    if len(cands) != len(refs):
        raise ValueError(f"{len(cands)} candidates but {len(refs)} reference sets")
    out = []
    for r in refs:
        rs = [r] if isinstance(r, str) else list(r)
        if not rs:
            raise ValueError("every candidate needs at least one reference")
        out.append(rs)
    return out
