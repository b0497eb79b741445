"""Run folders and checkpoints: one format for every trainer (tokenizer, evaluator, T2M-GPT baseline, LM).

Layout of a run folder ``root``::

    root/
      config.yaml            the resolved config of the trainer's latest call
      metrics.jsonl          one JSON record per line (see :mod:`motiongpt2.train_loop`)
      step-00012000/
        model.safetensors    weights and buffers (float32; tensor names are the trainer's)
        config.yaml          the config the weights were built from
        meta.json            see below
        trainer.pt           optimizer / scheduler states, RNG states, step (only when saved)
        ...                  files a trainer adds (the evaluator's ``vocab.json``)
      latest                 text file: name of the newest step folder
      best                   text file: name of the best step folder (when one was marked)

``meta.json`` (:func:`checkpoint_meta`) holds ``format`` (:data:`RUN_FORMAT`), ``model`` (which trainer
wrote it: ``"tokenizer"``, ``"evaluator"``, ``"t2mgpt"`` ...), ``step``, ``git_commit`` + ``git_dirty``,
``time``, ``metrics`` (scalars, including the best value so far), ``depends_on`` (other checkpoints the
weights only make sense with: ``{"tokenizer": {"path": step folder, "hash": weights_hash}}``),
``has_trainer_state`` and the trainer's own keys (the tokenizer's ``kind`` and ``epoch``, ...).

Every step folder is first written completely under a hidden temporary name and then renamed into
place with :func:`os.replace`; each file inside is itself written to a temporary file and renamed, and
the pointer files are replaced atomically.  A crash therefore never leaves a half-written checkpoint
behind a pointer.  ``trainer.pt`` holds only tensors and plain containers and is read back with
``torch.load(weights_only=True)``.

Tokenizer checkpoints written before this module existed (format 1, same file names, no ``model`` /
``depends_on`` keys) load and resume unchanged.
"""
from __future__ import annotations

import collections
import hashlib
import json
import shutil
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from .atomic import atomic_folder, atomic_write, atomic_write_text
from .errors import InputFileError
from .runtime import git_commit, rng_state, set_rng_state

__all__ = [
    "BEST", "CONFIG_FILE", "LATEST", "META_FILE", "MODEL_FILE", "RUN_FORMAT", "TRAINER_FILE",
    "best_so_far", "checkpoint_meta", "dependency", "load_into", "load_tensors", "load_trainer_state",
    "mark_best", "open_run", "pointed_step", "read_meta", "read_pointer", "resolve_step",
    "restore_trainer_state", "save_step", "state_tensors", "step_name", "trainer_state", "warn_changed",
    "weights_hash", "write_checkpoint", "write_step_dir",
]

#: Version of the step-folder layout and of ``meta.json``.
RUN_FORMAT = 1
MODEL_FILE, CONFIG_FILE, META_FILE, TRAINER_FILE = "model.safetensors", "config.yaml", "meta.json", "trainer.pt"
LATEST, BEST = "latest", "best"


def step_name(step: int) -> str:
    """``step-00001200`` for step 1200."""
    return f"step-{int(step):08d}"


# ------------------------------------------------------------------------------ writing
def checkpoint_meta(model: str, step: int, *, metrics: Mapping[str, float] | None = None,
                    depends_on: Mapping[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """The ``meta.json`` of a checkpoint (module docstring); ``extra`` keys are the trainer's own."""
    sha, dirty = git_commit()
    return {"format": RUN_FORMAT, "model": model, "step": int(step), "git_commit": sha, "git_dirty": dirty,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "metrics": {k: float(v) for k, v in (metrics or {}).items()},
            "depends_on": dict(depends_on or {}), **extra}


def trainer_state(optimizer: torch.optim.Optimizer | None, scheduler: Any | None, step: int,
                  save_rng: bool = True, **extra: Any) -> dict[str, Any]:
    """Contents of ``trainer.pt``: ``optimizer`` / ``scheduler`` state dicts (``None`` when not given),
    ``rng`` (:func:`~motiongpt2.runtime.rng_state`), ``step`` and ``extra`` (e.g. ``epoch``)."""
    return {"optimizer": optimizer.state_dict() if optimizer is not None else None,
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "rng": rng_state() if save_rng else None, "step": int(step), **extra}


def state_tensors(model: nn.Module, prefix: str = "") -> dict[str, torch.Tensor]:
    """The full ``state_dict`` (buffers included) as contiguous CPU tensors, names prefixed."""
    return {prefix + k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}


def write_checkpoint(folder: str | Path, *, tensors: Mapping[str, torch.Tensor], config_yaml: str,
                     meta: Mapping[str, Any], trainer: Mapping[str, Any] | None = None,
                     files: Mapping[str, str] | None = None,
                     tensor_metadata: Mapping[str, str] | None = None) -> Path:
    """Write one checkpoint's files into ``folder`` (each atomically): ``model.safetensors``
    (``tensors``, header ``tensor_metadata``), ``config.yaml``, ``meta.json`` (``meta`` plus
    ``has_trainer_state``), ``trainer.pt`` when ``trainer`` is given, and the text ``files``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / MODEL_FILE,
                 lambda p: save_file(dict(tensors), p, metadata=dict(tensor_metadata or {})))
    atomic_write_text(folder / CONFIG_FILE, config_yaml)
    for name, text in (files or {}).items():
        atomic_write_text(folder / name, text)
    full = {**meta, "has_trainer_state": trainer is not None}
    atomic_write_text(folder / META_FILE, json.dumps(full, indent=2, default=str) + "\n")
    if trainer is not None:
        atomic_write(folder / TRAINER_FILE, lambda p: torch.save(dict(trainer), p))
    return folder


def save_step(root: str | Path, step: int, *, is_best: bool = False, keep_last: int | None = None,
              **checkpoint: Any) -> Path:
    """Write ``root/step-{step:08d}/`` atomically with :func:`write_checkpoint` (``checkpoint`` are its
    keyword arguments), point ``latest`` (and ``best``) at it and prune old step folders.

    ``keep_last``: keep only the newest ``keep_last`` step folders (never the ``best`` one); ``None``
    keeps all.
    """
    return write_step_dir(root, step, lambda tmp: write_checkpoint(tmp, **checkpoint), is_best=is_best,
                          keep_last=keep_last)


def write_step_dir(root: str | Path, step: int, fill: Callable[[Path], Any], *, is_best: bool = False,
                   keep_last: int | None = None) -> Path:
    """Atomically create ``root/step-XXXXXXXX``: ``fill(tmp_dir)`` writes the files into a temporary
    folder that then replaces the step folder (an existing one is moved aside first); ``latest`` (and
    ``best``) pointers are updated and all but the newest ``keep_last`` step folders (never ``best``)
    are removed."""
    root = Path(root)
    name = step_name(step)
    final = atomic_folder(root / name, fill)
    atomic_write_text(root / LATEST, name + "\n")
    if is_best:
        atomic_write_text(root / BEST, name + "\n")
    if keep_last is not None and keep_last > 0:
        best = read_pointer(root, BEST)
        steps = sorted(p for p in root.glob("step-*") if p.is_dir())
        for old in steps[:-keep_last]:
            if old.name not in (best, name):
                shutil.rmtree(old, ignore_errors=True)
    return final


def mark_best(root: str | Path, step_dir: str | Path) -> None:
    """Point ``root/best`` at an existing step folder (name or path)."""
    root, name = Path(root), Path(step_dir).name
    if not (root / name / MODEL_FILE).exists():
        raise InputFileError(root / name, f"is not a checkpoint (no {MODEL_FILE})",
                             "name a step folder of this run")
    atomic_write_text(root / BEST, name + "\n")


# ------------------------------------------------------------------------------ finding
def read_pointer(root: str | Path, which: str) -> str | None:
    """Name held by the ``root/which`` pointer file, or ``None`` when it does not exist."""
    p = Path(root) / which
    return p.read_text().strip() if p.exists() else None


def pointed_step(root: str | Path, which: str = LATEST) -> Path | None:
    """``root / <name in the pointer>``, or ``None`` without that pointer."""
    name = read_pointer(root, which)
    return Path(root) / name if name else None


def resolve_step(path: str | Path, which: str = LATEST, *, best_falls_back: bool = False,
                 what: str = "checkpoint") -> Path:
    """The step folder for ``path``: a step folder itself, a pointer file (``run/best``), or a run
    folder + its ``which`` pointer.

    ``best_falls_back``: ``which="best"`` follows ``latest`` in a run that never marked a best one.
    ``what`` names the kind of checkpoint in errors (``"tokenizer checkpoint"``).
    """
    path = Path(path)
    if (path / MODEL_FILE).exists():
        return path
    if path.name in (LATEST, BEST) and path.is_file():
        path, which, best_falls_back = path.parent, path.name, False
    if which not in (LATEST, BEST):
        raise ValueError(f"which must be 'latest' or 'best', got {which!r}")
    if which == BEST and best_falls_back and read_pointer(path, BEST) is None:
        which = LATEST
    name = read_pointer(path, which)
    if name is None:
        raise InputFileError(path, f"no {what} here (no {MODEL_FILE} and no '{which}' pointer)",
                             "pass a run folder written by a trainer or one of its step folders")
    step_dir = path / name
    if not (step_dir / MODEL_FILE).exists():
        raise InputFileError(path / which, f"points at {name!r}, which has no {MODEL_FILE}",
                             "the checkpoint was deleted; point it at an existing step folder")
    return step_dir


def open_run(out: str | Path, resume: bool) -> bool:
    """Create the run folder ``out``; ``True`` when it already holds a run to resume.

    Raises:
        InputFileError: ``out`` holds a run (a ``latest`` pointer) and ``resume`` is false.
    """
    out = Path(out)
    exists = read_pointer(out, LATEST) is not None
    if exists and not resume:
        raise InputFileError(out, "already holds a training run (a 'latest' checkpoint)",
                             "resume it, or choose a new output directory")
    out.mkdir(parents=True, exist_ok=True)
    return exists


# ------------------------------------------------------------------------------ reading
def read_meta(step_dir: str | Path) -> dict[str, Any]:
    """The parsed ``meta.json`` (``{}`` when missing)."""
    p = Path(step_dir) / META_FILE
    return json.loads(p.read_text()) if p.exists() else {}


def dependency(meta: Mapping[str, Any], name: str) -> dict[str, Any]:
    """``meta["depends_on"][name]`` (``{"path", "hash"}``), or ``{}`` when not recorded.

    Checkpoints of the T2M-GPT baseline written before :data:`RUN_FORMAT` 1 kept the tokenizer in
    top-level ``tokenizer`` / ``tokenizer_hash`` keys; those are read as well.
    """
    dep = (meta.get("depends_on") or {}).get(name)
    if dep:
        return dict(dep)
    if name in meta:
        return {"path": meta.get(name), "hash": meta.get(f"{name}_hash")}
    return {}


def load_tensors(step_dir: str | Path) -> dict[str, torch.Tensor]:
    """All tensors of ``model.safetensors`` on the CPU."""
    return load_file(str(Path(step_dir) / MODEL_FILE), device="cpu")


def load_into(model: nn.Module, tensors: Mapping[str, torch.Tensor], step_dir: str | Path) -> nn.Module:
    """``model.load_state_dict(tensors, strict=True)`` with a one-line error naming the file."""
    try:
        model.load_state_dict(dict(tensors), strict=True)
    except RuntimeError as err:
        raise InputFileError(Path(step_dir) / MODEL_FILE, f"weights do not match config.yaml ({err})".replace(
            "\n", " "), "was config.yaml edited after training?") from None
    return model


def load_trainer_state(step_dir: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any] | None:
    """``trainer.pt`` read with ``weights_only=True``, or ``None`` when the checkpoint has none."""
    p = Path(step_dir) / TRAINER_FILE
    if not p.exists():
        return None
    with torch.serialization.safe_globals([collections.Counter]):
        return torch.load(p, map_location=map_location, weights_only=True)


def restore_trainer_state(state: Mapping[str, Any] | None, where: str | Path,
                          optimizer: torch.optim.Optimizer | None = None, scheduler: Any | None = None,
                          restore_rng: bool = True) -> None:
    """Load the saved optimizer / scheduler states into the given objects and restore the RNGs.

    Build the optimizer on the model's parameters (after moving the model to its device) and call this
    before the first step of the resumed run.  ``where`` (the step folder) is named in the error of a
    checkpoint without ``trainer.pt``.
    """
    if state is None:
        raise InputFileError(where, "holds weights only (no trainer.pt)",
                             "start a new run from these weights instead of resuming")
    if optimizer is not None and state.get("optimizer") is not None:
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state.get("scheduler") is not None:
        scheduler.load_state_dict(state["scheduler"])
    if restore_rng and state.get("rng") is not None:
        set_rng_state(state["rng"])


def warn_changed(saved: Mapping[str, Any], now: Mapping[str, Any], step_dir: str | Path) -> None:
    """Warn (``RuntimeWarning``) when a run is resumed with settings other than those of ``step_dir``."""
    changed = sorted(k for k, v in now.items() if saved.get(k) != v)
    if changed:
        warnings.warn(f"resuming {step_dir} with changed train settings {changed}: the run will not match "
                      "an uninterrupted one", RuntimeWarning, stacklevel=3)


def best_so_far(meta: Mapping[str, Any], best_name: str) -> tuple[float | None, int | None]:
    """``(best value, its step)`` recorded by :func:`~motiongpt2.train_loop.run_steps` in a
    checkpoint's metrics (``(None, None)`` before the first validation)."""
    m = meta.get("metrics") or {}
    if best_name not in m:
        return None, None
    return float(m[best_name]), int(m.get("best_step", 0))


def weights_hash(step_dir: str | Path, n: int = 16) -> str:
    """First ``n`` hex digits of the SHA-256 of the step folder's ``model.safetensors``."""
    h = hashlib.sha256()
    with open(Path(step_dir) / MODEL_FILE, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:n]
