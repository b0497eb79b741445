"""Trained step folders made small enough to ship inside the package (``src/motiongpt2/assets/``).

:func:`write_bundle` copies a step folder of any trainer (:mod:`motiongpt2.runs` layout) into the assets:
its ``model.safetensors`` with floating-point tensors stored in a smaller dtype (float16; tensors named by
``keep`` stay as trained), the files and folders named by ``copy``, and ``meta.json`` as trained plus
``bundle`` {source step, dtype}.  The optimizer state (``trainer.pt``) is left out.  Everything under
``assets/`` together stays within :data:`ASSET_LIMIT_BYTES`: a bundle over it is refused before it replaces
anything.  Loaders read a bundle like any step folder (``load_state_dict`` casts float16 back to the
model's float32).

Bundles: the default language model (:mod:`motiongpt2.lm.bundle`) and the reference evaluator
(:func:`motiongpt2.eval.evaluator.default_evaluator`).
"""
from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from . import runs
from .atomic import atomic_folder

__all__ = ["ASSET_LIMIT_BYTES", "assets_dir", "bundled", "folder_bytes", "write_bundle"]

ASSET_LIMIT_BYTES = 50 * 10**6          # everything under assets/ together


def assets_dir() -> Path:
    return Path(str(resources.files("motiongpt2"))) / "assets"


def bundled(name: str) -> Path | None:
    """The bundle ``assets/<name>``, or ``None`` when this installation has none."""
    folder = assets_dir() / name
    return folder if (folder / runs.MODEL_FILE).is_file() else None


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def write_bundle(step_dir: str | Path, out: str | Path, *, copy: Sequence[str], what: str,
                 dtype: torch.dtype = torch.float16, keep: Sequence[str] = (), metadata: dict | None = None) -> dict:
    """Write the bundle of ``step_dir`` (a step folder, or a run folder: its best step) to ``out``
    (atomically, replacing it).

    Args:
        copy: files and folders of the step folder copied unchanged (``trainer.pt`` files inside are skipped).
        what: the kind of checkpoint, for errors (``"language model"``).
        dtype: storage of the floating-point tensors; ``keep``: name prefixes of tensors stored as trained.
        metadata: the safetensors header metadata.

    Returns ``{"path", "bytes", "tensors"}``; raises ``ValueError`` when ``assets/`` would exceed
    :data:`ASSET_LIMIT_BYTES`.
    """
    step_dir, out = runs.resolve_step(step_dir, runs.BEST, best_falls_back=True, what=what), Path(out)
    tensors = {k: (v.to(dtype) if v.is_floating_point() and not k.startswith(tuple(keep)) else v).contiguous()
               for k, v in load_file(str(step_dir / runs.MODEL_FILE)).items()}
    others = 0
    if out.parent.exists():
        others = folder_bytes(out.parent) - (folder_bytes(out) if out.exists() else 0)

    def write(tmp: Path) -> None:
        tmp = Path(tmp)
        save_file(tensors, str(tmp / runs.MODEL_FILE), metadata={**(metadata or {}), "dtype": str(dtype)})
        for name in copy:
            src = step_dir / name
            if src.is_dir():
                shutil.copytree(src, tmp / name, ignore=shutil.ignore_patterns(runs.TRAINER_FILE, ".*"))
            else:
                shutil.copy2(src, tmp / name)
        meta = {**runs.read_meta(step_dir), "has_trainer_state": False,
                "bundle": {"source": str(step_dir.resolve()), "dtype": str(dtype).removeprefix("torch.")}}
        (tmp / runs.META_FILE).write_text(json.dumps(meta, indent=2, default=str) + "\n")
        size = folder_bytes(tmp)
        if others + size > ASSET_LIMIT_BYTES:      # refused before it replaces anything
            raise ValueError(f"the bundle is {size / 1e6:.1f} MB and the other assets {others / 1e6:.1f} MB: over "
                             f"the {ASSET_LIMIT_BYTES / 1e6:.0f} MB limit")

    path = atomic_folder(out, write)
    return {"path": path, "bytes": folder_bytes(path), "tensors": len(tensors)}
