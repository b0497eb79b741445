"""Part-Aware VQ-VAE: separate body and hand token streams for whole-body (623-dim) motion.

**Feature split.**  The whole-body feature vector follows the HumanML3D layout for ``J = 52`` joints
(``4 + (J-1)·3 + (J-1)·6 + J·3 + 4 = 623``)::

    [0:4]            root: rotation velocity, XZ linear velocity, root height
    ric              positions of joints 1..J-1 (3 each)
    rot6d            6D rotations of joints 1..J-1 (6 each)
    local_vel        velocities of joints 0..J-1 (3 each)
    feet             4 foot-contact flags

With ``n_body_joints = 22`` (joints 0..21 = SMPL body, 22..36 left hand, 37..51 right hand):

* **body stream** (263 = exactly the HumanML3D layout, in this order): root(4) + ric of joints 1..21
  (63) + rot6d of joints 1..21 (126) + local_vel of joints 0..21 (66) + feet (4);
* **hand stream** (360): ric (90) + rot6d (180) + local_vel (90) of joints 22..51.

The index arrays are computed from the layout (:func:`part_indices`), and every one of the 623
indices belongs to exactly one stream; :func:`split_parts` / :func:`merge_parts` gather and scatter.

**Model** (paper Fig. 4, "fuse-before-quantize")::

    e_h = E_h(m_H);  q_h, p_H = Q_h(e_h)                    # the hand is quantized first
    e_b = E_b(m_B);  f = Conv1x1([e_b ; q_h]);  q_b, p_B = Q_b(f)   # body after fusion with q_h
    m̂ = merge(D([q_b ; q_h]))                               # one decoder for both streams

Body ids therefore depend on the hand input (through ``q_h``) but hand ids never depend on the body
input.  Both encoders and the decoder are the T2M-GPT blocks of :mod:`.vqvae` with the same masking
and length rules (one token per ``2**down_t`` frames, lengths cropped to a multiple of it).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ..motion.skeleton import skeleton_for_dim
from .config import PartAwareConfig
from .quantizer import EMAQuantizer
from .vqvae import (Decoder, Encoder, FeatureNormalization, apply_mask, check_lengths, lookup_codes, token_masks,
                    token_streams)

__all__ = ["PartAwareVQVAE", "part_indices", "split_parts", "merge_parts"]


def part_indices(n_joints: int = 52, n_body_joints: int = 22) -> tuple[np.ndarray, np.ndarray]:
    """Feature indices of the body and hand streams for the ``n_joints`` HumanML3D-style layout.

    Returns:
        ``(body_idx, hand_idx)``: int64 arrays, each in increasing (layout) order; for 52 / 22 joints
        of sizes 263 and 360, disjoint and together covering ``0..622``.
    """
    if not 1 <= n_body_joints < n_joints:
        raise ValueError(f"n_body_joints must be in [1, {n_joints}), got {n_body_joints}")
    j = n_joints
    ric0, rot0 = 4, 4 + 3 * (j - 1)
    vel0 = rot0 + 6 * (j - 1)
    feet0 = vel0 + 3 * j

    def ric(joints):
        return [ric0 + 3 * (k - 1) + c for k in joints for c in range(3)]

    def rot(joints):
        return [rot0 + 6 * (k - 1) + c for k in joints for c in range(6)]

    def vel(joints):
        return [vel0 + 3 * k + c for k in joints for c in range(3)]

    body_j = range(1, n_body_joints)
    hand_j = range(n_body_joints, j)
    body = list(range(4)) + ric(body_j) + rot(body_j) + vel(range(n_body_joints)) + \
        list(range(feet0, feet0 + 4))
    hand = ric(hand_j) + rot(hand_j) + vel(hand_j)
    return np.asarray(body, dtype=np.int64), np.asarray(hand, dtype=np.int64)


def split_parts(x: torch.Tensor, body_idx: torch.Tensor, hand_idx: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(..., D)`` → body ``(..., len(body_idx))`` and hand ``(..., len(hand_idx))`` features."""
    return x.index_select(-1, body_idx), x.index_select(-1, hand_idx)


def merge_parts(body: torch.Tensor, hand: torch.Tensor, body_idx: torch.Tensor,
                hand_idx: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`split_parts`: scatter both streams back into ``(..., D)``."""
    d = body_idx.numel() + hand_idx.numel()
    out = body.new_zeros(*body.shape[:-1], d)
    out[..., body_idx] = body
    out[..., hand_idx] = hand.to(body.dtype)
    return out


class PartAwareVQVAE(FeatureNormalization, nn.Module):
    """Body/hand two-codebook VQ-VAE with fuse-before-quantize (see the module docstring).

    Args:
        cfg: :class:`PartAwareConfig`.
    """

    def __init__(self, cfg: PartAwareConfig):
        super().__init__()
        self.cfg = cfg
        self.unit = cfg.unit
        self.input_dim = cfg.input_dim
        n_joints = skeleton_for_dim(cfg.input_dim).n_joints
        body_idx, hand_idx = part_indices(n_joints, cfg.n_body_joints)
        self.register_buffer("body_idx", torch.from_numpy(body_idx), persistent=False)
        self.register_buffer("hand_idx", torch.from_numpy(hand_idx), persistent=False)
        self.body_dim, self.hand_dim = len(body_idx), len(hand_idx)
        c = cfg.code_dim
        common = dict(width=cfg.width, depth=cfg.depth, growth=cfg.dilation_growth,
                      activation=cfg.activation)
        self.body_encoder = Encoder(self.body_dim, c, down_t=cfg.down_t, **common)
        self.hand_encoder = Encoder(self.hand_dim, c, down_t=cfg.down_t, **common)
        self.hand_quantizer = EMAQuantizer(cfg.num_codes_hand, c, cfg.decay, cfg.beta,
                                           cfg.reset_threshold)
        self.fuse = nn.Conv1d(2 * c, c, 1)
        self.body_quantizer = EMAQuantizer(cfg.num_codes_body, c, cfg.decay, cfg.beta,
                                           cfg.reset_threshold)
        self.decoder = Decoder(2 * c, self.body_dim + self.hand_dim, up_t=cfg.down_t, **common)
        self._init_normalization(cfg.input_dim)

    stream_names = ("body", "hand")

    @property
    def codebook_sizes(self) -> tuple[int, int]:
        """``(body codebook size, hand codebook size)``: one per token stream."""
        return self.cfg.num_codes_body, self.cfg.num_codes_hand

    # ------------------------------------------------------------------ helpers
    def _embed(self, x: torch.Tensor, masks) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, T, D)`` → body and hand encoder outputs, each ``(B, C, T/unit)``."""
        xb, xh = split_parts(x.float(), self.body_idx, self.hand_idx)
        hb = apply_mask(xb.permute(0, 2, 1), masks[0])
        hh = apply_mask(xh.permute(0, 2, 1), masks[0])
        return self.body_encoder(hb, masks), self.hand_encoder(hh, masks)

    def _decode(self, qb: torch.Tensor, qh: torch.Tensor, masks) -> torch.Tensor:
        """Codes ``(B, C, N)`` ×2 → ``(B, N·unit, D)``; ``masks`` from token to frame resolution."""
        y = self.decoder(torch.cat([qb, qh], dim=1), masks).permute(0, 2, 1)
        return merge_parts(y[..., : self.body_dim], y[..., self.body_dim:], self.body_idx,
                           self.hand_idx)

    # ------------------------------------------------------------------ training forward
    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None):
        """Encode, quantize (hand first, then fused body) and decode a batch.

        Args:
            x: ``(B, T, 623)`` float normalised whole-body features.
            mask: ``(B, T)`` bool, ``True`` at valid frames; ``None`` = all valid.

        Returns:
            ``(recon, (body_ids, hand_ids), commit_loss, stats)``: recon ``(B, T, 623)`` float32;
            body_ids / hand_ids ``(B, ceil(T/unit))`` long; commit_loss the scalar sum of both
            commitment losses; stats with ``body_*`` and ``hand_*`` quantizer scalars plus
            ``frame_mask`` ``(B, T)`` and ``token_mask`` ``(B, ceil(T/unit))`` bool as in
            :meth:`MotionVQVAE.forward`.
        """
        self._check_features(x)
        b, t, _ = x.shape
        extra = (-t) % self.unit
        if extra:
            x = torch.nn.functional.pad(x, (0, 0, 0, extra))
            base = torch.ones(b, t, dtype=torch.bool, device=x.device) if mask is None else mask
            mask = torch.nn.functional.pad(base.to(torch.bool), (0, extra), value=False)
        tok, masks = token_masks(mask, b, x.shape[1], self.cfg.down_t, x.device)
        zb, zh = self._embed(x, masks)
        qh, ids_h, loss_h, st_h = self.hand_quantizer(zh, tok)
        qh = apply_mask(qh, masks[-1])
        fused = apply_mask(self.fuse(torch.cat([zb, qh], dim=1)), masks[-1])
        qb, ids_b, loss_b, st_b = self.body_quantizer(fused, tok)
        qb = apply_mask(qb, masks[-1])
        recon = self._decode(qb, qh, masks[::-1])[:, :t]
        stats = {f"body_{k}": v for k, v in st_b.items()}
        stats.update({f"hand_{k}": v for k, v in st_h.items()})
        stats["token_mask"] = tok
        stats["frame_mask"] = tok.repeat_interleave(self.unit, dim=1)[:, :t]
        return recon, (ids_b, ids_h), loss_b + loss_h, stats

    # ------------------------------------------------------------------ inference API
    @torch.no_grad()
    def encode(self, features: torch.Tensor, lengths: torch.Tensor | None = None
               ) -> tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor]:
        """Body and hand token ids of a padded batch of normalised features.

        Args:
            features: ``(B, T, 623)`` float normalised; frames at or beyond ``lengths[b]`` ignored.
            lengths: ``(B,)`` int valid frames (``None`` = ``T``), each at least ``unit``.

        Returns:
            ``((body_ids, hand_ids), token_lengths)``: ids ``(B, T // unit)`` long each, ``-1`` after
            the valid tokens; token_lengths ``(B,)`` long ``= lengths // unit`` (the same for both
            streams; lengths are cropped to ``floor(L / unit) * unit`` frames as in
            :meth:`MotionVQVAE.encode`).
        """
        self._check_features(features)
        b, t, _ = features.shape
        lengths = check_lengths(lengths, b, t, self.unit, features.device)
        n = t // self.unit
        tok_len = lengths // self.unit
        tok = torch.arange(n, device=features.device)[None, :] < tok_len[:, None]
        _, masks = token_masks(tok.repeat_interleave(self.unit, dim=1), b, n * self.unit,
                               self.cfg.down_t, features.device)
        zb, zh = self._embed(features[:, : n * self.unit], masks)
        ids_h = self.hand_quantizer.quantize(zh)
        qh = apply_mask(self.hand_quantizer.dequantize(ids_h), masks[-1])
        fused = apply_mask(self.fuse(torch.cat([zb, qh], dim=1)), masks[-1])
        ids_b = self.body_quantizer.quantize(fused)
        return (ids_b.masked_fill(~tok, -1), ids_h.masked_fill(~tok, -1)), tok_len

    @torch.no_grad()
    def decode(self, streams: Sequence[torch.Tensor], token_lengths: torch.Tensor | None = None
               ) -> torch.Tensor:
        """Normalised whole-body features from both token streams.

        Args:
            streams: ``(body_ids, hand_ids)`` as :meth:`encode` returns them, ``(B, N)`` long each
                (or ``(N,)``); positions at or beyond ``token_lengths[b]`` are ignored.
            token_lengths: ``(B,)`` valid tokens per sequence, ``None`` = all ``N``.

        Returns:
            ``(B, N·unit, 623)`` float32 (``(N·unit, 623)`` for 1-D ids), zero beyond the valid frames.

        Raises:
            ValueError: mismatched shapes, or an id outside its codebook (the message says which
                stream, the id and the codebook size).
        """
        body_ids, hand_ids = token_streams(streams, 2)
        try:
            qb, masks, squeeze = lookup_codes(self.body_quantizer, body_ids, token_lengths,
                                         self.cfg.down_t)
        except ValueError as err:
            raise ValueError(f"body stream: {err}") from None
        try:
            qh, _, _ = lookup_codes(self.hand_quantizer, hand_ids, token_lengths, self.cfg.down_t)
        except ValueError as err:
            raise ValueError(f"hand stream: {err}") from None
        out = self._decode(qb, qh, masks)
        return out[0] if squeeze else out
