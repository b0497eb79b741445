"""The MotionGPT2 API (motiongpt2.lm.model), its CLI commands and the ``lm`` evaluation generator, on a
tiny random LLaMA (hidden 64) with the real SmolLM2 tokenizer and a tiny motion VQ-VAE whose codebook
is initialised from synthetic walks (so different poses get different tokens)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from motiongpt2 import api
from motiongpt2.cli import app
from motiongpt2.errors import MotionGPT2Error
from motiongpt2.eval.evaluator import EvaluatorConfig, EvaluatorNet, save_evaluator
from motiongpt2.eval.generators import generator_kinds, load_generator
from motiongpt2.eval.pairs import load_pairs
from motiongpt2.eval.protocol import EvalSettings, evaluate
from motiongpt2.eval.train_evaluator import evaluator_stats
from motiongpt2.eval.word_vectors import WordVectors
from motiongpt2.lm import model as model_mod
from motiongpt2.lm.adapt import LoraSettings, apply_lora, extend_vocabulary
from motiongpt2.lm.backbone import load_backbone
from motiongpt2.lm.decoding import DecodeResult
from motiongpt2.lm.fast_llama import FastLlama
from motiongpt2.lm.generator import LMGenerator
from motiongpt2.lm.model import (Caption, CaptionRequest, GenerateRequest, Motion, MotionGPT2, PoseRef,
                                 PredictRequest, blend_segments)
from motiongpt2.lm.pretrained import save_pretrained
from motiongpt2.lm.vocab import MotionVocab
from motiongpt2.motion.features import recover_from_ric
from motiongpt2.tokenizer import build_tokenizer, save_checkpoint

from lm_fixtures import save_tiny_model  # noqa: E402
from test_eval_protocol import WORDS, _dataset  # noqa: E402

runner = CliRunner()
TEXT = "a person walks forward"


# ------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def walks(tmp_path_factory):
    """A tiny prepared dataset of synthetic walks (train 8, val 2, test 10)."""
    return _dataset(tmp_path_factory.mktemp("walks"), {"train": 8, "val": 2, "test": 10})


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, walks):
    """A saved tiny adapted model (random LoRA / rows) over a motion tokenizer with a real codebook."""
    return save_tiny_model(tmp_path_factory.mktemp("lm"), walks)


@pytest.fixture(scope="module")
def mg(model_dir) -> MotionGPT2:
    return MotionGPT2.from_pretrained(model_dir)


@pytest.fixture(scope="module")
def clip(walks):
    """``(clip id, features (T, 263))`` of one test clip."""
    path = sorted((walks / "new_joint_vecs").glob("test*.npy"))[0]
    return path.stem, np.load(path)


# ------------------------------------------------------------------------------ generation
def test_generate_exact_length_shapes_and_seed(mg):
    m = mg.generate(TEXT, length=83, seed=3)
    assert isinstance(m, Motion) and m.problems == () and m.text == TEXT
    assert m.tokens.shape == (20, 1) and m.features.shape == (80, 263) and m.joints.shape == (80, 22, 3)
    assert m.features.dtype == np.float32 and m.fps == 20.0 and m.seconds == 4.0
    assert np.allclose(m.joints, recover_from_ric(m.features), atol=1e-5)
    again = mg.generate(TEXT, length=83, seed=3)
    assert np.array_equal(again.tokens, m.tokens) and np.array_equal(again.features, m.features)
    other = mg.generate(TEXT, length=83, seed=4)
    assert not np.array_equal(other.tokens, m.tokens)
    free = mg.generate(TEXT, seed=5)
    assert 1 <= len(free.tokens) <= mg.max_tokens and free.frames == 4 * len(free.tokens)
    with pytest.raises(MotionGPT2Error, match="maximum of 49 tokens .*compose"):
        mg.generate(TEXT, length=200)
    with pytest.raises(MotionGPT2Error, match="shorter than one token"):
        mg.generate(TEXT, length=3)


def test_batch_equals_single(mg, clip):
    _, feats = clip
    reqs = [GenerateRequest(TEXT, length=40, seed=1), {"text": "someone turns left", "length": 64, "seed": 2},
            CaptionRequest(feats[:40], seed=3), PredictRequest(feats[:16], length=60, seed=4),
            GenerateRequest("a person jumps", init_pose=(feats, 10), length=32, seed=5)]
    mg.batch_size = 3
    try:
        batch = mg.generate_batch(reqs)
    finally:
        mg.batch_size = 16
    singles = [mg.generate(TEXT, length=40, seed=1), mg.generate("someone turns left", length=64, seed=2),
               mg.caption(feats[:40], seed=3, greedy=False), mg.predict(feats[:16], length=60, seed=4),
               mg.generate("a person jumps", init_pose=(feats, 10), length=32, seed=5)]
    for b, s in zip(batch, singles):
        if isinstance(s, Motion):
            assert np.array_equal(b.tokens, s.tokens)              # features: batched decoder, float rounding
            assert np.allclose(b.features, s.features, atol=1e-5)
        else:
            assert str(b) == str(s)
    assert [len(m.tokens) for m in batch if isinstance(m, Motion)] == [10, 16, 15, 8]


def test_caption_is_text(mg, clip):
    cap = mg.caption(clip[1])
    assert isinstance(cap, Caption) and isinstance(cap, str)
    assert "_id_" not in cap and "<motion" not in cap and "\n" not in cap
    assert cap == mg.caption(clip[1])                     # greedy: deterministic


def test_predict_and_inbetween_keep_the_given_tokens(mg, clip):
    _, feats = clip
    pre = mg.encode(feats[:16])
    p = mg.predict(feats[:16], length=60, seed=1)
    assert p.frames == 60 and np.array_equal(p.tokens[:4], pre)
    st, en = mg.encode(feats[:12]), mg.encode(feats[-12:])
    m = mg.inbetween(feats[:12], feats[-12:], length=48, seed=2)
    assert m.frames == 48 and np.array_equal(m.tokens[:3], st) and np.array_equal(m.tokens[-3:], en)
    with pytest.raises(MotionGPT2Error, match="leaves nothing to generate"):
        mg.predict(feats[:16], length=16)


# ------------------------------------------------------------------------------ pose inputs
def test_pose_inputs_give_the_same_token(mg, walks, clip, tmp_path):
    cid, feats = clip
    joints = recover_from_ric(feats)
    np.save(tmp_path / "f.npy", feats)
    np.save(tmp_path / "j.npy", joints)
    api.export(tmp_path / "j.npy", tmp_path / "j.bvh")        # BVH with joint rotations, re-imported exactly
    frame = 21
    ref = mg.pose_token((feats, frame))
    assert ref.shape == (1, 1)
    same = [f"{tmp_path / 'f.npy'}@{frame}", f"{walks}:{cid}@{frame}", PoseRef(feats, frame),
            (torch.as_tensor(feats), frame), (Motion(feats, joints, np.zeros((0, 1))), frame),
            f"{tmp_path / 'j.npy'}@{frame}", (joints, frame), f"{tmp_path / 'j.bvh'}@{frame}"]  # joints: extract_features
    for spec in same:
        assert np.array_equal(mg.pose_token(spec), ref), spec
    # defaults: frame 0 (init / key), the last frame (last pose); negative frames count from the end
    assert np.array_equal(mg.pose_token(str(tmp_path / "f.npy")), mg.pose_token((feats, 0)))
    assert np.array_equal(mg.pose_token(str(tmp_path / "f.npy"), -1), mg.pose_token((feats, len(feats) - 1)))
    assert np.array_equal(mg.pose_token(f"{walks}:{cid}@-2"), mg.pose_token((feats, len(feats) - 2)))
    # single poses (no neighbouring frames) and tokens given directly
    assert mg.pose_token(feats[frame]).shape == (1, 1) and mg.pose_token(joints[frame]).shape == (1, 1)
    assert mg.pose_token(7)[0, 0] == 7 and mg.pose_token(np.array([9]))[0, 0] == 9
    with pytest.raises(MotionGPT2Error, match="outside"):
        mg.pose_token((feats, len(feats)))
    with pytest.raises(MotionGPT2Error, match="no clip"):
        mg.pose_token(f"{walks}:nope@3")
    with pytest.raises(MotionGPT2Error, match="not found"):
        mg.pose_token(str(tmp_path / "missing.npy"))
    # every form gives the same prompt, so the same motion
    a = mg.generate(TEXT, init_pose=f"{walks}:{cid}@{frame}", length=40, seed=2)
    b = mg.generate(TEXT, init_pose=(joints, frame), length=40, seed=2)
    assert np.array_equal(a.tokens, b.tokens)


def test_last_and_key_poses(mg, clip):
    _, feats = clip
    m = mg.generate(TEXT, last_pose=feats, length=40, seed=1)
    assert m.frames == 40 and m.meta["task"] == "t2m-last"
    k = mg.generate(TEXT, key_poses=[(0, (feats, 4)), (20, (feats, 30)), (39, (feats, 50))], length=40, seed=1)
    assert k.frames == 40 and k.meta["task"] == "t2m-key" and k.problems == ()
    with pytest.raises(MotionGPT2Error, match="same token"):
        mg.generate(TEXT, key_poses=[(4, feats[0]), (6, feats[1])], length=40)
    with pytest.raises(MotionGPT2Error, match="beyond"):
        mg.generate(TEXT, key_poses={60: feats[0]}, length=40)
    with pytest.raises(MotionGPT2Error, match="one kind of pose control"):
        mg.generate(TEXT, init_pose=feats[0], last_pose=feats[1])


def test_whole_body_needs_two_streams(mg):
    with pytest.raises(MotionGPT2Error, match="one token stream.*Part-Aware"):
        mg.generate_whole_body(TEXT)


@pytest.mark.filterwarnings("ignore:EMAQuantizer.quantize called on a codebook")
def test_whole_body_with_a_part_aware_tokenizer(model_dir, tmp_path):
    from motiongpt2.tokenizer import PartAwareConfig, TokenizerConfig, TrainConfig

    cfg = TokenizerConfig(kind="part_aware", model=PartAwareConfig(width=16, depth=1, code_dim=8, num_codes_body=16,
                                                                   num_codes_hand=8), train=TrainConfig(window=16))
    torch.manual_seed(0)
    tok_dir = save_checkpoint(tmp_path / "pa", build_tokenizer(cfg), cfg, step=0, save_rng=False)
    bb = load_backbone(str(model_dir.parent / "bb"))
    bound = extend_vocabulary(bb.model, bb.tokenizer, MotionVocab(("body", "hand"), (16, 8)))
    out = save_pretrained(tmp_path / "wb", apply_lora(bb.model, LoraSettings()), bb.tokenizer, bound, LoraSettings(),
                          bb.name, tok_dir)
    wb = MotionGPT2.from_pretrained(out)
    m = wb.generate_whole_body("a person waves with both hands", length=40, seed=1)
    assert m.problems == () and m.tokens.shape == (10, 2)
    assert m.features.shape == (40, 623) and m.joints.shape == (40, 52, 3)
    assert wb.generate(TEXT, init_pose=m.tokens[3], length=24, seed=2).tokens.shape == (6, 2)
    assert "_id_" not in wb.caption(m)


# ------------------------------------------------------------------------------ compose
def test_blend_segments_cross_fades():
    a, b = np.zeros((10, 2), np.float32), np.ones((6, 2), np.float32)
    out, spans = blend_segments([a, b], 3)
    assert out.shape == (13, 2) and spans == [(0, 10), (7, 13)]
    assert np.allclose(out[7:10, 0], [0.25, 0.5, 0.75]) and (out[:7] == 0).all() and (out[10:] == 1).all()
    assert blend_segments([a, b], 0)[0].shape == (16, 2)


def test_compose_is_continuous_and_long(mg, monkeypatch):
    calls = []
    generate = MotionGPT2.generate

    def spy(self, text, **kw):
        m = generate(self, text, **kw)
        calls.append((kw.get("init_pose"), m))
        return m

    monkeypatch.setattr(MotionGPT2, "generate", spy)
    m = mg.compose(["a person walks forward", "a person turns left", "a person walks back"], lengths=[80, 80, 80],
                   seed=1, blend_frames=8)
    assert m.frames == 3 * 80 - 2 * 8 > 196 and m.joints.shape == (224, 22, 3) and m.tokens.shape == (60, 1)
    assert calls[0][0] is None
    for k in (1, 2):                               # segment k starts from the last token of segment k-1
        assert np.array_equal(calls[k][0], calls[k - 1][1].tokens[-1:])
    assert np.allclose(m.joints, recover_from_ric(m.features), atol=1e-5)
    step = np.linalg.norm(np.diff(m.joints, axis=0), axis=-1).max(-1)     # (T-1,) largest joint move per frame
    seams = np.zeros(len(step), bool)
    for start, _ in m.meta["segments"][1:]:
        seams[start - 1:start + 8] = True
    # blended seams move no more than a normal frame (+5 mm); unblended ones here jump by 37 mm vs 31 mm
    assert step[seams].max() <= step[~seams].max() + 0.005, (step[seams].max(), step[~seams].max())
    # the root path continues: the naive joint concatenation would jump back to the origin
    naive_jump = np.linalg.norm(calls[1][1].joints[0, 0, [0, 2]] - calls[0][1].joints[-1, 0, [0, 2]])
    assert naive_jump > step.max()


# ------------------------------------------------------------------------------ malformed output
def test_malformed_output_gives_problems_not_exceptions(mg, clip, monkeypatch):
    seeds_seen = []

    def no_codes(model, input_ids, attention_mask, bound, **kw):
        B = input_ids.shape[0]
        seeds_seen.append(list(kw["seeds"]))
        return DecodeResult([[] for _ in range(B)], [np.zeros((0, 1), np.int64)] * B,
                            [("no <motion> marker", "no motion token")] * B, [0] * B, [False] * B)

    monkeypatch.setattr(model_mod, "decode", no_codes)
    m = mg.generate(TEXT, length=40, seed=7)
    assert m.frames == 40 and m.features.shape == (40, 263) and np.isfinite(m.joints).all()
    assert any("retried" in p for p in m.problems) and any("fallback" in p for p in m.problems)
    assert len(seeds_seen) == 2 and seeds_seen[0] != seeds_seen[1]          # retried once, another seed
    init = mg.generate(TEXT, init_pose=(clip[1], 8), length=40, seed=7)
    assert init.frames == 4 and np.array_equal(init.tokens, mg.pose_token((clip[1], 8)))
    p = mg.predict(clip[1][:16], length=40)
    assert p.frames == 16 and p.problems
    cap = mg.caption(clip[1])
    assert cap == "" and any("empty caption" in x for x in cap.problems)
    comp = mg.compose(["a", "b"], lengths=[40, 40])
    assert comp.frames == 72 and any(p.startswith("segment 1:") for p in comp.problems)


def test_save_pretrained_round_trip(mg, tmp_path):
    out = mg.save_pretrained(tmp_path / "copy")
    again = MotionGPT2.from_pretrained(out)
    a, b = mg.generate(TEXT, length=24, seed=9), again.generate(TEXT, length=24, seed=9)
    assert np.array_equal(a.tokens, b.tokens)
    with pytest.raises(MotionGPT2Error, match="loaded from"):
        mg.save_pretrained(mg.path)


def test_bundle_is_small_and_decodes_like_the_run(model_dir, mg, tmp_path, monkeypatch):
    """The bundled-default writer keeps what loading needs (float16 tensors, configs, the motion tokenizer
    copy; no optimizer state, no tokenizer files) and the model generates the same motion; with it in
    the package's assets, a command without -m uses it."""
    import motiongpt2.bundle as assets
    from motiongpt2.lm import bundle

    res = bundle.write_bundle(model_dir, tmp_path / "assets" / bundle.DEFAULT_NAME)
    folder = res["path"]
    assert sorted(p.name for p in folder.iterdir()) == ["config.yaml", "meta.json", "model.safetensors",
                                                         "motion_tokenizer"]
    from safetensors.torch import load_file

    assert {str(v.dtype) for k, v in load_file(folder / "model.safetensors").items() if k != "rows.ids"} == \
        {"torch.float16"}
    again = MotionGPT2.from_pretrained(folder)
    a, b = mg.generate(TEXT, length=40, seed=4), again.generate(TEXT, length=40, seed=4)
    assert (a.tokens == b.tokens).mean() >= 0.9            # float16 rounding may flip a rare near-tie
    monkeypatch.setattr(assets, "assets_dir", lambda: tmp_path / "assets")
    assert api.model_folder(None) == folder
    monkeypatch.setattr(assets, "assets_dir", lambda: tmp_path / "none")
    with pytest.raises(MotionGPT2Error, match="no bundled default"):
        api.model_folder(None)
    with pytest.raises(ValueError, match="limit"):
        monkeypatch.setattr(assets, "ASSET_LIMIT_BYTES", 1000)
        bundle.write_bundle(model_dir, tmp_path / "assets" / bundle.DEFAULT_NAME)
    assert (folder / "model.safetensors").exists()          # a refused bundle leaves the old one


# ------------------------------------------------------------------------------ CLI
def test_cli_commands_write_their_files(model_dir, walks, clip, tmp_path):
    cid, feats = clip
    np.save(tmp_path / "start.npy", feats[:24])
    np.save(tmp_path / "end.npy", feats[-24:])
    for cmd in ("generate", "caption", "complete", "compose"):
        res = runner.invoke(app, [cmd, "--help"])
        assert res.exit_code == 0 and "Example" in res.output, cmd
    res = runner.invoke(app, ["generate", TEXT, "-m", str(model_dir), "--length", "40", "--init",
                              f"{walks}:{cid}@3", "--out", str(tmp_path / "gen")])
    assert res.exit_code == 0, res.output
    for suffix in (".features.npy", ".joints.npy", ".bvh", ".mp4", ".html"):
        assert (tmp_path / f"gen{suffix}").stat().st_size > 0 and f"gen{suffix}" in res.output
    assert (tmp_path / "gen.bvh").read_text().startswith("HIERARCHY")
    assert np.load(tmp_path / "gen.features.npy").shape == (40, 263)
    res = runner.invoke(app, ["generate", TEXT, "-m", str(model_dir), "--length", "40", "--key",
                              f"20={tmp_path / 'start.npy'}@5", "--no-video", "--out", str(tmp_path / "key")])
    assert res.exit_code == 0 and (tmp_path / "key.html").exists() and not (tmp_path / "key.mp4").exists()
    res = runner.invoke(app, ["caption", str(tmp_path / "start.npy"), "-m", str(model_dir)])
    assert res.exit_code == 0 and "_id_" not in res.stdout
    res = runner.invoke(app, ["caption", str(tmp_path / "start.npy"), "-m", str(model_dir), "--quantize", "int8"])
    assert res.exit_code == 0 and res.stdout.strip()
    res = runner.invoke(app, ["caption", str(tmp_path / "start.npy"), "-m", str(model_dir), "--quantize", "int4"])
    assert res.exit_code == 2 and "quantize must be one of none, int8" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, ["complete", str(tmp_path / "start.npy"), "-m", str(model_dir), "--predict",
                              "--length", "60", "--no-video", "--out", str(tmp_path / "pred")])
    assert res.exit_code == 0 and np.load(tmp_path / "pred.features.npy").shape == (60, 263)
    res = runner.invoke(app, ["complete", str(tmp_path / "start.npy"), "-m", str(model_dir), "--inbetween",
                              str(tmp_path / "end.npy"), "--length", "80", "--no-video", "--out", str(tmp_path / "mid")])
    assert res.exit_code == 0 and np.load(tmp_path / "mid.joints.npy").shape == (80, 22, 3)
    res = runner.invoke(app, ["compose", "a person walks", "a person sits down", "-m", str(model_dir), "--length", "60",
                              "--length", "60", "--no-video", "--out", str(tmp_path / "story")])
    assert res.exit_code == 0 and np.load(tmp_path / "story.features.npy").shape == (112, 263)
    # user errors: one line, exit code 2
    res = runner.invoke(app, ["generate", TEXT, "-m", str(tmp_path / "no-model")])
    assert res.exit_code == 2 and "no such folder" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, ["complete", str(tmp_path / "start.npy"), "-m", str(model_dir)])
    assert res.exit_code == 2 and "--predict" in res.output
    res = runner.invoke(app, ["generate", TEXT, "-m", str(model_dir), "--key", "x=y"])
    assert res.exit_code == 2 and "FRAME=FILE" in res.output


# ------------------------------------------------------------------------------ evaluation generator
@pytest.fixture(scope="module")
def evaluator_dir(walks, tmp_path_factory):
    torch.manual_seed(0)
    cfg = EvaluatorConfig(dim_word=6, max_text_len=8, dim_text_hidden=8, dim_motion_hidden=8,
                          dim_movement_enc_hidden=8, dim_movement_latent=8, dim_coemb_hidden=8)
    mean, std = evaluator_stats(load_pairs(walks, "train"))
    vecs = WordVectors(WORDS, np.random.default_rng(0).normal(size=(len(WORDS), 6)), source="test vectors")
    out = tmp_path_factory.mktemp("ev") / "step-00000001"
    save_evaluator(out, EvaluatorNet(cfg), mean, std, vecs, {"name": "untrained"}, {"step": 1})
    return out


def test_lm_generator_direct(model_dir, clip):
    assert "lm" in generator_kinds()
    gen = load_generator(f"lm:{model_dir}")
    assert isinstance(gen, LMGenerator) and not gen.deterministic
    _, f = clip
    rng = np.random.default_rng(0)
    L = 48
    t2m = gen.generate("t2m", [TEXT, "someone turns"], [{"length": L}, {"length": 50}], rng)
    assert [m.shape for m in t2m] == [(48, 263), (48, 263)]
    keys = gen.generate("t2m-key", [TEXT], [{"length": L, "frames": [0, 1, 47], "poses": f[[0, 1, 47]]}], rng)
    assert keys[0].shape == (48, 263)
    caps = gen.generate("m2t", None, [{"motion": f[:L]}], rng)
    assert isinstance(caps[0], str) and type(caps[0]) is str
    pred = gen.generate("predict", None, [{"length": L, "prefix": f[:8]}], rng)
    mid = gen.generate("inbetween", None, [{"length": L, "prefix": f[:12], "suffix": f[L - 12:L]}], rng)
    assert pred[0].shape == mid[0].shape == (48, 263)
    with pytest.raises(NotImplementedError):
        gen.generate("tokenizer", None, [{"motion": f}], rng)


@pytest.mark.parametrize("task", ["t2m", "t2m-init", "t2m-last", "t2m-key", "m2t", "predict", "inbetween"])
def test_lm_generator_runs_the_protocol(model_dir, walks, evaluator_dir, task):
    gen = load_generator(f"lm:{model_dir}")
    st = EvalSettings(pool_size=4, diversity_times=4, mm_samples=3, mm_repeats=3, mm_times=2, bertscore=False)
    res = evaluate(task, walks, evaluator_dir, generator=gen, replications=1, seed=0, settings=st, baselines=())
    rows = {r["method"]: r["metrics"] for r in res["rows"]}
    assert list(rows) == ["Real", gen.name]
    metrics = rows[gen.name]
    key = {"m2t": "BLEU-1", "predict": "ADE", "inbetween": "FDE"}.get(task, "FID")
    assert np.isfinite(metrics[key][0])
    if task in ("t2m-init", "t2m-last", "t2m-key"):
        assert np.isfinite(metrics["Recon"][0])


def test_registering_lm_does_not_import_transformers():
    import subprocess
    import sys

    code = ("import sys, motiongpt2.eval.generators as g, motiongpt2.cli; assert 'lm' in g.generator_kinds(); "
            "print('transformers' in sys.modules, 'motiongpt2.lm.model' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


# ------------------------------------------------------------------------------ inference paths
def test_merged_lora_decodes_like_the_adapter_and_saves_the_trained_files(model_dir, clip, tmp_path):
    """Merging LoRA for inference (the default) gives the adapter model's output; int8 quantization
    gives valid motions; both save the folder they were loaded from."""
    from motiongpt2.lm.pretrained import load_pretrained

    loaded = load_pretrained(model_dir)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():   # a trained-looking adapter (B = 0 at initialisation would make merging trivial)
        for name, p in loaded.model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.05)
    adapter = MotionGPT2(loaded, optimize=False)
    a = [adapter.generate(TEXT, length=48, seed=s) for s in (1, 2)]
    cap_a = adapter.caption(clip[1][:48])
    merged = MotionGPT2(loaded)             # merges the same weights in place, lean llama pass
    assert isinstance(merged.model, FastLlama)
    b = [merged.generate(TEXT, length=48, seed=s) for s in (1, 2)]
    assert all(np.array_equal(x.tokens, y.tokens) for x, y in zip(a, b))
    assert merged.caption(clip[1][:48]) == cap_a
    saved = merged.save_pretrained(tmp_path / "copy")
    assert (saved / "model.safetensors").read_bytes() == (Path(model_dir) / "model.safetensors").read_bytes()
    assert not (saved / "trainer.pt").exists()

    q = MotionGPT2.from_pretrained(model_dir, quantize="int8")
    assert q.quantize == "int8" and "quantized" in type(q.model.qkv[0]).__module__
    m = q.generate(TEXT, length=48, seed=1)
    assert m.problems == () and m.features.shape == (48, 263) and np.isfinite(m.features).all()
    with pytest.raises(MotionGPT2Error, match="quantize must be one of"):
        MotionGPT2.from_pretrained(model_dir, quantize="int4")


def test_generator_options(model_dir):
    gen = load_generator(f"lm:{model_dir}", options={"quantize": "int8", "batch_size": 3, "greedy": True})
    assert gen.model.quantize == "int8" and gen.model.batch_size == 3 and gen.deterministic
    with pytest.raises(MotionGPT2Error, match="--generator-option colour: not an option of generator kind 'lm'"):
        load_generator(f"lm:{model_dir}", options={"colour": "red"})


def test_evaluate_can_skip_multimodality(model_dir, walks, evaluator_dir):
    """`evaluate --mm-samples 0`: a slow generator makes one motion per pair; the header says so."""
    from motiongpt2.eval.protocol import format_markdown

    gen = load_generator(f"lm:{model_dir}", options={"quantize": "int8", "name": "ours int8"})
    st = EvalSettings(pool_size=4, diversity_times=4, mm_samples=0, bertscore=False)
    res = evaluate("t2m", walks, evaluator_dir, generator=gen, replications=1, seed=0, settings=st, baselines=())
    rows = {r["method"]: r["metrics"] for r in res["rows"]}
    assert list(rows) == ["Real", "ours int8"] and "MultiModality" not in rows["ours int8"]
    assert "MultiModality skipped" in format_markdown(res)
    with pytest.raises(MotionGPT2Error, match="--mm-samples must be >= 0"):
        api.evaluate("t2m", [walks], evaluator_dir, mm_samples=-1)
