"""The one thread that runs the model, and the request batching in front of it.

The model is not thread-safe (:func:`~motiongpt2.lm.decoding.restricted_head` swaps its output head
during a decode), so every model call of the server runs on :class:`ModelWorker`'s thread.  Requests
arrive in a bounded queue; the worker takes the oldest, then waits up to ``max_wait_ms`` for more
requests with the same sampling settings (up to ``max_batch``) and decodes them together with
:meth:`~motiongpt2.lm.model.MotionGPT2.generate_batch` — each with its own seed, so a result does not
depend on who else was in the batch.  Other calls (compose, uploads' features) run alone, in order.

Asyncio callers :meth:`submit` a job and await its future; a job whose caller gave up (timeout,
disconnect) before it started is dropped.
"""
from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Job", "ModelWorker", "QueueFull"]


class QueueFull(Exception):
    """The queue holds ``queue_size`` jobs already: answer 429."""


@dataclass
class Job:
    """One unit of model work.

    ``request`` (a :class:`~motiongpt2.lm.model.GenerateRequest` / ``CaptionRequest`` / ...) is batched
    with others of the same ``key`` (sampling settings); ``call(model)`` runs alone.  The result is
    ``(value, info)``: ``value`` the model's answer (or the exception it raised), ``info`` the batch
    size and the milliseconds spent queued and computing.
    """

    request: Any = None
    key: tuple = ()
    call: Callable[[Any], Any] | None = None
    future: asyncio.Future | None = None
    loop: asyncio.AbstractEventLoop | None = None
    queued_at: float = field(default_factory=time.perf_counter)
    abandoned: bool = False

    def resolve(self, value: Any, info: dict) -> None:
        if self.loop is not None and self.future is not None:
            self.loop.call_soon_threadsafe(_set, self.future, value, info)


def _set(future: asyncio.Future, value: Any, info: dict) -> None:
    if not future.done():
        future.set_result((value, info))


class ModelWorker:
    """Owns the model; one daemon thread; see the module docstring.

    Args:
        load: called on the worker thread to build the model (so a slow load does not block start-up).
        max_batch, max_wait_ms, queue_size: batching and back-pressure (:class:`~.settings.ServeSettings`).
    """

    def __init__(self, load: Callable[[], Any], max_batch: int = 8, max_wait_ms: float = 50.0, queue_size: int = 64):
        self._load = load
        self.max_batch = int(max_batch)
        self.max_wait = float(max_wait_ms) / 1000.0
        self._queue: queue.Queue[Job | None] = queue.Queue(maxsize=int(queue_size))
        self._held: list[Job] = []           # taken from the queue, waiting for a batch of their key
        self.model: Any = None
        self.error: str | None = None
        self.ready = threading.Event()
        self.stats = {"batches": 0, "requests": 0, "largest_batch": 0, "dropped": 0}
        self._thread = threading.Thread(target=self._main, name="motiongpt2-model", daemon=True)
        self._stop = False

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "ModelWorker":
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop = True
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass
        self._thread.join(timeout)

    @property
    def waiting(self) -> int:
        return self._queue.qsize() + len(self._held)

    # ------------------------------------------------------------------ asyncio side
    def submit(self, job: Job) -> asyncio.Future:
        """Queue ``job`` (raises :class:`QueueFull`); the future gets ``(value, info)``."""
        job.loop = asyncio.get_running_loop()
        job.future = job.loop.create_future()
        job.queued_at = time.perf_counter()
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            raise QueueFull() from None
        return job.future

    # ------------------------------------------------------------------ worker thread
    def _main(self) -> None:
        try:
            self.model = self._load()
        except Exception as err:            # noqa: BLE001 — reported by /readyz, the server stays up
            self.error = f"{type(err).__name__}: {err}"
            return
        self.ready.set()
        while not self._stop:
            job = self._held.pop(0) if self._held else self._queue.get()
            if job is None:
                break
            if job.abandoned:
                self.stats["dropped"] += 1
                continue
            if job.call is not None:
                self._run_alone(job)
            else:
                self._run_batch(self._gather(job))

    def _gather(self, first: Job) -> list[Job]:
        """``first`` and up to ``max_batch - 1`` more live jobs of its key, waiting at most ``max_wait``."""
        batch, rest = [first], []
        for job in self._held:
            if job.abandoned:
                self.stats["dropped"] += 1
            elif job.call is None and job.key == first.key and len(batch) < self.max_batch:
                batch.append(job)
            else:
                rest.append(job)
        self._held = rest
        deadline = time.perf_counter() + self.max_wait
        while len(batch) < self.max_batch:
            left = deadline - time.perf_counter()
            try:
                job = self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                self._stop = True
                break
            if job.abandoned:
                self.stats["dropped"] += 1
            elif job.call is None and job.key == first.key:
                batch.append(job)
            else:
                self._held.append(job)
        return batch

    def _run_batch(self, jobs: list[Job]) -> None:
        start = time.perf_counter()
        greedy, temperature, top_k, top_p = jobs[0].key
        try:
            values = self.model.generate_batch([j.request for j in jobs], greedy=greedy, temperature=temperature,
                                               top_k=top_k, top_p=top_p, errors="return")
        except Exception as err:            # noqa: BLE001 — a bug: every caller gets it, the worker lives on
            values = [err] * len(jobs)
        self._finish(jobs, values, start)

    def _run_alone(self, job: Job) -> None:
        start = time.perf_counter()
        try:
            value = job.call(self.model)
        except Exception as err:            # noqa: BLE001 — handed to the caller
            value = err
        self._finish([job], [value], start)

    def _finish(self, jobs: list[Job], values: list, start: float) -> None:
        end = time.perf_counter()
        self.stats["batches"] += 1
        self.stats["requests"] += len(jobs)
        self.stats["largest_batch"] = max(self.stats["largest_batch"], len(jobs))
        for job, value in zip(jobs, values):
            job.resolve(value, {"batch_size": len(jobs), "queue_ms": 1000.0 * (start - job.queued_at),
                                "compute_ms": 1000.0 * (end - start)})
