"""Generators for the evaluation protocol, found through a registry of ``KIND:RUN`` specs.

``motiongpt2 evaluate --generator KIND:RUN`` (and :func:`load_generator`) looks ``KIND`` up in the
registry and calls its loader with the run folder: ``tokenizer:runs/vq`` (reconstruction with a trained
tokenizer, :class:`TokenizerReconstructor`), ``t2mgpt:runs/t2mgpt`` (the T2M-GPT baseline,
:func:`motiongpt2.t2mgpt.load_generator`), ``lm:runs/lm_instruct`` (the motion-language model, every
task; :class:`motiongpt2.lm.generator.LMGenerator`).  A new model family registers itself once::

    from motiongpt2.eval.generators import register_generator

    @register_generator("lm")
    def load_lm(run: str, device: str = "cpu"):
        return LMGenerator(...)

or, without importing the model's package before it is used, by name:
``register_generator("lm", "motiongpt2.lm.generate:load_generator")``.

**The protocol a generator follows** (:class:`~motiongpt2.eval.protocol.Generator`):

* ``generate(task, texts, conditions, rng) -> list`` — required.  ``task`` is one of
  :data:`~motiongpt2.eval.protocol.TASKS`; ``texts`` a list of
  :class:`~motiongpt2.data.text.TextEntry` (``None`` for ``m2t`` / ``tokenizer``); ``conditions`` one
  dict per sample as in the task table of :mod:`motiongpt2.eval.protocol` (``length`` in frames;
  ``motion``, ``prefix``, ``suffix``, ``poses`` as raw ``(T, D)`` features; ``frames``); ``rng`` a
  :class:`numpy.random.Generator` to draw all randomness from.  It returns one output per sample: raw (de-normalised) ``(T, D)`` features, or a
  caption string for ``m2t``.  A task it cannot do raises ``NotImplementedError`` or a
  :class:`~motiongpt2.errors.MotionGPT2Error`.
* ``generate_keyed(task, texts, conditions, rng) -> (outputs, keys)`` — optional.  Like ``generate``
  plus one hashable key per output (or ``keys=None``) naming outputs that are the same motion every
  time (e.g. a retrieved training clip), so the protocol embeds each key once.  When present the
  protocol calls it instead of ``generate``.
* ``name`` (row label) and ``deterministic`` (same input → same output; MultiModality is then 0) —
  optional attributes.

A loader takes ``(run, device="cpu")`` and returns such an object.
"""
from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from motiongpt2.errors import MotionGPT2Error

__all__ = ["TokenizerReconstructor", "generator_kinds", "load_generator", "register_generator"]

Loader = Callable[..., Any]
_REGISTRY: dict[str, Loader | str] = {}


def register_generator(kind: str, loader: Loader | str | None = None):
    """Register ``loader(run, device="cpu") -> generator`` for ``--generator KIND:RUN``.

    ``loader`` is a callable or a ``"module:function"`` string (imported on first use).  Without
    ``loader`` this returns a decorator.  Registering a kind again replaces its loader.
    """
    if not kind or ":" in kind:
        raise ValueError(f"a generator kind is a non-empty name without ':', not {kind!r}")
    if loader is None:
        def decorate(fn: Loader) -> Loader:
            _REGISTRY[kind] = fn
            return fn

        return decorate
    _REGISTRY[kind] = loader
    return loader


def generator_kinds() -> list[str]:
    """The registered kinds, sorted."""
    return sorted(_REGISTRY)


def _resolve_loader(kind: str) -> Loader:
    loader = _REGISTRY[kind]
    if isinstance(loader, str):
        module, _, attr = loader.partition(":")
        loader = getattr(importlib.import_module(module), attr)
        _REGISTRY[kind] = loader
    return loader


def load_generator(spec: str, device: str = "cpu", options: Mapping[str, Any] | None = None):
    """``KIND:RUN`` → a generator built by the loader registered for ``KIND`` (module docstring);
    ``options`` are keyword arguments of that loader (``evaluate --generator-option KEY=VALUE``)."""
    kind, _, path = spec.partition(":")
    kinds = ", ".join(generator_kinds())
    if not path:
        raise MotionGPT2Error(f"--generator {spec!r}: write KIND:RUN, e.g. tokenizer:runs/vq "
                              f"(registered kinds: {kinds})")
    if kind not in _REGISTRY:
        raise MotionGPT2Error(f"--generator {spec!r}: unknown kind {kind!r} — use one of: {kinds}")
    if not Path(path).exists():
        raise MotionGPT2Error(f"--generator {spec!r}: {path} does not exist")
    loader = _resolve_loader(kind)
    options = dict(options or {})
    _check_options(kind, loader, options)
    return loader(path, device=device, **options)


def _check_options(kind: str, loader: Loader, options: Mapping[str, Any]) -> None:
    """One-line error for an option the loader does not take (a loader's own ``OPTIONS`` attribute
    lists what its ``**kwargs`` accept)."""
    if not options:
        return
    params = inspect.signature(loader).parameters
    named = [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)][1:]
    accepted = set(named) - {"device"} | set(getattr(loader, "OPTIONS", ()))
    if not any(p.kind == p.VAR_KEYWORD for p in params.values()) or hasattr(loader, "OPTIONS"):
        unknown = sorted(set(options) - accepted)
        if unknown:
            raise MotionGPT2Error(f"--generator-option {unknown[0]}: not an option of generator kind {kind!r} — "
                                  f"use one of: {', '.join(sorted(accepted)) or '(none)'}")


@register_generator("tokenizer")
class TokenizerReconstructor:
    """Round-trips raw ``(T, D)`` features through a tokenizer: normalise → encode → decode → de-normalise.

    Lengths that are not a multiple of the token unit lose their last frames (the tokenizer's rule).
    Works with every tokenizer of :mod:`motiongpt2.tokenizer` (one or several token streams).
    """

    deterministic = True

    def __init__(self, run: str | Path, which: str = "best", device: str = "cpu"):
        from motiongpt2.tokenizer.checkpoint import load_checkpoint

        root = Path(run)
        self.model = load_checkpoint(root, which=which, map_location=device, load_trainer_state=False,
                                     best_falls_back=True).model.eval()
        self.device = device
        self.name = f"Tokenizer ({root.name})"

    @torch.no_grad()
    def reconstruct(self, features: np.ndarray) -> np.ndarray:
        """``(T, D)`` raw features → ``(T - T mod unit, D)`` raw reconstruction."""
        m = self.model
        x = m.normalize(torch.as_tensor(features, dtype=torch.float32, device=self.device))[None]
        streams, n_tok = m.encode(x, torch.tensor([x.shape[1]], device=self.device))
        return m.denormalize(m.decode(streams, n_tok))[0].cpu().numpy()

    def generate(self, task: str, texts: Sequence[Any] | None, conditions: Sequence[dict] | None,
                 rng: np.random.Generator) -> list:
        if task != "tokenizer":
            raise MotionGPT2Error(f"a tokenizer only reconstructs motion: use it with --task tokenizer, not {task}")
        return [self.reconstruct(c["motion"]) for c in conditions]


register_generator("t2mgpt", "motiongpt2.t2mgpt.generate:load_generator")
register_generator("lm", "motiongpt2.lm.generator:load_generator")
