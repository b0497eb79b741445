"""Checkpoints of the T2M-GPT baseline, in the shared step-folder format of :mod:`motiongpt2.runs`::

    out_dir/step-XXXXXXXX/{model.safetensors, config.yaml, meta.json, trainer.pt}
    out_dir/latest, out_dir/best          pointer files

``meta.json`` (``model: "t2mgpt"``) records the step, git commit, metrics, the text encoder and data,
and under ``depends_on.tokenizer`` the tokenizer the model was trained on (its step folder and
:func:`~motiongpt2.runs.weights_hash`), so :func:`load_t2mgpt` callers can find it again and refuse a
different one.  Checkpoints of the earlier format (``format: "t2mgpt-1"``) load as well.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import runs
from ..errors import InputFileError
from .config import T2MGPTConfig, load_t2mgpt_config, t2mgpt_config_to_yaml
from .model import T2MGPT

__all__ = ["GPTCheckpoint", "load_t2mgpt", "resolve_t2mgpt", "save_t2mgpt"]

MODEL_NAME = "t2mgpt"
_LEGACY_FORMAT = "t2mgpt-1"


@dataclass
class GPTCheckpoint:
    path: Path
    model: T2MGPT
    config: T2MGPTConfig
    step: int
    meta: dict[str, Any] = field(default_factory=dict)
    trainer_state: dict[str, Any] | None = None


def save_t2mgpt(root: str | Path, model: T2MGPT, cfg: T2MGPTConfig, *, step: int, extra_meta: dict | None = None,
                depends_on: dict | None = None, optimizer=None, scheduler=None,
                metrics: dict[str, float] | None = None, is_best: bool = False, keep_last: int | None = 3) -> Path:
    """Write ``root/step-XXXXXXXX`` (weights, config, meta with ``extra_meta`` / ``depends_on``, trainer state)."""
    return runs.save_step(
        root, step, is_best=is_best, keep_last=keep_last, tensors=runs.state_tensors(model),
        tensor_metadata={"model": MODEL_NAME}, config_yaml=t2mgpt_config_to_yaml(cfg),
        meta=runs.checkpoint_meta(MODEL_NAME, step, metrics=metrics, depends_on=depends_on, **(extra_meta or {})),
        trainer=runs.trainer_state(optimizer, scheduler, step))


def resolve_t2mgpt(path: str | Path, which: str = "best") -> Path:
    """The step folder of a run (``which`` pointer; ``best`` falls back to ``latest``) or a step folder."""
    return runs.resolve_step(path, which, best_falls_back=True, what="T2M-GPT checkpoint")


def load_t2mgpt(path: str | Path, which: str = "best", map_location="cpu",
                load_trainer_state: bool = False) -> GPTCheckpoint:
    """Load a checkpoint (a step directory, or a run directory + ``which`` = ``best``/``latest``)."""
    step_dir = resolve_t2mgpt(path, which)
    cfg = load_t2mgpt_config(step_dir / runs.CONFIG_FILE)
    meta = runs.read_meta(step_dir)
    if meta.get("model") != MODEL_NAME and meta.get("format") != _LEGACY_FORMAT:
        raise InputFileError(step_dir / runs.META_FILE, f"not a T2M-GPT baseline checkpoint (model "
                             f"{meta.get('model')!r}, format {meta.get('format')!r})",
                             "pass a run folder written by train-baseline")
    model = runs.load_into(T2MGPT(cfg.model), runs.load_tensors(step_dir), step_dir)
    model.to(map_location).eval()
    trainer = runs.load_trainer_state(step_dir) if load_trainer_state else None
    return GPTCheckpoint(step_dir, model, cfg, int(meta.get("step", 0)), meta, trainer)
