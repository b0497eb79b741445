"""Reconstruction metrics of a motion tokenizer on whole clips, and the Markdown table.

For every clip of a split the tokenizer's ``forward`` (eval mode: the codebook is not changed)
encodes, quantizes and decodes the normalised features; each clip is cropped to a multiple of the
token unit (``frame_mask``) and only those frames count.  Metrics:

* ``feature_l1`` — mean absolute error of the *normalised* features (all dims, valid frames).
* ``mpjpe_mm`` — mean per-joint position error in millimetres, **root-aligned**: joints are recovered
  with :func:`~motiongpt2.motion.features.recover_from_ric` from the de-normalised reconstruction and
  from the de-normalised ground-truth features (the same way), the root (pelvis, joint 0) of each
  frame is subtracted from both, then the Euclidean error is averaged over joints and frames (the
  ``align_root`` convention of MotionGPT's reconstruction metrics).
* ``mpjpe_global_mm`` — the same without root alignment: includes the drift of the root trajectory
  integrated from the reconstructed root velocities.
* ``codebook_usage`` — fraction of the codebook used at least once over the whole split.
* ``perplexity`` — ``exp(entropy)`` of the code histogram over the split (``K`` = uniform use).
* ``frames_per_s`` — valid frames reconstructed per second of model time (batched forward).

Whole-body (52-joint, 623-dim) features add ``body_mpjpe_mm`` (joints 0..21, root-aligned),
``hand_mpjpe_mm`` (joints 22..51, root-aligned, i.e. relative to the pelvis: includes arm errors) and
``hand_mpjpe_wrist_mm`` (joints 22..36 relative to the left wrist 20, 37..51 relative to the right
wrist 21: finger articulation only).  The Part-Aware tokenizer reports usage / perplexity per codebook
(``body_codebook_usage``, ``hand_perplexity``, ...).

Millimetres: HumanML3D / whole-body joints are in metres (×1000); KIT-ML joints are already in mm.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from ..motion.features import recover_from_ric
from ..motion.skeleton import FINGER_JOINTS, FINGER_WRISTS, skeleton_for_dim
from ..runtime import autocast_context, resolve_device
from .checkpoint import load_checkpoint
from .data import ClipDataset, make_eval_loader, open_split

__all__ = ["evaluate_tokenizer", "reconstruction_metrics", "format_reconstruction_table"]

_FINGERS, _WRISTS = torch.as_tensor(FINGER_JOINTS), torch.as_tensor(FINGER_WRISTS)


class _CodeCounter:
    def __init__(self, num_codes: int, device: torch.device):
        self.counts = torch.zeros(num_codes, dtype=torch.float64, device=device)

    def add(self, ids: torch.Tensor, valid: torch.Tensor) -> None:
        v = ids[valid]
        if v.numel():
            self.counts += torch.bincount(v, minlength=self.counts.numel()).to(torch.float64)

    def usage(self) -> float:
        return float((self.counts > 0).double().mean())

    def perplexity(self) -> float:
        total = self.counts.sum()
        if total <= 0:
            return 0.0
        p = self.counts / total
        return float(torch.exp(-(p * torch.log(p.clamp_min(1e-30))).sum()))


@torch.no_grad()
def reconstruction_metrics(model: nn.Module, loader: Iterable, device: torch.device | str = "cpu",
                           amp: bool = False, progress: bool = False) -> dict[str, float]:
    """Metrics of the module docstring for ``model`` on the batches of ``loader``.

    Args:
        model: a :class:`MotionVQVAE` or :class:`PartAwareVQVAE` with its ``mean`` / ``std`` set
            (batches must be normalised with the same values).
        loader: yields :class:`~motiongpt2.tokenizer.data.ClipBatch` (see ``make_eval_loader``).
        device: where to run.
        amp: bf16 autocast on CUDA (the quantizer's distances stay float32).

    Returns:
        Flat ``{name: float}`` plus ``n_clips`` and ``n_frames``.  The model is left in the mode it was in.
    """
    device = torch.device(device)
    was_training = model.training
    model.eval()
    d = model.input_dim
    skel = skeleton_for_dim(d)
    to_mm = 1.0 if skel.unit == "mm" else 1000.0
    n_joints = skel.n_joints
    whole_body = n_joints == 52
    sizes = model.codebook_sizes
    prefixes = [f"{name}_" for name in model.stream_names] if len(sizes) > 1 else [""]
    counters = {pre: _CodeCounter(k, device) for pre, k in zip(prefixes, sizes)}
    sums: dict[str, float] = {}
    n_frames = n_clips = 0
    n_feat = 0
    model_time = 0.0

    def add(name: str, value: torch.Tensor) -> None:
        sums[name] = sums.get(name, 0.0) + float(value)

    it = loader
    if progress:
        from tqdm import tqdm
        it = tqdm(loader, desc="eval", unit="batch", leave=False)
    for batch in it:
        batch = batch.to(device)
        x, mask = batch.features, batch.mask
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        with autocast_context(device, amp):
            recon, ids, _, stats = model(x, mask)
        recon = recon.float()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        model_time += time.perf_counter() - t0
        fm = stats["frame_mask"] & mask                                   # (B, T)
        tm = stats["token_mask"]
        for counter, stream in zip(counters.values(), ids):
            counter.add(stream, tm)
        fmf = fm.float()
        nf = fmf.sum()
        n_frames += int(nf)
        n_clips += x.shape[0]
        n_feat += int(nf) * d
        add("feature_l1", ((recon - x).abs() * fmf[..., None]).sum())

        # joints from de-normalised features (recovery is causal: padding never leaks backwards)
        jr = recover_from_ric(model.denormalize(recon), n_joints)          # (B, T, J, 3)
        jg = recover_from_ric(model.denormalize(x), n_joints)
        add("mpjpe_global", ((jr - jg).norm(dim=-1).mean(-1) * fmf).sum())
        jr_a = jr - jr[..., :1, :]
        jg_a = jg - jg[..., :1, :]
        err = (jr_a - jg_a).norm(dim=-1)                                   # (B, T, J)
        add("mpjpe", (err.mean(-1) * fmf).sum())
        if whole_body:
            add("body_mpjpe", (err[..., :22].mean(-1) * fmf).sum())
            add("hand_mpjpe", (err[..., 22:].mean(-1) * fmf).sum())
            werr = ((jr[..., _FINGERS, :] - jr[..., _WRISTS, :])                # (B, T, 30): each finger
                    - (jg[..., _FINGERS, :] - jg[..., _WRISTS, :])).norm(dim=-1)  # joint from its own wrist
            add("hand_mpjpe_wrist", (werr.mean(-1) * fmf).sum())
    if was_training:
        model.train()
    nfr = max(n_frames, 1)
    out: dict[str, float] = {
        "feature_l1": sums.get("feature_l1", 0.0) / max(n_feat, 1),
        "mpjpe_mm": sums.get("mpjpe", 0.0) / nfr * to_mm,
        "mpjpe_global_mm": sums.get("mpjpe_global", 0.0) / nfr * to_mm,
    }
    if whole_body:
        out["body_mpjpe_mm"] = sums.get("body_mpjpe", 0.0) / nfr * to_mm
        out["hand_mpjpe_mm"] = sums.get("hand_mpjpe", 0.0) / nfr * to_mm
        out["hand_mpjpe_wrist_mm"] = sums.get("hand_mpjpe_wrist", 0.0) / nfr * to_mm
    for pre, c in counters.items():
        out[f"{pre}codebook_usage"] = c.usage()
        out[f"{pre}perplexity"] = c.perplexity()
    out["frames_per_s"] = n_frames / model_time if model_time > 0 else float("nan")
    out["n_clips"] = float(n_clips)
    out["n_frames"] = float(n_frames)
    return out


def evaluate_tokenizer(checkpoint: str | Path, data_root: str | Path, split: str = "test",
                       batch_size: int = 32, *, which: str = "best", device: str = "auto",
                       amp: bool | None = None, max_clips: int | None = None,
                       progress: bool = False) -> dict[str, Any]:
    """Reconstruction metrics of a trained tokenizer on a dataset split.

    Args:
        checkpoint: a run directory (the ``which`` pointer is followed; ``best`` falls back to
            ``latest`` when no best checkpoint was marked) or a step directory.
        data_root: prepared dataset (HumanML3D / KIT-ML / Motion-X layout).
        split: split name or split file.
        batch_size: clips per forward pass.
        which: ``"best"`` or ``"latest"``.
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ...
        amp: bf16 autocast; default: on for CUDA.
        max_clips: evaluate only the first clips of the split (quick checks).

    Returns:
        The metrics of :func:`reconstruction_metrics` plus ``checkpoint`` (step directory),
        ``step``, ``kind``, ``split``, ``dataset`` (kind of the data), ``n_short`` (clips shorter
        than one token, left out) and ``device``.
    """
    dev = resolve_device(device)
    ckpt = load_checkpoint(checkpoint, which=which, map_location=dev, load_trainer_state=False,
                           best_falls_back=True)
    model = ckpt.model
    src = open_split(data_root, split, expect_dim=model.input_dim)
    clips = ClipDataset(src, model.mean.cpu().numpy(), model.std.cpu().numpy(),
                        min_frames=model.unit, max_clips=max_clips)
    loader = make_eval_loader(clips, batch_size)
    use_amp = (dev.type == "cuda") if amp is None else bool(amp)
    res: dict[str, Any] = dict(reconstruction_metrics(model, loader, dev, use_amp, progress))
    res.update(checkpoint=str(ckpt.path), step=ckpt.step, kind=ckpt.config.kind, split=split,
               dataset=src.kind, n_short=clips.n_short, device=str(dev), amp=use_amp)
    return res


# ------------------------------------------------------------------------------ table
def _fmt(v: Any, spec: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return format(v, spec)


def format_reconstruction_table(results: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> str:
    """Markdown table of one or several :func:`evaluate_tokenizer` results (one row each).

    Whole-body results get body / hand columns; per-codebook usage and perplexity are shown as
    ``body / hand`` for the Part-Aware tokenizer.  A legend below the table says what each MPJPE is.
    """
    rows = [results] if isinstance(results, Mapping) else list(results)
    whole = any("body_mpjpe_mm" in r for r in rows)
    head = ["Tokenizer", "Step", "Split", "Clips", "MPJPE (mm) ↓", "Global MPJPE (mm) ↓"]
    if whole:
        head += ["Body MPJPE (mm) ↓", "Hand MPJPE (mm) ↓", "Hand MPJPE wrist-rel. (mm) ↓"]
    head += ["Feature L1 ↓", "Codebook usage ↑", "Perplexity ↑", "Frames/s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    for r in rows:
        name = Path(str(r.get("checkpoint", "?")))
        label = f"{r.get('kind', '?')} `{name.parent.name}/{name.name}`" if name.parent.name else \
            f"{r.get('kind', '?')} `{name.name}`"
        if "body_codebook_usage" in r:
            usage = (f"{_fmt(100 * r['body_codebook_usage'], '.1f')}% / "
                     f"{_fmt(100 * r['hand_codebook_usage'], '.1f')}%")
            ppl = f"{_fmt(r['body_perplexity'], '.1f')} / {_fmt(r['hand_perplexity'], '.1f')}"
        else:
            usage = f"{_fmt(100 * r.get('codebook_usage', float('nan')), '.1f')}%"
            ppl = _fmt(r.get("perplexity"), ".1f")
        cells = [label, str(r.get("step", "–")), str(r.get("split", "–")),
                 str(int(r.get("n_clips", 0))), _fmt(r.get("mpjpe_mm"), ".1f"),
                 _fmt(r.get("mpjpe_global_mm"), ".1f")]
        if whole:
            cells += [_fmt(r.get("body_mpjpe_mm"), ".1f"), _fmt(r.get("hand_mpjpe_mm"), ".1f"),
                      _fmt(r.get("hand_mpjpe_wrist_mm"), ".1f")]
        cells += [_fmt(r.get("feature_l1"), ".4f"), usage, ppl, _fmt(r.get("frames_per_s"), ".0f")]
        lines.append("| " + " | ".join(cells) + " |")
    legend = ("MPJPE: joints recovered from de-normalised features (recover_from_ric) for the "
              "reconstruction and the ground truth alike; root-aligned (pelvis subtracted per frame). "
              "Global MPJPE: not aligned (includes root-trajectory drift).")
    if whole:
        legend += (" Body: joints 0–21. Hand: joints 22–51 relative to the pelvis (includes arm "
                   "error); wrist-rel.: each hand relative to its own wrist (finger articulation).")
    legend += (" Feature L1 on normalised features. Usage: fraction of codes used over the split"
               " (body / hand codebooks for Part-Aware).")
    return "\n".join(lines) + "\n\n" + legend + "\n"
