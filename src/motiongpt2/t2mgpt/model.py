"""The T2M-GPT text-to-motion transformer (Zhang et al., 2023) over a motion tokenizer's codes.

Sequence layout (``K`` codes, end id ``K``, pad id ``K + 1``)::

    position   0            1     2          n      n+1 …
    input      cond(text)   t_0   t_1   …    t_n-1  end   pad …      (block = max_tokens + 1)
    target     t_0          t_1   t_2   …    end    (ignored)

Position 0 holds the linearly projected sentence embedding; the other positions hold token
embeddings (``nn.Embedding(K + 2, W)``); learned positional embeddings are added; pre-LN causal
self-attention blocks (GELU MLP, dropout); a final LayerNorm and a linear head onto ``K + 1`` classes
(codes + end; pad is never predicted).  The loss (:func:`masked_token_loss`) is cross-entropy on the
``n`` motion tokens and the end token of each sequence only.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import GPTConfig

__all__ = ["T2MGPT", "masked_token_loss", "target_mask", "token_accuracy"]


class _Block(nn.Module):
    def __init__(self, width: int, n_heads: int, ff_mult: int, dropout: float):
        super().__init__()
        self.n_heads = n_heads
        self.ln1 = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.ln2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, ff_mult * width), nn.GELU(), nn.Linear(ff_mult * width, width))
        self.attn_drop = dropout
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, W = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(W, dim=-1)
        q, k, v = (t.view(B, T, self.n_heads, W // self.n_heads).transpose(1, 2) for t in (q, k, v))
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                           dropout_p=self.attn_drop if self.training else 0.0)
        x = x + self.drop(self.proj(a.transpose(1, 2).reshape(B, T, W)))
        return x + self.drop(self.mlp(self.ln2(x)))


class T2MGPT(nn.Module):
    """``forward(cond (B, text_dim), tokens (B, N) long) -> logits (B, N + 1, K + 1)``."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        if cfg.num_codes < 1:
            raise ValueError("GPTConfig.num_codes must be set (from the tokenizer)")
        self.cfg = cfg
        W = cfg.width
        self.cond_proj = nn.Linear(cfg.text_dim, W)
        self.tok_emb = nn.Embedding(cfg.num_codes + 2, W)
        self.pos_emb = nn.Parameter(torch.zeros(1, cfg.block_size, W))
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(_Block(W, cfg.n_heads, cfg.ff_mult, cfg.dropout) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(W)
        self.head = nn.Linear(W, cfg.num_codes + 1, bias=False)
        self.apply(self._init)
        nn.init.normal_(self.pos_emb, std=0.02)
        for blk in self.blocks:  # GPT-2 scaled init of the residual projections
            for lin in (blk.proj, blk.mlp[2]):
                nn.init.normal_(lin.weight, std=0.02 / math.sqrt(2 * cfg.n_layers))

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def forward(self, cond: torch.Tensor, tokens: torch.Tensor | None = None) -> torch.Tensor:
        h = self.cond_proj(cond)[:, None, :]
        if tokens is not None and tokens.shape[1] > 0:
            if tokens.shape[1] + 1 > self.cfg.block_size:
                raise ValueError(f"{tokens.shape[1]} tokens exceed max_tokens={self.cfg.max_tokens}")
            h = torch.cat([h, self.tok_emb(tokens)], dim=1)
        h = self.drop(h + self.pos_emb[:, : h.shape[1]])
        for blk in self.blocks:
            h = blk(h)
        return self.head(self.ln_f(h))


def target_mask(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """``(B, steps)`` bool: target ``j`` is valid iff ``j <= lengths[b]`` (the tokens and the end)."""
    return torch.arange(steps, device=lengths.device)[None, :] <= lengths[:, None]


def masked_token_loss(logits: torch.Tensor, targets: torch.Tensor, lengths: torch.Tensor,
                      reduction: str = "sample") -> torch.Tensor:
    """Cross-entropy over the valid targets (``lengths[b]`` tokens + the end token) only.

    ``logits`` ``(B, S, C)``, ``targets`` ``(B, S)`` (pad positions may hold any id, e.g. the pad id
    ``C``), ``lengths`` ``(B,)`` motion tokens per sequence.  ``"sample"``: mean over each sequence's
    valid targets, then over the batch (T2M-GPT); ``"token"``: mean over all valid targets.
    """
    B, S, C = logits.shape
    mask = target_mask(lengths, S)
    safe = torch.where(mask, targets, torch.zeros_like(targets))
    ce = F.cross_entropy(logits.reshape(B * S, C).float(), safe.reshape(-1), reduction="none").view(B, S)
    ce = ce * mask
    if reduction == "sample":
        return (ce.sum(1) / mask.sum(1)).mean()
    if reduction == "token":
        return ce.sum() / mask.sum()
    raise ValueError(f"unknown reduction {reduction!r}")


def token_accuracy(logits: torch.Tensor, targets: torch.Tensor, lengths: torch.Tensor) -> tuple[int, int]:
    """``(correct, total)`` argmax predictions over the valid targets."""
    mask = target_mask(lengths, logits.shape[1])
    hit = (logits.argmax(-1) == targets) & mask
    return int(hit.sum()), int(mask.sum())
