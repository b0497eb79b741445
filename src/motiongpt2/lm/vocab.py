"""The unified motion-language vocabulary: motion ids and span markers as single LLM tokens.

A motion tokenizer has one or more token streams (``stream_names``: ``("motion",)`` for the VQ-VAE,
``("body", "hand")`` for the Part-Aware VQ-VAE) with one codebook each (``codebook_sizes``).  The
vocabulary adds, per stream ``s`` with ``K`` codes, the tokens ``<s_id_0> … <s_id_{K-1}>`` and the span
markers ``<s>`` / ``</s>``; for a multi-stream tokenizer it also adds ``<motion>`` / ``</motion>``
around the whole motion.  A motion of ``N`` tokens is written as text::

    VQ-VAE:      <motion><motion_id_12><motion_id_7>…</motion>
    Part-Aware:  <motion><body><body_id_3>…</body><hand><hand_id_40>…</hand></motion>

(no spaces; every piece is one token once :meth:`MotionVocab.bind` added them to an LLM tokenizer).
Body and hand spans hold the same number of tokens (the Part-Aware VQ-VAE quantizes both at the same
rate).  :meth:`MotionVocab.parse` reads model output back and never raises: malformed output gives
fewer (or zero) tokens and a list of the problems met.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["MotionVocab", "BoundVocab", "ParsedMotion", "MOTION"]

#: Name of the whole-motion span (and of the single stream of a plain VQ-VAE).
MOTION = "motion"

_TOKEN = re.compile(r"<(/?)([a-z]+)(?:_id_(\d+))?>")


@dataclass(frozen=True)
class ParsedMotion:
    """Motion tokens read from text.

    Attributes:
        tokens: ``(N, S)`` int64 codes, one column per stream (``N`` may be 0).
        problems: what was wrong with the text (empty when it was well formed).
    """

    tokens: np.ndarray
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems and len(self.tokens) > 0


@dataclass(frozen=True)
class MotionVocab:
    """Motion tokens of one tokenizer (see the module docstring).

    Args:
        stream_names: the tokenizer's ``stream_names`` (``("motion",)`` or ``("body", "hand")``).
        codebook_sizes: the tokenizer's ``codebook_sizes``, one per stream.
    """

    stream_names: tuple[str, ...]
    codebook_sizes: tuple[int, ...]

    def __post_init__(self):
        names, sizes = tuple(self.stream_names), tuple(int(k) for k in self.codebook_sizes)
        if not names or len(names) != len(sizes):
            raise ValueError(f"need one codebook size per stream, got {names} and {sizes}")
        if len(set(names)) != len(names) or any(not re.fullmatch(r"[a-z]+", n) for n in names):
            raise ValueError(f"stream names must be distinct lower-case words, got {names}")
        if len(names) > 1 and MOTION in names:
            raise ValueError(f"{MOTION!r} names the whole motion span; a multi-stream tokenizer cannot use it")
        if any(k < 1 for k in sizes):
            raise ValueError(f"codebook sizes must be positive, got {sizes}")
        object.__setattr__(self, "stream_names", names)
        object.__setattr__(self, "codebook_sizes", sizes)

    @classmethod
    def for_tokenizer(cls, tokenizer) -> "MotionVocab":
        """The vocabulary of a motion tokenizer (anything with ``stream_names`` and ``codebook_sizes``)."""
        return cls(tuple(tokenizer.stream_names), tuple(tokenizer.codebook_sizes))

    @property
    def n_streams(self) -> int:
        return len(self.stream_names)

    # ------------------------------------------------------------------ token strings
    @staticmethod
    def code_token(stream: str, code: int) -> str:
        return f"<{stream}_id_{int(code)}>"

    @staticmethod
    def open_token(span: str) -> str:
        return f"<{span}>"

    @staticmethod
    def close_token(span: str) -> str:
        return f"</{span}>"

    @property
    def spans(self) -> tuple[str, ...]:
        """Span names: ``("motion",)`` or ``("motion", "body", "hand")``."""
        return (MOTION,) if self.n_streams == 1 else (MOTION, *self.stream_names)

    def marker_tokens(self) -> list[str]:
        return [t for s in self.spans for t in (self.open_token(s), self.close_token(s))]

    def tokens(self) -> list[str]:
        """Every token this vocabulary adds: the markers first, then the codes stream by stream."""
        codes = [self.code_token(s, k) for s, n in zip(self.stream_names, self.codebook_sizes) for k in range(n)]
        return self.marker_tokens() + codes

    # ------------------------------------------------------------------ text
    def render(self, tokens: np.ndarray | Sequence) -> str:
        """Text of a motion: ``tokens`` is ``(N, S)`` (or ``(N,)`` for one stream) int codes."""
        arr = np.asarray(tokens, dtype=np.int64)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2 or arr.shape[1] != self.n_streams:
            raise ValueError(f"expected motion tokens (N, {self.n_streams}), got shape {arr.shape}")
        limit = np.asarray(self.codebook_sizes)
        if arr.size and ((arr < 0) | (arr >= limit)).any():
            raise ValueError(f"motion token out of range for codebooks {self.codebook_sizes}")
        if self.n_streams == 1:
            body = "".join(self.code_token(MOTION, k) for k in arr[:, 0])
        else:
            body = "".join(self.open_token(s) + "".join(self.code_token(s, k) for k in arr[:, i]) + self.close_token(s)
                           for i, s in enumerate(self.stream_names))
        return self.open_token(MOTION) + body + self.close_token(MOTION)

    def parse(self, text: str) -> ParsedMotion:
        """Motion tokens of the first motion span in ``text`` (robust: never raises).

        Codes of a stream are collected in order; for several streams the result is cut to the
        shortest stream. Missing markers, codes of unknown streams, out-of-range codes and text
        inside a span are reported in ``problems`` and skipped.
        """
        problems: list[str] = []
        start = text.find(self.open_token(MOTION))
        if start < 0:
            problems.append(f"no {self.open_token(MOTION)} marker")
            start = 0
        else:
            start += len(self.open_token(MOTION))
        end = text.find(self.close_token(MOTION), start)
        if end < 0:
            problems.append(f"no {self.close_token(MOTION)} marker")
            end = len(text)
        span = text[start:end]
        codes: dict[str, list[int]] = {s: [] for s in self.stream_names}
        sizes = dict(zip(self.stream_names, self.codebook_sizes))
        pos = 0
        for m in _TOKEN.finditer(span):
            if span[pos:m.start()].strip():
                problems.append(f"text inside the motion span: {span[pos:m.start()].strip()[:40]!r}")
            pos = m.end()
            name, code = m.group(2), m.group(3)
            if code is None:
                if name not in self.spans:
                    problems.append(f"unknown marker {m.group(0)}")
                continue
            if name not in sizes:
                problems.append(f"code of unknown stream {m.group(0)}")
            elif int(code) >= sizes[name]:
                problems.append(f"code out of range {m.group(0)}")
            else:
                codes[name].append(int(code))
        if span[pos:].strip():
            problems.append(f"text inside the motion span: {span[pos:].strip()[:40]!r}")
        lengths = {s: len(c) for s, c in codes.items()}
        n = min(lengths.values())
        if len(set(lengths.values())) > 1:
            problems.append(f"streams of different lengths {lengths}; cut to {n}")
        if n == 0:
            problems.append("no motion token")
        tokens = np.array([codes[s][:n] for s in self.stream_names], dtype=np.int64).T.reshape(n, self.n_streams)
        return ParsedMotion(tokens, tuple(problems))

    # ------------------------------------------------------------------ ids
    def bind(self, hf_tokenizer) -> "BoundVocab":
        """Add the tokens to a Hugging Face tokenizer (as special tokens: never split, each one id) and
        return their ids. Tokens already present keep their ids, so binding twice is harmless."""
        hf_tokenizer.add_tokens(self.tokens(), special_tokens=True)
        ids = hf_tokenizer.convert_tokens_to_ids
        code_ids = {s: np.array([ids(self.code_token(s, k)) for k in range(n)], dtype=np.int64)
                    for s, n in zip(self.stream_names, self.codebook_sizes)}
        return BoundVocab(self, {s: ids(self.open_token(s)) for s in self.spans},
                          {s: ids(self.close_token(s)) for s in self.spans}, code_ids)


@dataclass(frozen=True)
class BoundVocab:
    """A :class:`MotionVocab` bound to one LLM tokenizer's ids.

    Attributes:
        vocab: the string-level vocabulary.
        open_ids, close_ids: ``{span: token id}`` of the markers.
        code_ids: ``{stream: (K,) int64}`` token id of each code.
    """

    vocab: MotionVocab
    open_ids: dict[str, int]
    close_ids: dict[str, int]
    code_ids: dict[str, np.ndarray]
    _code_of: dict[int, tuple[str, int]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        for s, arr in self.code_ids.items():
            for k, i in enumerate(arr.tolist()):
                self._code_of[int(i)] = (s, k)

    @property
    def new_ids(self) -> np.ndarray:
        """Every added token id (markers and codes), sorted."""
        ids = list(self.open_ids.values()) + list(self.close_ids.values())
        ids += [i for arr in self.code_ids.values() for i in arr.tolist()]
        return np.array(sorted(set(ids)), dtype=np.int64)

    def all_code_ids(self) -> np.ndarray:
        return np.concatenate([self.code_ids[s] for s in self.vocab.stream_names])

    def code_of(self, token_id: int) -> tuple[str, int] | None:
        """``(stream, code)`` of a motion-code token id, ``None`` for any other id."""
        return self._code_of.get(int(token_id))

    def ids_of(self, tokens: np.ndarray | Sequence) -> list[int]:
        """Token ids of the text :meth:`MotionVocab.render` writes for ``tokens`` ``(N, S)``."""
        arr = np.asarray(tokens, dtype=np.int64)
        if arr.ndim == 1:
            arr = arr[:, None]
        v = self.vocab
        out = [self.open_ids[MOTION]]
        if v.n_streams == 1:
            out += self.code_ids[MOTION][arr[:, 0]].tolist()
        else:
            for i, s in enumerate(v.stream_names):
                out += [self.open_ids[s], *self.code_ids[s][arr[:, i]].tolist(), self.close_ids[s]]
        return out + [self.close_ids[MOTION]]
