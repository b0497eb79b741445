"""Embedding-space motion metrics of the Guo et al. (2022) evaluation protocol.

Every function works on embeddings that the (frozen) evaluator has already produced:
``text_emb`` and ``motion_emb`` are float arrays of shape ``(N, D)``, row ``i`` of one matched
with row ``i`` of the other. The choices below follow the public evaluation code of
*text-to-motion* (``utils/metrics.py`` / ``final_evaluations.py``), which T2M-GPT and MotionGPT
reuse:

* **R-Precision** -- the pairs are shuffled, cut into pools of 32 (the incomplete last pool is
  dropped, like the reference ``DataLoader(drop_last=True)``), and inside each pool the
  32 x 32 text-motion Euclidean distance matrix is ranked row by row; top-k counts whether the
  matched motion (the diagonal) is among the k nearest.
* **MultiModal Dist** -- the mean diagonal distance over the same pools (sum of traces divided
  by the number of pairs that were ranked).
* **FID** -- Frechet distance between Gaussians fitted (mean, ``np.cov`` with ``ddof=1``) to real
  and generated motion embeddings; matrix square root by ``scipy.linalg.sqrtm``, ``eps * I``
  added to both covariances when the product is singular, the real part kept.
* **Diversity** -- two draws of 300 indices without replacement, mean distance of the pairs.
* **MultiModality** -- for each of the texts, the generations are paired by two draws of 10
  indices without replacement (the same draws for all texts), mean distance.

Every random choice takes an explicit ``rng``: a :class:`numpy.random.Generator` or an ``int``
seed (passed through :func:`numpy.random.default_rng`), so identical seeds give identical numbers.
"""
from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg

RngLike = np.random.Generator | int | np.random.SeedSequence

__all__ = [
    "RngLike",
    "activation_statistics",
    "as_rng",
    "caption_retrieval_metrics",
    "diversity",
    "euclidean_distance_matrix",
    "fid",
    "frechet_distance",
    "matching_ranks",
    "multimodality",
    "r_precision",
    "text_to_motion_metrics",
]


def as_rng(rng: RngLike) -> np.random.Generator:
    """Return a Generator for ``rng`` (a Generator is returned unchanged; an int seeds a new one).

    ``None`` is refused on purpose: every metric must be reproducible from an explicit seed.
    """
    if rng is None:
        raise TypeError("an explicit numpy Generator or integer seed is required (got None)")
    return np.random.default_rng(rng)


def _as_2d(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape (N, D), got {x.shape}")
    return x


def euclidean_distance_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise Euclidean distances.

    Args:
        a: ``(N1, D)``.
        b: ``(N2, D)``.

    Returns:
        ``(N1, N2)`` float64 array, ``out[i, j] = ||a[i] - b[j]||``.

    Uses the ``|a|^2 - 2ab + |b|^2`` expansion of the reference code, with small negative values
    from rounding clipped to 0 (the reference would return NaN there; MotionGPT maps it to 0).
    """
    a = _as_2d(a, "a")
    b = _as_2d(b, "b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"embedding sizes differ: {a.shape[1]} vs {b.shape[1]}")
    sq = (a * a).sum(1)[:, None] - 2.0 * a @ b.T + (b * b).sum(1)[None, :]
    return np.sqrt(np.maximum(sq, 0.0))


def activation_statistics(emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(D,)`` and covariance ``(D, D)`` (``np.cov``, ``ddof=1``) of ``emb`` ``(N, D)``."""
    emb = _as_2d(emb, "emb")
    if emb.shape[0] < 2:
        raise ValueError("need at least 2 embeddings to estimate a covariance")
    return emb.mean(0), np.cov(emb, rowvar=False)


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6
) -> float:
    """Frechet distance between ``N(mu1, sigma1)`` and ``N(mu2, sigma2)``.

    ``d^2 = |mu1 - mu2|^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^{1/2})``

    Args:
        mu1, mu2: ``(D,)`` means.
        sigma1, sigma2: ``(D, D)`` covariances.
        eps: added to both diagonals when ``sqrtm`` of the product is not finite.

    Raises:
        ValueError: shapes differ, or the square root has an imaginary diagonal part > 1e-3
            (as in the reference code: a sign of a badly broken covariance).
    """
    mu1 = np.atleast_1d(np.asarray(mu1, dtype=np.float64))
    mu2 = np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
    if mu1.shape != mu2.shape:
        raise ValueError(f"mean vectors differ in shape: {mu1.shape} vs {mu2.shape}")
    if sigma1.shape != sigma2.shape:
        raise ValueError(f"covariances differ in shape: {sigma1.shape} vs {sigma2.shape}")

    diff = mu1 - mu2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # singular-matrix chatter from sqrtm
        covmean = linalg.sqrtm(sigma1 @ sigma2)
        if not np.isfinite(covmean).all():
            offset = np.eye(sigma1.shape[0]) * eps
            covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"imaginary component {np.max(np.abs(covmean.imag))} in sqrtm")
        covmean = covmean.real
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


def fid(real_emb: np.ndarray, gen_emb: np.ndarray, eps: float = 1e-6) -> float:
    """FID between real ``(N1, D)`` and generated ``(N2, D)`` embeddings (Gaussian fit to each)."""
    mu1, s1 = activation_statistics(real_emb)
    mu2, s2 = activation_statistics(gen_emb)
    return frechet_distance(mu1, s1, mu2, s2, eps=eps)


def matching_ranks(dist: np.ndarray) -> np.ndarray:
    """0-based rank of the matched column in each row of a square distance matrix.

    Args:
        dist: ``(B, B)``; row ``i`` is query ``i``, its match is column ``i``.

    Returns:
        ``(B,)`` int array; ``0`` means the match is the nearest. Ties are broken by column
        index (stable sort), so the result is deterministic.
    """
    dist = np.asarray(dist)
    order = np.argsort(dist, axis=1, kind="stable")
    return np.argmax(order == np.arange(dist.shape[0])[:, None], axis=1)


def r_precision(
    text_emb: np.ndarray,
    motion_emb: np.ndarray,
    rng: RngLike,
    pool_size: int = 32,
    top_k: int = 3,
    shuffle: bool = True,
) -> dict[str, float]:
    """R-Precision top-1..``top_k`` and MultiModal Dist over shuffled pools of ``pool_size``.

    Args:
        text_emb: ``(N, D)`` text embeddings.
        motion_emb: ``(N, D)`` motion embeddings, row ``i`` matched with ``text_emb[i]``.
        rng: Generator or seed for the shuffle.
        pool_size: 32 in the protocol (1 true motion + 31 others per text).
        top_k: highest k reported.
        shuffle: False keeps the given order (pools are consecutive rows).

    Returns:
        ``{"R@1": .., ..., f"R@{top_k}": .., "MM-Dist": ..}``; only ``(N // pool_size) * pool_size``
        pairs are ranked (the last incomplete pool is dropped).
    """
    text_emb = _as_2d(text_emb, "text_emb")
    motion_emb = _as_2d(motion_emb, "motion_emb")
    if text_emb.shape != motion_emb.shape:
        raise ValueError(f"text/motion embeddings differ in shape: {text_emb.shape} vs {motion_emb.shape}")
    n = text_emb.shape[0]
    if n < pool_size:
        raise ValueError(f"need at least pool_size={pool_size} pairs, got {n}")
    if not 1 <= top_k <= pool_size:
        raise ValueError(f"top_k must be in [1, {pool_size}]")
    idx = as_rng(rng).permutation(n) if shuffle else np.arange(n)
    n_pools = n // pool_size
    idx = idx[: n_pools * pool_size].reshape(n_pools, pool_size)
    t = text_emb[idx]  # (P, B, D)
    m = motion_emb[idx]
    sq = (t * t).sum(-1)[:, :, None] - 2.0 * t @ m.transpose(0, 2, 1) + (m * m).sum(-1)[:, None, :]
    dist = np.sqrt(np.maximum(sq, 0.0))  # (P, B, B)
    order = np.argsort(dist, axis=2, kind="stable")
    ranks = np.argmax(order == np.arange(pool_size)[None, :, None], axis=2)  # (P, B)
    count = n_pools * pool_size
    out = {f"R@{k}": float((ranks < k).sum() / count) for k in range(1, top_k + 1)}
    out["MM-Dist"] = float(np.trace(dist, axis1=1, axis2=2).sum() / count)
    return out


def diversity(emb: np.ndarray, rng: RngLike, times: int = 300) -> float:
    """Diversity: mean distance over ``times`` random pairs.

    Args:
        emb: ``(N, D)`` motion embeddings, ``N > times``.
        rng: Generator or seed; two independent draws of ``times`` indices without replacement
            (so a pair may, rarely, be an index with itself, as in the reference code).
    """
    emb = _as_2d(emb, "emb")
    n = emb.shape[0]
    if n <= times:
        raise ValueError(f"need more than times={times} embeddings, got {n}")
    g = as_rng(rng)
    first = g.choice(n, times, replace=False)
    second = g.choice(n, times, replace=False)
    return float(np.linalg.norm(emb[first] - emb[second], axis=1).mean())


def multimodality(emb: np.ndarray, rng: RngLike, times: int = 10) -> float:
    """MultiModality: mean distance between generations of the same text.

    Args:
        emb: ``(n_texts, n_generations, D)``; the protocol uses 100 texts x 30 generations.
        rng: Generator or seed; two draws of ``times`` generation indices without replacement,
            shared by all texts (as in the reference code).
        times: pairs per text (10).
    """
    emb = np.asarray(emb, dtype=np.float64)
    if emb.ndim != 3:
        raise ValueError(f"emb must have shape (n_texts, n_generations, D), got {emb.shape}")
    per = emb.shape[1]
    if per <= times:
        raise ValueError(f"need more than times={times} generations per text, got {per}")
    g = as_rng(rng)
    first = g.choice(per, times, replace=False)
    second = g.choice(per, times, replace=False)
    return float(np.linalg.norm(emb[:, first] - emb[:, second], axis=2).mean())


def caption_retrieval_metrics(
    pred_text_emb: np.ndarray,
    motion_emb: np.ndarray,
    rng: RngLike,
    gt_text_emb: np.ndarray | None = None,
    pool_size: int = 32,
    top_k: int = 3,
) -> dict[str, float]:
    """R-Precision and MM-Dist of generated captions (motion-to-text), optionally of the real ones.

    Args:
        pred_text_emb: ``(N, D)`` evaluator embeddings of the generated captions.
        motion_emb: ``(N, D)`` evaluator embeddings of the captioned motions.
        rng: Generator or seed; one shuffle is drawn and used for both caption sets (as MotionGPT's
            ``M2TMetrics``), so the two are ranked in the same pools.
        gt_text_emb: ``(N, D)`` embeddings of the ground-truth captions; adds ``"Real R@k"`` and
            ``"Real MM-Dist"``.
    """
    motion_emb = _as_2d(motion_emb, "motion_emb")
    perm = as_rng(rng).permutation(motion_emb.shape[0])
    out = r_precision(
        _as_2d(pred_text_emb, "pred_text_emb")[perm], motion_emb[perm], rng=0, pool_size=pool_size,
        top_k=top_k, shuffle=False,
    )
    if gt_text_emb is not None:
        real = r_precision(
            _as_2d(gt_text_emb, "gt_text_emb")[perm], motion_emb[perm], rng=0, pool_size=pool_size,
            top_k=top_k, shuffle=False,
        )
        out.update({f"Real {k}": v for k, v in real.items()})
    return out


def text_to_motion_metrics(
    text_emb: np.ndarray,
    gen_motion_emb: np.ndarray,
    real_motion_emb: np.ndarray,
    rng: RngLike,
    mm_motion_emb: np.ndarray | None = None,
    pool_size: int = 32,
    diversity_times: int = 300,
    mm_times: int = 10,
) -> dict[str, float]:
    """One replication of the text-to-motion table: R@1..3, MM-Dist, FID, Diversity[, MultiModality].

    Args:
        text_emb: ``(N, D)`` embeddings of the prompts.
        gen_motion_emb: ``(N, D)`` embeddings of the motions generated for them (row-matched).
        real_motion_emb: ``(M, D)`` embeddings of the real test motions (FID reference).
        rng: Generator or seed, consumed in the order shuffle -> diversity -> multimodality.
        mm_motion_emb: ``(n_texts, n_generations, D)`` for MultiModality (100 x 30), optional.

    Pass ``gen_motion_emb = real_motion_emb`` (row-matched with ``text_emb``) for the "Real" row.
    """
    g = as_rng(rng)
    out = r_precision(text_emb, gen_motion_emb, g, pool_size=pool_size)
    out["FID"] = fid(real_motion_emb, gen_motion_emb)
    out["Diversity"] = diversity(gen_motion_emb, g, diversity_times)
    if mm_motion_emb is not None:
        out["MultiModality"] = multimodality(mm_motion_emb, g, mm_times)
    return out
