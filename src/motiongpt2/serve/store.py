"""The server's output folder: results and uploads under ids it makes, their downloads, and clean-up.

Layout (nothing is written anywhere else)::

    OUT/results/ID/meta.json              what was asked and what came out (task, text, frames, fps ...)
    OUT/results/ID/motion.features.npy    (T, D) float32, the model's feature space
    OUT/results/ID/motion.joints.npy      (T, J, 3) float32, metres, Y-up
    OUT/results/ID/motion.{bvh,npz,mp4,html}   made on first download
    OUT/uploads/ID/meta.json, features.npy     an uploaded motion, as features
    OUT/tmp/                              request scratch space (an upload while it is parsed)

Ids are 16 lowercase hex characters made by the server (``secrets.token_hex``); a client never names
a path.  Every file is written atomically.  :meth:`ResultStore.clean` deletes entries older than
``max_age_s`` and then the oldest until the folder holds at most ``max_bytes``.
"""
from __future__ import annotations

import json
import re
import secrets
import shutil
import threading
import time
from pathlib import Path

import numpy as np

from ..atomic import atomic_save_npy, atomic_write, atomic_write_text

__all__ = ["DOWNLOADS", "ResultStore"]

_ID = re.compile(r"^[0-9a-f]{16}$")

# download name -> (file in the result folder, media type)
DOWNLOADS = {
    "bvh": ("motion.bvh", "application/octet-stream"),
    "npz": ("motion.npz", "application/octet-stream"),
    "joints.npy": ("motion.joints.npy", "application/octet-stream"),
    "features.npy": ("motion.features.npy", "application/octet-stream"),
    "mp4": ("motion.mp4", "video/mp4"),
    "html": ("motion.html", "text/html; charset=utf-8"),
}


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


class ResultStore:
    """Results and uploads of one server (module docstring)."""

    def __init__(self, root: Path, max_age_s: float, max_bytes: int, clean_every_s: float = 5.0):
        self.root = Path(root)
        self.results = self.root / "results"
        self.uploads = self.root / "uploads"
        self.scratch = self.root / "tmp"            # temporary files of requests (uploads being parsed)
        for folder in (self.results, self.uploads, self.scratch):
            folder.mkdir(parents=True, exist_ok=True)
        self.max_age_s = float(max_age_s)
        self.max_bytes = int(max_bytes)
        self.clean_every_s = float(clean_every_s)
        self._last_clean = 0.0
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._locks_guard = threading.Lock()

    # ------------------------------------------------------------------ ids and folders
    @staticmethod
    def new_id() -> str:
        return secrets.token_hex(8)

    def folder(self, kind: str, item: str) -> Path | None:
        """The folder of result / upload ``item``, or ``None`` when there is none (or the id is malformed)."""
        if not _ID.match(str(item)):
            return None
        folder = (self.results if kind == "result" else self.uploads) / item
        return folder if (folder / "meta.json").is_file() else None

    def meta(self, kind: str, item: str) -> dict | None:
        folder = self.folder(kind, item)
        if folder is None:
            return None
        try:
            return json.loads((folder / "meta.json").read_text())
        except (OSError, ValueError):
            return None

    # ------------------------------------------------------------------ writing
    def save_motion(self, features: np.ndarray, joints: np.ndarray, meta: dict) -> str:
        """Store a result; its id.  ``meta`` gets ``id`` and ``created`` (Unix seconds)."""
        item = self.new_id()
        folder = self.results / item
        atomic_save_npy(folder / "motion.features.npy", np.asarray(features, np.float32))
        atomic_save_npy(folder / "motion.joints.npy", np.asarray(joints, np.float32))
        meta = {**meta, "id": item, "created": time.time()}
        atomic_write_text(folder / "meta.json", json.dumps(meta))     # last: the result exists once this does
        self.clean()
        return item

    def save_upload(self, features: np.ndarray, meta: dict) -> str:
        item = self.new_id()
        folder = self.uploads / item
        atomic_save_npy(folder / "features.npy", np.asarray(features, np.float32))
        atomic_write_text(folder / "meta.json", json.dumps({**meta, "id": item, "created": time.time()}))
        self.clean()
        return item

    def features(self, kind: str, item: str) -> np.ndarray | None:
        folder = self.folder(kind, item)
        if folder is None:
            return None
        return np.load(folder / ("motion.features.npy" if kind == "result" else "features.npy"), allow_pickle=False)

    def download(self, item: str, name: str) -> Path | None:
        """Path of download ``name`` (a key of :data:`DOWNLOADS`) of result ``item``, made on first use
        (BVH / SMPL npz / mp4 / HTML viewer from the stored joints); ``None`` when there is no such result."""
        folder = self.folder("result", item)
        if folder is None or name not in DOWNLOADS:
            return None
        path = folder / DOWNLOADS[name][0]
        with self._lock(item, name):
            if not path.exists():
                self._make(folder, path, name)
        return path

    def _lock(self, item: str, name: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault((item, name), threading.Lock())

    @staticmethod
    def _make(folder: Path, path: Path, name: str) -> None:
        meta = json.loads((folder / "meta.json").read_text())
        joints = np.load(folder / "motion.joints.npy", allow_pickle=False)
        fps = float(meta.get("fps") or 20.0)
        caption = meta.get("text") or None
        suffix = path.suffix
        if name == "mp4":
            from ..render import render_motion

            atomic_write(path, lambda tmp: render_motion(joints, tmp, fps=fps, captions=[caption] if caption else None,
                                                         progress=False), suffix=suffix)
        else:
            from ..render.export import export_motion

            atomic_write(path, lambda tmp: export_motion(joints, tmp, fps=fps, caption=caption), suffix=suffix)

    # ------------------------------------------------------------------ listing and clean-up
    def recent(self, n: int = 20) -> list[dict]:
        """Newest ``n`` results' meta, newest first."""
        metas = [self.meta("result", p.name) for p in self.results.iterdir() if p.is_dir()]
        metas = [m for m in metas if m]
        return sorted(metas, key=lambda m: m.get("created", 0.0), reverse=True)[:n]

    def clean(self, force: bool = False) -> int:
        """Delete entries older than ``max_age_s``, then the oldest until at most ``max_bytes`` remain
        (at most once per ``clean_every_s`` unless ``force``); how many were deleted."""
        now = time.time()
        if not force and now - self._last_clean < self.clean_every_s:
            return 0
        self._last_clean = now
        entries = []
        for parent in (self.results, self.uploads):
            for p in parent.iterdir():
                if p.is_dir():
                    try:
                        entries.append((p.stat().st_mtime, _size(p), p))
                    except OSError:
                        continue
        entries.sort()
        total = sum(s for _, s, _ in entries)
        removed = 0
        for mtime, size, p in entries:
            if now - mtime <= self.max_age_s and total <= self.max_bytes:
                break
            shutil.rmtree(p, ignore_errors=True)
            total -= size
            removed += 1
        if removed:
            with self._locks_guard:             # forget the download locks of deleted results
                self._locks = {k: v for k, v in self._locks.items() if (self.results / k[0]).exists()}
        return removed
