"""Text data and batches of the T2M-GPT baseline.

**Tokens and items** come from the tokenizer's token cache (:mod:`motiongpt2.tokenizer.tokens`); the
baseline uses single-stream tokenizers, so an item's tokens are column 0 of its clip's ``(n, 1)``
array.  A training sample draws an item, one of its captions, and (with ``drop_edge_prob``) drops the
first or last token; sequences longer than ``max_tokens`` get a random ``max_tokens`` window.

**Text.**  Captions are embedded once with a frozen sentence encoder (all-MiniLM-L6-v2, mean pooling,
L2-normalised: :class:`~motiongpt2.eval.evaluator.SentenceEncoder`) and cached in
``<cache_dir>/text_<encoder hash>.npz`` (new captions are appended on the next use).

**Batches** (:func:`make_batch`) are a pure function of ``(seed, step)``, so a resumed run sees exactly
the batches of an uninterrupted one.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from ..atomic import atomic_savez
from ..tokenizer.data import mix_seed
from ..tokenizer.tokens import TokenSet

__all__ = [
    "Batch",
    "TextBank",
    "TextEncoderLike",
    "item_tokens",
    "load_text_bank",
    "make_batch",
    "val_batches",
]


class TextEncoderLike(Protocol):
    dim: int

    def encode(self, sentences: Sequence[str]) -> np.ndarray: ...


# --------------------------------------------------------------------------- text
@dataclass
class TextBank:
    """Caption → row of ``emb`` ``(N, text_dim)`` float32."""

    index: dict[str, int]
    emb: np.ndarray

    def get(self, captions: Sequence[str]) -> np.ndarray:
        return self.emb[[self.index[c] for c in captions]]


def load_text_bank(captions: Sequence[str], encoder: TextEncoderLike, encoder_key: str,
                   cache_dir: str | Path | None) -> TextBank:
    """Embeddings of ``captions`` from the cache (computing and adding the missing ones)."""
    key = hashlib.sha256(encoder_key.encode()).hexdigest()[:12]
    cache = Path(cache_dir) / f"text_{key}.npz" if cache_dir is not None else None
    known: list[str] = []
    emb = np.zeros((0, encoder.dim), np.float32)
    if cache is not None and cache.exists():
        try:
            z = np.load(cache, allow_pickle=False)
            if str(z["encoder"]) == encoder_key:
                known, emb = [str(c) for c in z["captions"]], z["emb"].astype(np.float32)
        except (OSError, KeyError, ValueError):
            known, emb = [], np.zeros((0, encoder.dim), np.float32)
    index = {c: i for i, c in enumerate(known)}
    todo = sorted({c for c in captions if c not in index})
    if todo:
        new = np.asarray(encoder.encode(todo), np.float32).reshape(len(todo), encoder.dim)
        for c in todo:
            index[c] = len(known)
            known.append(c)
        emb = np.concatenate([emb, new]) if len(emb) else new
        if cache is not None:
            atomic_savez(cache, captions=np.array(known), emb=emb, encoder=np.array(encoder_key))
    return TextBank(index, emb)


# --------------------------------------------------------------------------- batches
def item_tokens(data: TokenSet, item: int) -> np.ndarray:
    """Token ids ``(n,)`` of item ``item`` (its clip's single token stream, cut to the item's range)."""
    ci, a, b = data.items[item]
    return data.tokens[ci][a:b, 0]


@dataclass
class Batch:
    """``cond`` ``(B, text_dim)``; ``inputs`` ``(B, S)`` = tokens (corrupted) with end/pad;
    ``targets`` ``(B, S + 1)`` = tokens, end, pad…; ``lengths`` ``(B,)`` motion tokens."""

    cond: torch.Tensor
    inputs: torch.Tensor
    targets: torch.Tensor
    lengths: torch.Tensor


def _pack(seqs: list[np.ndarray], cond: np.ndarray, num_codes: int, max_tokens: int) -> Batch:
    end, pad = num_codes, num_codes + 1
    B = len(seqs)
    S = max_tokens
    tgt = np.full((B, S + 1), pad, np.int64)
    lengths = np.zeros(B, np.int64)
    for b, s in enumerate(seqs):
        tgt[b, : len(s)] = s
        tgt[b, len(s)] = end
        lengths[b] = len(s)
    return Batch(torch.from_numpy(np.ascontiguousarray(cond, np.float32)), torch.from_numpy(tgt[:, :S].copy()),
                 torch.from_numpy(tgt), torch.from_numpy(lengths))


def make_batch(data: TokenSet, bank: TextBank, step: int, batch_size: int, seed: int, num_codes: int,
               max_tokens: int, drop_edge_prob: float, tau_min: float, tau_max: float) -> Batch:
    """The training batch of global step ``step`` (a pure function of ``(seed, step)``).

    Items follow epoch permutations (each item once per epoch); then per sample: a random caption,
    a random ``max_tokens`` window of longer sequences, a head/tail token drop with
    ``drop_edge_prob``; finally ``τ ~ U(tau_min, tau_max)`` for the batch and each input motion token
    replaced by a uniform random code with probability ``τ`` (end/pad inputs untouched).
    """
    n = len(data.items)
    pos = np.arange(step * batch_size, (step + 1) * batch_size)
    epochs = pos // n
    picks = np.empty(batch_size, np.int64)
    for e in np.unique(epochs):
        perm = np.random.default_rng(mix_seed(seed, 0, int(e))).permutation(n)
        sel = epochs == e
        picks[sel] = perm[pos[sel] - e * n]
    rng = np.random.default_rng(mix_seed(seed, 1, step))
    seqs, caps = [], []
    for it in picks:
        cs = data.item_captions[it]
        caps.append(cs[int(rng.integers(len(cs)))])
        s = item_tokens(data, it)
        if len(s) > max_tokens:
            o = int(rng.integers(len(s) - max_tokens + 1))
            s = s[o: o + max_tokens]
        if len(s) > 1 and rng.random() < drop_edge_prob:
            s = s[:-1] if rng.random() < 0.5 else s[1:]
        seqs.append(s)
    batch = _pack(seqs, bank.get(caps), num_codes, max_tokens)
    tau = float(rng.uniform(tau_min, tau_max)) if tau_max > tau_min else float(tau_min)
    if tau > 0:
        x = batch.inputs.numpy()
        real = x < num_codes
        hit = (rng.random(x.shape) < tau) & real
        x[hit] = rng.integers(0, num_codes, size=int(hit.sum()))
    return batch


def val_batches(data: TokenSet, bank: TextBank, batch_size: int, num_codes: int, max_tokens: int,
                max_pairs: int | None = None) -> list[Batch]:
    """Every (item, caption) pair once (first ``max_tokens`` tokens), no corruption, fixed order."""
    pairs = [(it, c) for it in range(len(data.items)) for c in data.item_captions[it]]
    if max_pairs is not None and len(pairs) > max_pairs:
        keep = np.random.default_rng(0).choice(len(pairs), max_pairs, replace=False)
        pairs = [pairs[i] for i in sorted(keep)]
    out = []
    for s in range(0, len(pairs), batch_size):
        chunk = pairs[s: s + batch_size]
        seqs = []
        for it, _ in chunk:
            seqs.append(item_tokens(data, it)[:max_tokens])
        out.append(_pack(seqs, bank.get([c for _, c in chunk]), num_codes, max_tokens))
    return out
