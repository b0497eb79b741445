"""Atomic file writes: nothing is ever half-written, whatever kills the process.

Folders too: :func:`atomic_folder` fills a hidden temporary folder beside the target and renames it into
place, so a folder (a checkpoint, a cache) appears complete under its final name or not at all.

Every file writer puts its bytes into a temporary file beside the target (same folder, so the final
:func:`os.replace` is atomic on POSIX and Windows), makes it world-readable (``mkstemp`` creates
``0600`` files) and moves it into place; on any error the temporary file is removed.
"""
from __future__ import annotations

import io
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["atomic_folder", "atomic_write", "atomic_write_bytes", "atomic_write_text", "atomic_save_npy",
           "atomic_savez"]


def atomic_write(path: str | Path, write: Callable[[str], object], suffix: str = ".tmp") -> None:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then move it to ``path``.

    ``suffix`` is the temporary file's ending (``np.savez`` needs ``.npz``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` as UTF-8."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_save_npy(path: str | Path, array: np.ndarray) -> None:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    atomic_write_bytes(path, buf.getvalue())


def atomic_savez(path: str | Path, **arrays: np.ndarray) -> None:
    atomic_write(path, lambda tmp: np.savez(tmp, **arrays), suffix=".npz")


def atomic_folder(final: str | Path, fill: Callable[[Path], Any]) -> Path:
    """Create ``final`` atomically: ``fill(tmp)`` writes the files into a temporary folder that then
    replaces ``final`` (an existing ``final`` is moved aside, swapped out and removed).  On any error
    the temporary folder is removed and ``final`` is left as it was.  Returns ``final``."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    os.chmod(tmp, 0o755)  # mkdtemp creates 0700 folders
    try:
        fill(tmp)
        if final.exists():
            old = final.parent / f".{final.name}.old-{os.getpid()}"
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final
