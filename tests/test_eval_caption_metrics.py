"""Caption metrics vs the standard packages (NLTK, pycocoevalcap, rouge-score).

The pinned numbers were produced by nltk 3.10.4 ``corpus_bleu``, pycocoevalcap 1.2 ``Bleu``/
``Rouge``/``Cider`` and rouge-score 0.1.2 on the corpus below (tokenised with
``tokenize_caption``); the live comparisons need them (dev dependencies): they fail, not skip, when missing.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from motiongpt2.eval import caption_metrics as C

from caption_corpus import CANDS, REFS  # noqa: E402

# reference values (see module docstring)
NLTK_BLEU = [0.8274603265919511, 0.6310613326766891, 0.47174892860315354, 0.33439894944626325]
COCO_ROUGE_L = 0.7024874185548964
COCO_CIDER_D = 2.6528251357381425
ROUGE_SCORE_F1_FIRST_REF = 0.7036497493734335


def _coco_inputs():
    gts = {i: [" ".join(C.tokenize_caption(r)) for r in rs] for i, rs in enumerate(REFS)}
    res = {i: [" ".join(C.tokenize_caption(c))] for i, c in enumerate(CANDS)}
    return gts, res


def test_tokenize_caption_like_motiongpt():
    assert C.tokenize_caption("A man walks, then turns-left!  ") == ["a", "man", "walks", "then", "turns", "left"]
    assert C.tokenize_caption("...") == []


def test_bleu_pinned_values():
    got = C.bleu(CANDS, REFS)
    assert [got[f"BLEU-{k}"] for k in range(1, 5)] == pytest.approx(NLTK_BLEU, abs=1e-12)


def test_bleu_vs_nltk_live():
    from nltk.translate import bleu_score as bs

    hyp = [C.tokenize_caption(c) for c in CANDS]
    refs = [[C.tokenize_caption(r) for r in rs] for rs in REFS]
    got = C.bleu(CANDS, REFS)
    for k in range(1, 5):
        assert got[f"BLEU-{k}"] == pytest.approx(bs.corpus_bleu(refs, hyp, weights=(1 / k,) * k), abs=1e-12)


def test_bleu_vs_pycocoevalcap_live_short_sentences():
    """pycocoevalcap counts max(len-n+1, 0) candidate n-grams like us (NLTK counts >= 1), so it is the
    reference for captions shorter than 4 words; it adds 1e-15/1e-9 fudge terms, hence abs=1e-7."""
    from pycocoevalcap.bleu import bleu as bleu_mod

    cands = CANDS + ["a man walks", "jumps"]
    refs = REFS + [["a man walks around"], ["a person jumps"]]
    gts = {i: [" ".join(C.tokenize_caption(r)) for r in rs] for i, rs in enumerate(refs)}
    res = {i: [" ".join(C.tokenize_caption(c))] for i, c in enumerate(cands)}
    ref_scores, _ = bleu_mod.Bleu(4).compute_score(gts, res, verbose=0)
    got = C.bleu(cands, refs)
    assert [got[f"BLEU-{k}"] for k in range(1, 5)] == pytest.approx(ref_scores, abs=1e-7)


def test_bleu_edge_cases():
    assert C.bleu(["a man walks"], ["a man walks"], max_n=3) == {"BLEU-1": 1.0, "BLEU-2": 1.0, "BLEU-3": 1.0}
    # no 4-gram in a 3-word candidate -> BLEU-4 is 0 (no smoothing)
    assert C.bleu(["a man walks"], ["a man walks"])["BLEU-4"] == 0.0
    # brevity penalty exp(1 - r/c): 2 words vs a 4-word reference
    assert C.bleu(["a man"], ["a man walks fast"], max_n=1)["BLEU-1"] == pytest.approx(np.exp(1 - 4 / 2))
    # closest vs shortest reference length
    cl = C.bleu(["a man walks fast"], [["a man walks fast now", "a man"]], max_n=1)["BLEU-1"]
    sh = C.bleu(["a man walks fast"], [["a man walks fast now", "a man"]], max_n=1, ref_length="shortest")["BLEU-1"]
    assert sh == 1.0 and cl == pytest.approx(np.exp(1 - 5 / 4))
    # single references: both conventions agree
    single = [rs[0] for rs in REFS]
    assert C.bleu(CANDS, single) == C.bleu(CANDS, single, ref_length="shortest")
    assert C.bleu([""], ["a man"])["BLEU-1"] == 0.0
    with pytest.raises(ValueError):
        C.bleu(["a"], ["a", "b"])
    with pytest.raises(TypeError):
        C.bleu("a man", "a man")


def _lcs_dp(a, b):
    t = np.zeros((len(a) + 1, len(b) + 1), dtype=int)
    for i, j in itertools.product(range(1, len(a) + 1), range(1, len(b) + 1)):
        t[i, j] = t[i - 1, j - 1] + 1 if a[i - 1] == b[j - 1] else max(t[i - 1, j], t[i, j - 1])
    return t[-1, -1]


def test_lcs_bit_parallel_vs_dp():
    rng = np.random.default_rng(0)
    vocab = list("abcde")
    for _ in range(300):
        a = list(rng.choice(vocab, rng.integers(0, 70)))
        b = list(rng.choice(vocab, rng.integers(0, 70)))
        assert C.lcs_length(a, b) == _lcs_dp(a, b)


def test_rouge_l_pinned_and_known():
    assert C.rouge_l(CANDS, REFS) == pytest.approx(COCO_ROUGE_L, abs=1e-12)
    assert C.rouge_l(CANDS, [rs[0] for rs in REFS], beta=1.0) == pytest.approx(ROUGE_SCORE_F1_FIRST_REF, abs=1e-12)
    # hand computation: LCS("a man walks fast", "a man runs") = 2 -> P = 2/4, R = 2/3, beta 1.2
    p, r, b2 = 0.5, 2 / 3, 1.44
    assert C.rouge_l(["a man walks fast"], ["a man runs"]) == pytest.approx((1 + b2) * p * r / (r + b2 * p))
    assert C.rouge_l(["x y"], ["a b"]) == 0.0


def test_rouge_l_vs_pycocoevalcap_live():
    from pycocoevalcap.rouge import rouge as rouge_mod

    gts, res = _coco_inputs()
    assert C.rouge_l(CANDS, REFS) == pytest.approx(rouge_mod.Rouge().compute_score(gts, res)[0], abs=1e-12)


def test_rouge_l_beta1_vs_rouge_score_live():
    from rouge_score import rouge_scorer as rs_mod

    scorer = rs_mod.RougeScorer(["rougeL"])
    single = [rs[0] for rs in REFS]
    ref = np.mean([scorer.score(r, c)["rougeL"].fmeasure for c, r in zip(CANDS, single)])
    assert C.rouge_l(CANDS, single, beta=1.0) == pytest.approx(ref, abs=1e-12)


def test_cider_d_pinned_and_properties():
    assert C.cider_d(CANDS, REFS) == pytest.approx(COCO_CIDER_D, abs=1e-12)
    # a caption sharing nothing with its references scores 0
    assert C.cider_d(["x y z"] + CANDS[1:], ["a b c"] + REFS[1:]) < C.cider_d(CANDS, REFS)
    assert C.cider_d(["x y z", "a b"], ["c d e", "f g"]) == 0.0


def test_cider_d_vs_pycocoevalcap_live():
    from pycocoevalcap.cider import cider as cider_mod

    gts, res = _coco_inputs()
    assert C.cider_d(CANDS, REFS) == pytest.approx(cider_mod.Cider().compute_score(gts, res)[0], abs=1e-12)
    # different lengths exercise the Gaussian length penalty
    cands = ["a person walks forward and then turns left and right and left again"] + CANDS[1:]
    gts2 = dict(gts)
    res2 = dict(res)
    res2[0] = [" ".join(C.tokenize_caption(cands[0]))]
    assert C.cider_d(cands, REFS) == pytest.approx(cider_mod.Cider().compute_score(gts2, res2)[0], abs=1e-12)


def test_caption_metrics_bundle_without_encoder():
    out = C.caption_metrics(CANDS, REFS)
    assert set(out) == {"BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "ROUGE-L", "CIDEr"}
    assert out["CIDEr"] == pytest.approx(COCO_CIDER_D)
    assert out == C.caption_metrics(CANDS, REFS)  # deterministic
