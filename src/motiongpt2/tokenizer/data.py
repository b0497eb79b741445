"""Data for tokenizer training and evaluation: random fixed-length windows and whole-clip batches.

**Training windows** (:class:`WindowDataset` + :class:`StepBatchSampler`).  Every clip of a prepared
dataset split is loaded once, normalised with the given ``mean`` / ``std`` (the train split's
``Mean.npy`` / ``Std.npy``, which the trainer also stores in the model with ``set_normalization`` so
that checkpoints are self-contained) and kept in memory in one contiguous float32 array — as T2M-GPT
does; HumanML3D with mirrored copies needs about 4.4 GB.

*Short clips* (fewer frames than the window; ``short_clips`` option):

* ``"skip"`` (T2M-GPT's rule, the default): they are left out; the count and ids are kept in
  :attr:`WindowDataset.n_short` / :attr:`WindowDataset.short_ids` and reported by the trainer, and
  every batch is a full ``(B, window, D)`` tensor without a mask.
* ``"pad"``: a short clip gives one window, the whole clip, zero-padded at the end to ``window``
  frames, with a ``(B, window)`` bool mask; the tokenizer masks every convolution and the loss, so
  padding never counts.  HumanML3D-style corpora (40–196 frames) lose a quarter of their clips to
  ``"skip"`` with 64-frame windows.

*Determinism*.  The batch of global step ``s`` (0-based) is a pure function of ``(seed, s)``:

* clip indices, uniform over clips (``weights=None``): the infinite stream ``perm_0 ‖ perm_1 ‖ …``
  where ``perm_e`` is a permutation of the ``N`` usable clips drawn from a ``torch.Generator``
  seeded with ``mix(seed, 0, e)``; step ``s`` takes items ``[s·B, (s+1)·B)`` (a batch may straddle
  two epochs), so epoch ``e`` visits every clip exactly once and ``epoch(s) = floor(s·B / N)``;
* clip indices with per-clip ``weights`` (corpus balancing, :func:`corpus_weights`): ``B`` draws
  with replacement from a generator seeded with ``mix(seed, 2, s)``;
* crop offsets: ``B`` integers ``uniform{0..max(len_i - window, 0)}`` from a generator seeded with
  ``mix(seed, 1, s)``.

No state has to be saved to resume: a resumed run asks for step ``s+1`` and gets exactly the batch an
uninterrupted run would have got, whatever the number of workers.

**Evaluation** (:class:`ClipDataset`, :func:`collate_clips`, :func:`make_eval_loader`).  Whole clips,
normalised, batched in length order and zero-padded at the end, with a ``(B, T)`` bool mask and the
lengths.  The tokenizers crop each clip to a multiple of their token unit (``frame_mask`` of their
``forward``), and metrics are taken over those frames.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..data.readers import MotionTextDataset, open_dataset
from ..errors import DatasetError

__all__ = ["WindowDataset", "StepBatchSampler", "corpus_weights", "ClipDataset", "ClipBatch",
           "collate_clips", "make_eval_loader", "open_split", "mix_seed"]

_MASK64 = (1 << 63) - 1


def mix_seed(seed: int, stream: int, index: int) -> int:
    """A 63-bit generator seed for ``(seed, stream, index)`` (splitmix64-style, well spread)."""
    x = (int(seed) * 0x9E3779B97F4A7C15 + int(stream) * 0xBF58476D1CE4E5B9 + int(index) + 1)
    x &= (1 << 64) - 1
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & ((1 << 64) - 1)
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & ((1 << 64) - 1)
    x ^= x >> 31
    return x & _MASK64


def open_split(root: str | Path, split: str, kind: str = "auto", expect_dim: int | None = None
               ) -> MotionTextDataset:
    """``open_dataset(root, kind, split, lazy=True)`` with a check of the feature dimension."""
    ds = open_dataset(root, kind, split, lazy=True)
    if expect_dim is not None and ds.dim != expect_dim:
        raise DatasetError(root, f"has {ds.dim}-dim features ({ds.kind}) but the tokenizer expects "
                           f"{expect_dim}", "use a tokenizer config whose model.input_dim matches "
                           "the dataset")
    if len(ds) == 0:
        raise DatasetError(root, f"split {split!r} has no usable clips",
                           "run `motiongpt2 validate` on the dataset to see why")
    return ds


def _stack_clips(arrays: Sequence[np.ndarray], dim: int) -> tuple[torch.Tensor, torch.Tensor,
                                                                   torch.Tensor]:
    lengths = torch.tensor([a.shape[0] for a in arrays], dtype=torch.long)
    starts = torch.zeros(len(arrays), dtype=torch.long)
    if len(arrays) > 1:
        starts[1:] = torch.cumsum(lengths, 0)[:-1]
    total = int(lengths.sum())
    data = torch.empty(total, dim, dtype=torch.float32)
    for a, s in zip(arrays, starts.tolist()):
        data[s: s + a.shape[0]] = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
    return data, starts, lengths


def corpus_weights(labels: Sequence[str], balance: float) -> torch.Tensor | None:
    """Per-clip sampling weights ``(N,)`` float64 that balance corpora, or ``None`` for uniform.

    A clip of a corpus with ``n_c`` clips gets weight ``n_c ** -balance``: ``balance = 0`` samples
    clips uniformly (big corpora dominate), ``1`` gives every corpus the same share of the batches,
    values between interpolate (``0.5``: share ∝ √n_c).
    """
    if not 0.0 <= balance <= 1.0:
        raise ValueError(f"source_balance must be in [0, 1], got {balance}")
    if balance == 0.0 or len(set(labels)) < 2:
        return None
    counts = Counter(labels)
    return torch.tensor([counts[lab] ** -balance for lab in labels], dtype=torch.float64)


class WindowDataset(Dataset):
    """Random fixed-length windows of normalised features (see the module docstring).

    Args:
        source: an opened split (:func:`open_split` / ``open_dataset``).
        window: window length in frames.
        mean, std: ``(D,)`` normalisation (default: the dataset's own ``mean`` / ``std``).
        short_clips: ``"skip"`` or ``"pad"`` clips shorter than ``window``.
        min_frames: with ``"pad"``, clips shorter than this (one token: ``2**down_t``) are skipped.

    Items: ``ds[(clip, offset)]`` → ``(window, D)`` float32 tensor (zero-padded); :meth:`get_batch`
    gathers a whole batch of ``(clip, offset)`` pairs at once with its mask (what the trainer uses).

    Attributes:
        ids: ids of the usable clips, in dataset order.
        lengths: ``(N,)`` long frame counts of the usable clips.
        n_short, short_ids: clips skipped because they are too short.
        n_padded: usable clips shorter than ``window`` (padded; 0 with ``"skip"``).
    """

    def __init__(self, source: MotionTextDataset, window: int, mean=None, std=None,
                 short_clips: str = "skip", min_frames: int = 1):
        if mean is None or std is None:
            if source.mean is None or source.std is None:
                raise DatasetError(source.root, "no valid Mean.npy/Std.npy",
                                   "compute them with compute_mean_std (the prepare step writes them)")
            mean, std = source.mean, source.std
        if short_clips not in ("skip", "pad"):
            raise ValueError(f"short_clips must be 'skip' or 'pad', got {short_clips!r}")
        self.window = int(window)
        self.short_clips = short_clips
        self.dim = int(source.dim)
        self.mean = np.asarray(mean, dtype=np.float32).reshape(self.dim)
        self.std = np.asarray(std, dtype=np.float32).reshape(self.dim)
        need = self.window if short_clips == "skip" else max(1, int(min_frames))
        keep = [i for i, n in enumerate(source.lengths) if n >= need]
        self.short_ids = [source.ids[i] for i, n in enumerate(source.lengths) if n < need]
        self.n_short = len(self.short_ids)
        if not keep:
            raise DatasetError(source.root, f"no clip of split {source.split!r} has at least "
                               f"{need} frames", "use a smaller train.window or short_clips: pad")
        self.ids = [source.ids[i] for i in keep]
        arrays = [(source[i].features - self.mean) / self.std for i in keep]
        self.data, self.starts, self.lengths = _stack_clips(arrays, self.dim)
        self.n_padded = int((self.lengths < self.window).sum())
        self._steps = torch.arange(self.window)

    def __len__(self) -> int:
        """Number of usable clips ``N`` (one epoch visits each once)."""
        return len(self.ids)

    def __getitem__(self, item: tuple[int, int]) -> torch.Tensor:
        clip, offset = item
        x, _ = self.get_batch(torch.tensor([clip]), torch.tensor([offset]))
        return x[0]

    def get_batch(self, clips: torch.Tensor, offsets: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(x, mask)`` for ``clips`` / ``offsets`` ``(B,)`` long: ``x`` ``(B, window, D)`` float32,
        zero after a short clip's end; ``mask`` ``(B, window)`` bool, or ``None`` when every window is
        full (always the case with ``short_clips="skip"``)."""
        valid = self._steps[None, :] < (self.lengths[clips] - offsets)[:, None]       # (B, W)
        idx = (self.starts[clips] + offsets)[:, None] + self._steps[None, :]
        if bool(valid.all()):
            return self.data[idx], None
        x = self.data[torch.where(valid, idx, 0)] * valid[..., None]
        return x, valid

    def describe(self) -> str:
        how = (f"{self.n_short} clips shorter than the {self.window}-frame window skipped"
               if self.short_clips == "skip" else
               f"{self.n_padded} clips shorter than the {self.window}-frame window padded, "
               f"{self.n_short} too short skipped")
        return f"{len(self)} clips, {int(self.lengths.sum())} frames; {how}"


class StepBatchSampler:
    """Deterministic batches of ``(clip, offset)`` for global steps ``start_step, start_step+1, …``.

    Args:
        lengths: ``(N,)`` frame counts of the usable clips (a clip shorter than ``window`` always
            gets offset 0).
        window, batch_size, seed: as in the training config.
        start_step: the first step to produce (``0`` for a new run, ``k`` after a checkpoint at step
            ``k``: the batch "of step k+1" in 1-based counting is ``batch(k)``).
        weights: optional ``(N,)`` non-negative clip weights (:func:`corpus_weights`); ``None``:
            epochs of permutations.

    ``batch(s)`` is a pure function of ``(seed, s)``; iterating yields ``list[(clip, offset)]`` for use
    as a ``DataLoader`` ``batch_sampler`` with :class:`WindowDataset`.
    """

    def __init__(self, lengths: torch.Tensor | Sequence[int], window: int, batch_size: int,
                 seed: int, start_step: int = 0, weights: torch.Tensor | None = None):
        self.lengths = torch.as_tensor(lengths, dtype=torch.long)
        self.n = int(self.lengths.numel())
        self.window = int(window)
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.start_step = int(start_step)
        if self.n == 0 or self.batch_size < 1:
            raise ValueError("need at least one clip and a positive batch size")
        if int(self.lengths.min()) < 1:
            raise ValueError("every clip must have at least one frame")
        self.weights = None
        if weights is not None:
            self.weights = torch.as_tensor(weights, dtype=torch.float64)
            if self.weights.shape != (self.n,) or bool((self.weights < 0).any()) \
                    or float(self.weights.sum()) <= 0:
                raise ValueError("weights must be (N,) non-negative with a positive sum")
        self._perm_cache: dict[int, torch.Tensor] = {}

    @property
    def steps_per_epoch(self) -> float:
        return self.n / self.batch_size

    def epoch_of(self, step: int) -> int:
        """Epoch (0-based) that the first item of step ``step`` belongs to (``N`` items per epoch)."""
        return (int(step) * self.batch_size) // self.n

    def _perm(self, epoch: int) -> torch.Tensor:
        p = self._perm_cache.get(epoch)
        if p is None:
            g = torch.Generator().manual_seed(mix_seed(self.seed, 0, epoch))
            p = torch.randperm(self.n, generator=g)
            if len(self._perm_cache) > 4:
                self._perm_cache.clear()
            self._perm_cache[epoch] = p
        return p

    def _clips(self, step: int) -> torch.Tensor:
        if self.weights is not None:
            g = torch.Generator().manual_seed(mix_seed(self.seed, 2, step))
            return torch.multinomial(self.weights, self.batch_size, replacement=True, generator=g)
        first = int(step) * self.batch_size
        pos = torch.arange(first, first + self.batch_size)
        epochs = pos // self.n
        clips = torch.empty(self.batch_size, dtype=torch.long)
        for e in torch.unique(epochs).tolist():
            sel = epochs == e
            clips[sel] = self._perm(e)[pos[sel] - e * self.n]
        return clips

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(clips, offsets)`` ``(B,)`` long each for global step ``step`` (0-based)."""
        clips = self._clips(step)
        g = torch.Generator().manual_seed(mix_seed(self.seed, 1, step))
        room = (self.lengths[clips] - self.window + 1).clamp(min=1).to(torch.float64)
        offsets = (torch.rand(self.batch_size, generator=g, dtype=torch.float64) * room).long()
        return clips, torch.minimum(offsets, room.long() - 1)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        step = self.start_step
        while True:
            clips, offsets = self.batch(step)
            yield list(zip(clips.tolist(), offsets.tolist()))
            step += 1


# ------------------------------------------------------------------------------ evaluation
@dataclass
class ClipBatch:
    """A padded batch of whole clips: ``features`` ``(B, T, D)`` normalised (zero padding),
    ``mask`` ``(B, T)`` bool, ``lengths`` ``(B,)`` long, ``ids`` list of clip ids."""

    features: torch.Tensor
    mask: torch.Tensor
    lengths: torch.Tensor
    ids: list[str]

    def to(self, device) -> ClipBatch:
        return ClipBatch(self.features.to(device), self.mask.to(device), self.lengths.to(device),
                         self.ids)


class ClipDataset(Dataset):
    """Whole clips of a split, normalised with ``mean`` / ``std``; items ``(id, (T, D) tensor)``.

    Clips shorter than ``min_frames`` (default 4 = one token) are left out (``n_short``).
    """

    def __init__(self, source: MotionTextDataset, mean, std, min_frames: int = 4,
                 max_clips: int | None = None):
        self.source = source
        self.mean = np.asarray(mean, dtype=np.float32).reshape(source.dim)
        self.std = np.asarray(std, dtype=np.float32).reshape(source.dim)
        keep = [i for i, n in enumerate(source.lengths) if n >= min_frames]
        self.n_short = len(source.lengths) - len(keep)
        if max_clips is not None:
            keep = keep[: int(max_clips)]
        self.index = keep
        self.lengths = [int(source.lengths[i]) for i in keep]

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> tuple[str, torch.Tensor]:
        sample = self.source[self.index[i]]
        x = (sample.features - self.mean) / self.std
        return sample.id, torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


def collate_clips(items: Sequence[tuple[str, torch.Tensor]]) -> ClipBatch:
    """Zero-pad clips at the end to the longest one; mask marks the real frames."""
    lengths = torch.tensor([x.shape[0] for _, x in items], dtype=torch.long)
    t, d = int(lengths.max()), items[0][1].shape[1]
    feats = torch.zeros(len(items), t, d, dtype=torch.float32)
    for b, (_, x) in enumerate(items):
        feats[b, : x.shape[0]] = x
    mask = torch.arange(t)[None, :] < lengths[:, None]
    return ClipBatch(feats, mask, lengths, [i for i, _ in items])


def make_eval_loader(clips: ClipDataset, batch_size: int = 32, num_workers: int = 0) -> DataLoader:
    """Batches of whole clips in increasing length order (little padding), deterministic."""
    order = sorted(range(len(clips)), key=lambda i: (clips.lengths[i], i))
    batches = [order[i: i + batch_size] for i in range(0, len(order), batch_size)]
    return DataLoader(clips, batch_sampler=batches, collate_fn=collate_clips,
                      num_workers=num_workers)
