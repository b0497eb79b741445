"""Language-model training (stages align and instruct): samples, loss masks, checkpoints, resume, overfitting.

Fixtures: a tiny random LLaMA (hidden 64, 2 layers) saved with the SmolLM2 tokenizer as a local model
folder, synthetic captioned walks, the tiny motion VQ-VAE after one step on them (codebook initialised
from the data), and a fake shared folder holding
HumanML3D / KIT-ML caption files (train and test ids) for the stage-2 text-only captions.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from lm_fixtures import save_tiny_backbone
from motiongpt2 import runs
from motiongpt2.cli import app
from motiongpt2.data.layout import compute_mean_std, write_clip, write_mean_std, write_splits
from motiongpt2.lm.config import load_lm_config, stage_train
from motiongpt2.lm.data import (IGNORE, MotionTexts, SampleEncoder, SampleStream, caption_key, collate,
                                dataset_caption_keys, text_only_pool)
from motiongpt2.lm.instructions import TASKS, build_sample, format_chat
from motiongpt2.lm.pretrained import load_pretrained
from motiongpt2.lm.train import train_lm
from motiongpt2.lm.vocab import MotionVocab
from motiongpt2.motion.features import extract_features
from motiongpt2.motion.skeleton import HUMANML3D
from motiongpt2.motion.synthetic import synthetic_walk

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "configs" / "lm" / "tiny_test.yaml"
VOCAB = MotionVocab(("motion",), (64,))
RUN = dict(device="cpu", progress=False, eval_at_start=False)


# ------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def backbone_dir(tmp_path_factory) -> Path:
    """A tiny random LLaMA (tied embeddings) with the SmolLM2 tokenizer, as a local model folder."""
    return save_tiny_backbone(tmp_path_factory.mktemp("tiny_llama"))


@pytest.fixture(scope="module")
def hf_tokenizer(backbone_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(backbone_dir)
    VOCAB.bind(tok)
    return tok


def quick_tokenizer(data_root: Path, out: Path) -> Path:
    """The tiny VQ-VAE after one training step on ``data_root``: its codebook is initialised from the
    data, so the clips get varied codes.  Returns the run folder."""
    from motiongpt2.tokenizer.train import train_tokenizer

    train_tokenizer(REPO / "configs" / "tokenizer" / "tiny_test.yaml", data_root, out, max_steps=1, device="cpu",
                    progress=False, overrides={"train.eval_every": 1, "train.save_every": 1})
    return out


@pytest.fixture(scope="module")
def motion_tok(tmp_path_factory, walks) -> Path:
    return quick_tokenizer(walks, tmp_path_factory.mktemp("motion_tok") / "run")


@pytest.fixture(scope="module")
def walks(tmp_path_factory) -> Path:
    """8 train / 3 val / 2 test synthetic walks turning left or right (one timed caption too)."""
    root = tmp_path_factory.mktemp("walks")
    rng = np.random.default_rng(0)
    splits: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    feats_train = []
    k = 0
    for split, n in (("train", 8), ("val", 3), ("test", 2)):
        for i in range(n):
            side = "left" if i % 2 == 0 else "right"
            T = int(rng.integers(60, 110))
            pos = synthetic_walk(HUMANML3D, T + 1, seed=k, turn_rate=1.5 if side == "left" else -1.5)
            feats, joints = extract_features(pos, HUMANML3D)
            caps = [f"a person walks and turns {side}", f"someone turns to the {side} while walking {k}"]
            write_clip(root, f"{k:06d}", feats, joints, caps)
            splits[split].append(f"{k:06d}")
            if split == "train":
                feats_train.append(feats)
            k += 1
    write_splits(root, splits)
    write_mean_std(root, *compute_mean_std(feats_train, HUMANML3D))
    return root


@pytest.fixture(scope="module")
def fake_shared(tmp_path_factory) -> Path:
    """``annotations/`` with HumanML3D and KIT-ML caption files: train ids, a test id, and a caption that
    one of the walks already has (which must not become a text-only sample)."""
    root = tmp_path_factory.mktemp("shared")
    h, k = root / "annotations" / "humanml3d", root / "annotations" / "kitml"
    (k / "splits").mkdir(parents=True)
    h.mkdir(parents=True)
    (h / "captions.json").write_text(json.dumps({
        "000001": [{"caption": "a man jumps up high.", "start": 0.0, "end": 0.0, "source": "x"},
                   {"caption": "A person walks and turns left", "start": 0.0, "end": 0.0, "source": "x"}],
        "000002": [{"caption": "someone waves both hands", "start": 0.0, "end": 0.0, "source": "x"}],
        "000003": [{"caption": "a test split caption", "start": 0.0, "end": 0.0, "source": "x"}]}))
    (h / "train.txt").write_text("000001\n000002\n000009\n")
    (k / "annotations.json").write_text(json.dumps({
        "00001": {"annotations": [{"text": "A person kicks.", "start": 0, "end": 1},
                                  {"text": "someone waves both hands.", "start": 0, "end": 1}]},
        "00002": {"annotations": [{"text": "a kit test caption", "start": 0, "end": 1}]}}))
    (k / "splits" / "train.txt").write_text("00001\n")
    return root


def overrides(backbone_dir, motion_tok, **more) -> dict:
    return {"backbone": str(backbone_dir), "tokenizer": str(motion_tok), **more}


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# ------------------------------------------------------------------------------ samples and masks
def test_loss_mask_and_collate(hf_tokenizer):
    rng = np.random.default_rng(0)
    tokens = np.array([[3], [5], [7], [5], [0]])
    s_t2m = build_sample("t2m", VOCAB, caption="a person walks", tokens=tokens, rng=rng)
    s_m2t = build_sample("m2t", VOCAB, caption="a person walks", tokens=tokens, rng=rng)
    enc = SampleEncoder(hf_tokenizer, "causal", max_length=512)
    a, b = enc(s_t2m), enc(s_m2t)
    prompt_text, answer_text = format_chat(s_t2m, hf_tokenizer, eos="")
    prompt = hf_tokenizer(prompt_text)["input_ids"]
    answer = hf_tokenizer(answer_text, add_special_tokens=False)["input_ids"] + [hf_tokenizer.eos_token_id]
    assert a.input_ids == prompt + answer
    assert a.labels == [IGNORE] * len(prompt) + answer and a.n_answer == len(answer)
    assert answer[:-1] == VOCAB.bind(hf_tokenizer).ids_of(tokens)       # one id per motion token
    batch = collate([a, b], pad_id=hf_tokenizer.pad_token_id)
    L = max(len(a.input_ids), len(b.input_ids))
    assert batch["input_ids"].shape == batch["labels"].shape == (2, L)
    for row, e in enumerate((a, b)):
        n = len(e.input_ids)
        assert batch["attention_mask"][row].tolist() == [1] * n + [0] * (L - n)
        assert batch["labels"][row, :n].tolist() == e.labels and (batch["labels"][row, n:] == IGNORE).all()
        assert (batch["input_ids"][row, n:] == hf_tokenizer.pad_token_id).all()
    # an answer that would be cut is refused, not truncated
    assert SampleEncoder(hf_tokenizer, "causal", max_length=len(a.input_ids) - 1)(s_t2m) is None
    assert SampleEncoder(hf_tokenizer, "causal", max_length=len(a.input_ids))(s_t2m) == a
    # seq2seq: encoder input = prompt, labels = answer, decoder input = labels shifted right
    s2 = SampleEncoder(hf_tokenizer, "seq2seq", max_length=512)
    c, d = s2(s_t2m), s2(s_m2t)
    assert c.labels == answer and IGNORE not in c.labels
    bs = collate([c, d], pad_id=0, kind="seq2seq", decoder_start_id=0)
    assert bs["decoder_input_ids"][0, 0] == 0 and bs["decoder_input_ids"][0, 1:len(answer)].tolist() == answer[:-1]
    assert bs["labels"].shape == bs["decoder_input_ids"].shape


def test_text_only_pool_uses_train_ids_only_and_skips_our_captions(walks, fake_shared):
    ours = dataset_caption_keys([walks])
    assert caption_key("A person walks and turns LEFT.") in ours
    pool = text_only_pool(fake_shared, ("humanml3d", "kitml"), ours)
    assert sorted(pool.captions) == ["A person kicks.", "a man jumps up high.", "someone waves both hands"]
    assert pool.stats["humanml3d"] == {"train_ids": 2, "captions": 3, "in_our_data": 1, "used": 2}
    assert pool.stats["kitml"] == {"train_ids": 1, "captions": 2, "in_our_data": 0, "used": 1}
    empty = text_only_pool(fake_shared / "nowhere", ("humanml3d",), ours)
    assert len(empty) == 0 and "without text-only samples" in empty.note


def test_sample_streams_are_pure_and_mix_as_configured():
    rng = np.random.default_rng(1)
    motions = MotionTexts([rng.integers(0, 64, size=(int(n), 1)) for n in rng.integers(4, 20, size=6)],
                          [[f"caption {i}", f"other caption {i}"] for i in range(6)], [f"d/{i}" for i in range(6)])
    pool = [f"text only {i}" for i in range(10)]
    a = SampleStream("align", motions, VOCAB, seed=3, text_pool=pool, text_only_ratio=0.2)
    assert a.n_text == 3 and a.epoch_size == 15
    first = [a.sample(p) for p in range(30)]
    again = SampleStream("align", motions, VOCAB, seed=3, text_pool=pool, text_only_ratio=0.2)
    assert [(s.prompt, s.answer) for s in first] == [(again.sample(p).prompt, again.sample(p).answer)
                                                     for p in reversed(range(30))][::-1]
    for epoch in (first[:15], first[15:]):
        assert Counter(s.task for s in epoch) == {"align-t2m": 6, "align-m2t": 6, "text-only": 3}
        assert all(s.answer in pool for s in epoch if s.task == "text-only")
    assert {s.answer for s in first[:15] if s.task == "text-only"} != {s.answer for s in first[15:]
                                                                       if s.task == "text-only"}
    weights = {"t2m": 1.0, "predict": 1.0, "wholebody": 5.0}
    inst = SampleStream("instruct", motions, VOCAB, seed=3, task_weights=weights)
    assert inst.tasks == ("t2m", "predict") and inst.epoch_size == 6     # wholebody needs 2 streams
    assert {inst.sample(p).task for p in range(60)} == {"t2m", "predict"}
    two = SampleStream("instruct", MotionTexts([np.zeros((3, 2), np.int64)], [["c"]], ["d/0"]),
                       MotionVocab(("body", "hand"), (8, 8)), seed=0, task_weights=weights)
    assert "wholebody" in two.tasks


def test_config_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(TINY.read_text() + "\nunknown_key: 1\n")
    with pytest.raises(Exception, match="unknown top-level key"):
        load_lm_config(bad)
    cfg = load_lm_config(TINY, {"instruct.train": {"lr": 0.5}})
    assert stage_train(cfg, "instruct").lr == 0.5 and stage_train(cfg, "align").lr == cfg.train.lr
    res = CliRunner().invoke(app, ["train-lm", "--help"])
    assert res.exit_code == 0 and "Example" in res.output and "--stage" in res.output
    res = CliRunner().invoke(app, ["train-lm", "--stage", "align", "-c", str(bad), "-d", str(tmp_path),
                                   "-o", str(tmp_path / "run")])
    assert res.exit_code == 2 and "unknown top-level key" in res.output and "Traceback" not in res.output


# ------------------------------------------------------------------------------ training runs
@pytest.fixture(scope="module")
def align_run(tmp_path_factory, backbone_dir, motion_tok, walks, fake_shared):
    """An uninterrupted 6-step stage-align run."""
    out = tmp_path_factory.mktemp("align") / "run"
    summary = train_lm(TINY, [walks], out, "align", shared=fake_shared,
                       overrides=overrides(backbone_dir, motion_tok), **RUN)
    return out, summary


@pytest.mark.slow
def test_align_run_writes_loadable_checkpoints_and_metrics(align_run, walks, hf_tokenizer):
    out, summary = align_run
    assert summary["final_step"] == 6 and not summary["interrupted"]
    assert summary["text_only"]["pool"] == 3 and summary["text_only"]["per_epoch"] == 3
    assert summary["epoch_size"] == 2 * summary["n_train_motions"] + 3
    assert 0 < summary["trainable"]["trainable_percent"] < 100 and summary["trainable"]["lora"] > 0
    assert sorted(p.name for p in out.glob("step-*")) == ["step-00000003", "step-00000006"]
    recs = jsonl(out / "metrics.jsonl")
    train = [r for r in recs if r["type"] == "train"]
    assert [r["step"] for r in train] == list(range(1, 7))
    for r in train:
        assert r["samples"] + r["skipped"] == 4 and r["answer_tokens"] <= r["tokens"]
        assert r["tokens_per_s"] > 0 and r["answer_tokens_per_s"] > 0 and r["steps_per_s"] > 0
    val = [r for r in recs if r["type"] == "val"]
    assert [r["step"] for r in val] == [3, 6]
    assert {"loss", "answer_acc", "motion_acc", "loss_align-t2m", "loss_align-m2t"} <= set(val[0])
    info = recs[0]
    assert info["event"] == "start" and info["stage"] == "align" and info["text_only"]["pool"] == 3
    lm = load_pretrained(out / "step-00000006")
    assert lm.meta["step"] == 6 and lm.config["extra"]["stage"] == "align"
    assert lm.hf_tokenizer.convert_tokens_to_ids("<motion_id_5>") == hf_tokenizer.convert_tokens_to_ids("<motion_id_5>")
    assert runs.load_trainer_state(out / "step-00000006")["skipped_total"] == sum(r["skipped"] for r in train)


@pytest.mark.slow
def test_resume_after_interruption_matches_uninterrupted_run(align_run, tmp_path, backbone_dir, motion_tok, walks,
                                                             fake_shared):
    full, summary = align_run
    out = tmp_path / "run"
    kw = dict(shared=fake_shared, overrides=overrides(backbone_dir, motion_tok), **RUN)
    first = train_lm(TINY, [walks], out, "align", max_steps=4, **kw)
    assert first["final_step"] == 4 and (out / "step-00000004").is_dir()
    with pytest.raises(Exception, match="already holds a training run"):
        train_lm(TINY, [walks], out, "align", resume=False, **kw)
    second = train_lm(TINY, [walks], out, "align", **kw)
    assert second["resumed"] and second["start_step"] == 4
    assert first["train_losses"] + second["train_losses"] == summary["train_losses"]
    a = runs.load_tensors(full / "step-00000006")
    b = runs.load_tensors(out / "step-00000006")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(Exception, match="stage-align run"):
        train_lm(TINY, [walks], out, "instruct", **kw)


@pytest.mark.slow
def test_instruct_starts_from_the_align_run(align_run, tmp_path, backbone_dir, motion_tok, walks):
    align, _ = align_run
    out = tmp_path / "instruct"
    # lr 0: the weights stay those of the --init checkpoint (the align run's best)
    summary = train_lm(TINY, [walks], out, "instruct", init=align, max_steps=1,
                       overrides=overrides(backbone_dir, motion_tok, **{"train.lr": 0.0,
                                                                        "train.gradient_checkpointing": True}), **RUN)
    assert summary["final_step"] == 1
    best = runs.resolve_step(align, "best")
    a, b = runs.load_tensors(best), runs.load_tensors(out / "step-00000001")
    assert all(torch.equal(a[k], b[k]) for k in a)
    info = jsonl(out / "metrics.jsonl")[0]
    assert info["init"] == str(best.resolve()) and info["stage"] == "instruct"
    val = [r for r in jsonl(out / "metrics.jsonl") if r["type"] == "val"][-1]
    assert any(k.startswith("loss_") for k in val)
    lm = load_pretrained(out)
    assert lm.config["extra"]["init"] == str(best.resolve())


@pytest.mark.slow
def test_random_init_ablation_trains_saves_and_reloads_the_same_weights(tmp_path, backbone_dir, motion_tok, walks,
                                                                       fake_shared):
    """backbone_init: random draws the architecture's weights from train.seed; the saved run records it and
    loading rebuilds exactly those weights (the adapter fits them); a pretrained-init config cannot resume it."""
    from motiongpt2.lm.backbone import load_backbone

    out = tmp_path / "random"
    kw = dict(shared=fake_shared, **RUN)
    train_lm(TINY, [walks], out, "align", max_steps=3,
             overrides=overrides(backbone_dir, motion_tok, backbone_init="random", **{"train.seed": 5}), **kw)
    lm = load_pretrained(out)
    assert lm.config["backbone"]["init"] == "random:5"      # (the tiny backbone itself was drawn with seed 0)
    again = load_pretrained(out)
    pre = load_backbone(str(backbone_dir)).model.state_dict()
    a, b = lm.model.get_base_model().state_dict(), again.model.get_base_model().state_dict()
    name = "model.layers.0.mlp.down_proj.weight"
    assert torch.equal(a[name], b[name]) and not torch.equal(a[name], pre[name])
    assert torch.equal(load_backbone(str(backbone_dir), init="random:5").model.state_dict()[name], a[name])
    with pytest.raises(Exception, match="backbone_init"):
        train_lm(TINY, [walks], out, "align", max_steps=4,
                 overrides=overrides(backbone_dir, motion_tok, **{"train.seed": 5}), **kw)
    with pytest.raises(Exception, match="random:SEED"):
        load_backbone(str(backbone_dir), init="noise")


@pytest.mark.slow
def test_seq2seq_backbone_trains_and_saves(tmp_path, backbone_dir, motion_tok, walks):
    """A tiny random T5 (encoder input = prompt, labels = answer) through the same trainer."""
    from transformers import AutoTokenizer, T5Config, T5ForConditionalGeneration

    folder = tmp_path / "tiny_t5"
    tok = AutoTokenizer.from_pretrained(backbone_dir)
    tok.save_pretrained(folder)
    torch.manual_seed(0)
    cfg = T5Config(vocab_size=len(tok), d_model=32, d_kv=8, d_ff=64, num_layers=1, num_decoder_layers=1, num_heads=4,
                   pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
                   decoder_start_token_id=tok.pad_token_id)
    T5ForConditionalGeneration(cfg).save_pretrained(folder)
    out = tmp_path / "run"
    summary = train_lm(TINY, [walks], out, "instruct", max_steps=2, overrides=overrides(folder, motion_tok), **RUN)
    assert summary["final_step"] == 2 and np.isfinite(summary["last_val"]["loss"])
    lm = load_pretrained(out)
    assert lm.config["backbone"]["kind"] == "seq2seq"


# ------------------------------------------------------------------------------ overfitting real pairs
@pytest.fixture(scope="module")
def real_pairs(tmp_path_factory, shared_data) -> Path:
    """Four real CMU clips (prepared by the cmu-humanml3d recipe) with distinct captions, cut to 48
    frames (12 tokens) each, in a dataset of their own (the same clips serve as val split)."""
    from motiongpt2 import api
    from motiongpt2.data.readers import open_dataset

    src = tmp_path_factory.mktemp("real_src")
    api.prepare("cmu-humanml3d", src, shared=shared_data, limit=3, workers=1, progress=False, mirror=False)
    ds = open_dataset(src, "auto", "all", lazy=True)
    root = tmp_path_factory.mktemp("real_pairs")
    seen, train = set(), []
    for i in range(len(ds)):
        caption = ds.texts(i)[0].caption
        if caption in seen or len(train) == 4:
            continue
        seen.add(caption)
        feats = ds[i].features[:48]
        for split, cid in (("train", f"{len(train):06d}"), ("val", f"v{len(train):05d}")):
            write_clip(root, cid, feats, None, [caption])
        train.append(feats)
    assert len(train) == 4, "the first CMU trials should give 4 distinct captions"
    write_splits(root, {"train": [f"{i:06d}" for i in range(4)], "val": [f"v{i:05d}" for i in range(4)]})
    write_mean_std(root, np.load(src / "Mean.npy"), np.load(src / "Std.npy"))
    return root


@pytest.fixture(scope="module")
def tiny_t5_dir(tmp_path_factory, backbone_dir) -> Path:
    """A tiny random T5 with the SmolLM2 tokenizer, as a local model folder."""
    from transformers import AutoTokenizer, T5Config, T5ForConditionalGeneration

    folder = tmp_path_factory.mktemp("tiny_t5")
    tok = AutoTokenizer.from_pretrained(backbone_dir)
    tok.save_pretrained(folder)
    torch.manual_seed(0)
    cfg = T5Config(vocab_size=len(tok), d_model=64, d_kv=16, d_ff=128, num_layers=2, num_decoder_layers=2,
                   num_heads=4, dropout_rate=0.0, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
                   decoder_start_token_id=tok.pad_token_id)
    T5ForConditionalGeneration(cfg).save_pretrained(folder)
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("arch,tuning", [("llama", "lora"), ("llama", "full"), ("t5", "full")])
def test_tiny_model_overfits_real_pairs_and_greedy_decoding_reproduces_them(request, arch, tuning, real_pairs,
                                                                              tmp_path):
    """Four real clips: after overfitting, greedy generation through the public API gives back each clip's
    motion tokens (text->motion) and, with full fine-tuning, its caption (motion->text) exactly.  LoRA on a
    random model learns motion (the new rows are trained) but not captions: its frozen random output head
    cannot be steered to words; a pretrained head is what makes LoRA captions work."""
    from motiongpt2.lm.model import MotionGPT2
    from motiongpt2.tokenizer.checkpoint import load_checkpoint
    from motiongpt2.tokenizer.tokens import encode_split

    backbone = request.getfixturevalue("backbone_dir" if arch == "llama" else "tiny_t5_dir")
    motion_tok = quick_tokenizer(real_pairs, tmp_path / "tok")
    out = tmp_path / "overfit"
    full = tuning == "full"
    tasks = ("t2m", "m2t") if full else ("t2m",)
    more = {"instruct.tasks": {t: float(t in tasks) for t in TASKS}, "data.length_hint_prob": 0.0,
            "train.max_steps": 300 if full else 150, "train.lr": (5.0e-3 if arch == "t5" else 3.0e-3) if full else 1.0e-2, "train.grad_accum": 1,
            "train.eval_every": 1000, "train.save_every": 1000, "train.log_every": 50, "train.warmup_steps": 10,
            "lora.dropout": 0.0, "lora.r": 16, "lora.full_finetune": full}
    summary = train_lm(TINY, [real_pairs], out, "instruct", overrides=overrides(backbone, motion_tok, **more), **RUN)
    assert summary["last_val"]["motion_acc"] == 1.0, summary["last_val"]
    mg = MotionGPT2.from_pretrained(out)
    tok_dir = runs.resolve_step(motion_tok, "best", best_falls_back=True)
    ck = load_checkpoint(tok_dir, load_trainer_state=False)
    pairs = encode_split(real_pairs, "train", ck.model, runs.weights_hash(tok_dir), None)
    assert len({tuple(t.reshape(-1)) for t in pairs.tokens}) == 4 and len(np.unique(np.concatenate(pairs.tokens))) > 4
    for (ci, a, b), caps in zip(pairs.items.tolist(), pairs.item_captions):
        want = pairs.tokens[ci][a:b]
        motion = mg.generate(caps[0], length=len(want) * mg.unit, greedy=True)
        assert motion.problems == () and np.array_equal(motion.tokens, want), caps[0]
        if full:
            feats = np.load(real_pairs / "new_joint_vecs" / f"{pairs.ids[ci]}.npy")[a * mg.unit:b * mg.unit]
            assert mg.caption(feats) == caps[0]


@pytest.mark.slow
def test_two_process_accelerate_launch_matches_one_process(tmp_path, backbone_dir, motion_tok, walks, fake_shared):
    """DDP on the CPU (gloo): `accelerate launch` with 2 processes x micro-batch 1 x 2 accumulation steps
    gives the losses and weights of 1 process x micro-batch 2 x 2 steps (the same global batch of 4)."""
    sets = [f"backbone={backbone_dir}", f"tokenizer={motion_tok}", "lora.dropout=0.0", "train.max_steps=3",
            "train.eval_every=1000", "train.save_every=3"]
    args = ["-m", "motiongpt2.cli", "train-lm", "--stage", "align", "-c", str(TINY), "-d", str(walks),
            "--shared", str(fake_shared), "--device", "cpu", "--threads", "1",
            *[x for s in sets for x in ("--override", s)]]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}
    one = subprocess.run([sys.executable, *args, "-o", str(tmp_path / "one")], env=env, capture_output=True,
                         text=True, timeout=600)
    assert one.returncode == 0, one.stderr[-2000:]
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
              "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port",
              str(29500 + os.getpid() % 1000)]
    two = subprocess.run([*launch, *args, "-o", str(tmp_path / "two")], env=env, capture_output=True, text=True,
                         timeout=600)
    assert two.returncode == 0, two.stderr[-2000:]
    recs = {k: jsonl(tmp_path / k / "metrics.jsonl") for k in ("one", "two")}
    assert recs["one"][0]["processes"] == 1 and recs["two"][0]["processes"] == 2
    assert recs["two"][0]["micro_batch"] == 1 and recs["one"][0]["micro_batch"] == 2
    losses = {k: [r["loss"] for r in v if r["type"] == "train"] for k, v in recs.items()}
    assert len(losses["one"]) == 3 and np.allclose(losses["one"], losses["two"], rtol=1e-5, atol=1e-6)
    a, b = (runs.load_tensors(tmp_path / k / "step-00000003") for k in ("one", "two"))
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)
