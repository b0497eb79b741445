"""Generators for the evaluation protocol that wrap trained models (see :class:`~.protocol.Generator`).

* :class:`TokenizerReconstructor` — the ``tokenizer`` task: encode each real motion with a trained
  VQ-VAE / Part-Aware VQ-VAE and decode it back (reconstruction FID and MPJPE).
* :func:`load_generator` — build a generator from a ``KIND:PATH`` spec used by ``motiongpt2 evaluate``:
  ``tokenizer:RUN``, ``t2mgpt:RUN``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from motiongpt2.errors import MotionGPT2Error


class TokenizerReconstructor:
    """Round-trips raw ``(T, D)`` features through a tokenizer: normalise → encode → decode → de-normalise.

    Lengths that are not a multiple of the token unit lose their last frames (the tokenizer's rule).
    """

    deterministic = True

    def __init__(self, run: str | Path, which: str = "best", device: str = "cpu"):
        from motiongpt2.tokenizer.checkpoint import load_checkpoint

        root = Path(run)
        if which == "best" and not (root / "best").exists() and not (root / "model.safetensors").exists():
            which = "latest"
        self.model = load_checkpoint(root, which=which, map_location=device, load_trainer_state=False).model.eval()
        self.device = device
        self.name = f"Tokenizer ({root.name})"

    @torch.no_grad()
    def reconstruct(self, features: np.ndarray) -> np.ndarray:
        """``(T, D)`` raw features → ``(T - T mod unit, D)`` raw reconstruction."""
        m = self.model
        x = m.normalize(torch.as_tensor(features, dtype=torch.float32, device=self.device))[None]
        lengths = torch.tensor([x.shape[1]], device=self.device)
        out = m.encode(x, lengths)
        y = m.decode(*out[:-1], out[-1]) if len(out) == 3 else m.decode(out[0], out[1])
        return m.denormalize(y)[0].cpu().numpy()

    def generate(self, task: str, texts: Sequence[Any] | None, conditions: Sequence[dict] | None,
                 rng: np.random.Generator) -> list:
        if task != "tokenizer":
            raise MotionGPT2Error(f"a tokenizer only reconstructs motion: use it with --task tokenizer, not {task}")
        return [self.reconstruct(c["motion"]) for c in conditions]


def load_generator(spec: str, device: str = "cpu"):
    """``KIND:PATH`` → a generator: ``tokenizer:runs/vq`` or ``t2mgpt:runs/t2mgpt``."""
    kind, _, path = spec.partition(":")
    if not path:
        raise MotionGPT2Error(f"--generator {spec!r}: write KIND:PATH, e.g. tokenizer:runs/vq or t2mgpt:runs/t2mgpt")
    if not Path(path).exists():
        raise MotionGPT2Error(f"--generator {spec!r}: {path} does not exist")
    if kind == "tokenizer":
        return TokenizerReconstructor(path, device=device)
    if kind == "t2mgpt":
        from motiongpt2.eval.baselines_t2mgpt import load_generator as load_t2mgpt

        return load_t2mgpt(path, device=device)
    raise MotionGPT2Error(f"--generator {spec!r}: unknown kind {kind!r}; use tokenizer or t2mgpt")
