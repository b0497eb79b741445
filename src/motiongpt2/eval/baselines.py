"""Baselines evaluated beside every model: nearest-neighbour retrieval from the training split.

:class:`RetrievalBaseline` answers every task with training data only, using the evaluator's embedding
spaces (text-to-motion, motion-to-text) or plain feature distances (completion):

* ``t2m`` (and ``t2m-init``/``t2m-last``/``t2m-key``, whose pose conditions it ignores): the training
  motion whose caption has the nearest evaluator text embedding. Because the retrieval uses the
  evaluator itself, its R-Precision is an optimistic reference, not a fair model.
* ``m2t``: a caption (the first) of the training motion whose evaluator motion embedding is nearest.
* ``predict``: the training motion whose first frames are nearest to the given prefix (features
  normalised with the evaluator's statistics, root and joint-position dimensions, every
  ``unit_length``-th frame); its continuation is appended to the given prefix.
* ``inbetween``: the training motion nearest on the given start *and* end; its middle is put between them.
* ``tokenizer``: not meaningful (``generate`` raises ``NotImplementedError``).

All choices are deterministic (``deterministic = True``).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .evaluator import Evaluator
from .metrics import euclidean_distance_matrix
from .pairs import PairSet

__all__ = ["RetrievalBaseline"]


class RetrievalBaseline:
    """Nearest-neighbour retrieval from ``train`` (see the module doc)."""

    name = "Retrieval (train NN)"
    deterministic = True

    def __init__(self, evaluator: Evaluator, train: PairSet, embed_motions=None, embed_texts=None):
        self.evaluator = evaluator
        self.train = train
        self._embed_motions = embed_motions or evaluator.embed_motions
        self._embed_texts = embed_texts or evaluator.embed_texts
        self._text_bank: np.ndarray | None = None
        self._text_owner: np.ndarray | None = None
        self._motion_bank: np.ndarray | None = None
        self._units: np.ndarray | None = None
        u = evaluator.unit_length
        self._full = [p.features[: (len(p.features) // u) * u] for p in train.pairs]

    # ----- banks
    def text_bank(self) -> tuple[np.ndarray, np.ndarray]:
        if self._text_bank is None:
            entries, owner = [], []
            for i, p in enumerate(self.train.pairs):
                for e in p.texts:
                    entries.append(e)
                    owner.append(i)
            self._text_bank = self._embed_texts(entries)
            self._text_owner = np.asarray(owner, dtype=np.int64)
        return self._text_bank, self._text_owner

    def motion_bank(self) -> np.ndarray:
        if self._motion_bank is None:
            self._motion_bank = self._embed_motions(self._full, keys=[("train", i) for i in range(len(self._full))]) \
                if _accepts_keys(self._embed_motions) else self._embed_motions(self._full)
        return self._motion_bank

    def _pose_dims(self) -> slice:
        d = self.evaluator.cfg.dim_pose
        j = (d - 4) // 12 + 1 if d in (263, 251) else None
        return slice(0, 4 + 3 * (j - 1)) if j else slice(0, d)

    def _unit_descriptors(self) -> np.ndarray:
        """``(N_train, T_max / u, P)``: normalised root + joint-position dims of every u-th frame."""
        if self._units is None:
            u = self.evaluator.unit_length
            dims = self._pose_dims()
            t_max = max(len(f) for f in self._full) // u
            width = dims.stop - dims.start
            out = np.zeros((len(self._full), t_max, width), np.float32)
            for i, f in enumerate(self._full):
                x = self.evaluator.normalize(f[::u])[:, dims]
                out[i, : len(x)] = x
            self._units = out
        return self._units

    # ----- tasks
    def nearest_train_by_text(self, texts: Sequence[Any]) -> np.ndarray:
        bank, owner = self.text_bank()
        q = self._embed_texts(list(texts))
        d = euclidean_distance_matrix(q, bank)
        return owner[np.argmin(d, axis=1)]

    def nearest_train_by_motion(self, motions: Sequence[np.ndarray]) -> np.ndarray:
        bank = self.motion_bank()
        q = self._embed_motions(list(motions))
        return np.argmin(euclidean_distance_matrix(q, bank), axis=1)

    def _complete(self, prefix: np.ndarray, suffix: np.ndarray | None, length: int) -> int:
        """Index of the training pair nearest on the given start (and end, placed so that the motion has
        ``length`` frames), comparing every ``unit_length``-th frame."""
        u = self.evaluator.unit_length
        units = self._unit_descriptors()
        lens = np.array([len(f) for f in self._full])
        dims = self._pose_dims()
        n_u = max(1, length // u)
        kp = max(1, len(prefix) // u)
        dist = ((units[:, :kp] - self.evaluator.normalize(prefix[: kp * u: u])[:, dims]) ** 2).sum((1, 2))
        need = kp * u
        if suffix is not None and len(suffix) >= u and n_u <= units.shape[1]:
            ks = len(suffix) // u
            lo = max(0, n_u - ks)
            q = self.evaluator.normalize(suffix[len(suffix) - ks * u:: u])[:, dims]
            dist = dist + ((units[:, lo:lo + ks] - q) ** 2).sum((1, 2))
            need = n_u * u
        dist = np.where(lens >= need, dist, np.inf)
        if not np.isfinite(dist).any():
            dist = np.nan_to_num(dist, posinf=0.0) - lens  # nothing long enough: take the longest
        return int(np.argmin(dist))

    def generate(self, task: str, texts: Sequence[Any] | None, conditions: Sequence[dict] | None,
                 rng: np.random.Generator | None = None) -> list:
        return self.generate_keyed(task, texts, conditions, rng)[0]

    def generate_keyed(self, task: str, texts, conditions, rng=None) -> tuple[list, list | None]:
        """``(outputs, cache keys)``: like ``generate`` plus keys that identify the retrieved training
        motions, so the protocol can reuse their embeddings."""
        if task in ("t2m", "t2m-init", "t2m-last", "t2m-key"):
            idx = self.nearest_train_by_text(texts)
            return [self._full[i] for i in idx], [("train", int(i)) for i in idx]
        if task == "m2t":
            idx = self.nearest_train_by_motion([c["motion"] for c in conditions])
            return [self.train.pairs[i].texts[0].caption for i in idx], None
        if task == "predict":
            out = []
            for c in conditions:
                pre, n = c["prefix"], int(c["length"])
                i = self._complete(pre, None, n)
                cont = self._full[i][len(pre):n]
                out.append(_fill(np.concatenate([pre, cont]), n))
            return out, None
        if task == "inbetween":
            out = []
            for c in conditions:
                pre, suf, n = c["prefix"], c["suffix"], int(c["length"])
                i = self._complete(pre, suf, n)
                f = self._full[i]
                mid = f[len(pre):max(len(pre), min(len(f), n) - len(suf))]
                mid = _fill(mid, n - len(pre) - len(suf)) if len(mid) else np.repeat(pre[-1:], n - len(pre) - len(suf), 0)
                out.append(np.concatenate([pre, mid, suf]))
            return out, None
        raise NotImplementedError(f"the retrieval baseline has no answer for task {task!r}")


def _fill(x: np.ndarray, n: int) -> np.ndarray:
    """``x`` cut or padded (last frame repeated) to ``n`` frames."""
    if len(x) >= n:
        return x[:n]
    return np.concatenate([x, np.repeat(x[-1:], n - len(x), axis=0)])


def _accepts_keys(fn) -> bool:
    import inspect

    try:
        return "keys" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
