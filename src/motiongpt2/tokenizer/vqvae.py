"""Motion VQ-VAE (T2M-GPT architecture) with masks for padded batches.

Architecture (``W`` = width, ``C`` = code_dim, ``D`` = feature size, ``down_t`` stride-2 stages)::

    encoder: Conv1d(D→W, k3) ReLU
             [Conv1d(W→W, k4, stride 2, pad 1) → ResNet1D(W, depth, dilations 1,3,9,..)] × down_t
             Conv1d(W→C, k3)
    quantizer: EMAQuantizer(K codes of size C)
    decoder: Conv1d(C→W, k3) ReLU
             [ResNet1D(W, depth, dilations ..,9,3,1) → Upsample×2 (nearest) → Conv1d(W→W, k3)]
                 × down_t
             Conv1d(W→W, k3) ReLU  Conv1d(W→D, k3)

A residual block is ``x + Conv1x1(ReLU(Conv_k3,dilation d(ReLU(x))))`` as in T2M-GPT.

**Lengths and masks.**  One token covers ``unit = 2**down_t`` frames (4 by default).  A sequence of
``L`` valid frames is tokenised as its first ``floor(L / unit) * unit`` frames (T2M-GPT crops its
training clips the same way): it gives ``floor(L / unit)`` tokens and the remaining ``L mod unit``
frames are dropped.  With a general ``(B, T)`` frame mask, token ``j`` is valid iff all its ``unit``
frames are valid.  Every convolution's output is multiplied by the mask of its time resolution, so
padded steps behave like the zero padding at the end of a sequence: a sequence encodes (and decodes)
to exactly the same ids (features) whether it is alone or padded inside a batch.  With all-valid,
unit-multiple windows (the training case) the masks are all ones and the network is T2M-GPT's.

Inputs are normalised features; the model carries ``mean`` / ``std`` buffers ``(D,)`` (identity until
set with :meth:`set_normalization`) and :meth:`normalize` / :meth:`denormalize` helpers, so a saved
checkpoint is self-contained.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .config import VQVAEConfig
from .quantizer import EMAQuantizer

__all__ = ["MotionVQVAE", "Encoder", "Decoder", "Resnet1D", "ResBlock1D", "apply_mask", "check_lengths",
           "lookup_codes", "token_masks", "token_streams"]

_ACTS = {"relu": nn.ReLU, "silu": nn.SiLU, "gelu": nn.GELU}


def _act(name: str) -> nn.Module:
    try:
        return _ACTS[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; use one of {sorted(_ACTS)}") from None


def apply_mask(x: torch.Tensor, m: torch.Tensor | None) -> torch.Tensor:
    """``x * m`` (``m`` a float mask broadcastable to ``x``), or ``x`` when ``m`` is ``None``."""
    return x if m is None else x * m


class ResBlock1D(nn.Module):
    """``x + Conv1x1(act(Conv_k3,d(act(x))))`` on ``(B, W, T)``; output masked by ``m`` ``(B, 1, T)``."""

    def __init__(self, width: int, dilation: int, activation: str = "relu"):
        super().__init__()
        self.act1 = _act(activation)
        self.conv1 = nn.Conv1d(width, width, 3, 1, padding=dilation, dilation=dilation)
        self.act2 = _act(activation)
        self.conv2 = nn.Conv1d(width, width, 1, 1, 0)

    def forward(self, x: torch.Tensor, m: torch.Tensor | None = None) -> torch.Tensor:
        h = self.conv2(self.act2(self.conv1(self.act1(x))))
        return apply_mask(x + h, m)


class Resnet1D(nn.Module):
    """``depth`` residual blocks with dilations ``growth**i`` (reversed order when ``reverse``)."""

    def __init__(self, width: int, depth: int, growth: int, activation: str = "relu",
                 reverse: bool = False):
        super().__init__()
        dil = [growth ** i for i in range(depth)]
        if reverse:
            dil = dil[::-1]
        self.blocks = nn.ModuleList(ResBlock1D(width, d, activation) for d in dil)

    def forward(self, x: torch.Tensor, m: torch.Tensor | None = None) -> torch.Tensor:
        for blk in self.blocks:
            x = blk(x, m)
        return x


class Encoder(nn.Module):
    """``(B, D, T)`` → ``(B, C, T / 2**down_t)``; ``masks[i]`` ``(B, 1, T / 2**i)`` float or ``None``."""

    def __init__(self, input_dim: int, code_dim: int, width: int, depth: int, down_t: int,
                 growth: int, activation: str = "relu"):
        super().__init__()
        self.conv_in = nn.Conv1d(input_dim, width, 3, 1, 1)
        self.act_in = _act(activation)
        self.downs = nn.ModuleList(nn.Conv1d(width, width, 4, 2, 1) for _ in range(down_t))
        self.stacks = nn.ModuleList(Resnet1D(width, depth, growth, activation) for _ in range(down_t))
        self.conv_out = nn.Conv1d(width, code_dim, 3, 1, 1)

    def forward(self, x: torch.Tensor, masks: list[torch.Tensor | None]) -> torch.Tensor:
        h = apply_mask(self.act_in(self.conv_in(x)), masks[0])
        for i, (down, stack) in enumerate(zip(self.downs, self.stacks)):
            h = apply_mask(down(h), masks[i + 1])
            h = stack(h, masks[i + 1])
        return apply_mask(self.conv_out(h), masks[-1])


class Decoder(nn.Module):
    """``(B, C, N)`` → ``(B, D, N · 2**up_t)``; ``masks[i]`` ``(B, 1, N · 2**i)`` float or ``None``."""

    def __init__(self, code_dim: int, output_dim: int, width: int, depth: int, up_t: int,
                 growth: int, activation: str = "relu"):
        super().__init__()
        self.conv_in = nn.Conv1d(code_dim, width, 3, 1, 1)
        self.act_in = _act(activation)
        self.stacks = nn.ModuleList(Resnet1D(width, depth, growth, activation, reverse=True)
                                    for _ in range(up_t))
        self.ups = nn.ModuleList(nn.Conv1d(width, width, 3, 1, 1) for _ in range(up_t))
        self.conv_mid = nn.Conv1d(width, width, 3, 1, 1)
        self.act_mid = _act(activation)
        self.conv_out = nn.Conv1d(width, output_dim, 3, 1, 1)

    def forward(self, z: torch.Tensor, masks: list[torch.Tensor | None]) -> torch.Tensor:
        h = apply_mask(self.act_in(self.conv_in(z)), masks[0])
        for i, (stack, conv) in enumerate(zip(self.stacks, self.ups)):
            h = stack(h, masks[i])
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = apply_mask(conv(h), masks[i + 1])
        h = apply_mask(self.act_mid(self.conv_mid(h)), masks[-1])
        return apply_mask(self.conv_out(h), masks[-1])


def token_masks(frame_mask: torch.Tensor | None, batch: int, frames: int, down_t: int,
                device: torch.device) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
    """Token mask and the per-resolution float masks of a (possibly padded) batch.

    Args:
        frame_mask: ``(B, T)`` bool (``True`` = valid) or ``None`` (all valid).
        frames: ``T``, a multiple of ``2**down_t``.

    Returns:
        ``(tok, masks)``: ``tok`` ``(B, T / 2**down_t)`` bool, token ``j`` valid iff all its frames
        are; ``masks[i]`` ``(B, 1, T / 2**i)`` float32 (``i = 0..down_t``), the token mask expanded
        to each resolution — or ``[None]*(down_t+1)`` when every step is valid (no masking cost).
    """
    unit = 2 ** down_t
    n = frames // unit
    if frame_mask is None:
        return torch.ones(batch, n, dtype=torch.bool, device=device), [None] * (down_t + 1)
    tok = frame_mask.to(torch.bool).view(batch, n, unit).all(-1)
    if bool(tok.all()):
        return tok, [None] * (down_t + 1)
    masks = [tok.float().repeat_interleave(2 ** (down_t - i), dim=1)[:, None, :]
             for i in range(down_t + 1)]
    return tok, masks


def check_lengths(lengths: torch.Tensor | None, batch: int, frames: int, unit: int,
                  device: torch.device) -> torch.Tensor:
    """Validate frame ``lengths`` ``(B,)`` (``None`` = all ``T``) and return them as long on ``device``."""
    if lengths is None:
        return torch.full((batch,), frames, dtype=torch.long, device=device)
    lengths = torch.as_tensor(lengths, device=device).long().reshape(-1)
    if lengths.shape[0] != batch:
        raise ValueError(f"lengths has {lengths.shape[0]} entries for a batch of {batch}")
    if lengths.numel() and int(lengths.max()) > frames:
        raise ValueError(f"a length of {int(lengths.max())} frames exceeds the padded length {frames}")
    if lengths.numel() and int(lengths.min()) < unit:
        raise ValueError(f"a length of {int(lengths.min())} frames is shorter than one token "
                         f"({unit} frames)")
    return lengths


class FeatureNormalization:
    """Dataset ``mean``/``std`` ``(D,)`` buffers saved with a tokenizer, so a checkpoint stands on its own."""

    input_dim: int

    def _init_normalization(self, dim: int) -> None:
        self.input_dim = dim
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    @torch.no_grad()
    def set_normalization(self, mean, std) -> None:
        """Store the dataset ``mean`` / ``std`` ``(D,)`` used by :meth:`normalize`."""
        self.mean.copy_(torch.as_tensor(mean, dtype=torch.float32).reshape(self.input_dim))
        self.std.copy_(torch.as_tensor(std, dtype=torch.float32).reshape(self.input_dim))

    def normalize(self, features: torch.Tensor) -> torch.Tensor:
        """``(..., D)`` raw features → ``(features - mean) / std``."""
        return (features - self.mean) / self.std

    def denormalize(self, features: torch.Tensor) -> torch.Tensor:
        """``(..., D)`` normalised features → raw features."""
        return features * self.std + self.mean

    def _check_features(self, x: torch.Tensor) -> None:
        if x.dim() != 3 or x.shape[-1] != self.input_dim:
            raise ValueError(f"expected features (B, T, {self.input_dim}), got {tuple(x.shape)}")


class MotionVQVAE(FeatureNormalization, nn.Module):
    """T2M-GPT-style motion VQ-VAE.

    Args:
        cfg: :class:`VQVAEConfig`.

    Attributes:
        unit: frames per token (``2**down_t``).
        num_codes: codebook size.
        codebook_sizes: ``(num_codes,)`` — one token stream (the tokenizer interface, see
            :mod:`motiongpt2.tokenizer`).
    """

    stream_names = ("motion",)

    def __init__(self, cfg: VQVAEConfig):
        super().__init__()
        self.cfg = cfg
        self.unit = cfg.unit
        self.num_codes = cfg.num_codes
        self.input_dim = cfg.input_dim
        self.encoder = Encoder(cfg.input_dim, cfg.code_dim, cfg.width, cfg.depth, cfg.down_t,
                               cfg.dilation_growth, cfg.activation)
        self.quantizer = EMAQuantizer(cfg.num_codes, cfg.code_dim, cfg.decay, cfg.beta,
                                      cfg.reset_threshold)
        self.decoder = Decoder(cfg.code_dim, cfg.input_dim, cfg.width, cfg.depth, cfg.down_t,
                               cfg.dilation_growth, cfg.activation)
        self._init_normalization(cfg.input_dim)

    @property
    def codebook_sizes(self) -> tuple[int]:
        """``(num_codes,)``: the size of the codebook of each token stream."""
        return (self.num_codes,)

    def _pad(self, x: torch.Tensor, mask: torch.Tensor | None):
        """Pad ``(B, T, D)`` (and ``mask``) at the end to a multiple of ``unit`` frames."""
        b, t, _ = x.shape
        extra = (-t) % self.unit
        if extra:
            x = F.pad(x, (0, 0, 0, extra))
            if mask is None:
                mask = torch.ones(b, t, dtype=torch.bool, device=x.device)
            mask = F.pad(mask.to(torch.bool), (0, extra), value=False)
        return x, mask

    # ------------------------------------------------------------------ training forward
    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """Encode, quantize (EMA update in training mode) and decode a batch.

        Args:
            x: ``(B, T, D)`` float normalised features (any ``T``; padded internally to a multiple
               of ``unit``).
            mask: ``(B, T)`` bool, ``True`` at valid frames; ``None`` = all valid.

        Returns:
            ``(recon, streams, commit_loss, stats)``: recon ``(B, T, D)`` float32 (zero where the
            effective mask is False); streams ``(ids,)`` with ids ``(B, ceil(T/unit))`` long;
            commit_loss scalar; stats the
            quantizer's scalars plus ``frame_mask`` ``(B, T)`` bool — the frames actually
            represented by valid tokens, which the reconstruction loss should use — and
            ``token_mask`` ``(B, ceil(T/unit))`` bool.
        """
        self._check_features(x)
        b, t, _ = x.shape
        xp, mp = self._pad(x, mask)
        tok, masks = token_masks(mp, b, xp.shape[1], self.cfg.down_t, x.device)
        h = xp.permute(0, 2, 1).float()
        h = apply_mask(h, masks[0])
        z = self.encoder(h, masks)
        q, ids, loss, stats = self.quantizer(z, tok)
        q = apply_mask(q, masks[-1])  # padded tokens must not leak into valid ones through the convs
        recon = self.decoder(q, masks[::-1]).permute(0, 2, 1)[:, :t]
        stats = dict(stats)
        stats["token_mask"] = tok
        stats["frame_mask"] = tok.repeat_interleave(self.unit, dim=1)[:, :t]
        return recon, (ids,), loss, stats

    # ------------------------------------------------------------------ inference API
    @torch.no_grad()
    def encode(self, features: torch.Tensor, lengths: torch.Tensor | None = None
               ) -> tuple[tuple[torch.Tensor], torch.Tensor]:
        """Token ids of a padded batch of normalised features.  Never changes the codebook.

        Args:
            features: ``(B, T, D)`` float, normalised; frames at or beyond ``lengths[b]`` are ignored.
            lengths: ``(B,)`` int valid frames per sequence (``None`` = ``T`` each); each must be
                at least ``unit``.

        Returns:
            ``((ids,), token_lengths)``: ids ``(B, T // unit)`` long, ``-1`` after each sequence's
            tokens; token_lengths ``(B,)`` long ``= lengths // unit``.  A length that is not a
            multiple of ``unit`` is cropped to ``floor(L / unit) * unit`` frames (T2M-GPT rule):
            the last ``L mod unit`` frames are not tokenised.
        """
        self._check_features(features)
        b, t, _ = features.shape
        lengths = check_lengths(lengths, b, t, self.unit, features.device)
        n = t // self.unit
        tok_len = lengths // self.unit
        tok = torch.arange(n, device=features.device)[None, :] < tok_len[:, None]
        x = features[:, : n * self.unit]
        frame_mask = tok.repeat_interleave(self.unit, dim=1)
        _, masks = token_masks(frame_mask, b, n * self.unit, self.cfg.down_t, features.device)
        h = apply_mask(x.permute(0, 2, 1).float(), masks[0])
        ids = self.quantizer.quantize(self.encoder(h, masks))
        return (ids.masked_fill(~tok, -1),), tok_len

    @torch.no_grad()
    def decode(self, streams: Sequence[torch.Tensor], token_lengths: torch.Tensor | None = None
               ) -> torch.Tensor:
        """Normalised features of token ids.

        Args:
            streams: ``(ids,)`` as :meth:`encode` returns them; ids ``(B, N)`` long (or ``(N,)`` for
                one sequence).  Positions at or beyond ``token_lengths[b]`` are ignored (they may
                hold ``-1`` padding).
            token_lengths: ``(B,)`` int valid tokens per sequence, ``None`` = all ``N``.

        Returns:
            ``(B, N·unit, D)`` float32 (``(N·unit, D)`` for 1-D ``ids``); frames beyond
            ``token_lengths[b]·unit`` are zero.

        Raises:
            ValueError: a valid position holds an id outside ``[0, num_codes)``, or ``streams`` is
                not one stream.
        """
        (ids,) = token_streams(streams, 1)
        q, masks, squeeze = lookup_codes(self.quantizer, ids, token_lengths, self.cfg.down_t)
        out = self.decoder(q, masks).permute(0, 2, 1)
        return out[0] if squeeze else out


def token_streams(streams: Sequence[torch.Tensor], n: int) -> tuple[torch.Tensor, ...]:
    """``streams`` as a tuple of ``n`` id tensors of one shape (``decode``'s argument check)."""
    if isinstance(streams, torch.Tensor) or len(streams) != n:
        got = "a bare tensor" if isinstance(streams, torch.Tensor) else f"{len(streams)} streams"
        raise ValueError(f"decode takes a tuple of {n} token stream(s) as encode returns it, got {got}")
    shapes = {tuple(s.shape) for s in streams}
    if len(shapes) > 1:
        raise ValueError(f"token streams must have the same shape, got {[tuple(s.shape) for s in streams]}")
    return tuple(streams)


def lookup_codes(quantizer: EMAQuantizer, ids: torch.Tensor, token_lengths: torch.Tensor | None,
                 down_t: int) -> tuple[torch.Tensor, list[torch.Tensor | None], bool]:
    """Code vectors ``(B, C, N)`` and decoder masks for ``ids`` (shared by both tokenizers)."""
    squeeze = ids.dim() == 1
    if squeeze:
        ids = ids[None]
    if ids.dim() != 2:
        raise ValueError(f"expected token ids of shape (B, N), got {tuple(ids.shape)}")
    ids = ids.long().to(quantizer.codebook.device)
    b, n = ids.shape
    if token_lengths is None:
        tok = torch.ones(b, n, dtype=torch.bool, device=ids.device)
    else:
        tl = torch.as_tensor(token_lengths, device=ids.device).long().reshape(-1)
        if tl.shape[0] != b or (tl.numel() and (int(tl.max()) > n or int(tl.min()) < 0)):
            raise ValueError(f"token_lengths {tl.tolist()} do not fit ids of shape {(b, n)}")
        tok = torch.arange(n, device=ids.device)[None, :] < tl[:, None]
    bad = tok & ((ids < 0) | (ids >= quantizer.num_codes))
    if bool(bad.any()):
        bi, ni = (int(v) for v in bad.nonzero()[0])
        raise ValueError(f"token id {int(ids[bi, ni])} (sequence {bi}, position {ni}) is outside "
                         f"the codebook of size {quantizer.num_codes} "
                         f"(valid ids are 0..{quantizer.num_codes - 1})")
    q = quantizer.dequantize(ids.masked_fill(~tok, 0))
    unit = 2 ** down_t
    _, masks = token_masks(tok.repeat_interleave(unit, dim=1), b, n * unit, down_t, ids.device)
    masks = masks[::-1]  # decoder goes from the token resolution up to the frame resolution
    if masks[0] is not None:
        q = q * masks[0]
    return q, masks, squeeze
