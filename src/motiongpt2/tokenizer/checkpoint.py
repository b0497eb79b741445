"""Tokenizer checkpoints: atomic, self-describing directories with ``latest`` / ``best`` pointers.

Layout of a run directory ``root``::

    root/
      step-00012000/
        model.safetensors    weights and buffers (codebooks, EMA statistics, mean/std) — float32
        config.yaml          the full tokenizer config (kind, model, train)
        meta.json            step, epoch, kind, git commit (+ dirty flag), time, metrics, format
        trainer.pt           optimizer / scheduler state and RNG states (only when given)
      latest                 text file: name of the newest step directory
      best                   text file: name of the best step directory (when one was marked)

Every step directory is first written completely under a hidden temporary name and then renamed
into place with :func:`os.replace`; each file inside is itself written to a temporary file and
renamed, and the pointer files are replaced atomically.  A crash therefore never leaves a
half-written checkpoint behind a pointer.  ``trainer.pt`` holds only tensors and plain containers and
is read back with ``torch.load(weights_only=True)``.
"""
from __future__ import annotations

import collections
import json
import os
import random
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ..atomic import atomic_write, atomic_write_text
from ..errors import InputFileError
from .config import TokenizerConfig, config_to_yaml, load_config

__all__ = ["Checkpoint", "build_tokenizer", "save_checkpoint", "load_checkpoint",
           "restore_training_state", "resolve_checkpoint", "mark_best", "git_commit", "FORMAT_VERSION"]

FORMAT_VERSION = 1
_MODEL, _CONFIG, _META, _TRAINER = "model.safetensors", "config.yaml", "meta.json", "trainer.pt"


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


# ------------------------------------------------------------------------------ helpers
def git_commit(start: str | Path | None = None) -> tuple[str | None, bool | None]:
    """``(commit sha, dirty)`` of the git checkout containing ``start`` (default: this package)."""
    where = str(Path(start) if start else Path(__file__).resolve().parent)
    try:
        sha = subprocess.run(["git", "-C", where, "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        if sha.returncode:
            return None, None
        st = subprocess.run(["git", "-C", where, "status", "--porcelain", "--untracked-files=no"],
                            capture_output=True, text=True, timeout=10)
        return sha.stdout.strip(), (bool(st.stdout.strip()) if st.returncode == 0 else None)
    except (OSError, subprocess.SubprocessError):
        return None, None


def _rng_state() -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _state_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}


# ------------------------------------------------------------------------------ public API
def save_checkpoint(root: str | Path, model: nn.Module, config: TokenizerConfig, *, step: int,
                    epoch: int = 0, optimizer: torch.optim.Optimizer | None = None,
                    scheduler: Any | None = None, metrics: dict[str, float] | None = None,
                    is_best: bool = False, keep_last: int | None = None,
                    save_rng: bool = True) -> Path:
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

    Returns:
        The step directory.
    """
    def fill(tmp_dir: Path) -> None:
        atomic_write(tmp_dir / _MODEL,
                      lambda p: save_file(_state_tensors(model), p, metadata={"kind": config.kind}))
        atomic_write_text(tmp_dir / _CONFIG, config_to_yaml(config))
        sha, dirty = git_commit()
        meta = {"format": FORMAT_VERSION, "kind": config.kind, "step": int(step), "epoch": int(epoch),
                "git_commit": sha, "git_dirty": dirty, "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "metrics": {k: float(v) for k, v in (metrics or {}).items()},
                "has_trainer_state": (optimizer is not None or scheduler is not None
                                      or bool(save_rng))}
        atomic_write_text(tmp_dir / _META, json.dumps(meta, indent=2) + "\n")
        if meta["has_trainer_state"]:
            trainer = {"optimizer": optimizer.state_dict() if optimizer else None,
                       "scheduler": scheduler.state_dict() if scheduler else None,
                       "rng": _rng_state() if save_rng else None,
                       "step": int(step), "epoch": int(epoch)}
            atomic_write(tmp_dir / _TRAINER, lambda p: torch.save(trainer, p))

    return write_step_dir(root, step, fill, is_best=is_best, keep_last=keep_last)


def write_step_dir(root: str | Path, step: int, fill, *, is_best: bool = False, keep_last: int | None = None) -> Path:
    """Atomically create ``root/step-XXXXXXXX``: ``fill(tmp_dir)`` writes the files into a temporary
    folder that then replaces the step folder (an existing one is moved aside first); ``latest`` (and
    ``best``) pointers are updated and all but the newest ``keep_last`` step folders (never ``best``)
    are removed. Shared by every trainer's checkpoints."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    name = f"step-{int(step):08d}"
    final = root / name
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
    os.chmod(tmp_dir, 0o755)  # mkdtemp creates 0700 directories
    try:
        fill(tmp_dir)
        if final.exists():  # re-saving a step: move the old one aside, swap, then delete it
            old = root / f".{name}.old-{os.getpid()}"
            os.replace(final, old)
            os.replace(tmp_dir, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp_dir, final)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    atomic_write_text(root / "latest", name + "\n")
    if is_best:
        atomic_write_text(root / "best", name + "\n")
    if keep_last is not None and keep_last > 0:
        best = _read_pointer(root, "best")
        steps = sorted(p for p in root.glob("step-*") if p.is_dir())
        for old in steps[:-keep_last]:
            if old.name not in (best, name):
                shutil.rmtree(old, ignore_errors=True)
    return final


def mark_best(root: str | Path, step_dir: str | Path) -> None:
    """Point ``root/best`` at an existing step directory (name or path)."""
    root, name = Path(root), Path(step_dir).name
    if not (root / name / _MODEL).exists():
        raise InputFileError(root / name, "is not a tokenizer checkpoint (no model.safetensors)")
    atomic_write_text(root / "best", name + "\n")


def _read_pointer(root: Path, which: str) -> str | None:
    p = root / which
    return p.read_text().strip() if p.exists() else None


def resolve_checkpoint(path: str | Path, which: str = "latest") -> Path:
    """The step directory for ``path`` (a step directory, or a run directory + ``which`` pointer)."""
    path = Path(path)
    if (path / _MODEL).exists():
        return path
    if which not in ("latest", "best"):
        raise ValueError(f"which must be 'latest' or 'best', got {which!r}")
    name = _read_pointer(path, which)
    if name is None:
        raise InputFileError(path, f"no tokenizer checkpoint here (no {_MODEL} and no '{which}' "
                             "pointer)", "pass a run directory written by save_checkpoint or a step "
                             "directory")
    step_dir = path / name
    if not (step_dir / _MODEL).exists():
        raise InputFileError(path / which, f"points at {name!r}, which has no {_MODEL}",
                             "the checkpoint was deleted; point it at an existing step directory")
    return step_dir


def load_checkpoint(path: str | Path, which: str = "latest", map_location: str | torch.device = "cpu",
                    load_trainer_state: bool = True) -> Checkpoint:
    """Load a tokenizer checkpoint.

    Args:
        path: a step directory, or a run directory (then the ``which`` pointer is followed).
        which: ``"latest"`` or ``"best"``.
        map_location: device of the returned model and tensors.
        load_trainer_state: also read ``trainer.pt`` (optimizer / scheduler / RNG) when present.

    Returns:
        :class:`Checkpoint` with the model in eval mode.
    """
    step_dir = resolve_checkpoint(path, which)
    cfg = load_config(step_dir / _CONFIG)
    meta_path = step_dir / _META
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    model = build_tokenizer(cfg)
    state = load_file(str(step_dir / _MODEL), device="cpu")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise InputFileError(step_dir / _MODEL, f"weights do not match config.yaml ({err})".replace(
            "\n", " "), "was config.yaml edited after training?") from None
    model.to(map_location).eval()
    trainer = None
    if load_trainer_state and (step_dir / _TRAINER).exists():
        with torch.serialization.safe_globals([collections.Counter]):
            trainer = torch.load(step_dir / _TRAINER, map_location=map_location, weights_only=True)
    return Checkpoint(path=step_dir, model=model, config=cfg, step=int(meta.get("step", 0)),
                      epoch=int(meta.get("epoch", 0)), meta=meta, trainer_state=trainer)


def restore_training_state(ckpt: Checkpoint, optimizer: torch.optim.Optimizer | None = None,
                           scheduler: Any | None = None, restore_rng: bool = True) -> None:
    """Load the saved optimizer / scheduler states into the given objects and restore the RNGs.

    Build the optimizer on ``ckpt.model.parameters()`` (after moving the model to its device) and
    call this before the first step of the resumed run.
    """
    st = ckpt.trainer_state
    if st is None:
        raise InputFileError(ckpt.path, "holds weights only (no trainer.pt)",
                             "start a new run from these weights instead of resuming")
    if optimizer is not None and st.get("optimizer") is not None:
        optimizer.load_state_dict(st["optimizer"])
    if scheduler is not None and st.get("scheduler") is not None:
        scheduler.load_state_dict(st["scheduler"])
    if restore_rng and st.get("rng") is not None:
        rng = dict(st["rng"])
        rng["torch"] = rng["torch"].cpu()
        if "cuda" in rng:
            rng["cuda"] = [s.cpu() for s in rng["cuda"]]
        _set_rng_state(rng)
