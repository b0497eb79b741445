"""Joint-position metrics: completion ADE/FDE, pose-control Recon/Vel, tokenizer MPJPE.

Shapes: a motion is ``(T, J, 3)`` joint positions (any trailing shape works: the pose of a frame
is everything after the time axis); a batch is ``(B, T, J, 3)`` with per-sample valid
``lengths``. The distance between two poses is the Euclidean norm of the flattened pose
difference (the motion-prediction convention of DLow and of MotionGPT's ``PredMetrics``), except
MPJPE which averages the per-joint distances.

* **ADE / FDE** -- mean / final pose distance over the completed frames ``[start, end)`` only
  (for prediction ``start`` is the first predicted frame and ``end`` the length; for
  in-betweening the masked middle). Frames past a sample's length never count.
* **Recon / Vel** (pose control, MotionGPT-2 Sec. V) -- distance between each given pose and the
  generated pose it should appear as, and between their velocities (``v[t] = x[t] - x[t-1]``,
  ``v[0] = x[1] - x[0]``). Initial poses are matched to the same frame index, last poses to the
  same offset from the end, key poses to the generated frame nearest in pose space.
* **MPJPE** -- mean per-joint position error over valid frames (optionally root-aligned).
* FID / Diversity of completions and the tokenizer's reconstruction FID reuse
  :mod:`motiongpt2.eval.metrics` on evaluator embeddings.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .metrics import RngLike, diversity, fid

__all__ = [
    "ade_fde",
    "completion_metrics",
    "match_frames",
    "mpjpe",
    "pose_control_errors",
    "pose_control_metrics",
    "reconstruction_metrics",
    "valid_mask",
    "velocity",
]

IntOrArray = int | Sequence[int] | np.ndarray | None


def _per_sample(v: IntOrArray, b: int, default: np.ndarray) -> np.ndarray:
    if v is None:
        return default.copy()
    arr = np.asarray(v, dtype=np.int64)
    return np.full(b, int(arr)) if arr.ndim == 0 else arr.reshape(b)


def valid_mask(lengths: Sequence[int] | np.ndarray, t: int) -> np.ndarray:
    """``(B, t)`` bool mask, True for frames ``< lengths[b]``."""
    return np.arange(t)[None, :] < np.asarray(lengths)[:, None]


def ade_fde(
    pred: np.ndarray,
    gt: np.ndarray,
    lengths: IntOrArray = None,
    start: IntOrArray = 0,
    end: IntOrArray = None,
    per_joint: bool = False,
) -> dict[str, float]:
    """Average and final displacement error over the completed frames.

    Args:
        pred, gt: ``(B, T, J, 3)`` (or ``(B, T, D)``) joint positions.
        lengths: ``(B,)`` valid frames (default ``T``).
        start: first evaluated frame, int or ``(B,)`` (e.g. ``int(0.2 * length)`` for prediction).
        end: one past the last evaluated frame, int or ``(B,)`` (default ``lengths``).
        per_joint: average per-joint distances instead of the flattened-pose distance.

    Returns:
        ``{"ADE": mean over samples of the mean frame distance, "FDE": mean over samples of the
        distance at frame end - 1}``.
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape or pred.ndim < 3:
        raise ValueError(f"pred/gt must share a (B, T, ...) shape, got {pred.shape} and {gt.shape}")
    b, t = pred.shape[:2]
    lengths_a = _per_sample(lengths, b, np.full(b, t))
    start_a = _per_sample(start, b, np.zeros(b, dtype=np.int64))
    end_a = np.minimum(_per_sample(end, b, lengths_a), lengths_a)
    if np.any(lengths_a > t) or np.any(start_a < 0) or np.any(end_a <= start_a):
        raise ValueError("need 0 <= start < end <= length <= T for every sample")
    diff = pred - gt
    if per_joint:
        if pred.ndim != 4:
            raise ValueError("per_joint needs (B, T, J, 3) inputs")
        dist = np.linalg.norm(diff, axis=-1).mean(-1)  # (B, T)
    else:
        dist = np.linalg.norm(diff.reshape(b, t, -1), axis=-1)  # (B, T)
    frames = np.arange(t)[None, :]
    mask = (frames >= start_a[:, None]) & (frames < end_a[:, None])
    ade = np.where(mask, dist, 0.0).sum(1) / mask.sum(1)  # padding (even NaN) never counts
    fde = dist[np.arange(b), end_a - 1]
    return {"ADE": float(ade.mean()), "FDE": float(fde.mean())}


def velocity(x: np.ndarray) -> np.ndarray:
    """Frame differences of ``x`` ``(T, ...)``: ``v[t] = x[t] - x[t-1]``, ``v[0] = x[1] - x[0]`` (T >= 2)."""
    x = np.asarray(x, dtype=np.float64)
    if x.shape[0] < 2:
        raise ValueError("velocity needs at least 2 frames")
    v = np.empty_like(x)
    v[1:] = x[1:] - x[:-1]
    v[0] = v[1]
    return v


def _flat(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float64).reshape(len(x), -1)


def match_frames(generated: np.ndarray, target: np.ndarray, frames: Sequence[int], mode: str) -> np.ndarray:
    """Generated frame index for each given pose ``target[frames[k]]``.

    Args:
        generated: ``(Tg, J, 3)``; target: ``(T, J, 3)``; frames: ``(K,)`` indices into target.
        mode: ``"initial"`` (same index), ``"last"`` (same offset from the end) or ``"key"``
            (nearest generated frame in pose space, first one on ties).
    """
    frames = np.asarray(frames, dtype=np.int64)
    tg, t = len(generated), len(target)
    if np.any(frames < 0) or np.any(frames >= t):
        raise ValueError("frames must index target")
    if mode == "initial":
        out = frames.copy()
    elif mode == "last":
        out = tg - (t - frames)
    elif mode == "key":
        g, k = _flat(generated), _flat(target)[frames]
        d = ((k[:, None, :] - g[None, :, :]) ** 2).sum(-1)  # (K, Tg)
        out = np.argmin(d, axis=1)
    else:
        raise ValueError(f"mode must be 'initial', 'last' or 'key', got {mode!r}")
    if np.any(out < 0) or np.any(out >= tg):
        raise ValueError("generated motion is too short for the given poses")
    return out


def pose_control_errors(
    generated: np.ndarray, target: np.ndarray, frames: Sequence[int], mode: str
) -> dict[str, object]:
    """Recon and Vel of one generated motion against the poses it was conditioned on.

    Args:
        generated: ``(Tg, J, 3)`` generated joints; target: ``(T, J, 3)`` the motion the given
            poses come from (its neighbours define the given poses' velocities).
        frames: ``(K,)`` indices of the given poses in ``target``.
        mode: see :func:`match_frames`.

    Returns:
        ``{"Recon": mean_k |g - p|, "Vel": mean_k |v_g - v_p|, "matched": (K,) generated frames}``.
    """
    frames = np.asarray(frames, dtype=np.int64)
    m = match_frames(generated, target, frames, mode)
    g, tt = _flat(generated), _flat(target)
    recon = np.linalg.norm(g[m] - tt[frames], axis=1).mean()
    vel = np.linalg.norm(velocity(g)[m] - velocity(tt)[frames], axis=1).mean()
    return {"Recon": float(recon), "Vel": float(vel), "matched": m}


def pose_control_metrics(
    generated: Sequence[np.ndarray], targets: Sequence[np.ndarray], frames: Sequence[Sequence[int]], mode: str
) -> dict[str, float]:
    """Mean Recon / Vel over samples (lists, since lengths differ); see :func:`pose_control_errors`."""
    if not (len(generated) == len(targets) == len(frames)) or not generated:
        raise ValueError("need equally many (non-zero) generated motions, targets and frame lists")
    res = [pose_control_errors(g, t, f, mode) for g, t, f in zip(generated, targets, frames)]
    return {"Recon": float(np.mean([r["Recon"] for r in res])), "Vel": float(np.mean([r["Vel"] for r in res]))}


def mpjpe(
    pred: np.ndarray, gt: np.ndarray, lengths: IntOrArray = None, root_align: bool = False, root: int = 0
) -> float:
    """Mean per-joint position error over all valid frames of a batch.

    Args:
        pred, gt: ``(B, T, J, 3)``.
        lengths: ``(B,)`` valid frames (default ``T``).
        root_align: subtract joint ``root`` from every joint first (per frame).

    Returns:
        mean over valid (frame, joint) of ``|pred - gt|`` (units of the input).
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape or pred.ndim != 4 or pred.shape[-1] != 3:
        raise ValueError(f"pred/gt must share a (B, T, J, 3) shape, got {pred.shape} and {gt.shape}")
    if root_align:
        pred = pred - pred[:, :, root : root + 1]
        gt = gt - gt[:, :, root : root + 1]
    b, t = pred.shape[:2]
    mask = valid_mask(_per_sample(lengths, b, np.full(b, t)), t)
    err = np.linalg.norm(pred - gt, axis=-1).mean(-1)  # (B, T)
    return float(err[mask].mean())


def completion_metrics(
    pred_joints: np.ndarray,
    gt_joints: np.ndarray,
    gen_emb: np.ndarray,
    real_emb: np.ndarray,
    rng: RngLike,
    lengths: IntOrArray = None,
    start: IntOrArray = 0,
    end: IntOrArray = None,
    diversity_times: int = 300,
) -> dict[str, float]:
    """FID and Diversity (evaluator embeddings ``(N, D)``) plus ADE/FDE (joints) of completions."""
    out = {"FID": fid(real_emb, gen_emb), "Diversity": diversity(gen_emb, rng, diversity_times)}
    out.update(ade_fde(pred_joints, gt_joints, lengths=lengths, start=start, end=end))
    return out


def reconstruction_metrics(
    real_emb: np.ndarray,
    recon_emb: np.ndarray,
    real_joints: np.ndarray,
    recon_joints: np.ndarray,
    lengths: IntOrArray = None,
    root_align: bool = False,
) -> dict[str, float]:
    """Tokenizer reconstruction: FID of reconstructions against the originals, and MPJPE."""
    return {
        "FID": fid(real_emb, recon_emb),
        "MPJPE": mpjpe(recon_joints, real_joints, lengths=lengths, root_align=root_align),
    }
