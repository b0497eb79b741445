"""Tokenizer checkpoints: the shared step-folder format of :mod:`motiongpt2.runs`.

Layout of a run directory ``root``::

    root/
      step-00012000/
        model.safetensors    weights and buffers (codebooks, EMA statistics, mean/std) — float32
        config.yaml          the full tokenizer config (kind, model, train)
        meta.json            format, model "tokenizer", kind, step, epoch, git commit (+ dirty flag),
                             time, metrics, depends_on (the training data root)
        trainer.pt           optimizer / scheduler state and RNG states (only when given)
      latest                 text file: name of the newest step directory
      best                   text file: name of the best step directory (when one was marked)

Writing is atomic (see :mod:`motiongpt2.runs`); ``trainer.pt`` is read back with
``torch.load(weights_only=True)``.  Checkpoints written before the shared format (the same files, a
``meta.json`` without ``model`` / ``depends_on``) load and resume unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import runs
from ..runs import mark_best
from .config import TokenizerConfig, config_to_yaml, load_config

__all__ = ["Checkpoint", "build_tokenizer", "save_checkpoint", "load_checkpoint",
           "restore_training_state", "resolve_checkpoint", "mark_best", "FORMAT_VERSION"]

FORMAT_VERSION = runs.RUN_FORMAT


def build_tokenizer(cfg: TokenizerConfig) -> nn.Module:
    """A fresh :class:`MotionVQVAE` or :class:`PartAwareVQVAE` for ``cfg.kind``."""
    from .part_aware import PartAwareVQVAE
    from .vqvae import MotionVQVAE

    if cfg.kind == "vqvae":
        return MotionVQVAE(cfg.model)
    if cfg.kind == "part_aware":
        return PartAwareVQVAE(cfg.model)
    raise ValueError(f"unknown tokenizer kind {cfg.kind!r}")


@dataclass
class Checkpoint:
    """A loaded checkpoint.

    Attributes:
        path: the step directory that was read.
        model: the tokenizer with its weights, in eval mode, on the requested device.
        config: the :class:`TokenizerConfig` it was trained with.
        step, epoch: training progress when saved.
        meta: the parsed ``meta.json``.
        trainer_state: ``{"optimizer", "scheduler", "rng"}`` (any may be ``None``) or ``None`` when
            the checkpoint holds weights only; pass the checkpoint to :func:`restore_training_state`.
    """

    path: Path
    model: nn.Module
    config: TokenizerConfig
    step: int
    epoch: int
    meta: dict[str, Any] = field(default_factory=dict)
    trainer_state: dict[str, Any] | None = None


def save_checkpoint(root: str | Path, model: nn.Module, config: TokenizerConfig, *, step: int,
                    epoch: int = 0, optimizer: torch.optim.Optimizer | None = None,
                    scheduler: Any | None = None, metrics: dict[str, float] | None = None,
                    is_best: bool = False, keep_last: int | None = None,
                    save_rng: bool = True, depends_on: dict[str, Any] | None = None) -> Path:
    """Write ``root/step-{step:08d}/`` atomically and point ``root/latest`` (and ``best``) at it.

    Args:
        root: run directory (created if missing).
        model: the tokenizer (its full ``state_dict`` is saved, buffers included).
        config: the config it was built from (saved as ``config.yaml``).
        step, epoch: training progress.
        optimizer, scheduler: saved in ``trainer.pt`` with the RNG states when either is given
            (or when ``save_rng``).
        metrics: scalars stored in ``meta.json`` (e.g. validation reconstruction loss).
        is_best: also point ``root/best`` at this checkpoint.
        keep_last: keep only the newest ``keep_last`` step directories (the ``best`` one is never
            deleted); ``None`` keeps all.
        depends_on: what the weights were made from (``meta.json``'s ``depends_on``).

    Returns:
        The step directory.
    """
    has_trainer = optimizer is not None or scheduler is not None or bool(save_rng)
    return runs.save_step(
        root, step, is_best=is_best, keep_last=keep_last,
        tensors=runs.state_tensors(model), tensor_metadata={"kind": config.kind},
        config_yaml=config_to_yaml(config),
        meta=runs.checkpoint_meta("tokenizer", step, metrics=metrics, depends_on=depends_on,
                                  kind=config.kind, epoch=int(epoch)),
        trainer=runs.trainer_state(optimizer, scheduler, step, save_rng, epoch=int(epoch)) if has_trainer else None)


def resolve_checkpoint(path: str | Path, which: str = "latest", best_falls_back: bool = False) -> Path:
    """The step directory for ``path`` (a step directory, or a run directory + ``which`` pointer;
    ``best_falls_back``: a run without a ``best`` pointer gives its latest checkpoint)."""
    return runs.resolve_step(path, which, best_falls_back=best_falls_back, what="tokenizer checkpoint")


def load_checkpoint(path: str | Path, which: str = "latest", map_location: str | torch.device = "cpu",
                    load_trainer_state: bool = True, best_falls_back: bool = False) -> Checkpoint:
    """Load a tokenizer checkpoint.

    Args:
        path: a step directory, or a run directory (then the ``which`` pointer is followed).
        which: ``"latest"`` or ``"best"``.
        map_location: device of the returned model and tensors.
        load_trainer_state: also read ``trainer.pt`` (optimizer / scheduler / RNG) when present.
        best_falls_back: ``which="best"`` in a run that never marked a best checkpoint loads its latest.

    Returns:
        :class:`Checkpoint` with the model in eval mode.
    """
    step_dir = resolve_checkpoint(path, which, best_falls_back)
    cfg = load_config(step_dir / runs.CONFIG_FILE)
    meta = runs.read_meta(step_dir)
    model = runs.load_into(build_tokenizer(cfg), runs.load_tensors(step_dir), step_dir)
    model.to(map_location).eval()
    trainer = runs.load_trainer_state(step_dir, map_location) if load_trainer_state else None
    return Checkpoint(path=step_dir, model=model, config=cfg, step=int(meta.get("step", 0)),
                      epoch=int(meta.get("epoch", 0)), meta=meta, trainer_state=trainer)


def restore_training_state(ckpt: Checkpoint, optimizer: torch.optim.Optimizer | None = None,
                           scheduler: Any | None = None, restore_rng: bool = True) -> None:
    """Load the saved optimizer / scheduler states into the given objects and restore the RNGs.

    Build the optimizer on ``ckpt.model.parameters()`` (after moving the model to its device) and
    call this before the first step of the resumed run.
    """
    runs.restore_trainer_state(ckpt.trainer_state, ckpt.path, optimizer, scheduler, restore_rng)
