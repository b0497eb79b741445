"""The lean Llama decoding pass reproduces the transformers forward (logits, cached steps, padding)."""
from __future__ import annotations

import pytest
import torch
from torch import nn
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

from motiongpt2.lm.fast_llama import FastLlama

V = 96


def tiny(kind: str) -> nn.Module:
    torch.manual_seed(0)
    common = dict(vocab_size=V, hidden_size=64, intermediate_size=96, num_hidden_layers=3, num_attention_heads=4,
                  max_position_embeddings=256, pad_token_id=0, eos_token_id=1)
    if kind == "llama-gqa":
        cfg = LlamaConfig(num_key_value_heads=2, tie_word_embeddings=True, rope_theta=100000.0, **common)
        return LlamaForCausalLM(cfg).eval()
    if kind == "llama3-rope":
        cfg = LlamaConfig(num_key_value_heads=4, tie_word_embeddings=False, attention_bias=True, rope_scaling={
            "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
            "original_max_position_embeddings": 64}, **common)
        return LlamaForCausalLM(cfg).eval()
    if kind == "qwen2":
        cfg = Qwen2Config(num_key_value_heads=2, use_sliding_window=False, **common)
        return Qwen2ForCausalLM(cfg).eval()
    raise ValueError(kind)


def left_padded(rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    L = max(map(len, rows))
    ids = torch.tensor([[0] * (L - len(r)) + r for r in rows])
    mask = torch.tensor([[0] * (L - len(r)) + [1] * len(r) for r in rows])
    return ids, mask


@pytest.mark.parametrize("kind", ["llama-gqa", "llama3-rope", "qwen2"])
@torch.no_grad()
def test_prompt_and_cached_steps_match_transformers(kind):
    model = tiny(kind)
    fast = FastLlama.build(model)
    assert isinstance(fast, FastLlama)
    ids, mask = left_padded([[5, 6, 7, 8, 9, 10, 11], [12, 13, 14], [15, 16, 17, 18, 19]])
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    out = fast(input_ids=ids, attention_mask=mask, position_ids=pos)
    ref = model(input_ids=ids, attention_mask=mask, position_ids=pos).logits
    real = mask.bool()
    torch.testing.assert_close(out.logits[real], ref[real], atol=2e-5, rtol=1e-4)   # padded rows: don't care
    cache, seq = out.cache, ids
    for n_new in (1, 2, 1):      # one token, two tokens at once (forced tokens), one token
        new = torch.randint(2, V, (3, n_new))
        mask = torch.cat([mask, torch.ones_like(new)], 1)
        step_pos = pos[:, -1:] + torch.arange(1, n_new + 1)[None]
        out = fast(input_ids=new, attention_mask=mask, position_ids=step_pos, cache=cache, logits_to_keep=1)
        cache, seq, pos = out.cache, torch.cat([seq, new], 1), step_pos
        full_pos = (mask.cumsum(-1) - 1).clamp(min=0)
        ref = model(input_ids=seq, attention_mask=mask, position_ids=full_pos).logits[:, -1:]
        torch.testing.assert_close(out.logits, ref, atol=2e-5, rtol=1e-4)
    assert cache.length == seq.shape[1]


@torch.no_grad()
def test_cache_grows_past_its_first_capacity():
    model = tiny("llama-gqa")
    fast = FastLlama.build(model)
    ids = torch.randint(2, V, (1, 4))
    out = fast(input_ids=ids)
    first = out.cache.capacity
    seq = ids
    for _ in range(first):    # beyond the preallocated room
        tok = out.logits[:, -1:].argmax(-1)
        seq = torch.cat([seq, tok], 1)
        out = fast(input_ids=tok, cache=out.cache)
    assert out.cache.capacity > first and out.cache.length == seq.shape[1]
    torch.testing.assert_close(out.logits[:, -1], model(input_ids=seq).logits[:, -1], atol=2e-5, rtol=1e-4)


def test_shared_weights_and_int8():
    model = tiny("llama-gqa")
    q = model.model.layers[0].self_attn.q_proj.weight.clone()
    fast = FastLlama.build(model)
    # the model's own projections now view the fused weights: same values, no second copy
    assert torch.equal(model.model.layers[0].self_attn.q_proj.weight, q)
    assert model.model.layers[0].self_attn.q_proj.weight.data_ptr() == fast.qkv[0].weight.data_ptr()
    fast.quantize_int8()
    assert "quantized" in type(fast.qkv[0]).__module__ and type(fast.lm_head) is nn.Linear
    ids = torch.randint(2, V, (2, 6))
    with torch.no_grad():
        a = fast(input_ids=ids).logits
        b = model(input_ids=ids).logits
    assert torch.isfinite(a).all() and (a - b).abs().max() < 0.05 * b.abs().max()   # int8: close, not equal


def test_unsupported_or_mismatching_models_are_left_to_transformers(monkeypatch):
    torch.manual_seed(0)
    gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=V, n_embd=32, n_layer=1, n_head=2)).eval()
    assert FastLlama.build(gpt2) is None
    model = tiny("llama-gqa")
    monkeypatch.setattr(FastLlama, "_rope", lambda self, x, cos, sin: x)   # a pass that is wrong
    with pytest.warns(RuntimeWarning, match="lean decoding pass not used .*differ"):
        assert FastLlama.build(model) is None
