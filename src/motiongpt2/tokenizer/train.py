"""Tokenizer training loop: ``motiongpt2 train-tokenizer --config configs/tokenizer/<name>.yaml``.

One call of :func:`train_tokenizer` trains (or resumes) a run directory ``out_dir``::

    out_dir/
      config.yaml            the resolved config (after overrides) of the latest call
      metrics.jsonl          one JSON record per line: {"type": "train"|"val"|"info", "step", ...}
      step-XXXXXXXX/         atomic checkpoints (see checkpoint.py): weights, config, meta, trainer state
      latest, best           pointers (best = lowest validation MPJPE)

**Loop.**  Step-based: the batch of step ``s`` is a pure function of ``(seed, s)``
(:class:`~.data.StepBatchSampler`; clips sampled uniformly or corpus-balanced with
``source_balance``; clips shorter than the window skipped or padded and masked with
``short_clips``), the loss is ``reconstruction_loss(recon, x, vel_weight) +
commitment``, AdamW (``lr``, ``betas``, ``weight_decay``), optional gradient clipping, and a
learning-rate schedule of linear warm-up (``lr·(s+1)/warmup_iters``, T2M-GPT) followed by step decay
at ``lr_milestones`` (``lr_schedule: step``) or cosine decay to 0 at the last step (``cosine``).
The run length is ``train.max_iters`` or, when it is null, ``ceil(epochs · N / batch_size)`` steps
for ``N`` usable training clips (one epoch visits every clip once, with a random window in each).

**Validation** every ``eval_every`` steps (and before the first step of a new run, and at the end)
on the whole clips of the ``val`` split: feature L1, root-aligned and global MPJPE in mm, codebook
usage and perplexity (:func:`~.evaluate.reconstruction_metrics`).  A new lowest ``mpjpe_mm`` saves a
checkpoint at once and marks it ``best``.

**Checkpoints** every ``save_every`` steps, on improvement, at the end and on Ctrl-C (the first
SIGINT finishes the current step, saves and returns with ``interrupted=True``; a second one aborts at
once).  Each holds the weights (safetensors, with the normalisation mean/std), the YAML config, the
git commit, optimizer / scheduler state and all RNG states.

**Resume** (``resume=True`` and ``out_dir/latest`` exists) restores model, optimizer, scheduler and
RNG states and continues at the saved step; since the data position is derived from the step, the
loss curve after resuming is bit-identical to an uninterrupted run on CPU (on CUDA up to
non-deterministic kernels).  Records of ``metrics.jsonl`` after the checkpoint's step (written by
the killed run) are dropped.

**Devices.**  CPU by default when no GPU is present (``device="auto"``); on CUDA the forward pass
runs under bf16 autocast (the quantizer's distances and EMA statistics stay float32) and the
loss in float32.
"""
from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from .. import runs
from ..atomic import atomic_write_text
from ..data.corpora import corpus_labels
from ..errors import DatasetError, InputFileError
from ..overrides import apply_overrides as merge_overrides
from ..runtime import autocast_context, resolve_device, seed_everything, set_threads, use_bf16
from ..train_loop import METRICS_FILE, append_jsonl, progress_bar, run_steps, truncate_metrics
from .checkpoint import build_tokenizer, load_checkpoint, restore_training_state, save_checkpoint
from .config import TokenizerConfig, config_from_dict, config_to_dict, config_to_yaml, load_config
from .data import ClipDataset, StepBatchSampler, WindowDataset, corpus_weights, make_eval_loader, open_split
from .evaluate import reconstruction_metrics
from .losses import reconstruction_loss

__all__ = ["train_tokenizer", "apply_overrides", "lr_factor", "total_steps"]

BEST_KEY = "mpjpe_mm"


# ------------------------------------------------------------------------------ helpers
def apply_overrides(cfg: TokenizerConfig, overrides: Mapping[str, Any] | None,
                    source: str | Path = "<overrides>") -> TokenizerConfig:
    """A new config with ``overrides`` applied and validated.

    ``overrides`` is nested (``{"train": {"max_iters": 40}}``) and/or dotted
    (``{"train.max_iters": 40, "model.width": 64}``); unknown keys raise ``InputFileError``.
    """
    if not overrides:
        return cfg
    return config_from_dict(merge_overrides(config_to_dict(cfg), overrides), source)


def total_steps(cfg: TokenizerConfig, n_clips: int) -> int:
    """Run length in steps: ``max_iters``, else ``ceil(epochs · n_clips / batch_size)``."""
    t = cfg.train
    if t.max_iters is not None:
        return int(t.max_iters)
    if t.epochs is None:
        raise ValueError("train.max_iters and train.epochs are both null; set one of them")
    return math.ceil(t.epochs * n_clips / t.batch_size)


def lr_factor(step: int, cfg: TokenizerConfig, total: int) -> float:
    """Multiplier of ``train.lr`` for the optimizer step of 0-based step ``step``."""
    t = cfg.train
    f = 1.0
    if t.warmup_iters and step < t.warmup_iters:
        f = (step + 1) / t.warmup_iters
    if t.lr_schedule == "cosine":
        span = max(1, total - t.warmup_iters)
        prog = min(1.0, max(0.0, (step - t.warmup_iters) / span))
        return f * 0.5 * (1.0 + math.cos(math.pi * prog))
    return f * t.lr_gamma ** sum(1 for m in t.lr_milestones if step >= m)


def _scalar_stats(stats: Mapping[str, torch.Tensor]) -> dict[str, float]:
    return {k: float(v) for k, v in stats.items() if torch.is_tensor(v) and v.dim() == 0}


def train_tokenizer(config_path: str | Path, data_root: str | Path, out_dir: str | Path,
                    max_steps: int | None = None, resume: bool = True, device: str = "auto",
                    overrides: Mapping[str, Any] | None = None, *, log_every: int = 10,
                    train_split: str = "train", val_split: str = "val",
                    val_batch_size: int = 32, max_val_clips: int | None = None,
                    eval_at_start: bool = True, keep_last: int | None = 3,
                    progress: bool = True, threads: int | None = None,
                    callback: Callable[[int, dict[str, float]], None] | None = None
                    ) -> dict[str, Any]:
    """Train a motion tokenizer (see the module docstring).

    Args:
        config_path: tokenizer YAML (``configs/tokenizer/*.yaml``).
        data_root: prepared dataset directory (HumanML3D / KIT-ML / Motion-X layout) with
            ``Mean.npy`` / ``Std.npy`` and ``train`` / ``val`` splits.
        out_dir: run directory (created).
        max_steps: stop after this global step (a cap for smoke runs and tests; the learning-rate
            schedule still follows the config's run length).  ``None``: run to the end.
        resume: continue from ``out_dir/latest`` when it exists.  With ``False`` an existing run
            directory is an error (never silently overwritten).
        device: ``"auto"`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"`` ...
        overrides: config overrides, nested or dotted (see :func:`apply_overrides`).
        log_every: write a ``train`` record to ``metrics.jsonl`` every this many steps.
        train_split, val_split: split names; a missing val split disables validation (warning).
        val_batch_size, max_val_clips: validation batching / cap on the number of clips.
        eval_at_start: validate the untrained model before the first step of a new run (step 0).
        keep_last: keep only the newest step directories (the best one is always kept);
            ``None`` keeps all.
        progress: show a tqdm bar (steps, ETA, loss, lr, last validation MPJPE).
        threads: ``torch.set_num_threads`` for this process (``None``: leave it).  On a small or
            busy CPU box one thread can be many times faster than several.
        callback: called as ``callback(step, record)`` after every step (record: the step's scalars).

    Returns:
        Summary dict: ``out_dir``, ``device``, ``amp``, ``start_step``, ``final_step``,
        ``total_steps``, ``interrupted``, ``resumed``, ``checkpoint`` (latest step directory),
        ``best_step`` / ``best_mpjpe_mm`` (``None`` without validation), ``last_val`` (metrics of
        the last validation), ``train_losses`` (``[(step, loss)]`` of the logged steps of this call),
        ``steps_per_s`` (training steps of this call per second, validation excluded),
        ``n_train_clips``, ``n_short_skipped`` (training clips shorter than the window).
    """
    cfg = apply_overrides(load_config(config_path), overrides, config_path)
    tc = cfg.train
    set_threads(threads)
    out = Path(out_dir)
    dev = resolve_device(device)
    amp = use_bf16(dev)
    metrics_path = out / METRICS_FILE
    latest_exists = runs.open_run(out, resume)

    # ---------------------------------------------------------------- model / resume
    ckpt = None
    if latest_exists:
        ckpt = load_checkpoint(out, "latest", map_location=dev, load_trainer_state=True)
        if ckpt.config.kind != cfg.kind or asdict(ckpt.config.model) != asdict(cfg.model):
            raise InputFileError(config_path, f"the model section differs from the checkpoint "
                                 f"{ckpt.path} being resumed", "use the run's own config.yaml, or "
                                 "a new output directory")
        runs.warn_changed(asdict(ckpt.config.train), asdict(cfg.train), ckpt.path)
        model = ckpt.model
        start_step = ckpt.step
    else:
        seed_everything(tc.seed)
        model = build_tokenizer(cfg).to(dev)
        start_step = 0

    # ---------------------------------------------------------------- data
    src = open_split(data_root, train_split, expect_dim=model.input_dim)
    if ckpt is None:
        if src.mean is None or src.std is None:
            raise DatasetError(data_root, "no valid Mean.npy/Std.npy",
                               "compute them with compute_mean_std over the train split")
        model.set_normalization(src.mean, src.std)
    mean, std = model.mean.cpu().numpy(), model.std.cpu().numpy()
    train_ds = WindowDataset(src, tc.window, mean, std, short_clips=tc.short_clips,
                             min_frames=model.unit)
    corpora = corpus_labels(data_root, train_ds.ids)
    sampler = StepBatchSampler(train_ds.lengths, tc.window, tc.batch_size, tc.seed,
                               weights=corpus_weights(corpora, tc.source_balance))
    n_total = total_steps(cfg, len(train_ds))
    stop_step = n_total if max_steps is None else min(n_total, int(max_steps))

    val_loader = None
    try:
        vsrc = open_split(data_root, val_split, expect_dim=model.input_dim)
        vclips = ClipDataset(vsrc, mean, std, min_frames=model.unit, max_clips=max_val_clips)
        val_loader = make_eval_loader(vclips, val_batch_size) if len(vclips) else None
    except DatasetError as err:
        warnings.warn(f"no validation ({err}); best-checkpoint tracking is off", RuntimeWarning,
                      stacklevel=2)

    # ---------------------------------------------------------------- optimiser / schedule
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, betas=tuple(tc.betas),
                            weight_decay=tc.weight_decay)

    def _lambda(s: int) -> float:
        return lr_factor(s, cfg, n_total)

    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lambda)
    best_val, best_step = None, None
    if ckpt is not None:
        restore_training_state(ckpt, opt, sched, restore_rng=True)
        best_val, best_step = runs.best_so_far(ckpt.meta, "best_mpjpe_mm")
        truncate_metrics(metrics_path, start_step)
        ckpt = None  # free the loaded trainer state

    depends_on = {"data": {"path": str(Path(data_root).expanduser().resolve()), "split": train_split}}
    atomic_write_text(out / "config.yaml", config_to_yaml(cfg))
    info = {"type": "info", "step": start_step, "event": "resume" if start_step else "start",
            "device": str(dev), "amp": amp, "total_steps": n_total, "stop_step": stop_step,
            "n_train_clips": len(train_ds), "n_train_frames": int(train_ds.lengths.sum()),
            "n_short_skipped": train_ds.n_short, "n_short_padded": train_ds.n_padded,
            "corpora": {c: corpora.count(c) for c in sorted(set(corpora))},
            "source_balance": tc.source_balance,
            "n_val_clips": len(val_loader.dataset) if val_loader is not None else 0,
            "steps_per_epoch": sampler.steps_per_epoch,
            "params": sum(p.numel() for p in model.parameters()),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    append_jsonl(metrics_path, info)

    # ---------------------------------------------------------------- loop
    bar = progress_bar(progress, stop_step, start_step, f"train {cfg.kind}")
    if bar is not None:
        bar.write(f"{out}: {cfg.kind} tokenizer, {info['params'] / 1e6:.2f}M params on {dev}"
                  f"{' (bf16 autocast)' if amp else ''}; train data: {train_ds.describe()}; "
                  f"{info['n_val_clips']} val clips; steps {start_step}->{stop_step} of {n_total}")

    def step_fn(s: int) -> dict[str, float]:
        clips, offsets = sampler.batch(s)
        x, mask = train_ds.get_batch(clips, offsets)
        x = x.to(dev, non_blocking=True)
        mask = None if mask is None else mask.to(dev, non_blocking=True)
        with autocast_context(dev, amp):
            recon, _, commit, stats = model(x, mask)
        loss_mask = None if mask is None else stats["frame_mask"]
        rec, parts = reconstruction_loss(recon.float(), x, loss_mask, tc.vel_weight)
        loss = rec + commit.float()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = None
        if tc.grad_clip is not None:
            gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
        lr = opt.param_groups[0]["lr"]
        opt.step()
        sched.step()
        record = {"loss": float(loss.detach()), "recon": float(parts["recon"]),
                  "vel": float(parts["vel"]), "commit": float(commit.detach()), "lr": lr,
                  **_scalar_stats(stats)}
        if gnorm is not None:
            record["grad_norm"] = float(gnorm)
        return record

    def save(at: int, is_best: bool, metrics: dict[str, float]) -> None:
        save_checkpoint(out, model, cfg, step=at, epoch=sampler.epoch_of(max(at - 1, 0)),
                        optimizer=opt, scheduler=sched, metrics=metrics, is_best=is_best,
                        keep_last=keep_last, depends_on=depends_on)

    def postfix(record: dict[str, float], last_val: dict | None) -> dict[str, str]:
        post = {"loss": f"{record['loss']:.4f}", "lr": f"{record['lr']:.2e}"}
        if last_val is not None:
            post["val_mpjpe"] = f"{last_val['mpjpe_mm']:.1f}"
        return post

    loop = run_steps(
        step_fn=step_fn,
        validate_fn=lambda: (reconstruction_metrics(model, val_loader, dev, amp)
                             if val_loader is not None else None),
        save_fn=save, metrics_path=metrics_path, start_step=start_step, stop_step=stop_step,
        eval_every=tc.eval_every, save_every=tc.save_every, best_key=BEST_KEY,
        best_name="best_mpjpe_mm", best_val=best_val, best_step=best_step, log_every=log_every,
        eval_at_start=eval_at_start, train_extra=lambda s: {"epoch": sampler.epoch_of(s - 1)},
        bar=bar, postfix=postfix,
        describe_val=lambda r: (f"val MPJPE {r['mpjpe_mm']:.1f} mm, feature L1 "
                                f"{r['feature_l1']:.4f}, usage {_usage_str(r)}"),
        callback=callback, where=str(out))
    latest = runs.pointed_step(out)
    return {
        "out_dir": str(out), "device": str(dev), "amp": amp, "start_step": start_step,
        "final_step": loop.final_step, "total_steps": n_total, "interrupted": loop.interrupted,
        "resumed": start_step > 0, "checkpoint": str(latest) if latest else None,
        "best_step": loop.best_step, "best_mpjpe_mm": loop.best_val, "last_val": loop.last_val,
        "train_losses": loop.train_losses, "steps_per_s": loop.steps_per_s(start_step),
        "n_train_clips": len(train_ds), "n_short_skipped": train_ds.n_short,
    }


def _usage_str(res: Mapping[str, float]) -> str:
    if "body_codebook_usage" in res:
        return f"{100 * res['body_codebook_usage']:.0f}% body / {100 * res['hand_codebook_usage']:.0f}% hand"
    return f"{100 * res['codebook_usage']:.0f}%, perplexity {res['perplexity']:.1f}"
