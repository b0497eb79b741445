"""Token cache: every clip of a dataset split encoded once with a frozen tokenizer.

Used by every model that trains on motion tokens (the T2M-GPT baseline, the language model).

**Tokens.**  Each clip is encoded whole (normalised with the tokenizer's own mean/std, cropped to a
multiple of its unit) through the tokenizer interface (``encode(x, lengths) -> (streams,
token_lengths)``, see :mod:`motiongpt2.tokenizer`), so a clip of ``T`` frames gives an int64 array
``(T // unit, S)`` with one column per token stream (``S = len(tokenizer.codebook_sizes)``: 1 for the
VQ-VAE, 2 — body, hand — for the Part-Aware VQ-VAE).  The arrays are cached in
``<cache_dir>/tokens_<split>_<tokenizer hash>.npz``; the hash is
:func:`~motiongpt2.runs.weights_hash` of the checkpoint, and a fingerprint of the clip ids, lengths,
dataset root and cache version is stored inside: a mismatch re-encodes.

**Items** (as T2M-GPT's ``dataset_TM_train``): one item per clip holding its whole-clip captions, and
one item per caption with a time range (``start#end`` in the text file) holding the token sub-range
``[floor(start·fps/u), floor(end·fps/u))``.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_savez
from ..errors import DatasetError, InputFileError

__all__ = ["TokenSet", "check_tokens", "decode_tokens", "encode_features", "encode_split"]

#: Bumped when the cache layout changes (old files are then re-encoded).
CACHE_VERSION = 2


def encode_features(tokenizer, arrays: Sequence[np.ndarray], batch_size: int = 64,
                    device: str | torch.device = "cpu") -> list[np.ndarray]:
    """Token ids ``(floor(T/u), S)`` int64 of raw ``(T, D)`` feature arrays (normalised by the tokenizer).

    Clips are batched by length; ``S`` is the number of token streams of the tokenizer.
    """
    if not hasattr(tokenizer, "codebook_sizes") or not hasattr(tokenizer, "encode"):
        raise TypeError("need a tokenizer (codebook_sizes, encode; see motiongpt2.tokenizer)")
    u = tokenizer.unit
    out: list[np.ndarray | None] = [None] * len(arrays)
    order = sorted(range(len(arrays)), key=lambda i: len(arrays[i]))
    for s in range(0, len(order), batch_size):
        idx = order[s: s + batch_size]
        lens = [len(arrays[i]) for i in idx]
        if min(lens) < u:
            raise ValueError(f"a clip of {min(lens)} frames is shorter than one token ({u} frames)")
        x = torch.zeros(len(idx), max(lens), arrays[idx[0]].shape[1])
        for b, i in enumerate(idx):
            x[b, : lens[b]] = torch.from_numpy(np.asarray(arrays[i], np.float32))
        x = tokenizer.normalize(x.to(device))
        streams, n_tok = tokenizer.encode(x, torch.tensor(lens, device=device))
        ids = torch.stack(streams, dim=-1).cpu().numpy()            # (B, N, S)
        n_tok = n_tok.cpu().numpy()
        for b, i in enumerate(idx):
            out[i] = ids[b, : n_tok[b]].astype(np.int64)
    return out  # type: ignore[return-value]


@torch.no_grad()
def decode_tokens(tokenizer, tokens_list: Sequence[np.ndarray], batch_size: int = 64,
                  device: str | torch.device = "cpu") -> list[np.ndarray]:
    """Raw (de-normalised) float32 features ``(N·u, D)`` of token arrays ``(N, S)`` (or ``(N,)`` for one
    stream), decoded in batches; an empty array gives ``(0, D)``. The inverse of :func:`encode_features`."""
    n_streams = len(tokenizer.codebook_sizes)
    dim = int(tokenizer.mean.numel()) if hasattr(tokenizer, "mean") else None
    arrays = [np.asarray(t, np.int64).reshape(-1, n_streams) for t in tokens_list]
    out: list[np.ndarray | None] = [None] * len(arrays)
    idx = [i for i, t in enumerate(arrays) if len(t)]
    for s in range(0, len(idx), max(int(batch_size), 1)):
        chunk = idx[s: s + batch_size]
        n = torch.tensor([len(arrays[i]) for i in chunk], device=device)
        ids = torch.full((len(chunk), int(n.max()), n_streams), -1, dtype=torch.long, device=device)
        for b, i in enumerate(chunk):
            ids[b, : len(arrays[i])] = torch.from_numpy(arrays[i])
        feats = tokenizer.denormalize(tokenizer.decode(tuple(ids[..., k] for k in range(n_streams)), n))
        feats = feats.float().cpu().numpy()
        dim = feats.shape[-1]
        for b, i in enumerate(chunk):
            out[i] = feats[b, : int(n[b]) * tokenizer.unit].copy()
    return [np.zeros((0, dim or 0), np.float32) if o is None else o for o in out]


@dataclass
class TokenSet:
    """Tokens of one split and its items.

    Attributes:
        ids, frames: clip ids and frame counts.
        tokens: per clip, int64 token ids ``(n_tokens, n_streams)``.
        items: ``(clip index, token start, token stop)`` per item; ``item_captions[k]`` its captions.
        split, tokenizer_hash, cache_path: provenance.  unit: frames per token.
    """

    ids: list[str]
    frames: np.ndarray
    tokens: list[np.ndarray]
    items: np.ndarray
    item_captions: list[list[str]]
    split: str
    tokenizer_hash: str
    cache_path: Path | None
    unit: int

    def __len__(self) -> int:
        return len(self.items)

    def captions(self) -> list[str]:
        return sorted({c for caps in self.item_captions for c in caps})

    def describe(self) -> str:
        n_tok = sum(len(t) for t in self.tokens)
        return (f"{len(self.ids)} clips, {len(self.items)} items, {sum(len(c) for c in self.item_captions)} "
                f"captions, {n_tok} tokens")


def _fingerprint(root: Path, ids: Sequence[str], lengths: Sequence[int]) -> str:
    h = hashlib.sha256(f"v{CACHE_VERSION}:{root.resolve()}".encode())
    for i, n in zip(ids, lengths):
        h.update(f"{i}:{int(n)};".encode())
    return h.hexdigest()[:16]


def _read_cache(cache: Path, fp: str, tok_hash: str) -> list[np.ndarray] | None:
    try:
        z = np.load(cache, allow_pickle=False)
        if str(z["fingerprint"]) != fp or str(z["tokenizer_hash"]) != tok_hash:
            return None
        flat, offs = z["tokens"], z["offsets"]
        return [flat[offs[i]: offs[i + 1]].astype(np.int64) for i in range(len(offs) - 1)]
    except (OSError, KeyError, ValueError):
        return None


def encode_split(data_root: str | Path, split: str, tokenizer, tok_hash: str, cache_dir: str | Path | None,
                 batch_size: int = 64, device="cpu", progress: bool = False) -> TokenSet:
    """Encode (or load from the cache) every clip of ``split`` and build its items."""
    from ..data.readers import open_dataset

    root = Path(data_root).expanduser()
    ds = open_dataset(root, "auto", split, lazy=True)
    if len(ds) == 0:
        raise DatasetError(root, f"split {split!r} has no usable clips", "run `motiongpt2 validate` on the dataset")
    if ds.dim != tokenizer.input_dim:
        raise DatasetError(root, f"has {ds.dim}-d features but the tokenizer expects {tokenizer.input_dim}",
                           "use a tokenizer trained on this kind of data")
    fp = _fingerprint(root, ds.ids, ds.lengths)
    cache = Path(cache_dir) / f"tokens_{split}_{tok_hash}.npz" if cache_dir is not None else None
    tokens = _read_cache(cache, fp, tok_hash) if cache is not None and cache.exists() else None
    if tokens is None:
        it = range(len(ds))
        if progress:
            from tqdm import tqdm
            it = tqdm(it, desc=f"load {split}", unit="clip", leave=False)
        tokens = encode_features(tokenizer, [ds[i].features for i in it], batch_size=batch_size, device=device)
        if cache is not None:
            offs = np.zeros(len(tokens) + 1, np.int64)
            offs[1:] = np.cumsum([len(t) for t in tokens])
            n_streams = len(tokenizer.codebook_sizes)
            flat = np.concatenate(tokens) if tokens else np.zeros((0, n_streams), np.int64)
            atomic_savez(cache, tokens=flat.astype(np.int32), offsets=offs, ids=np.array(ds.ids),
                         frames=np.asarray(ds.lengths, np.int64), fingerprint=np.array(fp),
                         tokenizer_hash=np.array(tok_hash), split=np.array(split), root=np.array(str(root)))
    u = int(tokenizer.unit)
    fps = float(getattr(ds, "fps", 20.0) or 20.0)
    items, caps = [], []
    for ci in range(len(ds)):
        texts = ds.texts(ci)
        n = len(tokens[ci])
        whole = [e.caption for e in texts if not e.has_range and e.caption.strip()]
        if whole and n >= 1:
            items.append((ci, 0, n))
            caps.append(whole)
        for e in texts:
            if e.has_range and e.caption.strip():
                a, b = int(e.start * fps / u), min(n, int(e.end * fps / u))
                if b - a >= 1:
                    items.append((ci, a, b))
                    caps.append([e.caption])
    if not items:
        raise DatasetError(root, f"split {split!r} has no captioned clips", "check the texts/ folder")
    return TokenSet(list(ds.ids), np.asarray(ds.lengths, np.int64), tokens, np.asarray(items, np.int64), caps,
                    split, tok_hash, cache, u)


def check_tokens(data: TokenSet, codebook_sizes: Sequence[int]) -> None:
    """Every id of stream ``k`` lies in ``[0, codebook_sizes[k])`` (else the cache is stale)."""
    limit = np.asarray(codebook_sizes, np.int64)
    for t in data.tokens:
        if len(t) and (t.shape[1] != len(limit) or t.min() < 0 or (t >= limit).any()):
            raise InputFileError(data.cache_path or "<tokens>", "token ids outside the codebook",
                                 "delete the token cache")
