"""EMA vector quantizer with dead-code reset (T2M-GPT ``QuantizeEMAReset`` semantics, masked).

The codebook ``B = {b_1..b_K}`` (``K = num_codes`` vectors of size ``C = dim``) is *not* trained by
gradients.  Each training step (``module.training``), after the nearest-code lookup

    p_t = argmin_k ||z_t - b_k||²                         (paper Eq. 2)

the quantizer updates exponential moving averages over the *valid* (unpadded) time steps only::

    n_k   = #{t : p_t = k}                                 (assignments in this batch)
    s_k   = Σ_{t : p_t = k} z_t                            (sum of the assigned encoder outputs)
    N_k  <- γ·N_k + (1-γ)·n_k                              (``ema_count``, γ = ``decay``)
    S_k  <- γ·S_k + (1-γ)·s_k                              (``ema_sum``)
    N̂_k  = (N_k + ε) / (Σ_j N_j + K·ε) · Σ_j N_j           (Laplace smoothing, ε = ``eps``)
    b_k  <- S_k / N̂_k

then every code whose EMA count is below ``reset_threshold`` ("dead") is replaced by a randomly
chosen valid encoder output of the current batch ``v``; its statistics restart as
``N_k = reset_threshold`` (at least ``eps``) and ``S_k = N_k·v`` so ``b_k = v``.  A reset code that
is used at least ``reset_threshold`` times on average stays alive; one that is not gets re-drawn at
the next step (the T2M-GPT behaviour, whose threshold is 1.0).

The EMA replaces the codebook term ``||sg[E(m)] - e||²`` of the paper's Eq. 3; the commitment term
is returned as ``β · mean_{valid t, c} (z_{c,t} - sg[b_{p_t}]_c)²`` (``F.mse_loss`` convention of
T2M-GPT, β = 0.02), and the straight-through estimator ``z + sg(q - z)`` passes the decoder's
gradient unchanged to the encoder.

The codebook is initialised from the first training batch: ``K`` valid encoder outputs drawn without
replacement (the batch is tiled when it has fewer than ``K`` valid vectors), ``N_k = 1``,
``S_k = b_k``.  All state (``codebook``, ``ema_count``, ``ema_sum``, ``initialized``) lives in
buffers and is part of ``state_dict``.

Distances and EMA statistics are computed in float32 whatever the input dtype.  Under
``torch.distributed`` the batch statistics are all-reduced and the initial / reset vectors are
broadcast from rank 0, so every rank keeps the same codebook.
"""
from __future__ import annotations

import math
import warnings

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

__all__ = ["EMAQuantizer"]


def _dist_on() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


class EMAQuantizer(nn.Module):
    """Nearest-neighbour vector quantizer with an EMA codebook and dead-code reset.

    Args:
        num_codes: codebook size ``K``.
        dim: code dimension ``C`` (the encoder's output channels).
        decay: EMA decay ``γ`` of counts and sums.
        beta: weight ``β`` of the commitment loss.
        reset_threshold: codes whose EMA count ``N_k`` falls below this are reset to batch vectors;
            ``0`` disables resets.  T2M-GPT uses 1.0 (a code must be chosen about once per batch).
        eps: Laplace-smoothing constant ``ε``.

    Buffers:
        codebook ``(K, C)`` float32, ema_count ``(K,)`` float32, ema_sum ``(K, C)`` float32,
        initialized ``()`` bool.
    """

    def __init__(self, num_codes: int = 512, dim: int = 512, decay: float = 0.99, beta: float = 0.02,
                 reset_threshold: float = 1.0, eps: float = 1e-5):
        super().__init__()
        if num_codes < 1 or dim < 1:
            raise ValueError(f"num_codes and dim must be positive, got {num_codes} and {dim}")
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {decay}")
        self.num_codes = int(num_codes)
        self.dim = int(dim)
        self.decay = float(decay)
        self.beta = float(beta)
        self.reset_threshold = float(reset_threshold)
        self.eps = float(eps)
        self.register_buffer("codebook", torch.zeros(num_codes, dim))
        self.register_buffer("ema_count", torch.ones(num_codes))
        self.register_buffer("ema_sum", torch.zeros(num_codes, dim))
        self.register_buffer("initialized", torch.tensor(False))

    def extra_repr(self) -> str:
        return (f"num_codes={self.num_codes}, dim={self.dim}, decay={self.decay}, beta={self.beta}, "
                f"reset_threshold={self.reset_threshold}")

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _flatten(x: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, C, T)`` → ``(B·T, C)`` float32 vectors and a ``(B·T,)`` bool validity mask."""
        b, c, t = x.shape
        flat = x.permute(0, 2, 1).reshape(b * t, c).float()
        if mask is None:
            valid = torch.ones(b * t, dtype=torch.bool, device=x.device)
        else:
            if mask.shape != (b, t):
                raise ValueError(f"mask shape {tuple(mask.shape)} does not match (B, T') = {(b, t)}")
            valid = mask.reshape(b * t).to(torch.bool)
        return flat, valid

    def _nearest(self, flat: torch.Tensor) -> torch.Tensor:
        """``(N, C)`` float32 → ``(N,)`` long index of the nearest code (squared L2 via one matmul)."""
        cb = self.codebook
        with torch.autocast(flat.device.type, enabled=False):  # float32 even under bf16 autocast
            flat = flat.float()
            dist2 = (flat.pow(2).sum(1, keepdim=True) - 2.0 * flat @ cb.t()
                     + cb.pow(2).sum(1)[None, :])
        return dist2.argmin(dim=1)

    def _random_rows(self, vectors: torch.Tensor, n: int) -> torch.Tensor:
        """``n`` rows of ``vectors`` ``(M, C)``, without replacement when ``M >= n`` (tiled otherwise)."""
        m = vectors.shape[0]
        if m < n:
            vectors = vectors.repeat(math.ceil(n / m), 1)
            m = vectors.shape[0]
        idx = torch.randperm(m, device=vectors.device)[:n]
        out = vectors[idx].contiguous()
        if _dist_on():
            dist.broadcast(out, src=0)
        return out

    # ------------------------------------------------------------------ public
    @torch.no_grad()
    def init_codebook(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> None:
        """Initialise the codebook from valid vectors of ``x`` ``(B, C, T')`` (``mask`` ``(B, T')``)."""
        flat, valid = self._flatten(x, mask)
        vecs = flat[valid]
        if vecs.shape[0] == 0:
            raise ValueError("cannot initialise the codebook from a batch without valid time steps")
        codes = self._random_rows(vecs, self.num_codes)
        self.codebook.copy_(codes)
        self.ema_sum.copy_(codes)
        self.ema_count.fill_(1.0)
        self.initialized.fill_(True)

    @torch.no_grad()
    def quantize(self, x: torch.Tensor) -> torch.Tensor:
        """Code ids of ``x`` ``(B, C, T')`` → ``(B, T')`` long.  No state is changed.

        Warns when the codebook was never initialised (an untrained tokenizer maps everything to 0).
        """
        if not bool(self.initialized):
            warnings.warn("EMAQuantizer.quantize called on a codebook that was never initialised "
                          "(untrained tokenizer?)", RuntimeWarning, stacklevel=2)
        b, _, t = x.shape
        flat, _ = self._flatten(x, None)
        return self._nearest(flat).view(b, t)

    def dequantize(self, ids: torch.Tensor) -> torch.Tensor:
        """Code vectors of ``ids`` ``(B, T')`` long → ``(B, C, T')`` float32.

        Raises:
            ValueError: an id outside ``[0, num_codes)``, naming the id and the codebook size.
        """
        ids = ids.long()
        if ids.numel():
            lo, hi = int(ids.min()), int(ids.max())
            if lo < 0 or hi >= self.num_codes:
                bad = lo if lo < 0 else hi
                raise ValueError(f"token id {bad} is outside the codebook of size {self.num_codes} "
                                 f"(valid ids are 0..{self.num_codes - 1})")
        return F.embedding(ids, self.codebook).permute(0, 2, 1)

    @torch.no_grad()
    def _update(self, flat: torch.Tensor, valid: torch.Tensor, ids: torch.Tensor) -> int:
        """EMA update of counts, sums and codebook from valid vectors; returns the number of resets."""
        onehot = F.one_hot(ids, self.num_codes).float() * valid[:, None].float()   # (N, K)
        n_k = onehot.sum(0)                                                         # (K,)
        with torch.autocast(flat.device.type, enabled=False):  # EMA statistics in float32
            s_k = onehot.t() @ flat.float()                                         # (K, C)
        if _dist_on():
            dist.all_reduce(n_k)
            dist.all_reduce(s_k)
        g = self.decay
        self.ema_count.mul_(g).add_(n_k, alpha=1.0 - g)
        self.ema_sum.mul_(g).add_(s_k, alpha=1.0 - g)
        total = self.ema_count.sum()
        smoothed = (self.ema_count + self.eps) / (total + self.num_codes * self.eps) * total
        self.codebook.copy_(self.ema_sum / smoothed[:, None])

        dead = self.ema_count < self.reset_threshold
        n_dead = int(dead.sum())
        vecs = flat[valid]
        if n_dead and vecs.shape[0]:
            new = self._random_rows(vecs, n_dead)
            start = max(self.reset_threshold, self.eps)
            self.codebook[dead] = new
            self.ema_count[dead] = start
            self.ema_sum[dead] = new * start
        return n_dead

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """Quantize encoder outputs.

        Args:
            x: ``(B, C, T')`` float encoder outputs.
            mask: ``(B, T')`` bool, ``True`` at valid (unpadded) steps; ``None`` = all valid.
                Padded steps get an id and a code vector (so shapes stay rectangular) but they do not
                update the codebook, do not count in usage / perplexity and do not enter the loss.

        Returns:
            ``(quantized, ids, loss, stats)``: quantized ``(B, C, T')`` float32 with the
            straight-through gradient to ``x``; ids ``(B, T')`` long; loss the scalar commitment loss
            ``β·mean((x - sg(q))²)`` over valid steps and channels (0 when there are none); stats a
            dict of detached scalar tensors: ``perplexity`` (exp of the entropy of this batch's code
            histogram; equals ``K`` for uniform usage), ``usage`` (fraction of codes chosen at least
            once in this batch), ``active`` (fraction of codes whose EMA count is ≥ the threshold,
            measured after this step's EMA update and before its resets) and ``resets`` (number
            of codes reset in this step; 0 in eval mode).

        In training mode the first call initialises the codebook and every call updates it; in eval
        mode nothing is changed.
        """
        if x.dim() != 3 or x.shape[1] != self.dim:
            raise ValueError(f"expected (B, {self.dim}, T') encoder outputs, got {tuple(x.shape)}")
        b, c, t = x.shape
        flat, valid = self._flatten(x, mask)
        if self.training and not bool(self.initialized):
            self.init_codebook(x, mask)
        with torch.no_grad():
            ids = self._nearest(flat)
        q = F.embedding(ids, self.codebook)                                  # (N, C) before update
        n_valid = valid.sum()

        hist = torch.bincount(ids[valid], minlength=self.num_codes).float()
        probs = hist / hist.sum().clamp_min(1.0)
        perplexity = torch.exp(-(probs * torch.log(probs.clamp_min(1e-12))).sum())
        usage = (hist > 0).float().mean()
        resets = 0
        if self.training:
            resets = self._update(flat, valid, ids)
            active = torch.tensor(1.0 - resets / self.num_codes, device=x.device)
        else:
            active = (self.ema_count >= self.reset_threshold).float().mean()

        diff = (flat - q.detach()).pow(2).sum(1) * valid.float()
        loss = self.beta * diff.sum() / (n_valid.clamp_min(1) * c)
        q_st = flat + (q - flat).detach()
        quantized = q_st.view(b, t, c).permute(0, 2, 1)
        stats = {
            "perplexity": perplexity.detach(), "usage": usage.detach(), "active": active.detach(),
            "resets": torch.tensor(float(resets), device=x.device),
        }
        return quantized, ids.view(b, t), loss, stats
