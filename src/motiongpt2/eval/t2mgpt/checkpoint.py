"""Atomic checkpoints of the T2M-GPT baseline, in the layout of the tokenizer checkpoints::

    out_dir/step-XXXXXXXX/{model.safetensors, config.yaml, meta.json, trainer.pt}
    out_dir/latest, out_dir/best          pointer files

``meta.json`` records the step, git commit, metrics and the tokenizer the model was trained on (its
step directory and the SHA-256 prefix of its weights), so :func:`load_t2mgpt` can find it again and
refuse a different one.
"""
from __future__ import annotations

import collections
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from ...atomic import atomic_write, atomic_write_text
from ...errors import InputFileError
from ...tokenizer.checkpoint import (
    _rng_state,
    _set_rng_state,
    git_commit,
    write_step_dir,
)
from .config import T2MGPTConfig, load_t2mgpt_config, t2mgpt_config_to_yaml
from .model import T2MGPT

__all__ = ["GPTCheckpoint", "load_t2mgpt", "resolve_t2mgpt", "save_t2mgpt"]

_MODEL, _CONFIG, _META, _TRAINER = "model.safetensors", "config.yaml", "meta.json", "trainer.pt"
FORMAT = "t2mgpt-1"


@dataclass
class GPTCheckpoint:
    path: Path
    model: T2MGPT
    config: T2MGPTConfig
    step: int
    meta: dict[str, Any] = field(default_factory=dict)
    trainer_state: dict[str, Any] | None = None


def save_t2mgpt(root: str | Path, model: T2MGPT, cfg: T2MGPTConfig, *, step: int, extra_meta: dict | None = None,
                optimizer=None, scheduler=None, metrics: dict[str, float] | None = None, is_best: bool = False,
                keep_last: int | None = 3) -> Path:
    def fill(tmp_dir: Path) -> None:
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        atomic_write(tmp_dir / _MODEL, lambda p: save_file(state, p, metadata={"format": FORMAT}))
        atomic_write_text(tmp_dir / _CONFIG, t2mgpt_config_to_yaml(cfg))
        sha, dirty = git_commit()
        meta = {"format": FORMAT, "step": int(step), "git_commit": sha, "git_dirty": dirty,
                "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "metrics": {k: float(v) for k, v in (metrics or {}).items()}, **(extra_meta or {})}
        atomic_write_text(tmp_dir / _META, json.dumps(meta, indent=2) + "\n")
        trainer = {"optimizer": optimizer.state_dict() if optimizer else None,
                   "scheduler": scheduler.state_dict() if scheduler else None,
                   "rng": _rng_state(), "step": int(step)}
        atomic_write(tmp_dir / _TRAINER, lambda p: torch.save(trainer, p))

    return write_step_dir(root, step, fill, is_best=is_best, keep_last=keep_last)


def resolve_t2mgpt(path: str | Path, which: str = "best") -> Path:
    path = Path(path)
    if (path / _MODEL).exists():
        return path
    ptr = path / which
    if not ptr.exists() and which == "best":
        ptr = path / "latest"
    if not ptr.exists():
        raise InputFileError(path, f"no T2M-GPT checkpoint here (no {_MODEL} and no '{which}' pointer)",
                             "pass a run directory of train_t2mgpt or a step directory")
    step_dir = path / ptr.read_text().strip()
    if not (step_dir / _MODEL).exists():
        raise InputFileError(ptr, f"points at {step_dir.name!r}, which has no {_MODEL}")
    return step_dir


def load_t2mgpt(path: str | Path, which: str = "best", map_location="cpu",
                load_trainer_state: bool = False) -> GPTCheckpoint:
    """Load a checkpoint (a step directory, or a run directory + ``which`` = ``best``/``latest``)."""
    step_dir = resolve_t2mgpt(path, which)
    cfg = load_t2mgpt_config(step_dir / _CONFIG)
    meta = json.loads((step_dir / _META).read_text())
    if meta.get("format") != FORMAT:
        raise InputFileError(step_dir / _META, f"not a T2M-GPT baseline checkpoint (format {meta.get('format')!r})")
    model = T2MGPT(cfg.model)
    try:
        model.load_state_dict(load_file(str(step_dir / _MODEL), device="cpu"), strict=True)
    except RuntimeError as err:
        raise InputFileError(step_dir / _MODEL, f"weights do not match config.yaml ({err})".replace("\n", " ")) from None
    model.to(map_location).eval()
    trainer = None
    if load_trainer_state and (step_dir / _TRAINER).exists():
        with torch.serialization.safe_globals([collections.Counter]):
            trainer = torch.load(step_dir / _TRAINER, map_location="cpu", weights_only=True)
    return GPTCheckpoint(step_dir, model, cfg, int(meta.get("step", 0)), meta, trainer)


def restore_state(ckpt: GPTCheckpoint, optimizer, scheduler) -> None:
    st = ckpt.trainer_state
    if st is None:
        raise InputFileError(ckpt.path, "holds weights only (no trainer.pt)", "start a new run instead")
    optimizer.load_state_dict(st["optimizer"])
    scheduler.load_state_dict(st["scheduler"])
    rng = dict(st["rng"])
    rng["torch"] = rng["torch"].cpu()
    if "cuda" in rng:
        rng["cuda"] = [s.cpu() for s in rng["cuda"]]
    _set_rng_state(rng)
