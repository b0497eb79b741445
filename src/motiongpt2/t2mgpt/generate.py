"""Sampling from the T2M-GPT baseline and the generator the evaluation protocol calls.

:func:`sample_tokens` draws token sequences autoregressively as T2M-GPT does (``Categorical`` over
the softmax of the last position, temperature 1, no top-k by default), optionally with
``temperature`` / ``top_k``; a sequence stops when the end token is drawn.  Two departures, both
needed by the protocol: the end token is never drawn at the first step (an empty motion is not a
motion), and a sequence that reaches ``max_tokens`` stops there.  With ``lengths`` (tokens) the end
token is masked until the sequence has that many tokens and the sequence stops there (forced length).

Every sequence has its own ``torch.Generator`` seeded from ``(seed, index)``, so the result for a
given seed is reproducible and does not depend on the batch composition (up to float rounding of
batched matmuls).

:class:`T2MGPTGenerator` implements the protocol's ``Generator`` interface
(``generate(task, texts, conditions, rng)``) for ``t2m`` and — ignoring the pose conditions, as the
retrieval baseline does — ``t2m-init`` / ``t2m-last`` / ``t2m-key``; the length hint is ignored by
default (T2M-GPT decides the length itself; ``use_length_hint=True`` forces it).  It also offers
``generate_t2m(captions, lengths, seed)`` for direct use.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import runs
from ..tokenizer.data import mix_seed
from ..tokenizer.tokens import decode_tokens
from .checkpoint import load_t2mgpt
from .model import T2MGPT

__all__ = ["T2MGPTGenerator", "load_generator", "sample_tokens"]


@torch.no_grad()
def sample_tokens(model: T2MGPT, cond: torch.Tensor, seed: int, *, lengths: Sequence[int] | None = None,
                  temperature: float = 1.0, top_k: int | None = None, greedy: bool = False,
                  seed_offset: int = 0) -> list[list[int]]:
    """Token id lists (without the end token) for ``cond`` ``(B, text_dim)``.

    ``lengths``: forced token counts (clipped to ``[1, max_tokens]``) or ``None``.
    ``seed_offset``: index of the first row in a larger request (so chunks draw as one batch would).
    """
    model.eval()
    cfg = model.cfg
    dev = cond.device
    B = cond.shape[0]
    K, end = cfg.num_codes, cfg.end_id
    forced = None
    if lengths is not None:
        forced = torch.tensor([min(max(int(n), 1), cfg.max_tokens) for n in lengths], device=dev)
    gens = [torch.Generator().manual_seed(mix_seed(seed, 7, seed_offset + i)) for i in range(B)]
    seqs = torch.zeros(B, 0, dtype=torch.long, device=dev)
    done = torch.zeros(B, dtype=torch.bool, device=dev)
    n_tok = torch.zeros(B, dtype=torch.long, device=dev)
    for t in range(cfg.max_tokens):
        logits = model(cond, seqs)[:, -1, :].float()
        if t == 0:
            logits[:, end] = float("-inf")
        if forced is not None:
            logits[:, end] = torch.where(t < forced, torch.full_like(logits[:, end], float("-inf")), logits[:, end])
            logits[:, :K] = torch.where((t >= forced)[:, None], torch.full_like(logits[:, :K], float("-inf")),
                                        logits[:, :K])
        if greedy:
            nxt = logits.argmax(-1)
        else:
            logits = logits / max(float(temperature), 1e-6)
            if top_k is not None and 0 < top_k < logits.shape[-1]:
                kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            probs = torch.softmax(logits, dim=-1).double().cpu()
            cdf = probs.cumsum(-1)
            u = torch.stack([torch.rand(1, generator=g, dtype=torch.float64) for g in gens]) * cdf[:, -1:]
            nxt = torch.searchsorted(cdf, u, right=True).squeeze(1)
            last = (probs > 0).long().cumsum(-1).argmax(-1)   # last class with non-zero probability
            nxt = torch.minimum(nxt, last).to(dev)
        nxt = torch.where(done, torch.full_like(nxt, end), nxt)
        stop = nxt == end
        n_tok = n_tok + (~done & ~stop).long()
        done = done | stop
        if bool(done.all()):
            break
        seqs = torch.cat([seqs, torch.where(done, torch.zeros_like(nxt), nxt)[:, None]], dim=1)
    return [seqs[b, : int(n_tok[b])].tolist() for b in range(B)]


class T2MGPTGenerator:
    """A trained T2M-GPT baseline + its tokenizer + sentence encoder, as a protocol ``Generator``.

    Args:
        model: the trained :class:`T2MGPT`.  tokenizer: the frozen ``MotionVQVAE`` it was trained on.
        text_encoder: object with ``encode(list[str]) -> (N, text_dim)`` (the one used in training).
        temperature, top_k: sampling settings (T2M-GPT: 1.0, None).
        use_length_hint: force the protocol's ``length`` condition (frames → ``length // unit`` tokens).
        batch_size: sequences sampled together.
    """

    deterministic = False

    def __init__(self, model: T2MGPT, tokenizer, text_encoder, *, temperature: float = 1.0, top_k: int | None = None,
                 use_length_hint: bool = False, batch_size: int = 128, device: str | torch.device = "cpu",
                 name: str = "T2M-GPT (baseline)"):
        self.model = model.eval().to(device)
        self.tokenizer = tokenizer.eval().to(device)
        if tuple(self.tokenizer.codebook_sizes) != (model.cfg.num_codes,):
            raise ValueError(f"tokenizer has codebooks {tuple(self.tokenizer.codebook_sizes)}, the GPT one of "
                             f"{model.cfg.num_codes} codes")
        self.text_encoder = text_encoder
        self.temperature, self.top_k = float(temperature), top_k
        self.use_length_hint = use_length_hint
        self.batch_size = int(batch_size)
        self.device = torch.device(device)
        self.name = name
        self.unit = int(self.tokenizer.unit)

    # ------------------------------------------------------------------ direct API
    @torch.no_grad()
    def generate_tokens(self, captions: Sequence[str], lengths: Sequence[int] | None = None, seed: int = 0
                        ) -> list[list[int]]:
        """Token lists for ``captions``; ``lengths`` in frames (forced) or ``None``."""
        emb = torch.from_numpy(np.asarray(self.text_encoder.encode(list(captions)), np.float32)).to(self.device)
        out: list[list[int]] = []
        for s in range(0, len(captions), self.batch_size):
            ln = None if lengths is None else [max(1, int(n) // self.unit) for n in lengths[s: s + self.batch_size]]
            out += sample_tokens(self.model, emb[s: s + self.batch_size], seed, lengths=ln,
                                 temperature=self.temperature, top_k=self.top_k, seed_offset=s)
        return out

    @torch.no_grad()
    def decode(self, token_lists: Sequence[Sequence[int]]) -> list[np.ndarray]:
        """Raw (denormalised) ``(len·unit, D)`` features of token lists."""
        return decode_tokens(self.tokenizer, token_lists, batch_size=self.batch_size, device=self.device)

    def generate_t2m(self, captions: Sequence[str], lengths: Sequence[int] | None = None, seed: int = 0
                     ) -> list[np.ndarray]:
        """Raw ``(T, D)`` features for each caption (``lengths`` in frames: forced; ``None``: free)."""
        return self.decode(self.generate_tokens(captions, lengths, seed))

    # ------------------------------------------------------------------ protocol API
    def generate(self, task: str, texts: Sequence[Any] | None, conditions: Sequence[dict] | None,
                 rng: np.random.Generator | None = None) -> list:
        if task not in ("t2m", "t2m-init", "t2m-last", "t2m-key"):
            raise NotImplementedError(f"the T2M-GPT baseline does not do task {task!r} (only t2m and its "
                                      "pose-conditioned variants, whose poses it ignores)")
        caps = [_caption(t) for t in texts]
        lengths = None
        if self.use_length_hint and conditions is not None:
            lengths = [int(c["length"]) for c in conditions]
        seed = int(rng.integers(0, 2 ** 62)) if rng is not None else 0
        return self.generate_t2m(caps, lengths, seed)


def _caption(t) -> str:
    if isinstance(t, str):
        return t
    if hasattr(t, "caption"):
        return t.caption
    return " ".join(x if isinstance(x, str) else x[0] for x in t)


def load_generator(run_or_step: str | Path, which: str = "best", tokenizer_ckpt: str | Path | None = None,
                   text_encoder=None, device: str = "cpu", **kwargs) -> T2MGPTGenerator:
    """A :class:`T2MGPTGenerator` from a ``train_t2mgpt`` run.

    The tokenizer is the step directory recorded in the checkpoint (or ``tokenizer_ckpt``); its weights
    must hash to the recorded value.  The sentence encoder is the config's (or ``text_encoder``).
    """
    from ..errors import InputFileError
    from .train import load_tokenizer, text_encoder_for

    ck = load_t2mgpt(run_or_step, which, map_location=device)
    dep = runs.dependency(ck.meta, "tokenizer")
    tok_path = tokenizer_ckpt or dep.get("path")
    if tok_path is None:
        raise InputFileError(ck.path, "records no tokenizer", "pass tokenizer_ckpt")
    tok, tok_dir, h = load_tokenizer(tok_path, "best", device=device)
    if h != dep.get("hash"):
        raise InputFileError(tok_dir, f"tokenizer weights ({h}) differ from those the GPT was trained on "
                             f"({dep.get('hash')})", "pass the tokenizer step directory used in training")
    if text_encoder is None:
        text_encoder, key = text_encoder_for(ck.config.model.text_encoder)
        if ck.meta.get("text_encoder") not in (None, key):
            import warnings

            warnings.warn(f"{ck.path} was trained with text encoder {ck.meta.get('text_encoder')!r}, generating "
                          f"with {key!r}; pass text_encoder= to choose", RuntimeWarning, stacklevel=2)
    gen = T2MGPTGenerator(ck.model, tok, text_encoder, device=device, **kwargs)
    gen.checkpoint = ck
    return gen
