"""The step loop shared by every trainer (tokenizers, the evaluator, the T2M-GPT baseline, ...).

A trainer builds its model, optimiser, data and checkpoint writer, then hands three callables to
:func:`run_steps`:

* ``step_fn(s)`` runs the optimiser step of 0-based global step ``s`` and returns its scalar record
  (at least ``"loss"`` and ``"lr"``);
* ``validate_fn()`` returns validation metrics (or ``None`` without a validation set);
* ``save_fn(step, is_best, metrics)`` writes a checkpoint atomically (``metrics`` goes into its meta
  and carries the best value so far, so a resumed run keeps tracking it).

The loop owns what every trainer must do the same way: validation every ``eval_every`` steps (and at
step 0 of a new run), best-checkpoint tracking on one metric (lower is better, or higher with
``best_mode="max"``; the earliest step wins a tie), checkpoints on
improvement / every ``save_every`` steps / at the end, ``metrics.jsonl`` records, a tqdm bar with
ETA (:func:`progress_bar`; closed at the end), a finite-loss check that names the last checkpoint, a
final ``info`` record (``stop`` or ``interrupted``, steps per second), and Ctrl-C: the first SIGINT finishes the
current step, saves and returns ``interrupted=True``; a second one aborts at once.  Validation runs
inside ``torch.random.fork_rng`` so it never perturbs the training RNG stream (resume stays
bit-identical).
"""
from __future__ import annotations

import json
import math
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .atomic import atomic_write_text

__all__ = ["LoopResult", "run_steps", "append_jsonl", "progress_bar", "truncate_metrics", "SigintFlag",
           "METRICS_FILE"]

#: Name of the per-run metrics log (one JSON record per line) of every trainer.
METRICS_FILE = "metrics.jsonl"


def append_jsonl(path: str | Path, record: Mapping[str, Any]) -> None:
    """Append one JSON record as a line to ``path`` (flushed, so a kill loses at most that line)."""
    with open(path, "a") as f:
        f.write(json.dumps(record, default=float) + "\n")
        f.flush()


def truncate_metrics(path: str | Path, max_step: int) -> None:
    """Drop records with ``step > max_step`` (written after the checkpoint a run resumes from)."""
    path = Path(path)
    if not path.exists():
        return
    keep = []
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by the kill
        if int(rec.get("step", 0)) <= max_step:
            keep.append(line)
    atomic_write_text(path, "".join(line + "\n" for line in keep))


class SigintFlag:
    """First SIGINT sets ``hit`` (the loop saves and stops); the second raises KeyboardInterrupt."""

    def __init__(self):
        self.hit = False
        self._old = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._old = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.hit:
            raise KeyboardInterrupt
        self.hit = True

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


@dataclass
class LoopResult:
    """What :func:`run_steps` did: the last step reached, whether Ctrl-C stopped it, the best value
    and its step, the first/last validation metrics of this call, ``(step, loss)`` of the logged
    steps and the seconds spent in training steps (validation and saving excluded)."""

    final_step: int
    interrupted: bool
    best_val: float | None
    best_step: int | None
    first_val: dict[str, float] | None
    last_val: dict[str, float] | None
    train_losses: list[tuple[int, float]] = field(default_factory=list)
    train_time: float = 0.0

    def steps_per_s(self, start_step: int) -> float:
        """Training steps of this call per second (validation and saving excluded)."""
        n = self.final_step - start_step
        return n / self.train_time if self.train_time > 0 else float("nan")


def run_steps(*, step_fn: Callable[[int], dict[str, float]],
              validate_fn: Callable[[], dict[str, float] | None],
              save_fn: Callable[[int, bool, dict[str, float]], Any],
              metrics_path: str | Path, start_step: int, stop_step: int,
              eval_every: int, save_every: int, best_key: str, best_name: str,
              best_val: float | None = None, best_step: int | None = None, best_mode: str = "min",
              log_every: int = 10, eval_at_start: bool = True,
              train_extra: Callable[[int], dict[str, Any]] | None = None,
              bar: Any = None, postfix: Callable[[dict[str, float], dict | None], dict] | None = None,
              describe_val: Callable[[dict[str, float]], str] | None = None,
              callback: Callable[[int, dict[str, float]], None] | None = None,
              where: str = "") -> LoopResult:
    """Run global steps ``start_step .. stop_step - 1`` (see the module docstring).

    Args:
        step_fn, validate_fn, save_fn: the trainer's callables (module docstring).
        metrics_path: ``metrics.jsonl`` of the run.
        start_step, stop_step: first step to run (0-based; the step count of the checkpoint resumed)
            and the step to stop at.
        eval_every, save_every: in steps.
        best_key: validation metric to minimise (e.g. ``"mpjpe_mm"``); ``best_name``: its name in
            the checkpoint meta (e.g. ``"best_mpjpe_mm"``); ``best_val`` / ``best_step``: the
            values restored from a resumed checkpoint; ``best_mode``: ``"min"`` or ``"max"``
            (maximise, e.g. a retrieval precision).
        log_every: write a ``train`` record every this many steps (and at the last one).
        eval_at_start: validate before the first step of a new run (``start_step == 0``).
        train_extra: extra fields of the ``train`` record after step ``s`` (e.g. the epoch).
        bar: a tqdm bar (or ``None``); ``postfix(record, last_val)`` gives its postfix;
            ``describe_val(metrics)`` the line written after each validation.
        callback: ``callback(step, record)`` after every step (1-based step count).
        where: the run folder, named in the error of a non-finite loss.
    """
    if best_mode not in ("min", "max"):
        raise ValueError(f"best_mode must be 'min' or 'max', not {best_mode!r}")
    sign = 1.0 if best_mode == "min" else -1.0
    res = LoopResult(final_step=start_step, interrupted=False, best_val=best_val,
                     best_step=best_step, first_val=None, last_val=None)
    saved_step = start_step if start_step else None

    def validate(at: int) -> dict[str, float] | None:
        with torch.random.fork_rng(devices=_cuda_devices()):
            metrics = validate_fn()
        if metrics is None:
            return None
        res.last_val = metrics
        if res.first_val is None:
            res.first_val = metrics
        append_jsonl(metrics_path, {"type": "val", "step": at, **metrics})
        if bar is not None and describe_val is not None:
            bar.write(f"step {at}: {describe_val(metrics)}")
        return metrics

    def save(at: int, is_best: bool, extra: Mapping[str, float]) -> None:
        nonlocal saved_step
        meta = dict(extra)
        if res.best_val is not None:
            meta[best_name] = res.best_val
            meta["best_step"] = float(res.best_step)
        save_fn(at, is_best, meta)
        saved_step = at

    step = start_step
    with SigintFlag() as sig:
        if start_step == 0 and eval_at_start and stop_step > 0:
            validate(0)
        while step < stop_step:
            if sig.hit:
                res.interrupted = True
                break
            t0 = time.perf_counter()
            record = step_fn(step)
            step += 1
            loss_v = float(record["loss"])
            res.train_time += time.perf_counter() - t0
            if not math.isfinite(loss_v):
                raise FloatingPointError(f"loss became {loss_v} at step {step}; last checkpoint: "
                                         f"step {saved_step} in {where}")
            if step % max(1, log_every) == 0 or step == stop_step:
                extra = train_extra(step) if train_extra is not None else {}
                append_jsonl(metrics_path, {"type": "train", "step": step, **extra, **record})
                res.train_losses.append((step, loss_v))
            if bar is not None:
                if postfix is not None:
                    bar.set_postfix(postfix(record, res.last_val), refresh=False)
                bar.update(1)
            is_best, val_now = False, None
            if step % eval_every == 0 or step == stop_step:
                val_now = validate(step)
                if val_now is not None and (res.best_val is None
                                            or sign * val_now[best_key] < sign * res.best_val):
                    res.best_val, res.best_step, is_best = val_now[best_key], step, True
            if is_best or step % save_every == 0 or step == stop_step:
                extra = {"train_loss": loss_v}
                if val_now is not None:
                    extra.update({f"val_{k}": v for k, v in val_now.items()})
                save(step, is_best, extra)
            if callback is not None:
                callback(step, record)
        if sig.hit and not res.interrupted and step < stop_step:
            res.interrupted = True
        if res.interrupted and saved_step != step:
            save(step, False, {"interrupted": 1.0})
    res.final_step = step
    if bar is not None:
        bar.close()
    append_jsonl(metrics_path, {"type": "info", "step": step, "event": "interrupted" if res.interrupted else "stop",
                                "steps_per_s": res.steps_per_s(start_step) if res.train_time > 0 else None,
                                "time": time.strftime("%Y-%m-%dT%H:%M:%S")})
    return res


def progress_bar(enabled: bool, total: int, initial: int, desc: str):
    """A tqdm bar over steps (ETA from recent steps) for :func:`run_steps`, or ``None``."""
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, desc=desc, smoothing=0.05)


def _cuda_devices() -> list[int]:
    return list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
