"""Config of the language-model trainer (``configs/lm/*.yaml``), stages 2 (``align``) and 3 (``instruct``).

A YAML file has these top-level keys (unknown keys are an :class:`~motiongpt2.errors.InputFileError`)::

    stage: align              # optional guard: the stage this file is meant for (--stage must match)
    backbone: smollm2-135m    # load_backbone name: packaged alias, local model folder or Hugging Face id
    backbone_init: pretrained # pretrained | random (same architecture, weights drawn from train.seed: the ablation)
    dtype: float32            # weights dtype of the backbone (float32 | bfloat16 | float16)
    quantize: null            # 4bit | 8bit (bitsandbytes, CUDA only; fresh runs only)
    tokenizer: runs/vq_cpu_small/best   # motion tokenizer: run folder, pointer file or step folder
    lora: {...}               # LoraSettings: r, alpha, dropout, target_modules, full_finetune
    data: {...}               # DataSettings (both stages)
    train: {...}              # TrainSettings (both stages)
    align: {...}              # AlignSettings: stage-2 mixture, and `train` overrides for stage 2
    instruct: {...}           # InstructSettings: stage-3 task weights, and `train` overrides for stage 3

The ``train`` mapping inside ``align`` / ``instruct`` overrides keys of the top-level ``train`` section
for that stage only (the paper: lr 2e-4 in stage 2, 1e-4 in stage 3); :func:`stage_train` merges them.
Relative paths (``tokenizer``, ``data.prompts``) are read from the current working directory.
"""
from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import InputFileError
from ..overrides import apply_overrides, build_section, deep_merge, read_yaml
from .adapt import LoraSettings
from .instructions import TASKS

__all__ = ["STAGES", "AlignSettings", "DataSettings", "InstructSettings", "LMConfig", "TrainSettings",
           "lm_config_from_dict", "lm_config_to_dict", "lm_config_to_yaml", "load_lm_config", "stage_train"]

#: Training stages of the language model (stage 1 is the motion tokenizer).
STAGES = ("align", "instruct")
_SCALARS = ("stage", "backbone", "backbone_init", "dtype", "quantize", "tokenizer")
_TOP = _SCALARS + ("lora", "data", "train", "align", "instruct")


@dataclass
class DataSettings:
    """How samples are written and tokenized.

    Attributes:
        max_length: longest training sequence in LLM tokens (causal: prompt + answer + EOS; seq2seq:
            the longer of encoder input and answer + EOS).  Longer samples are skipped and counted
            (never cut: a cut answer would teach the model to stop early).
        prompts: a prompt file (``None``: the packaged ``lm/prompts.yaml``); ``prompt_version``: its
            version (``V0``: the paper's prompts).
        chat_template: wrap prompts with the backbone's chat template instead of the Alpaca layout.
        length_hint_prob: probability that a sample of a length-conditioned task
            (:data:`~.instructions.LENGTH_TASKS`) states the motion duration in its prompt.
        val_samples: size of the fixed (seeded) validation sample list drawn from the ``val`` split.
    """

    max_length: int = 192
    prompts: str | None = None
    prompt_version: str = "V0"
    chat_template: bool = False
    length_hint_prob: float = 0.5
    val_samples: int = 256


@dataclass
class TrainSettings:
    """Optimisation settings (one optimizer step = ``batch_size`` samples).

    Attributes:
        batch_size: samples per optimizer step over all processes and accumulation steps together;
            each process runs micro-batches of ``batch_size / (grad_accum · processes)`` samples, so a
            run gives the same curve on 1 or N GPUs (up to float rounding).
        grad_accum: micro-batches accumulated per optimizer step (per process).
        lr, betas, weight_decay: AdamW over :func:`~.adapt.param_groups` (no decay on embedding rows,
            biases, norms).  rows_lr_scale: the new embedding rows learn at ``rows_lr_scale · lr``
            (freshly drawn rows have far to travel; LoRA weights do not).  grad_clip: max gradient norm (``None``: off).
        schedule: ``cosine`` (linear warm-up, then cosine decay to ``min_lr_ratio · lr`` at the last
            step) or ``constant`` (linear warm-up, then ``lr``).  warmup_steps: in optimizer steps.
        max_steps: run length in optimizer steps; ``None``: ``ceil(epochs · epoch_size / batch_size)``.
        epochs: run length in epochs when ``max_steps`` is null.
        gradient_checkpointing: recompute activations in the backward pass (less memory, ~30% slower).
        seed: initialisation (LoRA, dropout) and the sample stream.
        eval_every, save_every, log_every: in optimizer steps.
        eval_batch_size: validation micro-batch (``None``: the training micro-batch).
        keep_last: step folders kept (the best one always is); ``None`` keeps all.
    """

    batch_size: int = 8
    grad_accum: int = 1
    lr: float = 2.0e-4
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    weight_decay: float = 0.0
    rows_lr_scale: float = 1.0
    grad_clip: float | None = 1.0
    schedule: str = "cosine"
    warmup_steps: int = 0
    min_lr_ratio: float = 0.0
    max_steps: int | None = 300
    epochs: float | None = None
    gradient_checkpointing: bool = False
    seed: int = 1234
    eval_every: int = 100
    save_every: int = 100
    log_every: int = 10
    eval_batch_size: int | None = None
    keep_last: int | None = 3

    def total_steps(self, epoch_size: int) -> int:
        """Run length in optimizer steps for epochs of ``epoch_size`` samples."""
        if self.max_steps is not None:
            return int(self.max_steps)
        return math.ceil(float(self.epochs) * epoch_size / self.batch_size)

    def lr_factor(self, step: int, total: int) -> float:
        """Multiplier of ``lr`` for the optimizer step of 0-based step ``step`` of ``total``."""
        if self.warmup_steps and step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        if self.schedule == "constant":
            return 1.0
        prog = min(1.0, max(0.0, (step - self.warmup_steps) / max(1, total - self.warmup_steps)))
        return self.min_lr_ratio + (1.0 - self.min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * prog))


@dataclass
class AlignSettings:
    """Stage 2 (motion-language alignment).

    Attributes:
        text_only_ratio: share of text-only samples in an epoch (``0`` ≤ r < 1); each paired clip
            gives two samples (text→motion and motion→text), the text-only captions fill the rest,
            each caption at most once per epoch (so the share is capped by the caption pool).
        text_only_sources: caption corpora of the shared folder used for text-only samples
            (``humanml3d``, ``kitml``: their official TRAIN splits only).
        train: overrides of the ``train`` section in this stage.
    """

    text_only_ratio: float = 0.2
    text_only_sources: list[str] = field(default_factory=lambda: ["humanml3d", "kitml"])
    train: dict | None = None


@dataclass
class InstructSettings:
    """Stage 3 (instruction tuning).

    Attributes:
        tasks: relative weight of each task of :data:`~.instructions.TASKS` (missing tasks: 0).  Every
            clip of an epoch gives one sample whose task is drawn from these weights among the tasks
            its length allows (``predict`` needs 2 tokens, ``inbetween`` 3); ``wholebody`` needs a
            two-stream (body + hand) tokenizer and is dropped otherwise.
        train: overrides of the ``train`` section in this stage.
    """

    tasks: dict = field(default_factory=lambda: {"t2m": 1.0, "t2m-init": 0.5, "t2m-last": 0.5, "t2m-key": 0.5,
                                                 "m2t": 1.0, "predict": 0.5, "inbetween": 0.5, "wholebody": 1.0})
    train: dict | None = None


@dataclass
class LMConfig:
    """A whole ``configs/lm/*.yaml`` file (module docstring)."""

    stage: str | None = None
    backbone: str = "smollm2-135m"
    backbone_init: str = "pretrained"
    dtype: str = "float32"
    quantize: str | None = None
    tokenizer: str = ""
    lora: LoraSettings = field(default_factory=LoraSettings)
    data: DataSettings = field(default_factory=DataSettings)
    train: TrainSettings = field(default_factory=TrainSettings)
    align: AlignSettings = field(default_factory=AlignSettings)
    instruct: InstructSettings = field(default_factory=InstructSettings)


def lm_config_from_dict(data: Any, source: str | Path = "<dict>") -> LMConfig:
    """Build and check an :class:`LMConfig` from a parsed YAML mapping (errors name ``source``)."""
    if not isinstance(data, dict):
        raise InputFileError(source, "a language-model config must be a YAML mapping", "see configs/lm/*.yaml")
    unknown = sorted(set(data) - set(_TOP))
    if unknown:
        raise InputFileError(source, f"unknown top-level key(s) {unknown}", f"allowed keys are {list(_TOP)}")
    cfg = build_section(LMConfig, {k: data[k] for k in _SCALARS if k in data}, "top level", source)
    for name, cls in (("lora", LoraSettings), ("data", DataSettings), ("train", TrainSettings),
                      ("align", AlignSettings), ("instruct", InstructSettings)):
        setattr(cfg, name, build_section(cls, data.get(name), name, source))
    _check(cfg, source)
    return cfg


def _check(cfg: LMConfig, source) -> None:
    def bad(problem: str, hint: str = "fix the value in the YAML file or the --override"):
        return InputFileError(source, problem, hint)

    if cfg.stage is not None and cfg.stage not in STAGES:
        raise bad(f"stage must be one of {list(STAGES)}, not {cfg.stage!r}")
    if cfg.backbone_init not in ("pretrained", "random"):
        raise bad(f"backbone_init must be 'pretrained' or 'random', not {cfg.backbone_init!r}")
    if not cfg.tokenizer:
        raise bad("no motion tokenizer: set 'tokenizer' to a tokenizer run or step folder",
                  "e.g. tokenizer: runs/vq_cpu_small/best")
    if cfg.data.max_length < 8:
        raise bad(f"data.max_length must be >= 8, got {cfg.data.max_length}")
    if not 0.0 <= cfg.data.length_hint_prob <= 1.0:
        raise bad(f"data.length_hint_prob must lie in [0, 1], got {cfg.data.length_hint_prob}")
    if not 0.0 <= cfg.align.text_only_ratio < 1.0:
        raise bad(f"align.text_only_ratio must lie in [0, 1), got {cfg.align.text_only_ratio}")
    unknown = sorted(set(cfg.align.text_only_sources) - {"humanml3d", "kitml"})
    if unknown:
        raise bad(f"align.text_only_sources: unknown corpora {unknown}", "use humanml3d and/or kitml")
    tasks = cfg.instruct.tasks
    if not isinstance(tasks, dict) or set(tasks) - set(TASKS):
        raise bad(f"instruct.tasks: unknown tasks {sorted(set(tasks) - set(TASKS)) if isinstance(tasks, dict) else tasks}",
                  f"known tasks: {', '.join(TASKS)}")
    if any(not isinstance(w, (int, float)) or isinstance(w, bool) or w < 0 for w in tasks.values()) \
            or not any(w > 0 for w in tasks.values()):
        raise bad("instruct.tasks: weights must be numbers >= 0, at least one > 0")
    for stage in STAGES:
        stage_train(cfg, stage, source)


def stage_train(cfg: LMConfig, stage: str, source: str | Path = "<config>") -> TrainSettings:
    """The ``train`` section with the overrides of ``stage`` (``cfg.align.train`` / ``cfg.instruct.train``)
    applied and checked."""
    if stage not in STAGES:
        raise InputFileError(source, f"unknown stage {stage!r}", f"choose one of {', '.join(STAGES)}")
    extra = getattr(cfg, stage).train or {}
    if not isinstance(extra, dict):
        raise InputFileError(source, f"{stage}.train must be a mapping of train settings")
    merged = deep_merge(copy.deepcopy(asdict(cfg.train)), extra)
    t = build_section(TrainSettings, merged, f"{stage}.train", source)
    if t.schedule not in ("cosine", "constant"):
        raise InputFileError(source, f"train.schedule must be 'cosine' or 'constant', not {t.schedule!r}")
    if t.max_steps is None and t.epochs is None:
        raise InputFileError(source, "train.max_steps and train.epochs are both null", "set one of them")
    if min(t.batch_size, t.grad_accum, t.eval_every, t.save_every, t.log_every) < 1:
        raise InputFileError(source, "train.batch_size, grad_accum, eval_every, save_every and log_every must be >= 1")
    if not t.rows_lr_scale > 0:
        raise InputFileError(source, f"train.rows_lr_scale must be > 0, got {t.rows_lr_scale}")
    if t.batch_size % t.grad_accum:
        raise InputFileError(source, f"train.batch_size {t.batch_size} is not a multiple of train.grad_accum "
                             f"{t.grad_accum}")
    return t


def load_lm_config(path: str | Path, overrides: dict | None = None) -> LMConfig:
    """Read a ``configs/lm/*.yaml`` file and apply ``overrides`` (nested or dotted, e.g.
    ``{"train.lr": 1e-4, "lora.r": 8}``)."""
    data = read_yaml(path, "language-model config")
    if overrides:
        if not isinstance(data, dict):
            data = {}
        apply_overrides(data, overrides)
    return lm_config_from_dict(data, path)


def lm_config_to_dict(cfg: LMConfig) -> dict[str, Any]:
    """Plain-data form (YAML-safe: tuples become lists)."""
    d = asdict(cfg)
    d["lora"] = cfg.lora.to_dict()
    return d


def lm_config_to_yaml(cfg: LMConfig) -> str:
    return yaml.safe_dump(lm_config_to_dict(cfg), sort_keys=False, allow_unicode=True)
