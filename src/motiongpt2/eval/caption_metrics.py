"""Motion-to-text (captioning) metrics: corpus BLEU-1..4, ROUGE-L, CIDEr-D.

Inputs are ``cands``: ``list[str]`` of ``N`` generated captions and ``refs``: ``N`` references,
each a ``str`` or a ``list[str]`` (several ground-truth captions of the same motion).

Tokenisation (:func:`tokenize_caption`) is the one MotionGPT and TM2T evaluate with (their
``nlgmetricverse`` default tokenizer): every ASCII punctuation character becomes a space, the text
is lower-cased and split on whitespace. All three metrics see the same tokens.

* :func:`bleu` -- corpus BLEU (Papineni et al. 2002): clipped n-gram counts summed over the corpus,
  uniform weights over orders 1..n, no smoothing (a zero precision gives 0), brevity penalty
  ``exp(1 - r/c)`` when ``c < r``. Candidate n-gram totals are ``max(len - n + 1, 0)`` (as
  tensorflow/nmt and pycocoevalcap; NLTK instead counts at least 1 per sentence). ``r`` is the
  closest reference length by default (NLTK, pycocoevalcap), or the shortest (tensorflow/nmt as
  wrapped by MotionGPT); both agree for single references.
* :func:`rouge_l` -- ROUGE-L of pycocoevalcap: per caption the best LCS precision and the best
  LCS recall over its references, ``F = (1 + b^2) P R / (R + b^2 P)`` with ``b = 1.2``; mean over
  the corpus. ``beta=1`` gives the plain F1 of ``rouge-score``'s ``rougeL`` for one reference.
* :func:`cider_d` -- CIDEr-D as implemented in pycocoevalcap 1.2: TF-IDF n-gram vectors (n = 1..4)
  with document frequencies from the references and ``log(N)`` as the corpus size, clipped
  candidate weights, Gaussian length penalty (``sigma = 6``; the length is the number of bigrams
  as in that code), averaged over n and references, times 10.
"""
from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Sequence

import numpy as np

from .refs import RefsLike, normalize_refs

__all__ = [
    "bleu",
    "caption_metrics",
    "cider_d",
    "lcs_length",
    "ngram_counts",
    "normalize_refs",
    "rouge_l",
    "tokenize_caption",
]

_PUNCT_RE = re.compile(f"[{re.escape(string.punctuation)}]")


def tokenize_caption(text: str) -> list[str]:
    """Lower-cased word tokens with ASCII punctuation removed: ``"A man walks." -> ["a", "man", "walks"]``."""
    return _PUNCT_RE.sub(" ", text).lower().split()


def ngram_counts(tokens: Sequence[str], n: int) -> Counter:
    """Counts of the ``n``-grams (tuples) of ``tokens``."""
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of two token lists (bit-parallel, Allison-Dix)."""
    if not a or not b:
        return 0
    masks: dict[str, int] = {}
    for i, tok in enumerate(a):
        masks[tok] = masks.get(tok, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full
    for tok in b:
        u = v & masks.get(tok, 0)
        v = ((v + u) | (v - u)) & full
    return len(a) - v.bit_count()


def bleu(
    cands: Sequence[str], refs: RefsLike, max_n: int = 4, ref_length: str = "closest"
) -> dict[str, float]:
    """Corpus BLEU-1..``max_n``.

    Args:
        cands: ``N`` candidate captions.
        refs: ``N`` references (str or list of str each).
        max_n: highest order; BLEU-k uses weights ``1/k`` on orders ``1..k``.
        ref_length: ``"closest"`` (ties to the shorter) or ``"shortest"`` reference length.

    Returns:
        ``{"BLEU-1": .., ..., f"BLEU-{max_n}": ..}`` in ``[0, 1]``.
    """
    if ref_length not in ("closest", "shortest"):
        raise ValueError("ref_length must be 'closest' or 'shortest'")
    refs_l = normalize_refs(cands, refs)
    matches = np.zeros(max_n)
    totals = np.zeros(max_n)
    hyp_len = ref_len = 0
    for cand, rs in zip(cands, refs_l):
        c = tokenize_caption(cand)
        rtoks = [tokenize_caption(r) for r in rs]
        lens = [len(r) for r in rtoks]
        hyp_len += len(c)
        if ref_length == "shortest":
            ref_len += min(lens)
        else:
            ref_len += min(lens, key=lambda L: (abs(L - len(c)), L))
        for n in range(1, max_n + 1):
            cc = ngram_counts(c, n)
            if not cc:
                continue
            maxref: Counter = Counter()
            for r in rtoks:
                maxref |= ngram_counts(r, n)
            matches[n - 1] += sum((cc & maxref).values())
            totals[n - 1] += sum(cc.values())
    with np.errstate(divide="ignore", invalid="ignore"):
        prec = np.where(totals > 0, matches / np.maximum(totals, 1), 0.0)
    if hyp_len == 0:
        bp = 0.0
    elif hyp_len >= ref_len:
        bp = 1.0
    else:
        bp = math.exp(1.0 - ref_len / hyp_len)
    out = {}
    for k in range(1, max_n + 1):
        p = prec[:k]
        score = 0.0 if np.any(p <= 0) else bp * math.exp(float(np.mean(np.log(p))))
        out[f"BLEU-{k}"] = float(score)
    return out


def rouge_l(cands: Sequence[str], refs: RefsLike, beta: float = 1.2) -> float:
    """Mean ROUGE-L F-measure (pycocoevalcap: best precision and best recall over references)."""
    refs_l = normalize_refs(cands, refs)
    scores = np.zeros(len(cands))
    b2 = beta * beta
    for i, (cand, rs) in enumerate(zip(cands, refs_l)):
        c = tokenize_caption(cand)
        if not c:
            continue
        p_max = r_max = 0.0
        for r in rs:
            rt = tokenize_caption(r)
            if not rt:
                continue
            lcs = lcs_length(c, rt)
            p_max = max(p_max, lcs / len(c))
            r_max = max(r_max, lcs / len(rt))
        if p_max > 0 and r_max > 0:
            scores[i] = (1 + b2) * p_max * r_max / (r_max + b2 * p_max)
    return float(scores.mean()) if len(scores) else 0.0


def _tfidf(counts: Counter, df: Counter, log_n: float, n: int) -> tuple[list[dict], np.ndarray, int]:
    """TF-IDF vectors per order, their norms ``(n,)`` and the length (bigram count) of one caption."""
    vec: list[dict] = [{} for _ in range(n)]
    norm = np.zeros(n)
    length = 0
    for gram, tf in counts.items():
        k = len(gram) - 1
        w = float(tf) * (log_n - math.log(max(1.0, df.get(gram, 0.0))))
        vec[k][gram] = w
        norm[k] += w * w
        if k == 1:
            length += tf
    return vec, np.sqrt(norm), length


def cider_d(cands: Sequence[str], refs: RefsLike, n: int = 4, sigma: float = 6.0) -> float:
    """Corpus CIDEr-D (pycocoevalcap 1.2 ``Cider``); returns the mean of the per-caption scores."""
    refs_l = normalize_refs(cands, refs)
    if not cands:
        return 0.0

    def grams(tokens: list[str]) -> Counter:
        c: Counter = Counter()
        for k in range(1, n + 1):
            c.update(ngram_counts(tokens, k))
        return c

    test = [grams(tokenize_caption(c)) for c in cands]
    crefs = [[grams(tokenize_caption(r)) for r in rs] for rs in refs_l]
    df: Counter = Counter()
    for rs in crefs:
        df.update(set().union(*[r.keys() for r in rs]))
    log_n = math.log(float(len(crefs)))
    scores = np.zeros(len(cands))
    for i, (t, rs) in enumerate(zip(test, crefs)):
        vh, nh, lh = _tfidf(t, df, log_n, n)
        acc = np.zeros(n)
        for r in rs:
            vr, nr, lr = _tfidf(r, df, log_n, n)
            val = np.zeros(n)
            for k in range(n):
                for gram, w in vh[k].items():
                    wr = vr[k].get(gram, 0.0)
                    val[k] += min(w, wr) * wr
                if nh[k] != 0 and nr[k] != 0:
                    val[k] /= nh[k] * nr[k]
            acc += val * math.exp(-((lh - lr) ** 2) / (2 * sigma**2))
        scores[i] = acc.mean() / len(rs) * 10.0
    return float(scores.mean())


def caption_metrics(
    cands: Sequence[str], refs: RefsLike, encoder=None, **bertscore_kwargs
) -> dict[str, object]:
    """BLEU-1..4, ROUGE-L, CIDEr-D and, when ``encoder`` is given, BERTScore F1.

    Args:
        encoder: anything :func:`motiongpt2.eval.bertscore.bertscore` accepts (a loaded
            :class:`~motiongpt2.eval.bertscore.TokenEncoder`, a model path, or ``"default"`` for
            the bundled all-MiniLM-L6-v2); ``None`` skips BERTScore.

    Returns:
        ``{"BLEU-1", ..., "BLEU-4", "ROUGE-L", "CIDEr", ["BERTScore", "BERTScore encoder"]}``.
    """
    out: dict[str, object] = dict(bleu(cands, refs, 4))
    out["ROUGE-L"] = rouge_l(cands, refs)
    out["CIDEr"] = cider_d(cands, refs)
    if encoder is not None:
        from .bertscore import bertscore

        bs = bertscore(cands, refs, encoder=encoder, **bertscore_kwargs)
        out["BERTScore"] = bs["F1"]
        out["BERTScore encoder"] = bs["encoder"]
    return out
