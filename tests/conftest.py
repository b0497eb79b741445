"""Shared test fixtures.

``shared_data`` points at the real data folder (``../shared/data`` beside the checkout, or
``$MOTIONGPT2_SHARED``); tests that need it are skipped with a reason on a fresh clone without it.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# One thread: on a small, busy CI machine multi-threaded small convolutions are many times slower.
torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Every test starts with one torch thread (a trainer called with ``threads=N`` changes it)."""
    torch.set_num_threads(1)
    yield


def _shared_dir() -> Path:
    env = os.environ.get("MOTIONGPT2_SHARED")
    return Path(env) if env else REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = _shared_dir()
    if not (path / "README.md").exists():
        pytest.skip(f"real data not found at {path} (set MOTIONGPT2_SHARED or place ../shared/data beside the repo)")
    return path
