"""Generation core (motiongpt2.lm.decoding): the motion-grammar constraint and the KV-cache decoding loop.

The grammar oracle below is written independently of the constraint (a regular expression with
partial matching plus the counting rules) and checked against it symbol class by symbol class.
"""
from __future__ import annotations

import random
from types import SimpleNamespace

import numpy as np
import pytest
import regex
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transformers import (GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, LogitsProcessorList, T5Config,
                          T5ForConditionalGeneration)

from motiongpt2.lm import decoding
from motiongpt2.lm.decoding import (MODES, DecodeResult, MotionConstraint, RestrictedHead, decode, motion_text,
                                     parse_motion_ids, restricted_head)
from motiongpt2.lm.vocab import MotionVocab

V = 64      # model vocabulary: ids 0..19 text (0 pad, 1 EOS), 20.. motion tokens, the rest text again
BASE = 20
PAD, EOS = 0, 1
SIZES = {1: (("motion",), (6,)), 2: (("body", "hand"), (5, 4))}


class FakeTokenizer:
    """Just enough of a Hugging Face tokenizer for MotionVocab.bind: added tokens get ids from BASE on."""

    def __init__(self):
        self.ids: dict[str, int] = {}

    def add_tokens(self, tokens, special_tokens=False):
        for t in tokens:
            self.ids.setdefault(t, BASE + len(self.ids))
        return len(tokens)

    def convert_tokens_to_ids(self, token):
        return self.ids[token]


def make_bound(n_streams: int):
    names, sizes = SIZES[n_streams]
    return MotionVocab(names, sizes).bind(FakeTokenizer())


BOUND = {1: make_bound(1), 2: make_bound(2)}


# ---------------------------------------------------------------------- independent grammar oracle
def symbol(bound, i: int) -> str:
    """One letter per class of ids: t text, e EOS, O/C <motion>/</motion>, m one-stream code,
    [ ] <body>/</body>, b body code, { } <hand>/</hand>, h hand code."""
    if i == EOS:
        return "e"
    code = bound.code_of(i)
    if code is not None:
        return {"motion": "m", "body": "b", "hand": "h"}[code[0]]
    for span, letters in {"motion": "OC", "body": "[]", "hand": "{}"}.items():
        if bound.open_ids.get(span) == i:
            return letters[0]
        if bound.close_ids.get(span) == i:
            return letters[1]
    return "t"


SPAN = {1: r"Om+C", 2: r"O\[b+\]\{h+\}C"}


def language(mode: str, n_streams: int) -> str:
    span = SPAN[n_streams]
    return {"motion": f"{span}e", "text": r"t*e", "free": rf"t*(?:{span}t*)?e"}[mode]


def grammatical(s: str, mode: str, n_streams: int, target, cap, complete: bool) -> bool:
    """``s`` is a sentence (``complete``) or a prefix of one, counting rules included."""
    if not regex.fullmatch(language(mode, n_streams), s, partial=not complete):
        return False
    first, first_closed = ("m", "C") if n_streams == 1 else ("b", "]")
    n = s.count(first)
    if cap is not None and n > cap:
        return False
    if target is not None and (n > target or (first_closed in s and n != target)):
        return False
    if n_streams == 2 and (s.count("h") > n or ("}" in s and s.count("h") != n)):
        return False
    return True


def class_ids(bound) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for i in range(V):
        out.setdefault(symbol(bound, i), []).append(i)
    return out


# ---------------------------------------------------------------------- models
class RandomLM:
    """Fake causal LM: random logits, with ``bias`` added to the motion ids and EOS to tempt violations."""

    config = SimpleNamespace(is_encoder_decoder=False)

    def __init__(self, bound, seed: int, bias: float = 0.0):
        self.gen = torch.Generator().manual_seed(seed)
        self.bias = torch.zeros(V)
        self.bias[torch.as_tensor(bound.new_ids)] = bias
        self.bias[EOS] = bias / 2

    def __call__(self, input_ids, attention_mask=None, use_cache=None, **kwargs):
        B, T = input_ids.shape
        return SimpleNamespace(logits=torch.randn(B, T, V, generator=self.gen) * 3 + self.bias, cache=None)


class ScriptedLM:
    """Fake causal LM whose favourite token at step t is ``script[t]`` (then EOS), whatever the input."""

    config = SimpleNamespace(is_encoder_decoder=False)

    def __init__(self, script):
        self.script, self.calls = list(script), 0

    def __call__(self, input_ids, attention_mask=None, use_cache=None, **kwargs):
        B, T = input_ids.shape
        tok = self.script[self.calls] if self.calls < len(self.script) else EOS
        self.calls += 1
        logits = torch.zeros(B, T, V)
        logits[:, :, tok] = 10.0
        return SimpleNamespace(logits=logits, cache=None)


@pytest.fixture(scope="module")
def llama():
    torch.manual_seed(0)
    cfg = LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, vocab_size=V, pad_token_id=PAD, eos_token_id=EOS, bos_token_id=2,
                      initializer_range=0.2)
    return LlamaForCausalLM(cfg).eval()


@pytest.fixture(scope="module")
def gpt2():
    """Absolute position embeddings: left padding is only harmless with the right position ids."""
    torch.manual_seed(2)
    cfg = GPT2Config(vocab_size=V, n_positions=64, n_embd=32, n_layer=2, n_head=4, bos_token_id=2,
                     eos_token_id=EOS, pad_token_id=PAD, initializer_range=0.2)
    return GPT2LMHeadModel(cfg).eval()


@pytest.fixture(scope="module")
def t5():
    torch.manual_seed(1)
    cfg = T5Config(vocab_size=V, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=2, num_heads=4,
                   decoder_start_token_id=PAD, pad_token_id=PAD, eos_token_id=EOS, initializer_factor=2.0)
    return T5ForConditionalGeneration(cfg).eval()


def left_padded(prompts: list[list[int]]):
    L = max(len(p) for p in prompts)
    ids = torch.tensor([[PAD] * (L - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (L - len(p)) + [1] * len(p) for p in prompts])
    return ids, mask


PROMPTS = [[3, 4, 5], [6, 7, 8, 9, 10], [11, 12, 13, 14, 15, 16, 17], [2, 9, 3, 8, 4, 7, 5, 6, 17]]


def check_result(res: DecodeResult, bound, modes, targets, cap, max_new_tokens):
    """Every sequence of ``res`` is grammatical; targets, cap and the parsed tokens agree."""
    S = bound.vocab.n_streams
    for i, ids in enumerate(res.ids):
        mode, target = modes[i], targets[i]
        s = "".join(symbol(bound, t) for t in ids)
        assert "e" not in s, (s, mode)
        complete = res.finished[i]
        if complete:
            s += "e"
        assert grammatical(s, mode, S, target, cap, complete), (s, mode, target, cap)
        assert res.steps[i] <= max_new_tokens
        assert res.steps[i] == len(ids) + (1 if complete and mode != "motion" else 0)
        if complete and mode == "motion":
            assert ids[-1] == bound.close_ids["motion"]
        assert res.motion_tokens[i].ndim == 2 and res.motion_tokens[i].shape[1] == S
        if "C" in s:   # a closed span reads back without problems
            assert res.problems[i] == ()
            n = len(res.motion_tokens[i])
            assert n >= 1
            if target is not None:
                assert n == target
            if cap is not None:
                assert n <= cap


# ---------------------------------------------------------------------- constraint alone
settings_fast = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

seq_settings = st.tuples(st.sampled_from(MODES), st.one_of(st.none(), st.integers(1, 5)))


@settings_fast
@given(n_streams=st.sampled_from([1, 2]), rows=st.lists(seq_settings, min_size=1, max_size=4),
       cap=st.one_of(st.none(), st.integers(1, 6)), seed=st.integers(0, 2 ** 31))
def test_constraint_allows_exactly_the_grammar(n_streams, rows, cap, seed):
    """Along random walks through allowed tokens, the allowed set of every sequence of the batch equals,
    class by class, the set the independent oracle accepts (neither more nor less)."""
    bound = BOUND[n_streams]
    modes = [m for m, _ in rows]
    targets = [None if t is None or (cap is not None and t > cap) else t for _, t in rows]
    c = MotionConstraint(bound, mode=modes, eos_token_id=EOS, target_tokens=targets, max_tokens=cap)
    c.reset(len(rows))
    classes = class_ids(bound)
    rng = random.Random(seed)
    texts = [""] * len(rows)
    for _ in range(30):
        allowed = c.allowed(V)
        step = []
        for i in range(len(rows)):
            row = allowed[i]
            for sym, ids in classes.items():
                flags = row[ids]
                assert bool(flags.all()) or not bool(flags.any()), f"class {sym} split"
                expect = grammatical(texts[i] + sym, modes[i], n_streams, targets[i], cap, complete=False)
                if texts[i].endswith("e"):
                    continue   # a finished sequence: whatever it is fed no longer matters
                assert bool(flags.all()) == expect, (texts[i], sym, modes[i], targets[i], cap)
            choice = rng.choice(row.nonzero().reshape(-1).tolist())
            # a finished sequence is fed padding, as generate() does
            if texts[i].endswith("e"):
                choice = PAD
            else:
                texts[i] += symbol(bound, choice)
            step.append(choice)
        c.advance(torch.tensor(step))
    for i in range(len(rows)):
        if texts[i].endswith("e"):
            assert grammatical(texts[i], modes[i], n_streams, targets[i], cap, complete=True)


def test_constraint_two_streams_walkthrough():
    b = BOUND[2]
    c = MotionConstraint(b, mode="motion", eos_token_id=EOS, target_tokens=2)
    c.reset(1)
    script = [b.open_ids["motion"], b.open_ids["body"], *b.code_ids["body"][[3, 1]].tolist(), b.close_ids["body"],
              b.open_ids["hand"], *b.code_ids["hand"][[0, 2]].tolist(), b.close_ids["hand"], b.close_ids["motion"], EOS]
    for tok in script:
        allowed = c.allowed(V)[0]
        assert allowed[tok]
        if tok in (b.open_ids["motion"], b.open_ids["body"], b.close_ids["body"], b.open_ids["hand"],
                   b.close_ids["hand"], b.close_ids["motion"], EOS):
            assert int(allowed.sum()) == 1, f"{tok} should be forced"
        c.advance(torch.tensor([tok]))
    assert bool(c.span_closed()[0])
    np.testing.assert_array_equal(parse_motion_ids(b, script).tokens, [[3, 0], [1, 2]])


def test_constraint_arguments_checked():
    b = BOUND[1]
    with pytest.raises(ValueError, match="mode"):
        MotionConstraint(b, mode="caption")
    with pytest.raises(ValueError, match="target_tokens"):
        MotionConstraint(b, target_tokens=9, max_tokens=4)
    with pytest.raises(ValueError, match="target_tokens"):
        MotionConstraint(b, target_tokens=0)
    with pytest.raises(ValueError, match="disagree"):
        MotionConstraint(b, mode=["free", "text"], target_tokens=[1, 2, 3])
    c = MotionConstraint(b, mode=["free", "text"])
    with pytest.raises(ValueError, match="multiple"):
        c.reset(3)
    c.reset(4)    # two copies of each setting (num_return_sequences / beams)
    assert c.state()["mode"].tolist() == [0, 0, 2, 2]
    c = MotionConstraint(b)
    c.reset(1)
    with pytest.raises(ValueError, match="logits"):
        c.apply(torch.zeros(1, 10))     # motion ids beyond the logits


# ---------------------------------------------------------------------- decode under random logits
@settings_fast
@given(n_streams=st.sampled_from([1, 2]), rows=st.lists(seq_settings, min_size=1, max_size=3),
       cap=st.one_of(st.none(), st.integers(1, 6)), seed=st.integers(0, 2 ** 31),
       bias=st.sampled_from([0.0, 3.0, 8.0]), greedy=st.booleans())
def test_decode_random_logits_stays_in_grammar(n_streams, rows, cap, seed, bias, greedy):
    bound = BOUND[n_streams]
    modes = [m for m, _ in rows]
    targets = [None if t is None or (cap is not None and t > cap) else t for _, t in rows]
    ids, mask = left_padded(PROMPTS[:len(rows)])
    res = decode(RandomLM(bound, seed, bias), ids, mask, bound, mode=modes, max_new_tokens=25, eos_token_id=EOS,
                 greedy=greedy, top_k=20 if seed % 2 else 0, top_p=0.9 if seed % 3 == 0 else 1.0,
                 seeds=[seed + i for i in range(len(rows))], target_tokens=targets, max_tokens=cap)
    assert len(res) == len(rows)
    check_result(res, bound, modes, targets, cap, 25)


@pytest.mark.parametrize("n_streams", [1, 2])
def test_max_tokens_cap_forces_the_closer(n_streams):
    """A model that always wants one more code still closes the span at max_tokens."""
    bound = BOUND[n_streams]
    first = "motion" if n_streams == 1 else "body"
    model = ScriptedLM([int(bound.code_ids[first][1])] * 40)
    # the favourite (a code of the first stream) is banned at the forced steps: the allowed token is taken
    res = decode(model, torch.tensor([[3, 4]]), None, bound, mode="motion", max_new_tokens=40, eos_token_id=EOS,
                 max_tokens=5)
    assert res.finished == [True]
    assert res.motion_tokens[0].shape == (5, n_streams)
    assert res.problems[0] == ()


# ---------------------------------------------------------------------- tiny llama
def naive_greedy(model, prompt: list[int], bound, *, mode, max_new_tokens, target=None, cap=None,
                 encoder_decoder=False):
    """Reference: one sequence, no padding, no cache, full recomputation every step; the constraint used
    through its LogitsProcessor interface."""
    c = MotionConstraint(bound, mode=mode, eos_token_id=EOS, target_tokens=target, max_tokens=cap)
    x = torch.tensor([prompt])
    seq = torch.tensor([[PAD]]) if encoder_decoder else x
    out = []
    with torch.no_grad():
        for _ in range(max_new_tokens):
            if encoder_decoder:
                logits = model(input_ids=x, decoder_input_ids=seq).logits[:, -1]
            else:
                logits = model(input_ids=seq).logits[:, -1]
            tok = int(c(seq, logits.float()).argmax(-1))
            seq = torch.cat([seq, torch.tensor([[tok]])], 1)
            if tok == EOS:
                break
            out.append(tok)
            if mode == "motion" and tok == bound.close_ids["motion"]:
                break
    return out


CASES = [("motion", 4, None), ("free", None, 6), ("text", None, None), ("motion", None, 7)]


@pytest.mark.parametrize("n_streams", [1, 2])
def test_kv_cache_decoding_equals_recomputation(llama, n_streams):
    bound = BOUND[n_streams]
    modes = [m for m, _, _ in CASES]
    targets = [t for _, t, _ in CASES]
    ids, mask = left_padded(PROMPTS)
    for i, (mode, target, cap) in enumerate(CASES):
        res = decode(llama, ids[i:i + 1, -len(PROMPTS[i]):], None, bound, mode=mode, max_new_tokens=24,
                     eos_token_id=EOS, target_tokens=target, max_tokens=cap)
        ref = naive_greedy(llama, PROMPTS[i], bound, mode=mode, max_new_tokens=24, target=target, cap=cap)
        assert res.ids[0] == ref, (mode, res.ids[0], ref)
        check_result(res, bound, [mode], [target], cap, 24)
    res = decode(llama, ids, mask, bound, mode=modes, target_tokens=targets, max_new_tokens=24, eos_token_id=EOS)
    check_result(res, bound, modes, targets, None, 24)
    assert res.motion_tokens[0].shape == (4, n_streams)       # exact target length honoured
    assert res.motion_tokens[2].shape == (0, n_streams)       # text mode: no motion
    assert res.problems[2][0] == "no <motion> marker"


@pytest.mark.parametrize("n_streams", [1, 2])
@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_batch_independence_greedy(request, arch, n_streams):
    model = request.getfixturevalue(arch)
    bound = BOUND[n_streams]
    modes = ["motion", "free", "motion", "text"]
    targets = [None, None, 3, None]
    ids, mask = left_padded(PROMPTS)
    batch = decode(model, ids, mask, bound, mode=modes, target_tokens=targets, max_new_tokens=20,
                   eos_token_id=EOS, max_tokens=8)
    for i, p in enumerate(PROMPTS):
        alone = decode(model, torch.tensor([p]), None, bound, mode=modes[i], target_tokens=targets[i],
                       max_new_tokens=20, eos_token_id=EOS, max_tokens=8)
        assert alone.ids[0] == batch.ids[i]
        assert alone.steps[0] == batch.steps[i]
        np.testing.assert_array_equal(alone.motion_tokens[0], batch.motion_tokens[i])


@pytest.mark.parametrize("n_streams", [1, 2])
@pytest.mark.parametrize("filters", [dict(), dict(top_k=10, top_p=0.9, temperature=0.8)])
def test_batch_independence_sampling(llama, n_streams, filters):
    """Each sequence draws from its own generator: alone or in a batch of 4 with other prompt lengths,
    the same seed gives the same output (exactly, on this tiny model; see the module docstring)."""
    bound = BOUND[n_streams]
    modes = ["motion", "free", "motion", "free"]
    seeds = [11, 12, 13, 14]
    ids, mask = left_padded(PROMPTS)
    batch = decode(llama, ids, mask, bound, mode=modes, max_new_tokens=20, eos_token_id=EOS, greedy=False,
                   seeds=seeds, max_tokens=8, **filters)
    check_result(batch, bound, modes, [None] * 4, 8, 20)
    for i, p in enumerate(PROMPTS):
        alone = decode(llama, torch.tensor([p]), None, bound, mode=modes[i], max_new_tokens=20, eos_token_id=EOS,
                       greedy=False, seeds=[seeds[i]], max_tokens=8, **filters)
        assert alone.ids[0] == batch.ids[i]
    # a different batch order: the same per-sequence outputs
    order = [2, 0, 3, 1]
    shuffled = decode(llama, ids[order], mask[order], bound, mode=[modes[j] for j in order], max_new_tokens=20,
                      eos_token_id=EOS, greedy=False, seeds=[seeds[j] for j in order], max_tokens=8, **filters)
    assert shuffled.ids == [batch.ids[j] for j in order]


@pytest.mark.parametrize("arch", ["llama", "gpt2", "t5"])
@pytest.mark.parametrize("greedy", [True, False])
@pytest.mark.parametrize("modes", [["motion"] * 4, ["motion", "free", "motion", "text"]])
def test_restricted_head_gives_the_full_heads_output(request, monkeypatch, arch, greedy, modes):
    """Computing only the allowed vocabulary rows changes nothing in the output, and the restricted
    head is really used on motion steps (a few rows of V); the model gets its own head back."""
    model = request.getfixturevalue(arch)
    head = model.get_output_embeddings()
    bound = BOUND[2]
    ids, mask = left_padded(PROMPTS)
    kw = dict(mode=modes, target_tokens=[3, None, None, None], max_new_tokens=20, eos_token_id=EOS, max_tokens=6,
              greedy=greedy, seeds=[1, 2, 3, 4], temperature=1.3)
    full = decode(model, ids, mask, bound, head_share=0.0, **kw)
    widths = []
    real = decoding._restrict

    def spy(wrapper, ok, share):
        real(wrapper, ok, share)
        widths.append(None if wrapper.cols is None else len(wrapper.cols))
    monkeypatch.setattr(decoding, "_restrict", spy)
    part = decode(model, ids, mask, bound, head_share=1.0, **kw)
    assert part.ids == full.ids and part.steps == full.steps
    assert model.get_output_embeddings() is head
    assert all(w is not None and 0 < w <= V for w in widths)
    if modes == ["motion"] * 4:
        assert min(widths) < len(bound.new_ids) < V   # inside the span: one stream's codes + its closer


def test_restricted_head_is_put_back_on_errors(llama):
    head = llama.get_output_embeddings()
    with pytest.raises(RuntimeError):
        with restricted_head(llama) as wrapper:
            assert isinstance(wrapper, RestrictedHead) and llama.get_output_embeddings() is wrapper
            wrapper.cols = torch.tensor([3, 5])
            logits = llama(torch.tensor([[3, 4]])).logits
            assert torch.isinf(logits[..., [0, 1, 2, 4]]).all() and torch.isfinite(logits[..., [3, 5]]).all()
            raise RuntimeError("boom")
    assert llama.get_output_embeddings() is head


def test_same_seed_same_output(llama):
    bound = BOUND[1]
    ids, mask = left_padded(PROMPTS)
    kw = dict(mode="free", max_new_tokens=16, eos_token_id=EOS, greedy=False, temperature=1.5)
    a = decode(llama, ids, mask, bound, seeds=[5, 6, 7, 8], **kw)
    b = decode(llama, ids, mask, bound, seeds=[5, 6, 7, 8], **kw)
    c = decode(llama, ids, mask, bound, seeds=[50, 60, 70, 80], **kw)
    assert a.ids == b.ids
    assert a.ids != c.ids
    torch.manual_seed(3)
    d = decode(llama, ids, mask, bound, **kw)     # seeds from the global RNG
    torch.manual_seed(3)
    e = decode(llama, ids, mask, bound, **kw)
    assert d.ids == e.ids


@pytest.mark.parametrize("n_streams", [1, 2])
def test_constraint_plugs_into_hf_generate(llama, n_streams):
    """model.generate(logits_processor=[MotionConstraint]) gives our greedy result (then the forced EOS);
    the same constraint object serves a second generate call, and beam search stays grammatical."""
    bound = BOUND[n_streams]
    modes = ["motion", "free", "motion", "text"]
    targets = [3, None, None, None]
    ids, mask = left_padded(PROMPTS)
    ours = decode(llama, ids, mask, bound, mode=modes, target_tokens=targets, max_new_tokens=16,
                  eos_token_id=EOS, max_tokens=6)
    c = MotionConstraint(bound, mode=modes, eos_token_id=EOS, target_tokens=targets, max_tokens=6)
    for _ in range(2):
        out = llama.generate(ids, attention_mask=mask, logits_processor=LogitsProcessorList([c]), do_sample=False,
                             max_new_tokens=17, eos_token_id=EOS, pad_token_id=PAD)
        gen = out[:, ids.shape[1]:].tolist()
        for i in range(4):
            n = len(ours.ids[i])
            assert gen[i][:n] == ours.ids[i]
            if ours.finished[i]:
                assert gen[i][n] == EOS
    beams = llama.generate(ids, attention_mask=mask, logits_processor=LogitsProcessorList([c]), do_sample=False,
                           num_beams=2, max_new_tokens=16, eos_token_id=EOS, pad_token_id=PAD)
    for i, row in enumerate(beams[:, ids.shape[1]:].tolist()):
        s = "".join(symbol(bound, t) for t in row)
        s = s[:s.index("e") + 1] if "e" in s else s
        assert grammatical(s, modes[i], n_streams, targets[i], 6, complete=s.endswith("e")), (s, modes[i])


# ---------------------------------------------------------------------- tiny T5
@pytest.mark.parametrize("n_streams", [1, 2])
def test_t5_decoding(t5, n_streams):
    bound = BOUND[n_streams]
    modes = ["motion", "free", "text"]
    targets = [3, None, None]
    ids, mask = left_padded(PROMPTS[:3])
    res = decode(t5, ids, mask, bound, mode=modes, target_tokens=targets, max_new_tokens=16, eos_token_id=EOS,
                 max_tokens=6)
    check_result(res, bound, modes, targets, 6, 16)
    assert res.motion_tokens[0].shape == (3, n_streams)
    for i, p in enumerate(PROMPTS[:3]):
        ref = naive_greedy(t5, p, bound, mode=modes[i], max_new_tokens=16, target=targets[i], cap=6,
                           encoder_decoder=True)
        assert res.ids[i] == ref
    sampled = decode(t5, ids, mask, bound, mode="motion", max_new_tokens=16, eos_token_id=EOS, greedy=False,
                     seeds=[1, 2, 3], max_tokens=6)
    check_result(sampled, bound, ["motion"] * 3, [None] * 3, 6, 16)


# ---------------------------------------------------------------------- malformed output
@pytest.mark.parametrize("n_streams", [1, 2])
def test_unconstrained_malformed_output_never_raises(n_streams):
    """A model that writes codes after text, a stray closer and text inside a span: without the
    constraint the result is read as far as possible, with problems listed; with it, it is grammatical."""
    b = BOUND[n_streams]
    first = b.vocab.stream_names[0]
    codes = b.code_ids[first]
    script = [5, 6, int(codes[2]), 7, b.close_ids["motion"], b.open_ids["motion"], int(codes[1]), 8, int(codes[0])]
    res = decode(ScriptedLM(script), torch.tensor([[3]]), None, b, mode="free", max_new_tokens=12,
                 eos_token_id=EOS, constrain=False)
    assert res.ids[0] == script and res.finished == [True]
    assert res.problems[0]
    assert res.motion_tokens[0].shape[1] == n_streams
    if n_streams == 1:
        np.testing.assert_array_equal(res.motion_tokens[0][:, 0], [1, 0])
    fixed = decode(ScriptedLM(script), torch.tensor([[3]]), None, b, mode="free", max_new_tokens=12,
                   eos_token_id=EOS)
    check_result(fixed, b, ["free"], [None], None, 12)


@settings(max_examples=200, deadline=None)
@given(n_streams=st.sampled_from([1, 2]), ids=st.lists(st.integers(-3, V + 5), max_size=40))
def test_parse_motion_ids_never_raises(n_streams, ids):
    b = BOUND[n_streams]
    parsed = parse_motion_ids(b, ids)
    assert parsed.tokens.ndim == 2 and parsed.tokens.shape[1] == n_streams
    assert ((parsed.tokens >= 0) & (parsed.tokens < np.asarray(b.vocab.codebook_sizes))).all()


@pytest.mark.parametrize("n_streams", [1, 2])
def test_parse_motion_ids_round_trip(n_streams):
    b = BOUND[n_streams]
    rng = np.random.default_rng(0)
    tokens = np.stack([rng.integers(0, k, 7) for k in b.vocab.codebook_sizes], 1)
    ids = [5, 6] + b.ids_of(tokens) + [7]
    assert motion_text(b, ids).startswith("??<motion>")
    parsed = parse_motion_ids(b, ids)
    assert parsed.ok
    np.testing.assert_array_equal(parsed.tokens, tokens)
