"""Token and text data of the T2M-GPT baseline, computed once and cached.

**Tokens.**  Every clip of a split is encoded once with the frozen tokenizer (whole clip, normalised
with the tokenizer's own mean/std, cropped to a multiple of its unit) and cached in
``<cache_dir>/tokens_<split>_<tokenizer hash>.npz`` (the hash is the SHA-256 of the checkpoint's
``model.safetensors``; a fingerprint of the clip ids, lengths and dataset root is stored inside, and a
mismatch re-encodes).

**Items** (as T2M-GPT's ``dataset_TM_train``): one item per clip holding its whole-clip captions, and
one item per caption with a time range (``start#end`` in the text file) holding the token sub-range
``[floor(start·fps/u), floor(end·fps/u))``.  A training sample draws an item, one of its captions,
and (with ``drop_edge_prob``) drops the first or last token; sequences longer than ``max_tokens`` get
a random ``max_tokens`` window.

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

from ...atomic import atomic_savez
from ...errors import DatasetError, InputFileError
from ...tokenizer.data import mix_seed

__all__ = [
    "Batch",
    "TextBank",
    "TextEncoderLike",
    "TokenSet",
    "encode_features",
    "encode_split",
    "load_text_bank",
    "make_batch",
    "tokenizer_hash",
    "val_batches",
]


class TextEncoderLike(Protocol):
    dim: int

    def encode(self, sentences: Sequence[str]) -> np.ndarray: ...


def _sha_file(path: Path, n: int = 16) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:n]


def tokenizer_hash(step_dir: str | Path) -> str:
    """First 16 hex digits of the SHA-256 of the checkpoint's ``model.safetensors``."""
    return _sha_file(Path(step_dir) / "model.safetensors")


def encode_features(tokenizer, arrays: Sequence[np.ndarray], batch_size: int = 64,
                    device: str | torch.device = "cpu") -> list[np.ndarray]:
    """Token ids ``(floor(T/u),)`` int64 of raw ``(T, D)`` feature arrays (normalised by the tokenizer)."""
    if getattr(tokenizer, "num_codes", None) is None or not hasattr(tokenizer, "encode"):
        raise TypeError("need a MotionVQVAE-like tokenizer")
    if type(tokenizer).__name__ == "PartAwareVQVAE":
        raise NotImplementedError("the T2M-GPT baseline supports single-codebook tokenizers (kind: vqvae)")
    u = tokenizer.unit
    out: list[np.ndarray | None] = [None] * len(arrays)
    order = sorted(range(len(arrays)), key=lambda i: len(arrays[i]))
    for s in range(0, len(order), batch_size):
        idx = order[s: s + batch_size]
        lens = [len(arrays[i]) for i in idx]
        if min(lens) < u:
            raise ValueError(f"a clip of {min(lens)} frames is shorter than one token ({u} frames)")
        T = max(lens)
        x = torch.zeros(len(idx), T, arrays[idx[0]].shape[1])
        for b, i in enumerate(idx):
            x[b, : lens[b]] = torch.from_numpy(np.asarray(arrays[i], np.float32))
        x = tokenizer.normalize(x.to(device))
        ids, n_tok = tokenizer.encode(x, torch.tensor(lens, device=device))
        ids, n_tok = ids.cpu().numpy(), n_tok.cpu().numpy()
        for b, i in enumerate(idx):
            out[i] = ids[b, : n_tok[b]].astype(np.int64)
    return out  # type: ignore[return-value]


@dataclass
class TokenSet:
    """Tokens of one split and its items.

    Attributes:
        ids, frames: clip ids and frame counts.
        tokens: per clip, int64 token ids.
        items: ``(clip index, token start, token stop)`` per item; ``item_captions[k]`` its captions.
        split, tokenizer_hash, cache_path: provenance.
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
    h = hashlib.sha256(str(root.resolve()).encode())
    for i, n in zip(ids, lengths):
        h.update(f"{i}:{int(n)};".encode())
    return h.hexdigest()[:16]


def encode_split(data_root: str | Path, split: str, tokenizer, tok_hash: str, cache_dir: str | Path | None,
                 max_tokens: int | None = None, batch_size: int = 64, device="cpu",
                 progress: bool = False) -> TokenSet:
    """Encode (or load from the cache) every clip of ``split`` and build its items."""
    from ...data.readers import open_dataset

    root = Path(data_root).expanduser()
    ds = open_dataset(root, "auto", split, lazy=True)
    if len(ds) == 0:
        raise DatasetError(root, f"split {split!r} has no usable clips", "run `motiongpt2 validate` on the dataset")
    if ds.dim != tokenizer.input_dim:
        raise DatasetError(root, f"has {ds.dim}-d features but the tokenizer expects {tokenizer.input_dim}",
                           "use a tokenizer trained on this kind of data")
    fp = _fingerprint(root, ds.ids, ds.lengths)
    cache = Path(cache_dir) / f"tokens_{split}_{tok_hash}.npz" if cache_dir is not None else None
    tokens: list[np.ndarray] | None = None
    if cache is not None and cache.exists():
        try:
            z = np.load(cache, allow_pickle=False)
            if str(z["fingerprint"]) == fp and str(z["tokenizer_hash"]) == tok_hash:
                flat, offs = z["tokens"], z["offsets"]
                tokens = [flat[offs[i]: offs[i + 1]].astype(np.int64) for i in range(len(offs) - 1)]
        except (OSError, KeyError, ValueError):
            tokens = None
    if tokens is None:
        arrays = []
        it = range(len(ds))
        if progress:
            from tqdm import tqdm
            it = tqdm(it, desc=f"load {split}", unit="clip", leave=False)
        for i in it:
            arrays.append(ds[i].features)
        tokens = encode_features(tokenizer, arrays, batch_size=batch_size, device=device)
        del arrays
        if cache is not None:
            offs = np.zeros(len(tokens) + 1, np.int64)
            offs[1:] = np.cumsum([len(t) for t in tokens])
            flat = np.concatenate(tokens) if tokens else np.zeros(0, np.int64)
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
        ci, a, b = data.items[it]
        cs = data.item_captions[it]
        caps.append(cs[int(rng.integers(len(cs)))])
        s = data.tokens[ci][a:b]
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
            ci, a, b = data.items[it]
            seqs.append(data.tokens[ci][a:b][:max_tokens])
        out.append(_pack(seqs, bank.get([c for _, c in chunk]), num_codes, max_tokens))
    return out


def check_tokens(data: TokenSet, num_codes: int) -> None:
    for t in data.tokens:
        if len(t) and (t.min() < 0 or t.max() >= num_codes):
            raise InputFileError(data.cache_path or "<tokens>", "token ids outside the codebook",
                                 "delete the token cache")
