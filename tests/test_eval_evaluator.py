"""Evaluator networks: official checkpoint mapping, padding invariance, training on synthetic data."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from motiongpt2.data.layout import compute_mean_std, write_clip, write_mean_std, write_splits
from motiongpt2.data.text import TextEntry, fallback_tag
from motiongpt2.errors import InputFileError
from motiongpt2.eval.evaluator import (
    EvaluatorConfig,
    EvaluatorNet,
    load_evaluator,
    load_official_evaluator,
    official_state_dict,
)
from motiongpt2.eval.pairs import load_pairs
from motiongpt2.eval.train_evaluator import train_evaluator, validate_evaluator
from motiongpt2.eval.word_vectors import POS_ENUMERATOR, TokenVectorizer, WordVectors
from motiongpt2.motion.features import extract_features
from motiongpt2.motion.synthetic import synthetic_walk

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "configs" / "eval" / "evaluator_tiny_test.yaml"

SPEEDS = {"slowly": 0.5, "briskly": 1.2, "quickly": 2.0}
TURNS = {"left": 1.6, "straight": 0.0, "right": -1.6}


def _captions(speed: str, turn: str) -> list[str]:
    if turn == "straight":
        return [f"a person walks {speed} in a straight line", f"someone is walking {speed} straight ahead"]
    return [f"a person walks {speed} and turns {turn}", f"someone is walking {speed} while curving to the {turn}"]


def make_synthetic_dataset(root: Path, n_train: int = 128, n_val: int = 64, n_test: int = 64, seed: int = 0) -> Path:
    """Synthetic walks whose captions name their speed and turning direction (9 classes)."""
    rng = np.random.default_rng(seed)
    splits: dict[str, list[str]] = {}
    feats_all = []
    k = 0
    for split, n in (("train", n_train), ("val", n_val), ("test", n_test)):
        ids = []
        for _ in range(n):
            s = list(SPEEDS)[int(rng.integers(3))]
            d = list(TURNS)[int(rng.integers(3))]
            pos = synthetic_walk(T=int(rng.integers(60, 110)), seed=k, speed=SPEEDS[s] * rng.uniform(0.9, 1.1),
                                 turn_rate=TURNS[d] * rng.uniform(0.8, 1.2))
            feats, joints = extract_features(pos)
            entries = [TextEntry(c, fallback_tag(c)) for c in _captions(s, d)]
            cid = f"{split}{k:04d}"
            write_clip(root, cid, feats, joints, entries)
            if split == "train":
                feats_all.append(feats)
            ids.append(cid)
            k += 1
        splits[split] = ids
    write_splits(root, splits)
    write_mean_std(root, *compute_mean_std(feats_all))
    return root


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    return make_synthetic_dataset(tmp_path_factory.mktemp("synth"))


@pytest.fixture(scope="module")
def trained(synth, tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny_eval")
    res = train_evaluator(synth, out, TINY, progress=False)
    return out, res


# --------------------------------------------------------------------------- official checkpoint
def _official_shapes(dim_pose=263, word=300, text_h=512, motion_h=1024, mov_h=512, latent=512, coemb=512):
    """Parameter names and shapes of text-to-motion's text_mot_match/model/finest.tar."""
    def gru(inp, h):
        out = {}
        for sfx in ("", "_reverse"):
            out.update({f"gru.weight_ih_l0{sfx}": (3 * h, inp), f"gru.weight_hh_l0{sfx}": (3 * h, h),
                        f"gru.bias_ih_l0{sfx}": (3 * h,), f"gru.bias_hh_l0{sfx}": (3 * h,)})
        return out

    def head(h):
        return {"output_net.0.weight": (h, 2 * h), "output_net.0.bias": (h,), "output_net.1.weight": (h,),
                "output_net.1.bias": (h,), "output_net.3.weight": (coemb, h), "output_net.3.bias": (coemb,),
                "hidden": (2, 1, h)}

    movement = {"main.0.weight": (mov_h, dim_pose - 4, 4), "main.0.bias": (mov_h,),
                "main.3.weight": (latent, mov_h, 4), "main.3.bias": (latent,),
                "out_net.weight": (latent, latent), "out_net.bias": (latent,)}
    text = {"pos_emb.weight": (word, 15), "pos_emb.bias": (word,), "input_emb.weight": (text_h, word),
            "input_emb.bias": (text_h,), **gru(text_h, text_h), **head(text_h)}
    motion = {"input_emb.weight": (motion_h, latent), "input_emb.bias": (motion_h,), **gru(motion_h, motion_h),
              **head(motion_h)}
    return {"movement_encoder": movement, "text_encoder": text, "motion_encoder": motion}


def _fake_official(tmp_path: Path, **dims):
    g = torch.Generator().manual_seed(0)
    ck = {part: {k: 0.05 * torch.randn(s, generator=g) for k, s in shapes.items()}
          for part, shapes in _official_shapes(**dims).items()}
    ck.update({"opt_text_encoder": {"state": {}, "param_groups": []}, "epoch": 7, "iter": 1234})
    path = tmp_path / "finest.tar"
    torch.save(ck, path)
    glove = tmp_path / "glove"
    glove.mkdir()
    words = ["sos", "eos", "unk", "a", "man", "walk", "forward", "left"]
    word = dims.get("word", 300)
    np.save(glove / "our_vab_data.npy", np.random.default_rng(0).normal(size=(len(words), word)).astype(np.float32))
    with open(glove / "our_vab_words.pkl", "wb") as f:
        pickle.dump(words, f)
    with open(glove / "our_vab_idx.pkl", "wb") as f:
        pickle.dump({w: i for i, w in enumerate(words)}, f)
    meta = tmp_path / "meta"
    meta.mkdir()
    d = dims.get("dim_pose", 263)
    np.save(meta / "mean.npy", np.zeros(d, np.float32))
    np.save(meta / "std.npy", np.ones(d, np.float32))
    return ck, path, glove, meta


def test_official_checkpoint_maps_and_loads(tmp_path):
    ck, path, glove, meta = _fake_official(tmp_path)
    ev = load_official_evaluator(path, glove_dir=glove, meta_dir=meta)
    cfg = ev.cfg
    assert (cfg.dim_pose, cfg.dim_word, cfg.dim_text_hidden, cfg.dim_motion_hidden, cfg.dim_movement_latent,
            cfg.dim_coemb_hidden) == (263, 300, 512, 1024, 512, 512)
    sd = ev.net.state_dict()
    for part, params in ck.items():
        if part in ("movement_encoder", "text_encoder", "motion_encoder"):
            for k, v in params.items():
                assert torch.equal(sd[f"{part}.{k}"], v), f"{part}.{k}"
    assert ev.meta["epoch"] == 7
    t = ev.embed_texts([TextEntry("a man walks forward", [("a", "DET"), ("man", "NOUN"), ("walk", "VERB"),
                                                         ("forward", "ADV")])])
    m = ev.embed_motions([np.random.default_rng(1).normal(size=(80, 263)).astype(np.float32)])
    assert t.shape == (1, 512) and m.shape == (1, 512) and np.isfinite(t).all() and np.isfinite(m).all()


def test_official_forward_matches_reference_computation(tmp_path):
    """With the official (unmasked) batching our forward equals a plain re-implementation of the
    official one on the same weights (one motion, padded to 196 frames as the official loader)."""
    ck, path, glove, meta = _fake_official(tmp_path, dim_pose=251)  # KIT-ML sizes
    ev = load_official_evaluator(path, glove_dir=glove, meta_dir=meta, mask_padding=False)
    assert ev.cfg.dim_pose == 251
    x = torch.from_numpy(np.random.default_rng(2).normal(size=(1, 196, 251)).astype(np.float32))
    x[:, 120:] = 0.0
    mv, mo = ck["movement_encoder"], ck["motion_encoder"]
    h = torch.nn.functional.leaky_relu(torch.nn.functional.conv1d(x[..., :-4].permute(0, 2, 1), mv["main.0.weight"],
                                                                   mv["main.0.bias"], 2, 1), 0.2)
    h = torch.nn.functional.leaky_relu(torch.nn.functional.conv1d(h, mv["main.3.weight"], mv["main.3.bias"], 2, 1), 0.2)
    h = torch.nn.functional.linear(h.permute(0, 2, 1), mv["out_net.weight"], mv["out_net.bias"])
    gru = torch.nn.GRU(1024, 1024, batch_first=True, bidirectional=True)
    gru.load_state_dict({k[4:]: v for k, v in mo.items() if k.startswith("gru.")})
    inp = torch.nn.functional.linear(h, mo["input_emb.weight"], mo["input_emb.bias"])
    packed = torch.nn.utils.rnn.pack_padded_sequence(inp, torch.tensor([120 // 4]), batch_first=True)
    _, last = gru(packed, mo["hidden"].repeat(1, 1, 1))
    z = torch.cat([last[0], last[1]], -1)
    z = torch.nn.functional.linear(z, mo["output_net.0.weight"], mo["output_net.0.bias"])
    z = torch.nn.functional.layer_norm(z, (1024,), mo["output_net.1.weight"], mo["output_net.1.bias"])
    z = torch.nn.functional.linear(torch.nn.functional.leaky_relu(z, 0.2), mo["output_net.3.weight"],
                                   mo["output_net.3.bias"])
    with torch.no_grad():
        ours = ev.net.embed_motion(x, torch.tensor([120]))
    assert torch.allclose(ours, z.detach(), atol=1e-5)


def test_official_state_dict_rejects_other_files():
    with pytest.raises(KeyError):
        official_state_dict({"model": {}})


# --------------------------------------------------------------------------- padding and vectorizer
def _tiny_net(mask=True, seed=0):
    torch.manual_seed(seed)
    cfg = EvaluatorConfig(dim_word=8, dim_text_hidden=16, dim_motion_hidden=16, dim_movement_enc_hidden=16,
                          dim_movement_latent=16, dim_coemb_hidden=8, mask_padding=mask)
    return EvaluatorNet(cfg).eval()


def test_packed_gru_and_convolutions_ignore_padding():
    net = _tiny_net()
    rng = np.random.default_rng(0)
    short = torch.from_numpy(rng.normal(size=(1, 48, 263)).astype(np.float32))
    long = torch.from_numpy(rng.normal(size=(1, 96, 263)).astype(np.float32))
    batch = torch.zeros(2, 96, 263)
    batch[0, :48] = short[0]
    batch[0, 48:] = 123.0  # garbage in the padding must not matter
    batch[1] = long[0]
    with torch.no_grad():
        alone = net.embed_motion(short, torch.tensor([48]))
        padded = net.embed_motion(batch, torch.tensor([48, 96]))
        assert torch.allclose(alone[0], padded[0], atol=1e-5)
        w = torch.from_numpy(rng.normal(size=(2, 12, 8)).astype(np.float32))
        p = torch.zeros(2, 12, 15)
        t_alone = net.embed_text(w[:1, :5], p[:1, :5], torch.tensor([5]))
        t_batch = net.embed_text(w, p, torch.tensor([5, 12]))
        assert torch.allclose(t_alone[0], t_batch[0], atol=1e-5)
    # the official batched computation lets zero padding reach the last movement vector
    off = _tiny_net(mask=False)
    zero_pad = batch.clone()
    zero_pad[0, 48:] = 0.0
    with torch.no_grad():
        assert not torch.allclose(off.embed_motion(short, torch.tensor([48]))[0],
                                  off.embed_motion(zero_pad, torch.tensor([48, 96]))[0], atol=1e-6)


def test_vectorizer_follows_official_rules():
    words = ["sos", "eos", "unk", "a", "man", "walk", "left", "slowly"]
    vec = TokenVectorizer(WordVectors(words, np.eye(len(words), dtype=np.float32)), max_text_len=4)
    emb, pos, n = vec.encode([("a", "DET"), ("man", "NOUN"), ("walk", "VERB"), ("zorp", "NOUN"), ("left", "ADJ"),
                              ("slowly", "ADV")])
    assert n == 6 and emb.shape == (6, len(words)) and pos.shape == (6, 15)
    assert emb[0].argmax() == words.index("sos") and emb[5].argmax() == words.index("eos")
    assert pos[1].argmax() == POS_ENUMERATOR["DET"] and pos[3].argmax() == POS_ENUMERATOR["Act_VIP"]
    assert emb[4].argmax() == words.index("unk") and pos[4].argmax() == POS_ENUMERATOR["OTHER"]  # OOV
    emb, pos, n = vec.encode([("left", "ADJ")])
    assert n == 3 and pos[1].argmax() == POS_ENUMERATOR["Loc_VIP"]
    assert all(emb[i].argmax() == words.index("unk") and pos[i].argmax() == POS_ENUMERATOR["OTHER"] for i in (3, 4, 5))


# --------------------------------------------------------------------------- training
def test_tiny_evaluator_learns_synthetic_pairs(synth, trained):
    out, res = trained
    assert res["step"] == 150
    assert res["best_metrics"]["R@3"] > 0.35  # chance is 3/32 ≈ 0.094
    ev = load_evaluator(out)  # best checkpoint, own mean/std and vocabulary inside
    test = validate_evaluator(ev, load_pairs(synth, "test"), seed=5, replications=3)
    assert test["R@3"] > 0.35 and test["R@1"] > 0.15
    assert (Path(res["best"]) / "model.safetensors").exists() and (out / "metrics.jsonl").exists()
    assert ev.meta["data"]["train_pairs"] == 128 and ev.cfg.dim_word == 50
    # no dataset.json: every clip is natural, the 64 val pairs are the selection set, nothing held out
    assert res["selection_metric"] == "select_R@3" and res["selection"]["held_out_ids"] == {}
    assert ev.meta["selection"]["n_val_natural_pairs"] == 64 and ev.meta["model"] == "evaluator"
    assert res["best_metrics"]["select_R@3"] == res["best_metrics"]["natural_R@3"]


def test_identical_seeds_give_identical_training_and_resume_matches(synth, tmp_path):
    a = train_evaluator(synth, tmp_path / "a", TINY, max_steps=16, overrides={"train.eval_every": 8}, progress=False)
    b = train_evaluator(synth, tmp_path / "b", TINY, max_steps=8, overrides={"train.eval_every": 8}, progress=False)
    b = train_evaluator(synth, tmp_path / "b", TINY, max_steps=16, overrides={"train.eval_every": 8}, progress=False)
    wa = load_evaluator(tmp_path / "a", which="latest").net.state_dict()
    wb = load_evaluator(tmp_path / "b", which="latest").net.state_dict()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert a["last_metrics"] == b["last_metrics"]
    with pytest.raises(InputFileError, match="already holds"):
        train_evaluator(synth, tmp_path / "a", TINY, max_steps=20, resume=False, progress=False)


def test_ctrl_c_saves_and_the_run_resumes(synth, tmp_path):
    import os
    import signal

    def interrupt(step, record):
        if step == 5:
            os.kill(os.getpid(), signal.SIGINT)

    over = {"train.eval_every": 8, "train.save_every": 100}
    res = train_evaluator(synth, tmp_path / "run", TINY, max_steps=8, overrides=over, progress=False,
                          callback=interrupt)
    assert res["interrupted"] and res["step"] == 5 and res["latest"].endswith("step-00000005")
    rest = train_evaluator(synth, tmp_path / "run", TINY, max_steps=8, overrides=over, progress=False)
    full = train_evaluator(synth, tmp_path / "full", TINY, max_steps=8, overrides=over, progress=False)
    assert rest["step"] == 8 and rest["last_metrics"] == full["last_metrics"]

