"""Protocol metrics per caption group (natural sentences vs captions generated from labels).

A test split may mix clips captioned by people (HumanML3D, KIT-ML) with clips whose captions are generated
from labels (Bandai-Namco content × style, CMU trial descriptions); see
:mod:`motiongpt2.data.caption_groups`. Label captions make retrieval far easier, so a number over both
hides what matters for a language model. :func:`~.protocol.evaluate` therefore reports every row
(``Real``, the baselines, the generator) over all pairs *and* over each group.

**Same draws.** Inside a replication a group's metrics are computed from the very captions, crops,
generations and evaluator embeddings of the total (rows restricted to the group's pairs); nothing is
generated or embedded again. Only the random choices that the group metrics make themselves (R-Precision
pools, Diversity pairs, MultiModality pairs) use a separate stream per replication (a child of the
replication's seed), so the totals are bit-identical to an evaluation without groups. Means and 95%
intervals are over the same replications as the total. A group that holds every pair reuses the total's
values.

**Per group**

* **R@1..3** — pools of ``pool_size`` (32) pairs drawn *within* the group (incomplete last pool dropped,
  as for the total). A group with fewer than ``pool_size`` pairs cannot fill a pool; smaller pools would
  change the chance level (k/n instead of k/32), so R@k is **n/a** there.
* **MM-Dist** — over the ranked pools; for a group smaller than a pool, over all its pairs (the mean
  matched distance does not depend on the pool size).
* **FID** — the group's embeddings against the group's second real pass; the exact Fréchet distance
  computed through a low-rank factorisation (:func:`fast_fid`: equal to :func:`~.metrics.fid` up to
  rounding, several times faster, exact also when the covariances are singular). With fewer pairs than
  evaluator dimensions the covariance is rank-deficient and FID is biased upward, so compare a group's
  rows with the same group's ``Real`` row, not with the total.
* **Diversity** — ``min(diversity_times, n - 1)`` random pairs within the group.
* **MultiModality** — over those of the ``mm_samples`` texts (drawn over all pairs for the total) that
  fall in the group; n/a in a replication that drew none of them.
* FID, Diversity and MultiModality are **n/a** for a group with fewer than ``pool_size`` pairs (sample
  statistics over so few pairs are dominated by their bias: e.g. Diversity pairs an index with itself
  with probability 1/n).
* Per-pair averages (MM-Dist, Recon, Vel, ADE, FDE, MPJPE, BERTScore) and corpus caption scores (BLEU,
  ROUGE-L, CIDEr-D: corpus = the group's captions and references) are reported for any non-empty group.

A metric is n/a for a group when it is n/a in any replication (never a mean over some replications).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from motiongpt2.data.caption_groups import CAPTION_GROUPS, LABEL, NATURAL

from .metrics import diversity, multimodality, r_precision
from .replication import format_table, summarize, table_value

__all__ = ["GROUP_DESCRIPTIONS", "GroupRep", "NA", "fast_fid", "format_group_markdown", "group_indices",
           "group_notes", "group_sizes", "summarize_groups"]

NA = "n/a"

GROUP_DESCRIPTIONS = {
    NATURAL: "captions written by people (HumanML3D, KIT-ML, user captions)",
    LABEL: "captions generated from labels (Bandai-Namco content × style, CMU trial descriptions)",
}

# --------------------------------------------------------------------------- groups of a pair set
def group_indices(pairs) -> dict[str, np.ndarray]:
    """``{group: sorted pair indices}`` for every group of :data:`CAPTION_GROUPS` (possibly empty)."""
    labels = [getattr(p, "group", NATURAL) for p in pairs.pairs]
    unknown = set(labels) - set(CAPTION_GROUPS)
    if unknown:
        raise ValueError(f"unknown caption groups {sorted(unknown)}")
    return {g: np.flatnonzero(np.asarray([lab == g for lab in labels], bool)) for g in CAPTION_GROUPS}


def group_sizes(pairs, index: Mapping[str, np.ndarray]) -> dict[str, dict[str, int]]:
    """``{group: {"n_pairs", "n_clips"}}`` (a clip's time-range pairs ``id#j`` count as one clip)."""
    out = {}
    for g, idx in index.items():
        clips = {(pairs.pairs[i].dataset, pairs.pairs[i].id.split("#")[0]) for i in idx}
        out[g] = {"n_pairs": int(len(idx)), "n_clips": len(clips)}
    return out


# --------------------------------------------------------------------------- FID
class _Gaussian:
    """Mean, centred data, ``tr(cov)`` and (lazily) a square-root factor ``L`` of ``cov = L Lᵀ``."""

    def __init__(self, emb: np.ndarray):
        x = np.asarray(emb, np.float64)
        if x.ndim != 2 or len(x) < 2:
            raise ValueError("need at least 2 embeddings to estimate a covariance")
        self.n, self.d = x.shape
        self.mu = x.mean(0)
        self.xc = x - self.mu
        self.trace = float(np.einsum("ij,ij->", self.xc, self.xc) / (self.n - 1))
        self._L: np.ndarray | None = None

    @property
    def low_rank(self) -> bool:
        return self.n - 1 <= self.d

    def cov(self) -> np.ndarray:
        return self.xc.T @ self.xc / (self.n - 1)

    @property
    def L(self) -> np.ndarray:
        """``(D, k)`` with ``L Lᵀ = cov``: the scaled centred data (``k = n``) or ``V √w`` (``k = D``)."""
        if self._L is None:
            if self.low_rank:
                self._L = self.xc.T / np.sqrt(self.n - 1)
            else:
                w, v = np.linalg.eigh(self.cov())
                self._L = v * np.sqrt(np.clip(w, 0.0, None))
        return self._L


def fast_fid(real: np.ndarray | _Gaussian, gen: np.ndarray | _Gaussian) -> float:
    """Fréchet distance between Gaussians fitted to ``real`` and ``gen`` embeddings ``(N, D)``.

    With ``Σ₁ = L Lᵀ``, the eigenvalues of ``Σ₁Σ₂`` are those of the symmetric PSD ``Lᵀ Σ₂ L``, so
    ``tr((Σ₁Σ₂)^½) = Σ √λ(Lᵀ Σ₂ L)`` (computed as ``(X₂L)ᵀ(X₂L)``'s transposed Gram matrix when ``gen`` has
    fewer samples than dimensions). Same value as :func:`~.metrics.fid` (``np.cov`` with ``ddof=1``) up to
    rounding, without a general matrix square root, exact for singular covariances; pass a
    :class:`_Gaussian` for ``real`` to reuse its factor across generators.
    """
    a = real if isinstance(real, _Gaussian) else _Gaussian(real)
    b = gen if isinstance(gen, _Gaussian) else _Gaussian(gen)
    L = a.L
    if b.low_rank:  # Lᵀ Σ₂ L = Bᵀ B with B = X₂c L / √(n₂-1): same non-zero eigenvalues as B Bᵀ (n₂ × n₂)
        B = b.xc @ L / np.sqrt(b.n - 1)
        m = B @ B.T if B.shape[0] <= B.shape[1] else B.T @ B
    else:
        m = L.T @ b.cov() @ L
    lam = np.linalg.eigvalsh((m + m.T) / 2.0)
    d = a.mu - b.mu
    return float(d @ d + a.trace + b.trace - 2.0 * np.sqrt(np.clip(lam, 0.0, None)).sum())


# --------------------------------------------------------------------------- one replication
class GroupRep:
    """Group metrics of one replication.

    Args:
        index: ``{group: pair indices}`` (:func:`group_indices`).
        n: number of pairs of the total.
        rng: the replication's *group* stream (not the total's).
        pool_size, diversity_times, mm_times: protocol constants.
    """

    def __init__(self, index: Mapping[str, np.ndarray], n: int, rng: np.random.Generator, pool_size: int = 32,
                 diversity_times: int = 300, mm_times: int = 10):
        self.index = {g: np.asarray(i, np.int64) for g, i in index.items()}
        self.n = int(n)
        self.rng = rng
        self.pool_size = int(pool_size)
        self.diversity_times = int(diversity_times)
        self.mm_times = int(mm_times)
        self._ref: dict[str, _Gaussian] = {}
        self.mm_counts: list[dict[str, int]] = []  # MultiModality texts per group, one dict per method
        self.rows: dict[str, dict[str, dict[str, Any]]] = {g: {} for g in self.index}

    # which groups are computed (non-empty, not the whole set) / copied from the total
    def active(self) -> list[str]:
        return [g for g, i in self.index.items() if 0 < len(i) < self.n]

    def big(self, g: str) -> bool:
        return len(self.index[g]) >= self.pool_size

    def set_reference(self, real2: np.ndarray) -> None:
        """The second real pass that FID compares with (its per-group Gaussians are fitted lazily)."""
        self._real2 = np.asarray(real2)
        self._ref = {}

    def retrieval(self, g: str, text_emb: np.ndarray, motion_emb: np.ndarray) -> dict[str, Any]:
        """R@1..3 and MM-Dist of the group's pairs (rows of the full ``(N, D)`` arrays)."""
        idx = self.index[g]
        t, m = np.asarray(text_emb)[idx], np.asarray(motion_emb)[idx]
        if len(idx) >= self.pool_size:
            return r_precision(t, m, self.rng, pool_size=self.pool_size)
        d = np.linalg.norm(np.asarray(t, np.float64) - np.asarray(m, np.float64), axis=1)
        return {"R@1": None, "R@2": None, "R@3": None, "MM-Dist": float(d.mean())}

    def fid(self, g: str, gen_emb: np.ndarray) -> float | None:
        if not self.big(g):
            return None
        idx = self.index[g]
        if g not in self._ref:
            self._ref[g] = _Gaussian(self._real2[idx])
        return fast_fid(self._ref[g], np.asarray(gen_emb)[idx])

    def diversity(self, g: str, emb: np.ndarray) -> float | None:
        if not self.big(g):
            return None
        idx = self.index[g]
        return diversity(np.asarray(emb)[idx], self.rng, min(self.diversity_times, len(idx) - 1))

    def multimodality(self, g: str, mm_emb: np.ndarray, mm_idx: np.ndarray) -> float | None:
        """MultiModality over the rows of ``mm_emb`` (generations of texts ``mm_idx``) in group ``g``."""
        if not self.big(g):
            return None
        sel = np.flatnonzero(np.isin(np.asarray(mm_idx), self.index[g]))
        if len(sel) == 0:
            return None
        return multimodality(np.asarray(mm_emb)[sel], self.rng, self.mm_times)

    def mean(self, g: str, per_pair: Sequence[float] | np.ndarray) -> float:
        return float(np.mean(np.asarray(per_pair, np.float64)[self.index[g]]))

    def put(self, name: str, g: str, metrics: Mapping[str, Any]) -> None:
        self.rows[g][name] = dict(metrics)

    def finish(self, total_rows: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
        """Group rows of this replication; a group holding every pair gets the total's values."""
        for g, idx in self.index.items():
            if len(idx) == self.n:
                self.rows[g] = {name: dict(m) for name, m in total_rows.items()}
            elif len(idx):  # same methods and metric keys as the total
                for name, m in total_rows.items():
                    row = self.rows[g].setdefault(name, {})
                    for k in m:
                        row.setdefault(k, None)
                self.rows[g] = {name: {k: self.rows[g][name][k] for k in total_rows[name]} for name in total_rows}
        return self.rows


# --------------------------------------------------------------------------- aggregation and output
def summarize_groups(runs: Sequence[Mapping[str, Mapping[str, Mapping[str, Any]]]], sizes: Mapping[str, Mapping],
                     once: Sequence[str] = ("BERTScore",)) -> dict[str, dict[str, Any]]:
    """``{group: {"n_pairs", "n_clips", "rows": [{"method", "metrics": {k: [mean, ci95] | [mean, None] | None}}],
    "not_available": [metric, ...]}}`` from the per-replication group rows.

    A metric missing or ``None`` in any replication is ``None`` (n/a); metrics in ``once`` (computed on
    replication 1 only) get ``[value, None]``.
    """
    out = {}
    for g, size in sizes.items():
        rows, na = [], []
        if size["n_pairs"] and runs and runs[0].get(g):
            for name in runs[0][g]:
                metrics = {}
                for k in runs[0][g][name]:
                    vals = [run[g][name].get(k) for run in runs]
                    if k in once:
                        got = [v for v in vals if v is not None]
                        metrics[k] = [float(np.mean(got)), None] if got else None
                    elif any(v is None for v in vals):
                        metrics[k] = None
                    else:
                        m, ci = summarize(vals)
                        metrics[k] = [m, ci]
                    if metrics[k] is None and k not in na:
                        na.append(k)
                rows.append({"method": name, "metrics": metrics})
        out[g] = {"n_pairs": int(size["n_pairs"]), "n_clips": int(size["n_clips"]), "rows": rows,
                  "not_available": na}
    return out


def group_notes(sizes: Mapping[str, Mapping], task: str, pool_size: int, diversity_times: int, dim: int | None,
                mm_counts: Mapping[str, float] | None = None) -> list[str]:
    """Notes that the group table prints (what each group cell means, and why a cell is n/a)."""
    n_total = sum(s["n_pairs"] for s in sizes.values())
    notes = ["each group's metrics are computed within the group from the same captions, crops, generations and "
             "embeddings as the total, over the same replications; group pools/pairs are drawn from a separate "
             "random stream, so the totals are unchanged"]
    stats = [c for c in ("R@1–3", "FID", "Diversity", "MultiModality")
             if task not in ("predict", "inbetween", "tokenizer") or c in ("FID", "Diversity")]
    if task == "m2t":
        stats = ["R@1–3"]
    for g, s in sizes.items():
        n = s["n_pairs"]
        if n == 0 or n == n_total:
            continue
        if n < pool_size:
            what = ", ".join(stats)
            if task.startswith("t2m") or task == "m2t":
                why = (f"fewer than {pool_size} pairs cannot fill an R-Precision pool of {pool_size} (smaller "
                       "pools change the chance level)" + ("" if task == "m2t" else " and are too few for sample "
                                                            "statistics") + f"; MM-Dist over all its {n} pairs")
            else:
                why = f"fewer than {pool_size} pairs are too few for sample statistics"
            notes.append(f"{g} group ({n} pairs): {what} n/a — {why}")
        elif task != "m2t" and n - 1 < diversity_times:
            notes.append(f"{g} group: Diversity over {n - 1} pairs (group smaller than {diversity_times + 1})")
    if task != "m2t":
        small = [g for g, s in sizes.items() if 0 < s["n_pairs"] < n_total and s["n_pairs"] >= pool_size
                 and dim is not None and s["n_pairs"] <= dim]
        notes.append("group FID: against the same group's second real pass"
                     + (f"; {' and '.join(small)} hold{'s' if len(small) == 1 else ''} no more pairs than the "
                        f"{dim} evaluator dimensions, so the covariance is rank-deficient and FID is biased upward "
                        "— compare with the group's own Real row" if small else ""))
    if mm_counts:
        parts = [f"{g} {c:.1f}" for g, c in mm_counts.items()]
        notes.append("group MultiModality: over the MultiModality texts (drawn over all pairs) that fall in the "
                     f"group, on average {', '.join(parts)} per replication; n/a if a replication drew none")
    if task == "m2t":
        notes.append("group BLEU / ROUGE-L / CIDEr-D: corpus scores over the group's captions and references "
                     "(CIDEr-D document frequencies from the group); group BERTScore: mean per-caption F1")
    return notes


def _cell(v):
    return table_value(v, missing=NA)


def format_group_markdown(results: Mapping[str, Any], digits: int = 3) -> str:
    """The per-caption-group table: for each method its rows over all pairs and over each group."""
    groups = results.get("caption_groups")
    if not groups:
        return ""
    n_total = results["n_pairs"]
    lines = ["#### By caption group", ""]
    for g, info in groups.items():
        lines.append(f"- {g}: {info['n_pairs']} pairs from {info['n_clips']} clips — {GROUP_DESCRIPTIONS.get(g, g)}"
                     + ("" if info["n_pairs"] else " (no rows)"))
    for n in results.get("caption_group_notes", []):
        lines.append(f"- note: {n}")
    lines.append("- n/a: not computed for that group (see the notes)")
    table_rows = []
    by_group = {g: {r["method"]: r["metrics"] for r in info["rows"]} for g, info in groups.items()}
    for row in results["rows"]:
        name = row["method"]
        table_rows.append((f"{name} — all (n={n_total})", {k: _cell(v) for k, v in row["metrics"].items()}))
        for g, info in groups.items():
            if name in by_group[g]:
                table_rows.append((f"{name} — {g} (n={info['n_pairs']})",
                                   {k: _cell(v) for k, v in by_group[g][name].items()}))
    lines += ["", format_table(table_rows, [tuple(c) for c in results["columns"]], digits=digits)]
    return "\n".join(lines) + "\n"
