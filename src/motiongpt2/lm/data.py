"""Training samples of the language model (stage 2 ``align``, stage 3 ``instruct``) and their batches.

**Motions** (:class:`MotionTexts`) are the items of the motion tokenizer's token cache
(:func:`~motiongpt2.tokenizer.tokens.encode_split`): one item per clip holding its whole-clip captions
and one per timed caption holding its token sub-range; ``tokens[k]`` is ``(N, S)`` int64 (``N`` motion
tokens of 4 frames = 0.2 s at 20 fps, ``S`` token streams).  Several prepared datasets are joined.

**Text-only captions** (stage 2, :func:`text_only_pool`): real in-domain captions whose motion we do
not have — HumanML3D ``captions.json`` and KIT-ML ``annotations.json`` of the shared folder, restricted
to the ids of their official **train** splits (never val/test), minus every caption that already
appears in a prepared dataset used for training (any split: its motion is ours, or it is one of our
val/test captions), deduplicated.

**Sample streams** (:class:`SampleStream`): an epoch is a list of entries —

* ``align``: every item twice (``align-t2m`` and ``align-m2t``, :func:`~.instructions.alignment_samples`)
  plus ``round(2n · r / (1 - r))`` text-only captions (``r`` = ``text_only_ratio``; each caption at
  most once per epoch, a different subset every epoch);
* ``instruct``: every item once, its task drawn from the configured weights among the tasks its length
  allows (``predict`` ≥ 2 tokens, ``inbetween`` ≥ 3; ``wholebody`` only with a two-stream tokenizer).

The entries are shuffled per epoch, and the sample at global position ``p`` (caption choice, task,
paraphrase, key poses, length hint) is drawn fresh from a generator seeded with ``(seed, epoch,
entry)``: the stream is a pure function of ``(seed, p)``, so a resumed run sees exactly the samples of
an uninterrupted one and every process of a multi-GPU run can build any batch itself.

**Tokenization** (:class:`SampleEncoder`): :func:`~.instructions.format_chat` gives ``(prompt_text,
answer_text)``; the prompt is tokenized with the tokenizer's special tokens, the answer without, and
the EOS id is appended to the answer.  Causal models: ``input_ids = prompt + answer``, ``labels = -100``
on the prompt; seq2seq models (T5): encoder input = prompt, labels = answer.  A sample longer than
``max_length`` is refused (``None``), never cut.  :func:`collate` pads on the right (labels ``-100``).
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..tokenizer.tokens import TokenSet
from .instructions import LENGTH_TASKS, TASKS, Sample, alignment_samples, build_sample, format_chat, text_only_sample
from .vocab import MotionVocab

__all__ = ["IGNORE", "TEXT_SOURCES", "Encoded", "MotionTexts", "SampleEncoder", "SampleStream", "TextPool",
           "caption_key", "collate", "dataset_caption_keys", "text_only_pool"]

#: Label of positions without loss (prompt, padding), as Hugging Face losses expect.
IGNORE = -100
#: Text-only caption corpora of the shared folder: files relative to ``<shared>/annotations``.
TEXT_SOURCES = {"humanml3d": ("humanml3d/captions.json", "humanml3d/train.txt"),
                "kitml": ("kitml/annotations.json", "kitml/splits/train.txt")}
#: Fewest motion tokens a task needs (the others need one).
_MIN_TOKENS = {"predict": 2, "inbetween": 3}


# ---------------------------------------------------------------------------------------- motions
@dataclass(frozen=True)
class MotionTexts:
    """Captioned motions: ``tokens[k]`` ``(N, S)`` int64 codes, ``captions[k]`` its captions (≥ 1),
    ``names[k]`` ``"<dataset folder name>/<clip id>"``."""

    tokens: list[np.ndarray]
    captions: list[list[str]]
    names: list[str]

    def __len__(self) -> int:
        return len(self.tokens)

    @classmethod
    def from_token_sets(cls, sets: Iterable[TokenSet], roots: Iterable[str | Path] | None = None) -> "MotionTexts":
        """The items of token caches (one per data root), joined in order."""
        tokens, captions, names = [], [], []
        sets = list(sets)
        labels = [Path(r).name for r in roots] if roots is not None else [s.split for s in sets]
        for label, ts in zip(labels, sets):
            for (ci, a, b), caps in zip(ts.items.tolist(), ts.item_captions):
                tokens.append(ts.tokens[ci][a:b])
                captions.append(list(caps))
                names.append(f"{label}/{ts.ids[ci]}")
        return cls(tokens, captions, names)

    def n_captions(self) -> int:
        return sum(len(c) for c in self.captions)


# ---------------------------------------------------------------------------------------- text-only pool
def caption_key(text: str) -> str:
    """Comparison key of a caption: lower case, single spaces, no trailing punctuation."""
    return re.sub(r"\s+", " ", text.lower()).strip().rstrip(".!?,; ")


def dataset_caption_keys(roots: Iterable[str | Path]) -> set[str]:
    """:func:`caption_key` of every caption of every clip (all splits) of prepared datasets
    (``texts/<id>.txt``: ``caption#tokens#start#end`` lines)."""
    keys: set[str] = set()
    for root in roots:
        for path in sorted((Path(root).expanduser() / "texts").glob("*.txt")):
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                caption = line.split("#", 1)[0].strip()
                if caption:
                    keys.add(caption_key(caption))
    return keys


@dataclass(frozen=True)
class TextPool:
    """Text-only captions and where they came from.

    Attributes:
        captions: the usable captions, deduplicated, in a fixed order.
        stats: per corpus ``{"train_ids", "captions", "in_our_data", "used"}`` (ids of its train split
            with captions, their captions, those dropped because a training dataset holds them, and
            the new captions it contributed).
        note: why the pool is empty or smaller than asked (``""`` otherwise).
    """

    captions: tuple[str, ...] = ()
    stats: dict[str, dict[str, int]] = field(default_factory=dict)
    note: str = ""

    def __len__(self) -> int:
        return len(self.captions)


def _train_ids(path: Path) -> set[str]:
    return {line.strip() for line in path.read_text().splitlines() if line.strip()}


def _corpus_captions(name: str, data: Any, ids: set[str]) -> list[str]:
    """Captions of the train ids: HumanML3D ``{id: [{caption, ...}]}``, KIT-ML ``{id: {annotations:
    [{text, ...}]}}``."""
    out = []
    for cid in sorted(ids & set(data)):
        entry = data[cid]
        rows = entry if name == "humanml3d" else entry.get("annotations", [])
        out += [str(r.get("caption" if name == "humanml3d" else "text", "")).strip() for r in rows]
    return [c for c in out if c]


def text_only_pool(shared: str | Path | None, sources: Sequence[str] = ("humanml3d", "kitml"),
                   exclude: set[str] | frozenset[str] = frozenset()) -> TextPool:
    """Text-only captions of ``sources`` (module docstring) from the shared folder ``shared``
    (``None`` or missing: an empty pool with a ``note``); ``exclude``: :func:`caption_key` values to
    drop (:func:`dataset_caption_keys` of the training datasets)."""
    if shared is None or not (Path(shared) / "annotations").is_dir():
        return TextPool(note=f"no shared annotations folder ({shared}/annotations): stage 2 runs without "
                             "text-only samples")
    seen: set[str] = set(exclude)
    captions: list[str] = []
    stats: dict[str, dict[str, int]] = {}
    missing = []
    for name in sources:
        cap_file, split_file = (Path(shared) / "annotations" / f for f in TEXT_SOURCES[name])
        if not cap_file.exists() or not split_file.exists():
            missing.append(name)
            continue
        ids = _train_ids(split_file)
        data = json.loads(cap_file.read_text())
        corpus = _corpus_captions(name, data, ids)
        in_data = used = 0
        for c in corpus:
            key = caption_key(c)
            if key in exclude:
                in_data += 1
            elif key not in seen:
                seen.add(key)
                captions.append(" ".join(c.split()))
                used += 1
        stats[name] = {"train_ids": len(ids & set(data)), "captions": len(corpus), "in_our_data": in_data,
                       "used": used}
    note = f"missing caption files of {missing} in {shared}/annotations" if missing else ""
    return TextPool(tuple(captions), stats, note)


# ---------------------------------------------------------------------------------------- sample streams
class SampleStream:
    """The training samples of one stage as a pure function of ``(seed, position)`` (module docstring).

    Args:
        stage: ``"align"`` or ``"instruct"``.
        motions: the captioned motions.
        vocab: the motion vocabulary (its ``n_streams`` decides whether ``wholebody`` is used).
        seed: seed of the shuffles and of every sample.
        text_pool, text_only_ratio: stage 2 text-only captions and their share of an epoch.
        task_weights: stage 3 ``{task: weight}`` (tasks of :data:`~.instructions.TASKS`).
        length_hint_prob: probability of stating the length in a length-conditioned task.
        prompts: a :func:`~.instructions.load_prompts` result (``None``: the packaged V0).
    """

    def __init__(self, stage: str, motions: MotionTexts, vocab: MotionVocab, *, seed: int,
                 text_pool: Sequence[str] = (), text_only_ratio: float = 0.0,
                 task_weights: Mapping[str, float] | None = None, length_hint_prob: float = 0.5,
                 prompts: Any = None):
        if stage not in ("align", "instruct"):
            raise ValueError(f"stage must be 'align' or 'instruct', got {stage!r}")
        self.stage, self.motions, self.vocab, self.seed = stage, motions, vocab, int(seed)
        self.prompts, self.length_hint_prob = prompts, float(length_hint_prob)
        self.text_pool = tuple(text_pool)
        n = len(motions)
        self.n_text = 0
        self.tasks: tuple[str, ...] = ()
        self.weights = np.zeros(0)
        if stage == "align":
            if text_only_ratio > 0 and self.text_pool:
                want = round(2 * n * text_only_ratio / (1.0 - text_only_ratio)) if n else len(self.text_pool)
                self.n_text = min(len(self.text_pool), max(1, want))
            self.epoch_size = 2 * n + self.n_text
        else:
            weights = dict(task_weights or {t: 1.0 for t in TASKS})
            if vocab.n_streams != 2:
                weights.pop("wholebody", None)
            self.tasks = tuple(t for t in TASKS if weights.get(t, 0) > 0)
            if not self.tasks:
                raise ValueError("no task with a positive weight for this tokenizer "
                                 f"({vocab.n_streams} stream(s); wholebody needs 2)")
            self.weights = np.array([float(weights[t]) for t in self.tasks])
            self.epoch_size = n
        if self.epoch_size == 0:
            raise ValueError(f"no training material for stage {stage} (no captioned motion)")
        self._orders: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}

    def describe(self) -> str:
        if self.stage == "align":
            return (f"{len(self.motions)} captioned motions x 2 directions + {self.n_text} text-only captions "
                    f"(of {len(self.text_pool)}) = {self.epoch_size} samples per epoch")
        mix = ", ".join(f"{t} {w / self.weights.sum():.0%}" for t, w in zip(self.tasks, self.weights))
        return f"{len(self.motions)} captioned motions = {self.epoch_size} samples per epoch; tasks {mix}"

    def epoch_of(self, position: int) -> int:
        return int(position) // self.epoch_size

    def _order(self, epoch: int) -> tuple[np.ndarray, np.ndarray | None]:
        """The shuffled entries of ``epoch`` and (stage 2) the caption order of its text-only entries."""
        if epoch not in self._orders:
            if len(self._orders) > 2:
                self._orders.pop(min(self._orders))
            perm = np.random.default_rng([self.seed, 0, epoch]).permutation(self.epoch_size)
            texts = (np.random.default_rng([self.seed, 1, epoch]).permutation(len(self.text_pool))[: self.n_text]
                     if self.n_text else None)
            self._orders[epoch] = (perm, texts)
        return self._orders[epoch]

    def sample(self, position: int) -> Sample:
        """The sample at global stream position ``position`` (``epoch · epoch_size + index``)."""
        epoch, index = divmod(int(position), self.epoch_size)
        perm, texts = self._order(epoch)
        entry = int(perm[index])
        rng = np.random.default_rng([self.seed, 2, epoch, entry])
        n_paired = 2 * len(self.motions) if self.stage == "align" else len(self.motions)
        if entry >= n_paired:
            return text_only_sample(self.text_pool[int(texts[entry - n_paired])], rng, self.prompts)
        item = entry // 2 if self.stage == "align" else entry
        caps, tokens = self.motions.captions[item], self.motions.tokens[item]
        caption = caps[int(rng.integers(len(caps)))]
        if self.stage == "align":
            return alignment_samples(caption, tokens, self.vocab, rng, self.prompts)[entry % 2]
        ok = np.array([len(tokens) >= _MIN_TOKENS.get(t, 1) for t in self.tasks])
        p = np.where(ok, self.weights, 0.0)
        if p.sum() == 0:  # a 1-token motion and only predict/inbetween weighted: fall back to t2m
            return build_sample("t2m", self.vocab, caption=caption, tokens=tokens, rng=rng, prompts=self.prompts)
        task = self.tasks[int(rng.choice(len(self.tasks), p=p / p.sum()))]
        hint = task in LENGTH_TASKS and bool(rng.random() < self.length_hint_prob)
        return build_sample(task, self.vocab, caption=caption, tokens=tokens, rng=rng, prompts=self.prompts,
                            length_hint=hint)

    def samples(self, start: int, stop: int) -> list[Sample]:
        """Samples at positions ``start .. stop - 1``."""
        return [self.sample(p) for p in range(start, stop)]


# ---------------------------------------------------------------------------------------- tokenization
@dataclass(frozen=True)
class Encoded:
    """One tokenized sample.

    Attributes:
        input_ids: causal: prompt + answer ids; seq2seq: the prompt ids (encoder input).
        labels: causal: ``-100`` over the prompt, then the answer ids (EOS last); seq2seq: the answer ids.
        task: the sample's task.
    """

    input_ids: list[int]
    labels: list[int]
    task: str

    @property
    def n_answer(self) -> int:
        """Answer tokens (with EOS): the tokens the loss is computed on."""
        return sum(1 for t in self.labels if t != IGNORE)


class SampleEncoder:
    """Turns a :class:`~.instructions.Sample` into :class:`Encoded` ids (module docstring).

    Args:
        hf_tokenizer: the extended Hugging Face tokenizer (its ``eos_token_id`` ends every answer).
        kind: ``"causal"`` or ``"seq2seq"``.
        max_length: longest sequence in tokens; longer samples give ``None``.
        chat_template: the prompt text is the tokenizer's chat template (tokenized without adding
            special tokens: the template holds them).
    """

    def __init__(self, hf_tokenizer, kind: str, max_length: int, chat_template: bool = False):
        if kind not in ("causal", "seq2seq"):
            raise ValueError(f"kind must be 'causal' or 'seq2seq', got {kind!r}")
        if hf_tokenizer.eos_token_id is None:
            raise ValueError("the tokenizer has no EOS token")
        self.tok, self.kind, self.max_length, self.chat_template = hf_tokenizer, kind, int(max_length), chat_template
        self.eos_id = int(hf_tokenizer.eos_token_id)

    def __call__(self, sample: Sample) -> Encoded | None:
        prompt_text, answer_text = format_chat(sample, self.tok, chat_template=self.chat_template, eos="")
        prompt = self.tok(prompt_text, add_special_tokens=not self.chat_template)["input_ids"]
        answer = self.tok(answer_text, add_special_tokens=False)["input_ids"] + [self.eos_id]
        if self.kind == "seq2seq":
            if max(len(prompt), len(answer)) > self.max_length:
                return None
            return Encoded(list(prompt), answer, sample.task)
        if len(prompt) + len(answer) > self.max_length:
            return None
        return Encoded(list(prompt) + answer, [IGNORE] * len(prompt) + answer, sample.task)


def collate(batch: Sequence[Encoded], pad_id: int, kind: str = "causal",
            decoder_start_id: int | None = None) -> dict[str, torch.Tensor]:
    """Right-padded tensors of a batch.

    Causal: ``input_ids`` / ``attention_mask`` / ``labels`` ``(B, L)`` (``L`` the longest sequence;
    padding ids ``pad_id``, mask 0, labels ``-100``).  Seq2seq: ``input_ids`` / ``attention_mask``
    ``(B, L_in)``, ``labels`` ``(B, L_out)`` and ``decoder_input_ids`` ``(B, L_out)`` = labels shifted
    right behind ``decoder_start_id`` (padding → ``pad_id``).
    """
    if not batch:
        raise ValueError("empty batch")
    B = len(batch)
    L = max(len(e.input_ids) for e in batch)
    ids = torch.full((B, L), int(pad_id), dtype=torch.long)
    mask = torch.zeros((B, L), dtype=torch.long)
    out_len = L if kind == "causal" else max(len(e.labels) for e in batch)
    labels = torch.full((B, out_len), IGNORE, dtype=torch.long)
    for i, e in enumerate(batch):
        ids[i, : len(e.input_ids)] = torch.tensor(e.input_ids)
        mask[i, : len(e.input_ids)] = 1
        labels[i, : len(e.labels)] = torch.tensor(e.labels)
    out = {"input_ids": ids, "attention_mask": mask, "labels": labels}
    if kind == "seq2seq":
        if decoder_start_id is None:
            raise ValueError("seq2seq batches need decoder_start_id")
        dec = torch.full_like(labels, int(pad_id))
        dec[:, 0] = int(decoder_start_id)
        shifted = labels[:, :-1]
        dec[:, 1:] = torch.where(shifted == IGNORE, torch.full_like(shifted, int(pad_id)), shifted)
        out["decoder_input_ids"] = dec
    return out
