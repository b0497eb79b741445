"""Training of the motion-language model: ``motiongpt2 train-lm --stage align|instruct -c CONFIG``.

Stages (stage 1 is the motion tokenizer, ``train-tokenizer``):

* ``align`` (stage 2, motion-language alignment): the backbone's vocabulary is extended with the
  motion tokens of the config's tokenizer, LoRA adapters are added, and the model learns text→motion
  and motion→text pairs mixed with text-only captions (:mod:`.data`);
* ``instruct`` (stage 3, instruction tuning): every task of :data:`~.instructions.TASKS` mixed with
  the configured weights; ``--init RUN`` starts from a stage-``align`` run (its adapter and new
  embedding rows; its ``best`` checkpoint, else ``latest``).

Run folder ``out``::

    config.yaml        the resolved config of the latest call (stage, with the stage's train overrides)
    metrics.jsonl      {"type": "info"|"train"|"val", "step", ...} per line
    cache/             token caches of the motion tokenizer (one folder per dataset)
    step-XXXXXXXX/     a :func:`~.pretrained.save_pretrained` folder (adapter + new rows, hf_tokenizer/,
                       motion_tokenizer/, config.yaml, meta.json) plus trainer.pt: loadable as it is with
                       :func:`~.pretrained.load_pretrained`
    latest, best       pointers (best = lowest validation loss)

**Loss**: cross-entropy over the answer tokens only (the EOS that ends each answer included), averaged
over all answer tokens of the optimizer step (so gradient accumulation and the number of processes do
not change it).  Causal models compute logits for the answer positions only (``logits_to_keep``).

**Loop** (:func:`~motiongpt2.train_loop.run_steps`): the batch of step ``s`` holds the samples at
stream positions ``[s·B, (s+1)·B)`` (:class:`~.data.SampleStream`, a pure function of the seed);
samples longer than ``data.max_length`` are skipped and counted.  AdamW over
:func:`~.adapt.param_groups` (LoRA weights + the new embedding rows), linear warm-up then cosine decay
(or constant), gradient clipping, optional gradient checkpointing, bf16 autocast on CUDA.  Validation
every ``eval_every`` steps on a fixed seeded sample list of the ``val`` split: answer-token loss,
answer-token accuracy, accuracy on motion-code answer tokens, loss per task.  Train records hold
``steps_per_s``, ``tokens_per_s`` (every token read) and ``answer_tokens_per_s``.

**Resume** (``out/latest`` exists): the model is read back with :func:`~.pretrained.load_pretrained`,
optimizer / scheduler / RNG states and the skipped-sample count from ``trainer.pt``; the sample
stream depends on the step only, so the losses match an uninterrupted run (on CPU bit for bit).

**Devices** (Hugging Face ``accelerate``): the same command runs on the CPU, one GPU, or several::

    motiongpt2 train-lm --stage align -c configs/lm/smollm2_align_cpu.yaml \\
        -d ~/.cache/motiongpt2/datasets/real-body -o runs/lm_align
    accelerate launch --config_file configs/accelerate/ddp.yaml --num_processes 4 \\
        -m motiongpt2.cli train-lm --stage instruct -c configs/lm/llama3_8b_instruct_gpu.yaml \\
        -d DATA -o runs/lm_instruct --init runs/lm_align

``train.batch_size`` is the global batch: each of ``P`` processes runs ``grad_accum`` micro-batches of
``batch_size / (grad_accum · P)`` samples.  DDP is the tested multi-GPU path (exact resume).  With
``fsdp.yaml`` / ``deepspeed_zero2.yaml`` the optimizer moments are sharded across processes and are not
saved (a resumed run restarts them, with a warning); DeepSpeed needs ``train.grad_accum: 1``.
"""
from __future__ import annotations

import contextlib
import hashlib
import inspect
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from .. import runs
from ..atomic import atomic_write_text
from ..errors import DatasetError, InputFileError, MotionGPT2Error
from ..runtime import autocast_context, resolve_device, seed_everything, set_threads, use_bf16
from ..tokenizer.checkpoint import load_checkpoint, resolve_checkpoint
from ..tokenizer.tokens import check_tokens, encode_split
from ..train_loop import METRICS_FILE, append_jsonl, progress_bar, run_steps, truncate_metrics
from .adapt import LoraSettings, apply_lora, extend_vocabulary, param_groups, report_line, trainable_report
from .backbone import PACKAGED, load_backbone
from .config import LMConfig, TrainSettings, lm_config_to_dict, lm_config_to_yaml, load_lm_config, stage_train
from .data import IGNORE, Encoded, MotionTexts, SampleEncoder, SampleStream, TextPool, collate, \
    dataset_caption_keys, text_only_pool
from .instructions import load_prompts
from .pretrained import check_tokenizer, load_pretrained, write_pretrained
from .vocab import MotionVocab

__all__ = ["answer_token_loss", "train_lm"]

BEST_KEY = "loss"


# ------------------------------------------------------------------------------ loss
def answer_token_loss(model, batch: Mapping[str, torch.Tensor], kind: str, keep_logits: bool
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Cross-entropy of every answer token of a :func:`~.data.collate` batch.

    Returns ``(ce, targets, predicted, rows)``, each ``(n,)`` for the ``n`` answer tokens (labels not
    ``-100``) in row-major order: the per-token loss (float32, nats), the target ids, the argmax ids and
    the batch row of each token.  ``keep_logits``: pass the answer positions to the model as a boolean
    ``logits_to_keep`` mask (causal models of transformers ≥ 5), so the vocabulary projection runs on
    those positions only.
    """
    labels = batch["labels"]
    if kind == "causal":
        keep = torch.zeros_like(labels, dtype=torch.bool)
        keep[:, :-1] = labels[:, 1:] != IGNORE           # position t predicts label t + 1
        extra = {"logits_to_keep": keep} if keep_logits else {}
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False,
                       **extra).logits
        if logits.dim() == 3:                             # the model ignored / lacks logits_to_keep
            logits = logits[keep]
        targets = labels[:, 1:][keep[:, :-1]]
        rows = keep.nonzero()[:, 0]
    else:
        keep = labels != IGNORE
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                       decoder_input_ids=batch["decoder_input_ids"], use_cache=False).logits[keep]
        targets = labels[keep]
        rows = keep.nonzero()[:, 0]
    logits = logits.float()
    ce = F.cross_entropy(logits, targets, reduction="none")
    return ce, targets, logits.argmax(-1), rows


def _takes_logits_to_keep(model) -> bool:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    try:
        return "logits_to_keep" in inspect.signature(base.forward).parameters
    except (TypeError, ValueError):  # pragma: no cover
        return False


# ------------------------------------------------------------------------------ setup helpers
def _checkpoint_activations(model) -> None:
    """Recompute each layer's activations in the backward pass (non-reentrant checkpointing; the
    transformers 5 name first, the older one otherwise)."""
    if hasattr(model, "activation_checkpointing_enable"):
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:  # pragma: no cover - transformers < 5
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


def _accelerator(device: str):
    """An ``accelerate.Accelerator`` on ``device`` (``auto``: what ``accelerate launch`` or the machine
    gives; ``cpu`` forces the CPU)."""
    from accelerate import Accelerator

    dev = resolve_device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise MotionGPT2Error(f"--device {device}: no CUDA GPU is visible — use --device cpu or auto")
    return Accelerator(cpu=dev.type == "cpu")


def _distributed_kind(accelerator) -> str:
    """``"ddp"`` for plain or data-parallel runs, ``"fsdp"`` / ``"deepspeed"`` for sharded ones."""
    name = str(accelerator.distributed_type).rsplit(".", 1)[-1].upper()
    return {"FSDP": "fsdp", "DEEPSPEED": "deepspeed"}.get(name, "ddp")


def _full_weights(accelerator, model):
    """Context in which an FSDP model's parameters are whole on every process (a no-op otherwise)."""
    if _distributed_kind(accelerator) == "fsdp":
        from torch.distributed.fsdp import FullyShardedDataParallel

        return FullyShardedDataParallel.summon_full_params(model, writeback=False)
    return contextlib.nullcontext()


def _backbone_key(name: str) -> str:
    """The name :func:`~.backbone.load_backbone` records: aliases and ids as given, local folders absolute."""
    local = Path(name).expanduser()
    return str(local.resolve()) if name not in PACKAGED and local.is_dir() else name


def _same_lora(saved: LoraSettings, wanted: LoraSettings) -> bool:
    """Equal LoRA settings; a ``None`` target list in ``wanted`` accepts the saved (resolved) one."""
    if wanted.target_modules is None:
        wanted = replace(wanted, target_modules=saved.target_modules)
    return saved.to_dict() == wanted.to_dict()


def _cache_folder(cache: Path, root: Path) -> Path:
    """Token-cache folder of one dataset (several datasets share a run without clobbering caches)."""
    return cache / f"{root.name}-{hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:8]}"


def _load_motions(roots: Sequence[Path], split: str, motion_tok, tok_hash: str, cache: Path, device,
                  progress: bool, required: bool) -> MotionTexts | None:
    """Captioned motion tokens of ``split`` of every dataset (``None`` when none has it and not
    ``required``)."""
    sets, used = [], []
    for root in roots:
        try:
            ts = encode_split(root, split, motion_tok, tok_hash, _cache_folder(cache, root), device=device,
                              progress=progress)
        except DatasetError as err:
            if required:
                raise
            warnings.warn(f"no {split} data in {root} ({err})", RuntimeWarning, stacklevel=3)
            continue
        check_tokens(ts, motion_tok.codebook_sizes)
        sets.append(ts)
        used.append(root)
    return MotionTexts.from_token_sets(sets, used) if sets else None


def _encode_all(encoder: SampleEncoder, samples) -> tuple[list[Encoded], int]:
    """Tokenized samples that fit, and the number refused as too long."""
    out = [encoder(s) for s in samples]
    kept = [e for e in out if e is not None]
    return kept, len(out) - len(kept)


# ------------------------------------------------------------------------------ model
def _build_model(cfg: LMConfig, tc: TrainSettings, vocab: MotionVocab, dev, backbone_cache) -> dict[str, Any]:
    """A fresh adapted model: backbone, extended vocabulary, LoRA (seeded with ``tc.seed``)."""
    seed_everything(tc.seed)
    bb = load_backbone(cfg.backbone, dtype=cfg.dtype, quantize=cfg.quantize, device=dev, cache_dir=backbone_cache,
                       init=_init_of(cfg, tc))
    bound = extend_vocabulary(bb.model, bb.tokenizer, vocab, seed=tc.seed)
    model = apply_lora(bb.model, cfg.lora)
    return {"model": model, "hf_tokenizer": bb.tokenizer, "bound": bound, "settings": cfg.lora,
            "backbone": bb.name, "source": bb.source, "kind": bb.kind, "init": bb.init}


def _init_of(cfg: LMConfig, tc: TrainSettings) -> str:
    """:func:`~.backbone.load_backbone`'s ``init`` for the config: ``pretrained`` or ``random:<train.seed>``."""
    return "pretrained" if cfg.backbone_init == "pretrained" else f"random:{tc.seed}"


def _check_resume(built: Mapping[str, Any], run_cfg: LMConfig, stage: str, tok_hash: str, step_dir: Path) -> None:
    """Refuse to resume another stage or another motion tokenizer; warn about changed settings."""
    extra = built["config"].get("extra") or {}
    if extra.get("stage") != stage:
        raise InputFileError(step_dir, f"holds a stage-{extra.get('stage')} run, not stage {stage}",
                             f"resume it with --stage {extra.get('stage')}, or choose a new output folder")
    run_hash = runs.dependency(built["meta"], "tokenizer").get("hash")
    if run_hash != tok_hash:
        raise InputFileError(step_dir, f"was trained with motion tokenizer {run_hash}, the config names {tok_hash}",
                             "resume with the tokenizer the run was started with")
    saved = extra.get("config") or {}
    for section in ("train", "data", stage):
        runs.warn_changed(saved.get(section) or {}, asdict(getattr(run_cfg, section)), step_dir)


def _load_model(step_dir: Path, cfg: LMConfig, dev, backbone_cache, what: str) -> dict[str, Any]:
    """A saved model (resume or ``--init``), checked against the config's backbone and LoRA settings."""
    if cfg.quantize is not None:
        raise MotionGPT2Error(f"{what} {step_dir}: quantized backbones can only start new runs — drop quantize "
                              "or start a new run")
    loaded = load_pretrained(step_dir, device=dev, dtype=cfg.dtype, cache_dir=backbone_cache)
    bcfg = loaded.config["backbone"]
    if bcfg["name"] != _backbone_key(cfg.backbone):
        raise InputFileError(step_dir, f"{what} was trained on backbone {bcfg['name']!r}, the config names "
                             f"{cfg.backbone!r}", "use the same backbone")
    saved_init = bcfg.get("init", "pretrained")
    if saved_init.split(":")[0] != cfg.backbone_init:
        raise InputFileError(step_dir, f"{what} was trained on a {saved_init} backbone, the config says "
                             f"backbone_init: {cfg.backbone_init}", "use the same backbone_init")
    settings = LoraSettings.from_dict(loaded.config["lora"])
    if not _same_lora(settings, cfg.lora):
        raise InputFileError(step_dir, f"{what} has LoRA settings {settings.to_dict()}, the config "
                             f"{cfg.lora.to_dict()}", "use the same lora section")
    return {"model": loaded.model, "hf_tokenizer": loaded.hf_tokenizer, "bound": loaded.bound,
            "settings": settings, "backbone": bcfg["name"], "source": bcfg.get("source"), "kind": bcfg["kind"],
            "init": saved_init, "config": loaded.config, "meta": loaded.meta}


# ------------------------------------------------------------------------------ public
def train_lm(config_path: str | Path, data_roots: str | Path | Sequence[str | Path], out: str | Path, stage: str, *,
             init: str | Path | None = None, max_steps: int | None = None, resume: bool = True,
             device: str = "auto", threads: int | None = None, overrides: Mapping[str, Any] | None = None,
             shared: str | Path | None = None, cache_dir: str | Path | None = None,
             backbone_cache: str | Path | None = None, train_split: str = "train", val_split: str = "val",
             eval_at_start: bool = True, progress: bool = True,
             callback: Callable[[int, dict[str, float]], None] | None = None) -> dict[str, Any]:
    """Train (or resume) stage ``align`` or ``instruct`` of the language model (module docstring).

    Args:
        config_path: ``configs/lm/*.yaml``.
        data_roots: prepared dataset folder(s) (HumanML3D layout); their splits are joined.
        out: run folder.
        stage: ``"align"`` or ``"instruct"``.
        init: a language-model run or step folder to start from (its ``best``, else ``latest``); used
            by a new run only.
        max_steps: stop at this global step (the LR schedule still follows the config's run length).
        resume: continue from ``out/latest``; ``False`` with an existing run is an error.
        device: ``auto`` / ``cpu`` / ``cuda``; under ``accelerate launch`` each process gets its GPU.
        threads: ``torch.set_num_threads`` (``None``: leave it).
        overrides: config overrides, nested or dotted (``{"train.lr": 1e-4}``).
        shared: the shared data folder holding ``annotations/`` (stage-2 text-only captions; default
            :func:`motiongpt2.api.default_shared`).
        cache_dir: token caches (default ``out/cache``).  backbone_cache: converted packaged backbones.
        train_split, val_split: split names (a dataset without ``val_split`` is not validated on).
        eval_at_start: validate before the first step of a new run.
        progress: tqdm bar and start-up lines (main process only).
        callback: ``callback(step, record)`` after every step.

    Returns:
        Summary: ``out_dir``, ``stage``, ``device``, ``processes``, ``start_step``, ``final_step``,
        ``total_steps``, ``interrupted``, ``resumed``, ``checkpoint``, ``best_step``, ``best_val_loss``,
        ``first_val``, ``last_val``, ``train_losses`` ``[(step, loss)]``, ``steps_per_s``,
        ``trainable`` (:func:`~.adapt.trainable_report`), ``n_train_motions``, ``epoch_size``,
        ``text_only`` (pool size and per-corpus counts, stage 2), ``n_val_samples``, ``skipped``.
    """
    from ..api import default_shared

    cfg = load_lm_config(config_path, dict(overrides) if overrides else None)
    if stage not in ("align", "instruct"):
        raise MotionGPT2Error(f"--stage {stage!r}: choose align (stage 2) or instruct (stage 3)")
    if cfg.stage is not None and cfg.stage != stage:
        raise InputFileError(config_path, f"is a stage-{cfg.stage} config, but --stage is {stage}",
                             f"pass --stage {cfg.stage} or another config")
    tc = stage_train(cfg, stage, config_path)
    run_cfg = replace(cfg, stage=stage, train=tc, align=replace(cfg.align, train=None),
                      instruct=replace(cfg.instruct, train=None))
    roots = [Path(r).expanduser() for r in ([data_roots] if isinstance(data_roots, (str, Path)) else data_roots)]
    if not roots:
        raise MotionGPT2Error("no dataset given — pass --data DATASET_FOLDER")

    acc = _accelerator(device)
    dev, P, rank, main = acc.device, acc.num_processes, acc.process_index, acc.is_main_process
    set_threads(threads)
    amp = use_bf16(dev)
    dist = _distributed_kind(acc)
    if tc.batch_size % (tc.grad_accum * P):
        raise InputFileError(config_path, f"train.batch_size {tc.batch_size} is not a multiple of grad_accum x "
                             f"processes = {tc.grad_accum} x {P}", "change batch_size or grad_accum")
    if dist == "deepspeed" and tc.grad_accum != 1:
        raise InputFileError(config_path, "DeepSpeed runs need train.grad_accum: 1",
                             "raise the micro-batch (batch_size) or the number of processes instead")
    micro = tc.batch_size // (tc.grad_accum * P)
    out = Path(out)
    latest_exists = runs.open_run(out, resume)
    cache = Path(cache_dir) if cache_dir is not None else out / "cache"
    metrics_path = out / METRICS_FILE if main else Path("/dev/null")

    # ------------------------------------------------------------ motion tokenizer and data
    tok_dir = resolve_checkpoint(cfg.tokenizer, "best", best_falls_back=True)
    motion_tok = load_checkpoint(tok_dir, map_location=dev, load_trainer_state=False).model
    tok_hash = runs.weights_hash(tok_dir)
    vocab = MotionVocab.for_tokenizer(motion_tok)
    with acc.main_process_first():
        motions = _load_motions(roots, train_split, motion_tok, tok_hash, cache, dev, progress and main, True)
        val_motions = _load_motions(roots, val_split, motion_tok, tok_hash, cache, dev, progress and main, False)
    del motion_tok
    pool = TextPool(note="align.text_only_ratio is 0" if stage == "align" else "")
    if stage == "align" and cfg.align.text_only_ratio > 0:
        pool = text_only_pool(shared if shared is not None else default_shared(), cfg.align.text_only_sources,
                              dataset_caption_keys(roots))
        if pool.note:
            warnings.warn(pool.note, RuntimeWarning, stacklevel=2)
    try:
        prompts = load_prompts(cfg.data.prompts, cfg.data.prompt_version)
    except ValueError as err:
        if isinstance(err, MotionGPT2Error):
            raise
        raise InputFileError(config_path, f"data.prompt_version: {err}", "use a version of the prompt file") from None
    stream_args = dict(task_weights=cfg.instruct.tasks, length_hint_prob=cfg.data.length_hint_prob, prompts=prompts)
    try:
        stream = SampleStream(stage, motions, vocab, seed=tc.seed, text_pool=pool.captions,
                              text_only_ratio=cfg.align.text_only_ratio, **stream_args)
        val_stream = SampleStream(stage, val_motions, vocab, seed=0, **stream_args) if val_motions else None
    except ValueError as err:
        raise InputFileError(config_path, str(err), "check the data and the instruct.tasks weights") from None

    # ------------------------------------------------------------ model (new, --init, or resumed)
    state, start_step, init_dir, resume_dir = None, 0, None, None
    if latest_exists:
        resume_dir = runs.resolve_step(out, "latest", what="language model")
        built = _load_model(resume_dir, cfg, dev, backbone_cache, "the run")
        _check_resume(built, run_cfg, stage, tok_hash, resume_dir)
        state = runs.load_trainer_state(resume_dir)
        start_step = int(built["meta"].get("step", 0))
        init_dir = built["config"].get("extra", {}).get("init")
    elif init is not None:
        init_dir = runs.resolve_step(init, "best", best_falls_back=True, what="language model")
        check_tokenizer(init_dir, tok_dir)
        seed_everything(tc.seed)
        built = _load_model(init_dir, cfg, dev, backbone_cache, "--init")
        init_dir = str(init_dir.resolve())
    else:
        built = _build_model(cfg, tc, vocab, dev, backbone_cache)
    model, hf_tok, bound, kind = built["model"], built["hf_tokenizer"], built["bound"], built["kind"]
    settings, backbone, source, backbone_init = built["settings"], built["backbone"], built["source"], built["init"]
    if tc.gradient_checkpointing:
        _checkpoint_activations(model)
    model.train()
    keep_logits = kind == "causal" and _takes_logits_to_keep(model)
    report = trainable_report(model, bound)
    encoder = SampleEncoder(hf_tok, kind, cfg.data.max_length, cfg.data.chat_template)
    pad_id = hf_tok.pad_token_id if hf_tok.pad_token_id is not None else encoder.eos_id
    dec_start = getattr(model.config, "decoder_start_token_id", None)
    dec_start = pad_id if dec_start is None else dec_start
    is_code = torch.zeros(len(hf_tok), dtype=torch.bool, device=dev)
    is_code[torch.as_tensor(bound.all_code_ids(), device=dev)] = True

    val_batches, n_val_skipped, val_tasks = [], 0, []
    if val_stream is not None:
        val_enc, n_val_skipped = _encode_all(encoder, val_stream.samples(0, min(cfg.data.val_samples,
                                                                                 val_stream.epoch_size)))
        val_tasks = sorted({e.task for e in val_enc})
        size = tc.eval_batch_size or micro
        val_batches = [val_enc[i: i + size] for i in range(0, len(val_enc), size)]

    # ------------------------------------------------------------ optimiser, accelerate, schedule
    n_total = tc.total_steps(stream.epoch_size)
    stop_step = n_total if max_steps is None else min(n_total, int(max_steps))
    opt = torch.optim.AdamW(param_groups(model, tc.lr, tc.weight_decay, rows_lr=tc.lr * tc.rows_lr_scale), lr=tc.lr, betas=tuple(tc.betas))
    ds = getattr(acc.state, "deepspeed_plugin", None)
    if ds is not None:
        ds.deepspeed_config.update({"train_micro_batch_size_per_gpu": micro, "gradient_accumulation_steps": 1,
                                    "train_batch_size": micro * P})
    model, opt = acc.prepare(model, opt)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: tc.lr_factor(s, n_total))
    opt_state = opt if dist == "ddp" else None
    best_val, best_step, skipped_total = None, None, 0
    if resume_dir is not None:
        if opt_state is None:
            warnings.warn(f"{dist}: optimizer moments are not saved; the resumed run restarts them",
                          RuntimeWarning, stacklevel=2)
        runs.restore_trainer_state(state, resume_dir, opt_state, sched)
        best_val, best_step = runs.best_so_far(built["meta"], "best_val_loss")
        skipped_total = int(state.get("skipped_total", 0))
        if main:
            truncate_metrics(metrics_path, start_step)
    built = None  # drop references to the loaded config / meta

    # ------------------------------------------------------------ bookkeeping
    extra_config = {"stage": stage, "config": lm_config_to_dict(run_cfg), "init": init_dir,
                    "data_roots": [str(r.resolve()) for r in roots], "tokenizer": str(Path(tok_dir).resolve()),
                    "max_tokens": max(len(t) for t in motions.tokens)}
    text_info = {"pool": len(pool), "per_epoch": stream.n_text, "sources": pool.stats, "note": pool.note}
    if main:
        atomic_write_text(out / "config.yaml", lm_config_to_yaml(run_cfg))
        append_jsonl(metrics_path, {
            "type": "info", "step": start_step, "event": "resume" if start_step else "start", "stage": stage,
            "device": str(dev), "amp": amp, "processes": P, "distributed": dist, "micro_batch": micro,
            "total_steps": n_total, "stop_step": stop_step, "trainable": report, "epoch_size": stream.epoch_size,
            "n_train_motions": len(motions), "n_train_captions": motions.n_captions(), "text_only": text_info,
            "n_val_samples": sum(len(b) for b in val_batches), "n_val_skipped": n_val_skipped,
            "threads": torch.get_num_threads(), "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
            **{k: v for k, v in extra_config.items() if k != "config"}, "tokenizer_hash": tok_hash})
    bar = progress_bar(progress and main, stop_step, start_step, f"train-lm {stage}")
    say = bar.write if bar is not None else (lambda *_: None)
    say(f"{out}: stage {stage}, {report_line(report)}")
    say(f"{out}: {stream.describe()}; {sum(len(b) for b in val_batches)} val samples; on {dev} x {P} "
        f"({'bf16 autocast' if amp else 'float32'}), micro-batch {micro} x {tc.grad_accum} accumulation; "
        f"steps {start_step}->{stop_step} of {n_total}")
    if stage == "align":
        say(f"{out}: text-only captions: {len(pool)} usable {pool.stats or ''} {pool.note}".rstrip())

    def batch_on_device(chunk: Sequence[Encoded]) -> dict[str, torch.Tensor]:
        b = collate(chunk, pad_id, kind, dec_start)
        return {k: v.to(dev, non_blocking=True) for k, v in b.items()}

    def step_fn(s: int) -> dict[str, float]:
        nonlocal skipped_total
        t0 = time.perf_counter()
        encoded = [encoder(x) for x in stream.samples(s * tc.batch_size, (s + 1) * tc.batch_size)]
        kept = [e for e in encoded if e is not None]
        skipped = len(encoded) - len(kept)
        skipped_total += skipped
        n_answer = sum(e.n_answer for e in kept)
        n_tokens = sum(len(e.input_ids) + (len(e.labels) if kind == "seq2seq" else 0) for e in kept)
        sums = torch.zeros(4, dtype=torch.float64, device=dev)  # loss, correct, motion tokens, motion correct
        model.train()
        for a in range(tc.grad_accum):
            first = (a * P + rank) * micro
            chunk = [e for e in encoded[first: first + micro] if e is not None]
            sync = acc.no_sync(model) if a < tc.grad_accum - 1 else contextlib.nullcontext()
            with sync:
                if chunk:
                    with autocast_context(dev, amp):
                        ce, tgt, pred, _ = answer_token_loss(model, batch_on_device(chunk), kind, keep_logits)
                    acc.backward(ce.sum() * (P / max(n_answer, 1)))
                    hit, code = pred == tgt, is_code[tgt]
                    sums += torch.stack([ce.detach().sum().double(), hit.sum().double(), code.sum().double(),
                                         (hit & code).sum().double()])
                elif P > 1:  # keep the processes' gradient all-reduces in step
                    acc.backward(sum(p.reshape(-1)[0] * 0.0 for p in model.parameters() if p.requires_grad))
        gnorm = acc.clip_grad_norm_(model.parameters(), tc.grad_clip) if tc.grad_clip is not None else None
        lr = opt.param_groups[0]["lr"]
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        sums = acc.reduce(sums, "sum") if P > 1 else sums
        dt = time.perf_counter() - t0
        record = {"loss": float(sums[0]) / max(n_answer, 1), "lr": lr, "answer_acc": float(sums[1]) / max(n_answer, 1),
                  "samples": len(kept), "skipped": skipped, "tokens": n_tokens, "answer_tokens": n_answer,
                  "steps_per_s": 1.0 / dt, "tokens_per_s": n_tokens / dt, "answer_tokens_per_s": n_answer / dt}
        if sums[2] > 0:
            record["motion_acc"] = float(sums[3]) / float(sums[2])
        if gnorm is not None:
            record["grad_norm"] = float(gnorm)
        return record

    @torch.no_grad()
    def validate() -> dict[str, float] | None:
        if not val_batches:
            return None
        model.eval()
        T = len(val_tasks)
        sums = torch.zeros(5 + 2 * T, dtype=torch.float64, device=dev)  # loss, n, hit, code, code hit, per task
        for chunk in val_batches[rank::P]:
            with autocast_context(dev, amp):
                ce, tgt, pred, rows = answer_token_loss(model, batch_on_device(chunk), kind, keep_logits)
            hit, code = pred == tgt, is_code[tgt]
            task_of_row = torch.tensor([val_tasks.index(e.task) for e in chunk], device=dev)[rows]
            sums[:5] += torch.stack([ce.sum().double(), torch.tensor(float(len(ce)), device=dev).double(),
                                     hit.sum().double(), code.sum().double(), (hit & code).sum().double()])
            sums[5: 5 + T] += torch.zeros(T, dtype=torch.float64, device=dev).index_add_(0, task_of_row, ce.double())
            sums[5 + T:] += torch.bincount(task_of_row, minlength=T).double()
        model.train()
        sums = acc.reduce(sums, "sum") if P > 1 else sums
        n = max(float(sums[1]), 1.0)
        res = {"loss": float(sums[0]) / n, "answer_acc": float(sums[2]) / n, "n_answer_tokens": float(sums[1]),
               "n_samples": float(sum(len(b) for b in val_batches))}
        if sums[3] > 0:
            res["motion_acc"] = float(sums[4]) / float(sums[3])
        for i, t in enumerate(val_tasks):
            if sums[5 + T + i] > 0:
                res[f"loss_{t}"] = float(sums[5 + i] / sums[5 + T + i])
        return res

    def save(at: int, is_best: bool, metrics: dict[str, float]) -> None:
        acc.wait_for_everyone()
        with _full_weights(acc, model):
            if main:
                trainer = runs.trainer_state(opt_state, sched, at, epoch=stream.epoch_of(max(at * tc.batch_size - 1, 0)),
                                             position=at * tc.batch_size, skipped_total=skipped_total)
                runs.write_step_dir(out, at, lambda tmp: write_pretrained(
                    tmp, acc.unwrap_model(model), hf_tok, bound, settings, backbone, tok_dir, extra_config,
                    backbone_source=source, step=at, metrics=metrics, trainer=trainer, backbone_init=backbone_init),
                    is_best=is_best, keep_last=tc.keep_last)
        acc.wait_for_everyone()

    def postfix(record: dict[str, float], last_val: dict | None) -> dict[str, str]:
        post = {"loss": f"{record['loss']:.3f}", "lr": f"{record['lr']:.1e}",
                "tok/s": f"{record['tokens_per_s']:.0f}"}
        if last_val is not None:
            post["val"] = f"{last_val['loss']:.3f}"
        return post

    loop = run_steps(
        step_fn=step_fn, validate_fn=validate, save_fn=save, metrics_path=metrics_path, start_step=start_step,
        stop_step=stop_step, eval_every=tc.eval_every, save_every=tc.save_every, best_key=BEST_KEY,
        best_name="best_val_loss", best_val=best_val, best_step=best_step, log_every=tc.log_every,
        eval_at_start=eval_at_start, train_extra=lambda s: {"epoch": stream.epoch_of(s * tc.batch_size - 1)},
        bar=bar, postfix=postfix,
        describe_val=lambda r: (f"val loss {r['loss']:.4f}, answer acc {100 * r['answer_acc']:.1f}%"
                                + (f", motion acc {100 * r['motion_acc']:.1f}%" if "motion_acc" in r else "")),
        callback=callback, where=str(out))
    latest = runs.pointed_step(out)
    return {"out_dir": str(out), "stage": stage, "device": str(dev), "processes": P, "start_step": start_step,
            "final_step": loop.final_step, "total_steps": n_total, "interrupted": loop.interrupted,
            "resumed": start_step > 0, "checkpoint": str(latest) if latest else None, "best_step": loop.best_step,
            "best_val_loss": loop.best_val, "first_val": loop.first_val, "last_val": loop.last_val,
            "train_losses": loop.train_losses, "steps_per_s": loop.steps_per_s(start_step), "trainable": report,
            "n_train_motions": len(motions), "epoch_size": stream.epoch_size, "text_only": text_info,
            "n_val_samples": sum(len(b) for b in val_batches), "skipped": skipped_total}
