"""Training loop of the T2M-GPT baseline: ``train_t2mgpt(config, data_root, tokenizer_ckpt, out_dir)``.

Run directory ``out_dir``::

    config.yaml        resolved config of the latest call (num_codes / text_dim filled in)
    metrics.jsonl      {"type": "info"|"train"|"val", "step", ...} per line
    cache/             tokens_<split>_<tokenizer hash>.npz, text_<encoder hash>.npz
    step-XXXXXXXX/     atomic checkpoints (weights, config, meta with tokenizer + git commit, trainer state)
    latest, best       pointers (best = lowest validation loss)

Loop: the batch of step ``s`` is a pure function of ``(seed, s)`` (:func:`~.data.make_batch`:
teacher forcing with τ-corruption of the input tokens), masked cross-entropy on the motion tokens and
the end token, AdamW, gradient clipping, linear warm-up then step decay.  Validation every
``eval_every`` steps (and at step 0 and at the end): loss and token accuracy of the uncorrupted
val split.  Resuming restores weights, optimizer, scheduler and RNG states: the loss curve is
bit-identical to an uninterrupted run on CPU.
"""
from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from .. import runs
from ..atomic import atomic_write_text
from ..errors import DatasetError, InputFileError
from ..overrides import apply_overrides as merge_overrides
from ..runtime import autocast_context, resolve_device, seed_everything, set_threads, use_bf16
from ..tokenizer.checkpoint import load_checkpoint, resolve_checkpoint
from ..tokenizer.tokens import check_tokens, encode_split
from ..train_loop import METRICS_FILE, append_jsonl, progress_bar, run_steps, truncate_metrics
from .checkpoint import load_t2mgpt, save_t2mgpt
from .config import (
    T2MGPTConfig,
    load_t2mgpt_config,
    t2mgpt_config_from_dict,
    t2mgpt_config_to_dict,
    t2mgpt_config_to_yaml,
)
from .data import TextEncoderLike, load_text_bank, make_batch, val_batches
from .model import T2MGPT, masked_token_loss, token_accuracy

__all__ = ["apply_t2mgpt_overrides", "load_tokenizer", "lr_factor", "text_encoder_for", "train_t2mgpt"]



def apply_t2mgpt_overrides(cfg: T2MGPTConfig, overrides: Mapping[str, Any] | None, source="<overrides>") -> T2MGPTConfig:
    """Nested (``{"train": {...}}``) or dotted (``{"train.max_iters": 10}``) overrides."""
    if not overrides:
        return cfg
    return t2mgpt_config_from_dict(merge_overrides(t2mgpt_config_to_dict(cfg), overrides), source)


def lr_factor(step: int, cfg: T2MGPTConfig) -> float:
    t = cfg.train
    f = (step + 1) / t.warmup_iters if t.warmup_iters and step < t.warmup_iters else 1.0
    return f * t.lr_gamma ** sum(1 for m in t.lr_milestones if step >= m)


def load_tokenizer(tokenizer_ckpt: str | Path, which: str = "best", device="cpu"):
    """``(model, step_dir, hash)`` of a single-stream tokenizer run/step directory (``best``, else
    ``latest``); ``hash`` is :func:`~motiongpt2.runs.weights_hash`."""
    step_dir = resolve_checkpoint(tokenizer_ckpt, which, best_falls_back=True)
    ck = load_checkpoint(step_dir, map_location=device, load_trainer_state=False)
    if len(ck.model.codebook_sizes) != 1:
        raise InputFileError(step_dir, f"a {ck.config.kind!r} tokenizer with {len(ck.model.codebook_sizes)} token "
                             "streams; the T2M-GPT baseline needs a single-stream tokenizer (kind 'vqvae')")
    return ck.model.eval(), step_dir, runs.weights_hash(step_dir)


def text_encoder_for(name: str = "default") -> tuple[TextEncoderLike, str]:
    """The frozen sentence encoder (mean pooling + L2 norm) and a key naming it for caches."""
    from ..eval.bertscore import DEFAULT_ENCODER_NAME
    from ..eval.evaluator import SentenceEncoder

    enc = SentenceEncoder.get(name)
    label = DEFAULT_ENCODER_NAME if name == "default" else str(Path(enc.path).resolve())
    return enc, f"{label}|mean-pooling|l2"


def _encoder_key(enc) -> str:
    return getattr(enc, "key", None) or f"{type(enc).__module__}.{type(enc).__qualname__}|{enc.dim}"


@torch.no_grad()
def evaluate_loss(model: T2MGPT, batches, dev, amp: bool, reduction: str) -> dict[str, float]:
    """Validation loss (same reduction as training, no corruption) and token accuracy."""
    was = model.training
    model.eval()
    tot_loss, n_seq, tot_tok, hit, total, end_hit = 0.0, 0, 0.0, 0, 0, 0
    for b in batches:
        L = int(b.lengths.max())
        cond, x, y, n = b.cond.to(dev), b.inputs[:, :L].to(dev), b.targets[:, : L + 1].to(dev), b.lengths.to(dev)
        with autocast_context(dev, amp):
            logits = model(cond, x)
        logits = logits.float()
        loss_s = masked_token_loss(logits, y, n, "sample")
        loss_t = masked_token_loss(logits, y, n, "token")
        c, t = token_accuracy(logits, y, n)
        tot_loss += float(loss_s) * len(n)
        n_seq += len(n)
        tot_tok += float(loss_t) * t
        hit += c
        total += t
        pred_end = logits.argmax(-1).gather(1, n[:, None]).squeeze(1)
        end_hit += int((pred_end == model.cfg.end_id).sum())
    model.train(was)
    return {"loss": tot_loss / n_seq if reduction == "sample" else tot_tok / total,
            "loss_token": tot_tok / total, "loss_sample": tot_loss / n_seq,
            "token_acc": hit / total, "end_acc": end_hit / n_seq, "n_pairs": n_seq}


def train_t2mgpt(config_path: str | Path, data_root: str | Path, tokenizer_ckpt: str | Path, out_dir: str | Path,
                 max_steps: int | None = None, resume: bool = True, threads: int | None = None, *,
                 device: str = "auto", overrides: Mapping[str, Any] | None = None, which_tokenizer: str = "best",
                 train_split: str = "train", val_split: str = "val", cache_dir: str | Path | None = None,
                 text_encoder: TextEncoderLike | None = None, log_every: int = 10, keep_last: int | None = 3,
                 eval_at_start: bool = True, progress: bool = True,
                 callback: Callable[[int, dict[str, float]], None] | None = None) -> dict[str, Any]:
    """Train (or resume) the T2M-GPT baseline over a frozen tokenizer's codes (see the module doc).

    Args:
        config_path: ``configs/baselines/t2mgpt_*.yaml``.
        data_root: prepared dataset (train/val splits, texts).
        tokenizer_ckpt: tokenizer run directory (its ``best``, else ``latest``, checkpoint; see
            ``which_tokenizer``) or step directory.  A resumed run must use the same weights.
        out_dir: run directory.
        max_steps: stop at this global step (smoke runs, tests); the LR schedule follows the config.
        resume: continue from ``out_dir/latest``; ``False`` with an existing run is an error.
        threads: ``torch.set_num_threads``; ``None`` = 1 on CPU (fastest on a busy small box), left
            alone on CUDA.
        device: ``auto`` / ``cpu`` / ``cuda``.  overrides: config overrides (nested or dotted).
        cache_dir: token / text-embedding caches (default ``out_dir/cache``).
        text_encoder: an object with ``dim`` and ``encode(list[str]) -> (N, dim)`` replacing the
            config's sentence encoder (tests); its ``key`` attribute (if any) names it in caches.

    Returns:
        Summary: ``out_dir``, ``device``, ``start_step``, ``final_step``, ``total_steps``,
        ``interrupted``, ``resumed``, ``checkpoint``, ``best_step``, ``best_val_loss``, ``first_val``,
        ``last_val``, ``train_losses`` ``[(step, loss)]``, ``steps_per_s``, ``params``, ``n_train_items``,
        ``tokenizer`` (step dir) and ``tokenizer_hash``.
    """
    cfg = apply_t2mgpt_overrides(load_t2mgpt_config(config_path), overrides, config_path)
    tc = cfg.train
    dev = resolve_device(device)
    set_threads(1 if threads is None and dev.type == "cpu" else threads)
    amp = use_bf16(dev)
    out = Path(out_dir)
    latest_exists = runs.open_run(out, resume)
    cache = Path(cache_dir) if cache_dir is not None else out / "cache"
    metrics_path = out / METRICS_FILE

    # ------------------------------------------------------------ tokenizer, text encoder, data
    tok, tok_dir, tok_hash = load_tokenizer(tokenizer_ckpt, which_tokenizer, device=dev)
    if text_encoder is None:
        text_encoder, enc_key = text_encoder_for(cfg.model.text_encoder)
    else:
        enc_key = _encoder_key(text_encoder)
    cfg.model.num_codes = int(tok.codebook_sizes[0])
    cfg.model.text_dim = int(text_encoder.dim)
    train_set = encode_split(data_root, train_split, tok, tok_hash, cache, progress=progress, device=dev)
    check_tokens(train_set, tok.codebook_sizes)
    try:
        val_set = encode_split(data_root, val_split, tok, tok_hash, cache, progress=progress, device=dev)
    except DatasetError as err:
        warnings.warn(f"no validation ({err}); best-checkpoint tracking is off", RuntimeWarning, stacklevel=2)
        val_set = None
    captions = train_set.captions() + (val_set.captions() if val_set is not None else [])
    bank = load_text_bank(captions, text_encoder, enc_key, cache)
    vbatches = (val_batches(val_set, bank, tc.batch_size, cfg.model.num_codes, cfg.model.max_tokens,
                            tc.max_val_pairs) if val_set is not None else None)
    del tok  # the tokenizer is not needed while training

    # ------------------------------------------------------------ model / resume
    ckpt = None
    if latest_exists:
        ckpt = load_t2mgpt(out, "latest", map_location=dev, load_trainer_state=True)
        if asdict(ckpt.config.model) != asdict(cfg.model):
            raise InputFileError(config_path, f"the model section differs from the checkpoint {ckpt.path}",
                                 "use the run's own config.yaml, or a new output directory")
        run_hash = runs.dependency(ckpt.meta, "tokenizer").get("hash")
        if run_hash != tok_hash:
            raise InputFileError(tokenizer_ckpt, f"tokenizer weights differ from those of {ckpt.path} "
                                 f"({tok_hash} vs {run_hash})", "resume with the tokenizer the run was started with")
        runs.warn_changed(asdict(ckpt.config.train), asdict(cfg.train), ckpt.path)
        model = ckpt.model.to(dev)
        start_step = ckpt.step
    else:
        seed_everything(tc.seed)
        model = T2MGPT(cfg.model).to(dev)
        start_step = 0
    model.train()
    decay, no_decay = [], []
    for n_, p in model.named_parameters():
        (decay if p.dim() >= 2 and "pos_emb" not in n_ else no_decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": tc.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=tc.lr, betas=tuple(tc.betas))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, cfg))
    best_val, best_step = None, None
    if ckpt is not None:
        runs.restore_trainer_state(ckpt.trainer_state, ckpt.path, opt, sched)
        best_val, best_step = runs.best_so_far(ckpt.meta, "best_val_loss")
        truncate_metrics(metrics_path, start_step)
        ckpt = None
    n_total = int(tc.max_iters)
    stop_step = n_total if max_steps is None else min(n_total, int(max_steps))
    depends_on = {"tokenizer": {"path": str(Path(tok_dir).resolve()), "hash": tok_hash}}
    extra_meta = {"text_encoder": enc_key, "data_root": str(Path(data_root).expanduser().resolve()),
                  "train_split": train_split, "val_split": val_split}
    atomic_write_text(out / "config.yaml", t2mgpt_config_to_yaml(cfg))
    params = sum(p.numel() for p in model.parameters())
    info = {"type": "info", "step": start_step, "event": "resume" if start_step else "start", "device": str(dev),
            "amp": amp, "total_steps": n_total, "stop_step": stop_step, "params": params,
            "n_train_items": len(train_set), "n_val_pairs": sum(len(b.lengths) for b in vbatches) if vbatches else 0,
            "threads": torch.get_num_threads(), "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "tokenizer": str(Path(tok_dir).resolve()), "tokenizer_hash": tok_hash, **extra_meta}
    append_jsonl(metrics_path, info)

    bar = progress_bar(progress, stop_step, start_step, "train t2m-gpt")
    if bar is not None:
        bar.write(f"{out}: T2M-GPT {params / 1e6:.2f}M params on {dev} ({torch.get_num_threads()} threads); "
                  f"train {train_set.describe()}; {info['n_val_pairs']} val pairs; steps {start_step}->{stop_step} "
                  f"of {n_total}")

    def step_fn(s: int) -> dict[str, float]:
        b = make_batch(train_set, bank, s, tc.batch_size, tc.seed, cfg.model.num_codes,
                       cfg.model.max_tokens, tc.drop_edge_prob, tc.tau_min, tc.tau_max)
        L = int(b.lengths.max())
        cond, x = b.cond.to(dev, non_blocking=True), b.inputs[:, :L].to(dev, non_blocking=True)
        y, n = b.targets[:, : L + 1].to(dev, non_blocking=True), b.lengths.to(dev)
        with autocast_context(dev, amp):
            logits = model(cond, x)
        loss = masked_token_loss(logits.float(), y, n, tc.loss_reduction)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = None
        if tc.grad_clip is not None:
            gnorm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip))
        lr = opt.param_groups[0]["lr"]
        opt.step()
        sched.step()
        record = {"loss": float(loss.detach()), "lr": lr}
        if gnorm is not None:
            record["grad_norm"] = gnorm
        return record

    def save(at: int, is_best: bool, metrics: dict[str, float]) -> None:
        save_t2mgpt(out, model, cfg, step=at, extra_meta=extra_meta, depends_on=depends_on, optimizer=opt,
                    scheduler=sched, metrics=metrics, is_best=is_best, keep_last=keep_last)

    def postfix(record: dict[str, float], last_val: dict | None) -> dict[str, str]:
        post = {"loss": f"{record['loss']:.3f}", "lr": f"{record['lr']:.1e}"}
        if last_val is not None:
            post["val"] = f"{last_val['loss']:.3f}"
            post["acc"] = f"{100 * last_val['token_acc']:.0f}%"
        return post

    loop = run_steps(
        step_fn=step_fn,
        validate_fn=lambda: (evaluate_loss(model, vbatches, dev, amp, tc.loss_reduction)
                             if vbatches else None),
        save_fn=save, metrics_path=metrics_path, start_step=start_step, stop_step=stop_step,
        eval_every=tc.eval_every, save_every=tc.save_every, best_key="loss",
        best_name="best_val_loss", best_val=best_val, best_step=best_step, log_every=log_every,
        eval_at_start=eval_at_start, bar=bar, postfix=postfix,
        describe_val=lambda r: (f"val loss {r['loss']:.4f}, token acc {100 * r['token_acc']:.1f}%, "
                                f"end acc {100 * r['end_acc']:.1f}%"),
        callback=callback, where=str(out))
    latest = runs.pointed_step(out)
    return {"out_dir": str(out), "device": str(dev), "start_step": start_step, "final_step": loop.final_step,
            "total_steps": n_total, "interrupted": loop.interrupted, "resumed": start_step > 0,
            "checkpoint": str(latest) if latest else None, "best_step": loop.best_step,
            "best_val_loss": loop.best_val, "first_val": loop.first_val, "last_val": loop.last_val,
            "train_losses": loop.train_losses, "steps_per_s": loop.steps_per_s(start_step), "params": params,
            "n_train_items": len(train_set), "tokenizer": str(tok_dir), "tokenizer_hash": tok_hash}
