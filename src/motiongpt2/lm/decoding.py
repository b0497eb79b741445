"""Generation core: a motion-grammar constraint on the logits and a batched KV-cache decoding loop.

:class:`MotionConstraint` is a transformers ``LogitsProcessor`` holding one small state machine per
sequence (vectorised over the batch with torch) that bans, by setting logits to ``-inf`` on whole
vocabulary rows, every token that would break the motion grammar of :mod:`motiongpt2.lm.vocab`::

    one stream:   <motion> code+ </motion>
    two streams:  <motion> <body> body-code+ </body> <hand> hand-code{same count} </hand> </motion>

* Outside a motion span no marker other than ``<motion>`` and no code id may appear (captions never
  contain motion ids).  At most one motion span per answer: once it is closed the sequence goes back to
  text (mode ``"free"``) or must end (mode ``"motion"``: EOS is forced).
* Inside a span only the current stream's codes and its closing marker are allowed (the closer only
  after at least one code); for several streams every stream after the first holds exactly as many
  codes as the first one.
* ``target_tokens`` (per sequence, ``None`` for free length): exact count of codes per stream — the
  closer is banned before and forced at that count.  ``max_tokens`` (the motion tokenizer's maximum,
  e.g. 49 tokens = 196 frames): after that many codes the closer is forced.
* ``mode`` per sequence: ``"motion"`` (the answer is a motion: ``<motion>`` is forced as the first
  generated token and EOS right after ``</motion>``), ``"text"`` (no motion span may be opened) or
  ``"free"``.

:func:`decode` is the batched decoding loop (KV cache, left padding, causal or encoder-decoder models)
that applies the constraint and samples each sequence from its own ``torch.Generator``.  The constraint
also plugs into ``model.generate(logits_processor=[constraint])``.

Restricted output head: while every sequence of the batch is inside a motion span only a few hundred of
the LLM's ~50k vocabulary rows are allowed, so :func:`decode` swaps the model's output projection for a
:class:`RestrictedHead` that computes those rows only (the others are ``-inf``, as the constraint would
set them).  For SmolLM2-135M the tied 49k x 576 projection is a fifth of the weights read per token —
more than half once the decoder layers are int8.  Any element-wise post-processing of the logits
(soft-capping, scaling) still runs; banned entries are masked again by the constraint.

Forced tokens: when the grammar leaves every running sequence exactly one token (``<motion>`` first in
mode ``"motion"``, ``</motion>`` after an exact count, EOS after the span, a stream's opener), it is
taken without a forward pass and read by the model together with the next token that needs one (a
196-frame motion: 48 cached steps instead of 50).  Sampling still draws one number per token, so the
random streams do not depend on which tokens were forced.

Batch independence: a sequence's output does not depend on the other sequences of its batch *up to
float rounding*: the masks, the stopping rule and the random numbers (one generator per sequence, one
uniform draw per step, inverse-CDF sampling) are per sequence, but batched and left-padded matmuls may
round differently from the single-sequence ones.  Greedy output therefore matches unless two logits tie
within rounding; sampled output matches when each uniform draw falls on the same side of the (slightly
perturbed) cumulative-probability boundaries, which holds for all but a vanishing fraction of draws
(and exactly in the tests' tiny models).  Top-p cut-offs can flip under the same condition.
"""
from __future__ import annotations

import inspect
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from motiongpt2.lm.vocab import MOTION, BoundVocab, ParsedMotion

try:  # plain class when transformers is missing: the constraint only needs torch
    from transformers import LogitsProcessor
except ImportError:  # pragma: no cover
    LogitsProcessor = object  # type: ignore[assignment,misc]

__all__ = ["MODES", "MotionConstraint", "DecodeResult", "decode", "motion_text", "parse_motion_ids"]

#: Values of the ``mode`` flag (per sequence).
MODES = ("free", "motion", "text")

# Phases of the per-sequence state machine.
_TEXT = 0          # outside a span, ``<motion>`` may open one
_FORCE_OPEN = 1    # mode "motion", nothing generated yet: only ``<motion>``
_NO_MOTION = 2     # outside a span, no span may be opened (mode "text", or after the span in "free")
_EOS = 3           # mode "motion" after ``</motion>``: only EOS
_EXPECT_OPEN = 4   # multi-stream: only the opening marker of stream ``stream``
_IN = 5            # inside stream ``stream``: its codes and / or its closing marker
_EXPECT_END = 6    # multi-stream, every stream closed: only ``</motion>``


def _as_list(value, n: int | None, name: str) -> list:
    """``value`` broadcast to ``n`` items (a scalar, or a sequence of length n)."""
    if isinstance(value, (str, int, np.integer)) or value is None:
        return [value] * (n or 1)
    out = list(value)
    if n is not None and len(out) != n:
        raise ValueError(f"{name}: expected {n} values (one per sequence), got {len(out)}")
    return out


class MotionConstraint(LogitsProcessor):
    """Per-sequence motion-grammar state machine on the logits (see the module docstring).

    Args:
        bound: the motion vocabulary bound to the LLM's ids.
        mode: ``"motion"``, ``"text"`` or ``"free"``, one for all sequences or one per sequence.
        eos_token_id: EOS id(s); forced after ``</motion>`` in mode ``"motion"`` (when ``None`` the
            sequence goes back to text there instead, and the caller must stop it).
        target_tokens: exact code count per stream, one for all or one per sequence (``None``: free).
        max_tokens: cap on the code count per stream (``None``: no cap).

    Two ways to use it:

    * our loop (:func:`decode`): :meth:`reset` ``(batch)``, then per step :meth:`apply` ``(scores)`` and
      :meth:`advance` ``(tokens)``;
    * ``model.generate(logits_processor=[constraint])``: :meth:`__call__` ``(input_ids, scores)`` keeps
      the state in step with ``input_ids`` itself (the prompt is whatever ``input_ids`` holds on the
      first call; beam reordering is handled by replaying the generated part).  Per-sequence settings
      are repeated for ``num_beams`` / ``num_return_sequences`` copies.  Call :meth:`reset` (or use a
      new constraint) before the next ``generate`` with the same batch size and prompts.
    """

    def __init__(self, bound: BoundVocab, *, mode: str | Sequence[str] = "free",
                 eos_token_id: int | Sequence[int] | None = None,
                 target_tokens: int | None | Sequence[int | None] = None, max_tokens: int | None = None):
        self.bound = bound
        self.n_streams = bound.vocab.n_streams
        modes = _as_list(mode, None, "mode")
        bad = [m for m in modes if m not in MODES]
        if bad:
            raise ValueError(f"mode must be one of {MODES}, got {bad}")
        targets = _as_list(target_tokens, None, "target_tokens")
        if len(modes) == 1 and len(targets) > 1:
            modes = modes * len(targets)
        if len(targets) == 1 and len(modes) > 1:
            targets = targets * len(modes)
        if len(targets) != len(modes):
            raise ValueError(f"mode and target_tokens disagree on the batch: {len(modes)} vs {len(targets)}")
        if max_tokens is not None and int(max_tokens) < 1:
            raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
        for t in targets:
            if t is not None and (int(t) < 1 or (max_tokens is not None and int(t) > int(max_tokens))):
                raise ValueError(f"target_tokens must lie in [1, max_tokens={max_tokens}], got {t}")
        self._modes = modes
        self._targets = [-1 if t is None else int(t) for t in targets]
        self.max_tokens = None if max_tokens is None else int(max_tokens)
        if eos_token_id is None:
            self.eos_ids: tuple[int, ...] = ()
        else:
            self.eos_ids = tuple(int(i) for i in _as_list(eos_token_id, None, "eos_token_id"))
        streams = bound.vocab.stream_names
        S = self.n_streams
        self._open_motion = int(bound.open_ids[MOTION])
        self._close_motion = int(bound.close_ids[MOTION])
        if S == 1:
            self._stream_open = [self._open_motion]
            self._stream_close = [self._close_motion]
        else:
            self._stream_open = [int(bound.open_ids[s]) for s in streams]
            self._stream_close = [int(bound.close_ids[s]) for s in streams]
        # id -> stream of a code (-1 otherwise), for the transitions
        hi = int(bound.new_ids.max()) + 1
        lut = torch.full((hi,), -1, dtype=torch.long)
        for k, s in enumerate(streams):
            lut[torch.as_tensor(bound.code_ids[s], dtype=torch.long)] = k
        self._code_stream_cpu = lut
        self._tables: dict = {}
        self._state: dict[str, torch.Tensor] | None = None
        self._seen: torch.Tensor | None = None   # input_ids of the last __call__
        self._prompt_len = 0

    # ------------------------------------------------------------------ state
    @property
    def batch_size(self) -> int | None:
        return None if self._state is None else int(self._state["phase"].shape[0])

    def reset(self, batch_size: int | None = None, device: torch.device | str | None = None) -> None:
        """Start every sequence afresh (nothing generated yet) for a batch of ``batch_size``."""
        n = len(self._modes)
        B = n if batch_size is None else int(batch_size)
        if B % n and n > 1:
            raise ValueError(f"batch of {B} is not a multiple of the {n} per-sequence settings")
        rep = B // n if n > 1 else B
        modes = [m for m in self._modes for _ in range(rep)] if n > 1 else self._modes * B
        targets = [t for t in self._targets for _ in range(rep)] if n > 1 else self._targets * B
        dev = torch.device("cpu") if device is None else torch.device(device)
        mode_t = torch.tensor([MODES.index(m) for m in modes], dtype=torch.long, device=dev)
        phase = torch.where(mode_t == MODES.index("motion"), _FORCE_OPEN,
                            torch.where(mode_t == MODES.index("text"), _NO_MOTION, _TEXT))
        zeros = torch.zeros(B, dtype=torch.long, device=dev)
        self._state = {"phase": phase, "mode": mode_t, "stream": zeros.clone(), "count": zeros.clone(),
                       "length": zeros.clone(), "target": torch.tensor(targets, dtype=torch.long, device=dev)}
        self._seen = None

    def state(self) -> dict[str, torch.Tensor]:
        """A copy of the per-sequence state (``phase``, ``mode``, ``stream``, ``count``, ``length``,
        ``target``), for tests and debugging."""
        if self._state is None:
            raise RuntimeError("the constraint has no state yet: call reset() first")
        return {k: v.clone() for k, v in self._state.items()}

    def span_closed(self) -> torch.Tensor:
        """``(B,)`` bool: the sequence's motion span has been closed (it is back to text or must end)."""
        st = self._state
        return ((st["phase"] == _EOS) | ((st["phase"] == _NO_MOTION) & (st["mode"] == MODES.index("free"))))

    def _table(self, vocab_size: int, device: torch.device) -> torch.Tensor:
        """``(n_kinds, V)`` bool rows: 0 text+open, 1 text, 2 only ``<motion>``, 3 EOS, 4 ``</motion>``,
        then per stream k: 5+k its opener, 5+S+k its codes, 5+2S+k its closer."""
        key = (vocab_size, str(device))
        if key not in self._tables:
            S = self.n_streams
            t = torch.zeros(5 + 3 * S, vocab_size, dtype=torch.bool)
            new = torch.as_tensor(self.bound.new_ids, dtype=torch.long)
            if int(new.max()) >= vocab_size:
                raise ValueError(f"motion ids reach {int(new.max())} but the logits have {vocab_size} entries")
            t[1] = True
            t[1, new] = False
            t[0] = t[1]
            t[0, self._open_motion] = True
            t[2, self._open_motion] = True
            if self.eos_ids:
                t[3, list(self.eos_ids)] = True
            else:  # no EOS known: after the span the sequence may only write text
                t[3] = t[1]
            t[4, self._close_motion] = True
            for k, s in enumerate(self.bound.vocab.stream_names):
                t[5 + k, self._stream_open[k]] = True
                t[5 + S + k, torch.as_tensor(self.bound.code_ids[s], dtype=torch.long)] = True
                t[5 + 2 * S + k, self._stream_close[k]] = True
            self._tables[key] = t.to(device)
        return self._tables[key]

    def _limits(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(can_code, can_close)`` for sequences inside a stream."""
        st = self._state
        count, target = st["count"], st["target"]
        big = torch.iinfo(torch.long).max
        cap = torch.where(target >= 0, target, torch.full_like(target, big))
        if self.max_tokens is not None:
            cap = cap.clamp(max=self.max_tokens)
        first = st["stream"] == 0
        can_code = torch.where(first, count < cap, count < st["length"])
        can_close = torch.where(first, (count >= 1) & ((target < 0) | (count >= target)),
                                count >= st["length"])
        return can_code, can_close

    def allowed(self, vocab_size: int) -> torch.Tensor:
        """``(B, V)`` bool: the tokens each sequence may generate next."""
        if self._state is None:
            raise RuntimeError("the constraint has no state yet: call reset() first")
        st = self._state
        table = self._table(vocab_size, st["phase"].device)
        S = self.n_streams
        phase, k = st["phase"], st["stream"]
        # kind_a / kind_b: two table rows per sequence, OR-ed under use_a / use_b
        kind_a = torch.zeros_like(phase)
        kind_a = torch.where(phase == _TEXT, 0, kind_a)
        kind_a = torch.where(phase == _NO_MOTION, 1, kind_a)
        kind_a = torch.where(phase == _FORCE_OPEN, 2, kind_a)
        kind_a = torch.where(phase == _EOS, 3, kind_a)
        kind_a = torch.where(phase == _EXPECT_END, 4, kind_a)
        kind_a = torch.where(phase == _EXPECT_OPEN, 5 + k, kind_a)
        kind_a = torch.where(phase == _IN, 5 + S + k, kind_a)
        kind_b = 5 + 2 * S + k
        inside = phase == _IN
        can_code, can_close = self._limits()
        use_a = ~inside | can_code
        use_b = inside & can_close
        return (table[kind_a] & use_a[:, None]) | (table[kind_b] & use_b[:, None])

    def apply(self, scores: torch.Tensor) -> torch.Tensor:
        """``scores`` ``(B, V)`` with every banned token set to ``-inf`` (a new tensor)."""
        ok = self.allowed(scores.shape[-1])
        return scores.masked_fill(~ok, float("-inf"))

    def _lookups(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(id -> code stream or -1, opener id per stream, closer id per stream) on ``device``."""
        key = ("lookups", str(device))
        if key not in self._tables:
            self._tables[key] = (self._code_stream_cpu.to(device), torch.tensor(self._stream_open, device=device),
                                 torch.tensor(self._stream_close, device=device))
        return self._tables[key]

    def advance(self, tokens: torch.Tensor) -> None:
        """Feed the ``(B,)`` tokens just generated.  Any token is accepted (an unexpected one leaves the
        phase as it is), so padding fed to finished sequences is harmless."""
        st = self._state
        if st is None:
            raise RuntimeError("the constraint has no state yet: call reset() first")
        tok = tokens.reshape(-1).to(st["phase"].device, torch.long)
        S = self.n_streams
        phase, k, count, length, mode = st["phase"], st["stream"], st["count"], st["length"], st["mode"]
        lut, opens, closes = self._lookups(tok.device)
        in_range = (tok >= 0) & (tok < lut.numel())
        code_stream = torch.where(in_range, lut[tok.clamp(0, lut.numel() - 1)], -1)
        after = torch.full_like(phase, _NO_MOTION)
        if self.eos_ids:   # mode "motion" must end right after the span
            after = torch.where(mode == MODES.index("motion"), _EOS, after)
        first_phase = _IN if S == 1 else _EXPECT_OPEN

        new_phase, new_k, new_count, new_length = phase.clone(), k.clone(), count.clone(), length.clone()
        # open the motion span
        opening = ((phase == _TEXT) | (phase == _FORCE_OPEN)) & (tok == self._open_motion)
        new_phase = torch.where(opening, first_phase, new_phase)
        new_k = torch.where(opening, 0, new_k)
        new_count = torch.where(opening, 0, new_count)
        new_length = torch.where(opening, 0, new_length)
        # open stream k
        stream_open = (phase == _EXPECT_OPEN) & (tok == opens[k])
        new_phase = torch.where(stream_open, _IN, new_phase)
        new_count = torch.where(stream_open, 0, new_count)
        # a code of the current stream
        code = (phase == _IN) & (code_stream == k)
        new_count = torch.where(code, count + 1, new_count)
        # close stream k
        stream_close = (phase == _IN) & (tok == closes[k])
        new_length = torch.where(stream_close & (k == 0), count, new_length)
        last = k == S - 1
        if S == 1:
            new_phase = torch.where(stream_close, after, new_phase)
        else:
            new_phase = torch.where(stream_close & ~last, _EXPECT_OPEN, new_phase)
            new_k = torch.where(stream_close & ~last, k + 1, new_k)
            new_phase = torch.where(stream_close & last, _EXPECT_END, new_phase)
        # close the motion span (multi-stream)
        end = (phase == _EXPECT_END) & (tok == self._close_motion)
        new_phase = torch.where(end, after, new_phase)
        st.update(phase=new_phase, stream=new_k, count=new_count, length=new_length)

    # ------------------------------------------------------------------ HF LogitsProcessor
    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        """transformers ``LogitsProcessor`` interface: bring the state in step with ``input_ids`` (all
        tokens so far, prompt included), then mask ``scores``."""
        B, T = input_ids.shape
        seen = self._seen
        new_call = (seen is None or self._state is None or seen.shape[0] != B or T <= seen.shape[1]
                    or not torch.equal(seen[:, :self._prompt_len], input_ids[:, :self._prompt_len]))
        if new_call:
            self.reset(B, input_ids.device)
            self._prompt_len = T
            start = T
        elif not torch.equal(seen, input_ids[:, :seen.shape[1]]):  # beams reordered: replay
            self.reset(B, input_ids.device)
            start = self._prompt_len
        else:
            start = seen.shape[1]
        for t in range(start, T):
            self.advance(input_ids[:, t])
        self._seen = input_ids.clone()
        return self.apply(scores)


# ---------------------------------------------------------------------- parsing ids
def motion_text(bound: BoundVocab, ids: Sequence[int] | np.ndarray | torch.Tensor) -> str:
    """Text of the motion markers and codes in ``ids``, every other id written as ``"?"`` (so that
    :meth:`MotionVocab.parse` reports it as text when it sits inside a span)."""
    v = bound.vocab
    names = {int(i): v.open_token(s) for s, i in bound.open_ids.items()}
    names.update({int(i): v.close_token(s) for s, i in bound.close_ids.items()})
    out = []
    for i in np.asarray(ids, dtype=np.int64).reshape(-1).tolist():
        code = bound.code_of(i)
        out.append(v.code_token(*code) if code is not None else names.get(i, "?"))
    return "".join(out)


def parse_motion_ids(bound: BoundVocab, ids: Sequence[int] | np.ndarray | torch.Tensor) -> ParsedMotion:
    """Motion tokens ``(N, S)`` of the first motion span in the token ids (robust: never raises; the
    rules are those of :meth:`MotionVocab.parse`, applied to :func:`motion_text`)."""
    return bound.vocab.parse(motion_text(bound, ids))


# ---------------------------------------------------------------------- decoding loop
@dataclass(frozen=True)
class DecodeResult:
    """Output of :func:`decode`, one entry per sequence.

    Attributes:
        ids: generated token ids (no padding, no prompt, without the final EOS; in mode ``"motion"`` they
            end with ``</motion>`` when the span was closed).
        motion_tokens: ``(N, S)`` int64 codes read from ``ids`` (``N`` may be 0).
        problems: what :meth:`MotionVocab.parse` found wrong (``"no <motion> marker"`` for a pure text answer).
        steps: tokens generated (decoding steps spent), the final EOS included.
        finished: stopped by EOS (or ``</motion>`` in mode ``"motion"``) rather than ``max_new_tokens``.
    """

    ids: list[list[int]]
    motion_tokens: list[np.ndarray]
    problems: list[tuple[str, ...]]
    steps: list[int]
    finished: list[bool]

    def __len__(self) -> int:
        return len(self.ids)


def _accepts(model, name: str) -> bool:
    """Whether ``model.forward`` (of the base model under a PEFT wrapper) names the keyword ``name``."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    try:
        return name in inspect.signature(getattr(base, "forward", base)).parameters
    except (TypeError, ValueError):  # pragma: no cover
        return False


def _cache_kwarg(model) -> str:
    """Name of the KV-cache keyword: ``cache`` from transformers 5 on, ``past_key_values`` before."""
    return "cache" if _accepts(model, "cache") else "past_key_values"


def _cache_of(out):
    cache = getattr(out, "cache", None)
    return getattr(out, "past_key_values", None) if cache is None else cache


def _filter(logits: torch.Tensor, temperature: float, top_k: int, top_p: float) -> torch.Tensor:
    """Temperature, top-k and top-p on ``(B, V)`` float logits (banned entries stay ``-inf``)."""
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    logits = logits / temperature
    V = logits.shape[-1]
    if 0 < top_k < V:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        cum = sorted_logits.softmax(-1).cumsum(-1)
        drop_sorted = (cum - sorted_logits.softmax(-1)) >= top_p   # mass before this token already >= p
        drop_sorted[:, 0] = False
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def _draw(generators: list[torch.Generator], rows: torch.Tensor) -> torch.Tensor:
    """``(B, 1)`` float64: one uniform draw from each of the ``rows``' own generators (0 elsewhere), so a
    row's random stream does not depend on the batch."""
    u = torch.zeros(len(generators), 1, dtype=torch.float64, device=rows.device)
    for i in rows.nonzero().reshape(-1).tolist():
        u[i, 0] = torch.rand((), generator=generators[i], dtype=torch.float64, device=generators[i].device)
    return u


def _forced(ok: torch.Tensor | None, running: torch.Tensor) -> torch.Tensor | None:
    """``(B,)`` the only allowed token of each running row when every running row has exactly one
    (the grammar decides, no forward pass is needed), else ``None``."""
    if ok is None:
        return None
    counts = ok.sum(-1)
    if not bool((counts[running] == 1).all()):
        return None
    return ok.to(torch.uint8).argmax(-1)


def _sample(logits: torch.Tensor, generators: list[torch.Generator], rows: torch.Tensor) -> torch.Tensor:
    """One token per row by inverse-CDF sampling with one uniform draw from the row's own generator
    (:func:`_draw`)."""
    probs = logits.double().softmax(-1)
    cdf = probs.cumsum(-1)
    u = _draw(generators, rows)
    idx = torch.searchsorted(cdf, u * cdf[:, -1:], right=True).reshape(-1)
    idx = idx.clamp(max=logits.shape[-1] - 1)
    # never land on a zero-probability token (rounding at the top end of the cdf)
    last_ok = (probs > 0).long().cumsum(-1).argmax(-1)
    bad = probs.gather(-1, idx[:, None]).reshape(-1) <= 0
    return torch.where(bad, last_ok, idx)


def left_pad(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B, L)`` long ids and attention mask of token-id ``rows``, left-padded with ``pad_id`` (what
    :func:`decode` takes for causal models)."""
    L = max(len(r) for r in rows)
    ids = torch.full((len(rows), L), int(pad_id), dtype=torch.long)
    mask = torch.zeros((len(rows), L), dtype=torch.long)
    for b, r in enumerate(rows):
        if len(r):
            ids[b, L - len(r):] = torch.as_tensor(list(r), dtype=torch.long)
            mask[b, L - len(r):] = 1
    return ids, mask


class RestrictedHead(nn.Module):
    """Stands in for a model's output projection ``head`` (``nn.Linear``, ``(V, D)`` weight): with
    ``cols`` set (``(K,)`` long vocabulary ids) it computes ``(..., V)`` logits whose entries outside
    ``cols`` are ``-inf`` from a ``(K, D)`` matmul; with ``cols=None`` it is ``head``."""

    def __init__(self, head: nn.Linear):
        super().__init__()
        self.head = head
        self.cols: torch.Tensor | None = None

    @property
    def weight(self) -> torch.Tensor:
        return self.head.weight

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        if self.cols is None:
            return self.head(hidden)
        bias = None if self.head.bias is None else self.head.bias[self.cols]
        part = F.linear(hidden, self.head.weight[self.cols], bias)
        out = part.new_full((*part.shape[:-1], self.head.weight.shape[0]), float("-inf"))
        return out.index_copy_(-1, self.cols, part)


@contextmanager
def restricted_head(model: nn.Module) -> Iterator[RestrictedHead | None]:
    """Swap ``model``'s output projection for a :class:`RestrictedHead` for the ``with`` block (the
    original module is put back afterwards, also on errors).  Yields ``None`` (and changes nothing) when
    the projection is not a plain ``nn.Linear`` (e.g. a LoRA-adapted head)."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if type(head) is not nn.Linear:
        yield None
        return
    parent, attr = next(((m, n) for m in model.modules() for n, c in m.named_children() if c is head), (None, None))
    if parent is None:  # pragma: no cover - the head is always a registered child
        yield None
        return
    wrapper = RestrictedHead(head)
    setattr(parent, attr, wrapper)
    try:
        yield wrapper
    finally:
        setattr(parent, attr, head)


def _restrict(wrapper: RestrictedHead | None, ok: torch.Tensor | None, max_share: float) -> None:
    """Point ``wrapper`` at the vocabulary ids some sequence may take (``ok``: ``(B, V)`` bool) when
    they are at most ``max_share`` of the vocabulary, else at the whole head."""
    if wrapper is None:
        return
    cols = None
    if ok is not None:
        union = ok.any(0)
        if int(union.sum()) <= max_share * union.numel():
            cols = union.nonzero().squeeze(1)
    wrapper.cols = cols


@torch.no_grad()
def decode(model, input_ids: torch.Tensor, attention_mask: torch.Tensor | None, bound: BoundVocab, *,
           mode: str | Sequence[str] = "free", max_new_tokens: int,
           eos_token_id: int | Sequence[int] | None, greedy: bool = True, temperature: float = 1.0,
           top_k: int = 0, top_p: float = 1.0, seeds: Sequence[int] | None = None,
           target_tokens: int | None | Sequence[int | None] = None, max_tokens: int | None = None,
           encoder_decoder: bool | None = None, constrain: bool = True,
           pad_token_id: int | None = None, head_share: float = 0.5) -> DecodeResult:
    """Batched constrained decoding with a KV cache.

    Args:
        model: a Hugging Face causal LM (``LlamaForCausalLM``, a PEFT wrapper ...) or encoder-decoder
            (``T5ForConditionalGeneration``); anything whose ``forward`` takes the HF keywords and
            returns ``.logits`` and the cache.
        input_ids, attention_mask: ``(B, L)`` prompts; causal models need LEFT padding (mask 0 on the
            left; ``None`` = no padding); encoder-decoder prompts may be padded on either side.
        bound: the motion vocabulary bound to the model's ids.
        mode, target_tokens, max_tokens, eos_token_id: see :class:`MotionConstraint`.
        max_new_tokens: decoding steps at most.
        greedy: argmax; otherwise sample after ``temperature`` / ``top_k`` (0: off) / ``top_p`` (1: off).
        seeds: one seed per sequence for its own ``torch.Generator`` (sampling only; ``None`` draws them
            from torch's global RNG).
        encoder_decoder: ``None`` reads ``model.config.is_encoder_decoder``.
        constrain: apply :class:`MotionConstraint` (``False``: raw model output, for ablations).
        pad_token_id: token fed to finished sequences (default: the first EOS id, else 0).
        head_share: compute only the allowed vocabulary rows (:class:`RestrictedHead`) on steps where
            they are at most this share of the vocabulary (``0``: always the full head).

    Every sequence stops at EOS (or, in mode ``"motion"``, at ``</motion>``) or after
    ``max_new_tokens``; see the module docstring for how far the result is independent of the batch.
    """
    if input_ids.dim() != 2:
        raise ValueError(f"input_ids must be (B, L), got shape {tuple(input_ids.shape)}")
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
    device = input_ids.device
    B = input_ids.shape[0]
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    attention_mask = attention_mask.to(device=device, dtype=torch.long)
    if encoder_decoder is None:
        encoder_decoder = bool(getattr(getattr(model, "config", None), "is_encoder_decoder", False))
    eos = () if eos_token_id is None else tuple(int(i) for i in _as_list(eos_token_id, None, "eos_token_id"))
    pad = int(pad_token_id) if pad_token_id is not None else (eos[0] if eos else 0)
    modes = _as_list(mode, B, "mode")
    constraint = MotionConstraint(bound, mode=modes, eos_token_id=eos or None,
                                  target_tokens=_as_list(target_tokens, B, "target_tokens"), max_tokens=max_tokens)
    constraint.reset(B, device)
    if not greedy:
        if seeds is None:
            seeds = torch.randint(0, 2 ** 62, (B,)).tolist()
        seeds = _as_list(seeds, B, "seeds")
        generators = [torch.Generator(device=device).manual_seed(int(s)) for s in seeds]
    eos_t = torch.tensor(eos if eos else [-1], device=device)
    close_motion = int(bound.close_ids[MOTION])
    stop_at_close = torch.tensor([m == "motion" for m in modes], device=device)
    cache_kw = _cache_kwarg(model)

    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    vocab_size = head.weight.shape[0] if isinstance(getattr(head, "weight", None), torch.Tensor) else None

    def allowed() -> torch.Tensor | None:
        """The constraint's ``(B, V)`` mask for the next token (``None``: unconstrained, or V unknown)."""
        return constraint.allowed(vocab_size) if constrain and vocab_size is not None else None

    running = torch.ones(B, dtype=torch.bool, device=device)
    finished = torch.zeros(B, dtype=torch.bool, device=device)
    steps = torch.zeros(B, dtype=torch.long, device=device)
    generated: list[torch.Tensor] = []
    pending: list[torch.Tensor] = []     # chosen tokens the model has not read yet, (B,) each
    state: dict = {"cache": None, "enc": None, "mask": attention_mask, "pos": None}

    def forward() -> torch.Tensor:
        """Run the model on the prompt (first call) or on the pending tokens; the last position's
        logits over the head's computed columns."""
        fed = torch.stack(pending, 1) if pending else input_ids[:, :0]
        first = state["cache"] is None and state["enc"] is None
        if encoder_decoder:
            if first:
                state["enc"] = model.get_encoder()(input_ids=input_ids, attention_mask=attention_mask, return_dict=True)
                start = getattr(model.config, "decoder_start_token_id", None)
                start = model.config.pad_token_id if start is None else start
                fed = torch.cat([torch.full((B, 1), int(start), dtype=torch.long, device=device), fed], 1)
            past = {} if first else {cache_kw: state["cache"]}
            out = model(encoder_outputs=state["enc"], attention_mask=attention_mask, decoder_input_ids=fed,
                        use_cache=True, return_dict=True, **past)
        else:
            ids = torch.cat([input_ids, fed], 1) if first else fed
            state["mask"] = torch.cat([state["mask"], torch.ones_like(fed)], 1)
            if first:
                pos = (state["mask"].cumsum(-1) - 1).clamp(min=0)
            else:
                pos = state["pos"] + torch.arange(1, fed.shape[1] + 1, device=device)[None]
            state["pos"] = pos[:, -1:]
            past = {} if first else {cache_kw: state["cache"]}
            keep = {"logits_to_keep": 1} if _accepts(model, "logits_to_keep") else {}
            out = model(input_ids=ids, attention_mask=state["mask"], position_ids=pos, use_cache=True,
                        return_dict=True, **past, **keep)
        state["cache"] = _cache_of(out)
        pending.clear()
        return out.logits[:, -1, :]

    with restricted_head(model) as wrapper:
        for step in range(max_new_tokens):
            ok = allowed()
            tok = _forced(ok, running)
            if tok is None:
                # the model must speak: feed what it has not read, choose among the computed columns
                _restrict(wrapper, ok, head_share)
                cols = None if wrapper is None else wrapper.cols
                logits = forward()
                logits = (logits if cols is None else logits.index_select(-1, cols)).float()
                if constrain:
                    mask = ok if cols is None or ok is None else ok.index_select(-1, cols)
                    usable = mask is not None and mask.shape == logits.shape
                    logits = logits.masked_fill(~mask, float("-inf")) if usable else constraint.apply(logits)
                if greedy:
                    tok = logits.argmax(-1)
                else:
                    tok = _sample(_filter(logits, temperature, top_k, top_p), generators, running)
                if cols is not None:
                    tok = cols[tok]
            elif not greedy:   # a forced token: no forward pass, but the same random draws as a sampled one
                _draw(generators, running)
            tok = torch.where(running, tok, torch.full_like(tok, pad))
            generated.append(tok)
            pending.append(tok)
            steps += running.long()
            constraint.advance(tok)
            stop = running & ((tok[:, None] == eos_t[None, :]).any(-1) | (stop_at_close & (tok == close_motion)))
            finished |= stop
            running &= ~stop
            if not bool(running.any()):
                break

    gen = torch.stack(generated, 1).cpu() if generated else torch.zeros(B, 0, dtype=torch.long)
    steps_l, finished_l = steps.cpu().tolist(), finished.cpu().tolist()
    ids, tokens, problems = [], [], []
    for i in range(B):
        row = gen[i, :steps_l[i]].tolist()
        if finished_l[i] and row and row[-1] in eos:
            row = row[:-1]
        parsed = parse_motion_ids(bound, row)
        ids.append(row)
        tokens.append(parsed.tokens)
        problems.append(parsed.problems)
    return DecodeResult(ids, tokens, problems, steps_l, finished_l)
