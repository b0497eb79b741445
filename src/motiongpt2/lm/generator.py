"""The motion-language model as a generator of the evaluation protocol: ``--generator lm:RUN``.

:class:`LMGenerator` answers every task of :mod:`motiongpt2.eval.protocol` with
:class:`~.model.MotionGPT2`, in batches of ``batch_size`` requests:

=============  ==========================================================================================
t2m            text (+ the crop length, stated and forced: ``length // unit`` tokens, unless
               ``use_length=False``)
t2m-init/last  + the pose row at frame 0 / ``L-1`` (``conditions["poses"]``), encoded as a still window
               (:meth:`~.model.MotionGPT2.still_tokens`: the protocol gives the rows, not their neighbours)
t2m-key        + the key rows at ``conditions["frames"]`` → tokens at ``frame // unit`` (two frames in one
               token: the first one is kept)
m2t            the crop's tokens → a caption
predict        the prefix's tokens; the whole motion has ``length`` frames (prefix included, decoded
               together with the continuation)
inbetween      prefix and suffix tokens; the middle fills ``length`` frames in all
=============  ==========================================================================================

Every request gets its own seed drawn from the protocol's ``rng``, so results are reproducible and
independent of the batch size (up to float rounding).  Malformed model output never raises: the
model's retry / fallback rule (:mod:`.model`) applies and the outputs stay valid motions.
"""
from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MotionGPT2Error
from .model import CaptionRequest, GenerateRequest, InbetweenRequest, MotionGPT2, PredictRequest

__all__ = ["LMGenerator", "load_generator"]

_T2M = ("t2m", "t2m-init", "t2m-last", "t2m-key")


def _caption(t) -> str:
    if isinstance(t, str):
        return t
    if hasattr(t, "caption"):
        return t.caption
    raise MotionGPT2Error(f"cannot read a caption from a {type(t).__name__}")


class LMGenerator:
    """A :class:`~.model.MotionGPT2` behind the protocol's ``generate(task, texts, conditions, rng)``.

    Args:
        model: the loaded model.
        batch_size: requests decoded together.
        use_length: state and force the crop length (t2m tasks); ``False`` lets the model decide.
        greedy, temperature, top_k, top_p: decoding (captions are always greedy unless
            ``sample_captions``).
        name: row label.
    """

    def __init__(self, model: MotionGPT2, *, batch_size: int = 16, use_length: bool = True, greedy: bool = False,
                 temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0, sample_captions: bool = False,
                 name: str | None = None):
        self.model = model
        self.model.batch_size = max(1, int(batch_size))
        self.use_length = bool(use_length)
        self.sampling = dict(greedy=bool(greedy), temperature=float(temperature), top_k=int(top_k), top_p=float(top_p))
        self.sample_captions = bool(sample_captions)
        self.deterministic = bool(greedy)
        self.name = name or f"MotionGPT-2 ({model.path.parent.name}/{model.path.name})"
        self.problems = 0   # outputs with problems so far (for reports)

    def _length(self, c: dict) -> int | None:
        if not self.use_length or "length" not in c:
            return None
        n = min(int(c["length"]) // self.model.unit, self.model.max_tokens)
        return n * self.model.unit

    def _keys(self, c: dict, length: int | None) -> list[tuple[int, np.ndarray]]:
        rows = np.asarray(c["poses"], np.float32)
        toks = self.model.still_tokens(rows)
        n = None if length is None else length // self.model.unit
        out: dict[int, tuple[int, np.ndarray]] = {}
        for f, t in zip(c["frames"], toks):
            pos = int(f) // self.model.unit
            if n is not None:
                pos = min(pos, n - 1)
            pos = min(pos, self.model.max_tokens - 1)
            out.setdefault(pos, (pos * self.model.unit, t))
        return [out[p] for p in sorted(out)]

    def requests(self, task: str, texts: Sequence[Any] | None, conditions: Sequence[dict],
                 seeds: Sequence[int]) -> list:
        """The :mod:`.model` requests of one protocol call."""
        reqs: list = []
        for i, (c, seed) in enumerate(zip(conditions, seeds)):
            seed = int(seed)
            if task in _T2M:
                length = self._length(c)
                r = GenerateRequest(_caption(texts[i]), length=length, seed=seed)
                if task == "t2m-init":
                    r.init_pose = self.model.still_tokens(np.asarray(c["poses"][:1], np.float32))
                elif task == "t2m-last":
                    r.last_pose = self.model.still_tokens(np.asarray(c["poses"][-1:], np.float32))
                elif task == "t2m-key":
                    r.key_poses = self._keys(c, length)
                reqs.append(r)
            elif task == "m2t":
                reqs.append(CaptionRequest(np.asarray(c["motion"], np.float32), seed))
            elif task == "predict":
                reqs.append(PredictRequest(np.asarray(c["prefix"], np.float32), int(c["length"]), seed))
            elif task == "inbetween":
                reqs.append(InbetweenRequest(np.asarray(c["prefix"], np.float32), np.asarray(c["suffix"], np.float32),
                                             int(c["length"]), seed))
            else:
                raise NotImplementedError(f"the language model does not do task {task!r}")
        return reqs

    def generate(self, task: str, texts: Sequence[Any] | None, conditions: Sequence[dict] | None,
                 rng: np.random.Generator) -> list:
        if task not in _T2M + ("m2t", "predict", "inbetween"):
            raise NotImplementedError(f"the language model does not do task {task!r}")
        conditions = list(conditions or [])
        if task in _T2M and (texts is None or len(texts) != len(conditions)):
            raise MotionGPT2Error(f"{task} needs one text per condition")
        seeds = rng.integers(0, 2 ** 62, size=len(conditions))
        reqs = self.requests(task, texts, conditions, seeds)
        sampling = dict(self.sampling)
        if task == "m2t" and not self.sample_captions:
            sampling["greedy"] = True
        results = self.model.generate_batch(reqs, **sampling)
        self.problems += sum(1 for r in results if r.problems)
        if task == "m2t":
            return [str(r) for r in results]
        return [r.features for r in results]


def load_generator(run: str | Path, device: str = "cpu", which: str = "best", dtype: str = "float32",
                   quantize: str | None = None, **kwargs) -> LMGenerator:
    """``--generator lm:RUN``: an :class:`LMGenerator` of a ``train-lm`` run or step folder.

    ``quantize="int8"``: int8 linear layers (:mod:`.inference`); ``kwargs``: :class:`LMGenerator`'s
    options (``batch_size``, ``greedy``, ``temperature`` ...)."""
    model = MotionGPT2.from_pretrained(run, device=device, dtype=dtype, which=which, quantize=quantize)
    return LMGenerator(model, **kwargs)


#: keyword options of :func:`load_generator` (``evaluate --generator-option KEY=VALUE``): its own and
#: :class:`LMGenerator`'s
load_generator.OPTIONS = ("which", "dtype", "quantize", *list(inspect.signature(LMGenerator).parameters)[1:])
