"""Process-level helpers every trainer and evaluator shares: device, autocast, seeds, RNG states,
threads and the git commit of the code.

* :func:`resolve_device` — ``"auto"`` → CUDA when available, else CPU.
* :func:`autocast_context` — bf16 autocast on CUDA, a no-op elsewhere; :func:`use_bf16` says
  whether a device gets it.
* :func:`seed_everything` — Python, NumPy and torch (CPU + CUDA) RNGs from one integer.
* :func:`rng_state` / :func:`set_rng_state` — all RNG states as tensors and plain containers (so a
  checkpoint's ``trainer.pt`` reads back with ``torch.load(weights_only=True)``).
* :func:`set_threads` — ``torch.set_num_threads`` (at least 1) when a count is given.
* :func:`git_commit` — ``(sha, dirty)`` of the checkout holding the code, for provenance.
"""
from __future__ import annotations

import contextlib
import random
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["autocast_context", "git_commit", "resolve_device", "rng_state", "seed_everything",
           "set_rng_state", "set_threads", "use_bf16"]


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; anything else as given (``"cuda:1"`` ...)."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def use_bf16(device: torch.device) -> bool:
    """Whether training on ``device`` runs under bf16 autocast (CUDA with bf16 support)."""
    return device.type == "cuda" and torch.cuda.is_bf16_supported()


def autocast_context(device: torch.device, enabled: bool):
    """bf16 autocast on CUDA when ``enabled``; a no-op context otherwise."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) RNGs."""
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


def set_threads(threads: int | None) -> None:
    """``torch.set_num_threads(max(1, threads))``; ``None`` leaves the setting alone."""
    if threads is not None:
        torch.set_num_threads(max(1, int(threads)))


def rng_state() -> dict[str, Any]:
    """Python, NumPy, torch CPU (and CUDA) RNG states as tensors and plain containers."""
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


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the states of :func:`rng_state` (tensors may sit on any device)."""
    torch.set_rng_state(state["torch"].cpu())
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].cpu().numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def git_commit(start: str | Path | None = None) -> tuple[str | None, bool | None]:
    """``(commit sha, dirty)`` of the git checkout containing ``start`` (default: this package);
    ``(None, None)`` outside a checkout or without git.  ``dirty`` ignores untracked files."""
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
