"""Tokenizer configuration: model dataclasses and the YAML file format.

A tokenizer YAML file (``configs/tokenizer/*.yaml``) has three top-level keys::

    kind: vqvae            # "vqvae" (MotionVQVAE) or "part_aware" (PartAwareVQVAE)
    model: {...}           # fields of VQVAEConfig or PartAwareConfig
    train: {...}           # fields of TrainConfig (used by the training loop, not by the model)

Unknown keys are rejected with :class:`~motiongpt2.errors.InputFileError` naming the file, so a typo
never silently falls back to a default.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import InputFileError
from ..overrides import build_section, read_yaml

__all__ = ["VQVAEConfig", "PartAwareConfig", "TrainConfig", "TokenizerConfig", "load_config",
           "config_from_dict", "config_to_dict", "config_to_yaml"]


@dataclass
class ConvCodecConfig:
    """Encoder/decoder and quantizer settings shared by the VQ-VAE and the Part-Aware VQ-VAE."""

    width: int = 512
    depth: int = 3
    down_t: int = 2
    dilation_growth: int = 3
    code_dim: int = 512
    decay: float = 0.99
    beta: float = 0.02
    reset_threshold: float = 1.0
    activation: str = "relu"

    @property
    def unit(self) -> int:
        """Frames per token (``2**down_t``)."""
        return 2 ** self.down_t


@dataclass
class VQVAEConfig(ConvCodecConfig):
    """Plain motion VQ-VAE (T2M-GPT architecture).

    Attributes:
        input_dim: feature size ``D`` (263 HumanML3D, 251 KIT-ML, 623 whole-body).
        width: channels of every conv / ResNet block.
        depth: residual blocks per dilated ResNet-1D stack.
        down_t: number of stride-2 blocks; the token unit is ``2**down_t`` frames.
        dilation_growth: dilation of block ``i`` is ``dilation_growth**i``.
        code_dim: encoder output channels = code vector size ``C``.
        num_codes: codebook size ``K``.
        decay, beta, reset_threshold: quantizer settings (see :class:`EMAQuantizer`).
        activation: ``relu`` (T2M-GPT) or ``silu`` / ``gelu``.
    """

    input_dim: int = 263
    num_codes: int = 512


@dataclass
class PartAwareConfig(ConvCodecConfig):
    """Part-Aware VQ-VAE for whole-body features (two encoders and codebooks, one decoder).

    Attributes:
        input_dim: whole-body feature size (623 for 52 joints); must follow the HumanML3D layout.
        n_body_joints: joints ``0..n_body_joints-1`` form the body stream, the rest the hand stream.
        width, depth, down_t, dilation_growth, activation: as in :class:`VQVAEConfig`, shared by
            both encoders and the decoder.
        code_dim: size of body and hand code vectors.
        num_codes_body, num_codes_hand: sizes of the body and hand codebooks.
        decay, beta, reset_threshold: quantizer settings for both codebooks.
    """

    input_dim: int = 623
    n_body_joints: int = 22
    num_codes_body: int = 512
    num_codes_hand: int = 512


@dataclass
class TrainConfig:
    """Tokenizer training hyper-parameters (consumed by the training loop).

    Attributes:
        dataset: dataset name the config is meant for (informational).
        window: training crop length in frames (multiple of the token unit).
        batch_size: windows per optimiser step.
        lr, weight_decay, betas: AdamW settings.
        warmup_iters: linear learning-rate warm-up steps.
        epochs / max_iters: stop after whichever is given (``max_iters`` wins when both are set).
        lr_schedule: ``"step"`` (after the warm-up, multiply by ``lr_gamma`` at each of
            ``lr_milestones``, as MultiStepLR) or ``"cosine"`` (after the warm-up, cosine decay from
            ``lr`` to 0 at the last iteration; milestones are ignored).
        lr_milestones, lr_gamma: step decay of the learning rate (MultiStepLR) at these iterations.
        vel_weight: weight of the velocity term of the reconstruction loss.
        grad_clip: max gradient norm (``None`` = no clipping).
        seed: random seed.
        eval_every, save_every: in iterations.
        num_workers: data-loader workers.
        short_clips: ``"skip"`` clips shorter than ``window`` (T2M-GPT) or ``"pad"`` them to one
            masked window each (see :mod:`motiongpt2.tokenizer.data`).
        source_balance: 0 samples clips uniformly; 1 gives every corpus of a merged dataset
            (``dataset.json`` ``clips[id].corpus``) the same share of the batches; between:
            share ∝ ``n_corpus ** (1 - source_balance)``.
    """

    dataset: str = "humanml3d"
    window: int = 64
    batch_size: int = 256
    lr: float = 1e-4
    weight_decay: float = 1e-5
    betas: list[float] = field(default_factory=lambda: [0.9, 0.99])
    warmup_iters: int = 1000
    epochs: int | None = 1200
    max_iters: int | None = None
    lr_schedule: str = "step"
    lr_milestones: list[int] = field(default_factory=list)
    lr_gamma: float = 0.05
    vel_weight: float = 0.5
    grad_clip: float | None = None
    seed: int = 1234
    eval_every: int = 5000
    save_every: int = 5000
    num_workers: int = 4
    short_clips: str = "skip"
    source_balance: float = 0.0


@dataclass
class TokenizerConfig:
    """A whole tokenizer YAML file: ``kind``, ``model`` and ``train``."""

    kind: str = "vqvae"
    model: VQVAEConfig | PartAwareConfig = field(default_factory=VQVAEConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


_MODEL_CLASSES = {"vqvae": VQVAEConfig, "part_aware": PartAwareConfig}


def config_from_dict(data: dict[str, Any], source: str | Path = "<dict>") -> TokenizerConfig:
    """Build a :class:`TokenizerConfig` from the parsed YAML mapping (``source`` names it in errors)."""
    if not isinstance(data, dict):
        raise InputFileError(source, "a tokenizer config must be a YAML mapping",
                             "see configs/tokenizer/vqvae_humanml3d.yaml")
    unknown = sorted(set(data) - {"kind", "model", "train"})
    if unknown:
        raise InputFileError(source, f"unknown top-level key(s) {unknown}",
                             "allowed keys are ['kind', 'model', 'train']")
    kind = data.get("kind", "vqvae")
    if kind not in _MODEL_CLASSES:
        raise InputFileError(source, f"unknown tokenizer kind {kind!r}",
                             f"use one of {sorted(_MODEL_CLASSES)}")
    model = build_section(_MODEL_CLASSES[kind], data.get("model"), "model", source)
    train = build_section(TrainConfig, data.get("train"), "train", source)
    if model.down_t < 0 or model.width < 1 or model.code_dim < 1:
        raise InputFileError(source, "model.down_t must be >= 0 and width/code_dim positive")
    if train.lr_schedule not in ("step", "cosine"):
        raise InputFileError(source, f"train.lr_schedule {train.lr_schedule!r} is not supported",
                             "use 'step' (warm-up + milestones) or 'cosine' (warm-up + cosine decay)")
    if train.short_clips not in ("skip", "pad"):
        raise InputFileError(source, f"train.short_clips {train.short_clips!r} is not supported",
                             "use 'skip' (leave clips shorter than the window out) or 'pad'")
    if not 0.0 <= train.source_balance <= 1.0:
        raise InputFileError(source, f"train.source_balance {train.source_balance} is outside [0, 1]",
                             "0 = uniform over clips, 1 = every corpus equally often")
    if train.window % model.unit:
        raise InputFileError(source, f"train.window {train.window} is not a multiple of the token "
                             f"unit {model.unit} (2**down_t)")
    return TokenizerConfig(kind=kind, model=model, train=train)


def load_config(path: str | Path) -> TokenizerConfig:
    """Read a tokenizer YAML file (see the module docstring for the format)."""
    return config_from_dict(read_yaml(path, "tokenizer config"), path)


def config_to_dict(cfg: TokenizerConfig) -> dict[str, Any]:
    """Plain-dict form of ``cfg`` (inverse of :func:`config_from_dict`)."""
    return {"kind": cfg.kind, "model": asdict(cfg.model), "train": asdict(cfg.train)}


def config_to_yaml(cfg: TokenizerConfig) -> str:
    return yaml.safe_dump(config_to_dict(cfg), sort_keys=False)
