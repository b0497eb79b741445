"""Masked reconstruction losses of the motion tokenizers.

``L_rec = SmoothL1(m̂, m) + vel_weight · SmoothL1(Δm̂, Δm)`` with ``Δm_t = m_{t+1} - m_t`` (first-order
time difference, ``vel_weight = 0.5``), both averaged over valid entries only: a frame counts when
its mask is True, a difference when both of its frames are.  The smooth-L1 threshold is ``beta=1``
(``torch.nn.SmoothL1Loss`` default, as in T2M-GPT).  The commitment loss comes from the quantizer and
is added by the training loop: ``L = L_rec + commit``.

Note: T2M-GPT's own "velocity" term is a smooth-L1 on the ``ric`` slice of the features (local joint
positions), not on a time difference; this package follows the time-difference definition.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["masked_smooth_l1", "velocity_loss", "reconstruction_loss"]


def masked_smooth_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None,
                     beta: float = 1.0) -> torch.Tensor:
    """Mean smooth-L1 over valid frames and all channels.

    Args:
        pred, target: ``(B, T, D)`` float.
        mask: ``(B, T)`` bool (``None`` = all valid).

    Returns:
        Scalar float tensor (0 when no frame is valid).
    """
    err = F.smooth_l1_loss(pred.float(), target.float(), reduction="none", beta=beta)
    if mask is None:
        return err.mean()
    m = mask.to(err.dtype)[..., None]
    return (err * m).sum() / (m.sum() * err.shape[-1]).clamp_min(1.0)


def velocity_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None,
                  beta: float = 1.0) -> torch.Tensor:
    """Smooth-L1 on first-order time differences ``(B, T-1, D)``; a step counts if both frames are valid."""
    dp = pred[:, 1:] - pred[:, :-1]
    dt = target[:, 1:] - target[:, :-1]
    m = None if mask is None else (mask[:, 1:] & mask[:, :-1])
    return masked_smooth_l1(dp, dt, m, beta)


def reconstruction_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None,
                        vel_weight: float = 0.5) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``SmoothL1 + vel_weight · velocity`` (both masked).

    Args:
        pred, target: ``(B, T, D)`` float; mask ``(B, T)`` bool or ``None``.

    Returns:
        ``(loss, parts)`` with scalar ``loss`` and detached ``parts["recon"]``, ``parts["vel"]``.
    """
    rec = masked_smooth_l1(pred, target, mask)
    vel = velocity_loss(pred, target, mask) if pred.shape[1] > 1 else rec.new_zeros(())
    return rec + vel_weight * vel, {"recon": rec.detach(), "vel": vel.detach()}
