"""Tokenizer training, resume and evaluation on small fixture datasets (CPU, a few seconds each).

Fixture motions are realistic enough for MPJPE to mean something: forward kinematics of the
HumanML3D (or whole-body) rest skeleton with smooth sinusoidal joint rotations (several frequencies
and phases per joint, ≤ ~0.5 rad) and a root walking along a turning heading, turned into HumanML3D
features with :func:`extract_features` and written with the dataset layout helpers.
"""
from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from motiongpt2.data.layout import compute_mean_std, write_clip, write_mean_std, write_splits
from motiongpt2.motion.features import extract_features
from motiongpt2.motion.quaternion import axis_angle_to_quaternion, yaw_quaternion
from motiongpt2.motion.skeleton import HUMANML3D, WHOLEBODY, Skeleton
from motiongpt2.motion.uniform import forward_kinematics
from motiongpt2.tokenizer import load_checkpoint
from motiongpt2.tokenizer.data import (ClipDataset, StepBatchSampler, WindowDataset,
                                       make_eval_loader, open_split)
from motiongpt2.tokenizer.evaluate import evaluate_tokenizer, format_reconstruction_table
from motiongpt2.tokenizer.train import apply_overrides, lr_factor, train_tokenizer
from motiongpt2.tokenizer.config import load_config

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "configs" / "tokenizer" / "tiny_test.yaml"


# --------------------------------------------------------------------------- fixture data
def sinus_motion(skel: Skeleton, T: int, seed: int) -> np.ndarray:
    """``(T, J, 3)`` joint positions of a periodic, gait-like motion.

    Every joint rotates with the clip's base frequency and its second harmonic (random amplitudes
    ≤ 0.5 rad and phases per joint and axis), as limbs do in walking or running; the root walks along
    a slowly turning heading and bobs at twice the step frequency.
    """
    rng = np.random.default_rng(seed)
    J = skel.n_joints
    t = np.arange(T) / skel.fps
    f0 = rng.uniform(0.6, 1.2)
    w = 2 * np.pi * f0 * t[:, None, None]
    amp = rng.uniform(0.0, 0.35, size=(2, J, 3))
    phase = rng.uniform(0, 2 * np.pi, size=(2, J, 3))
    aa = amp[0] * np.sin(w + phase[0]) + amp[1] * np.sin(2 * w + phase[1])
    q = axis_angle_to_quaternion(aa)
    yaw = rng.uniform(0, 2 * np.pi) + rng.uniform(-0.4, 0.4) * t
    q[:, 0] = yaw_quaternion(yaw)
    speed = rng.uniform(0.5, 1.5) / skel.fps
    root = np.stack([np.cumsum(speed * np.sin(yaw)),
                     0.95 + 0.03 * np.sin(4 * np.pi * f0 * t),
                     np.cumsum(speed * np.cos(yaw))], axis=-1)
    return forward_kinematics(q, root, skel, skel.offsets())


def make_dataset(root: Path, skel: Skeleton = HUMANML3D, n_train: int = 4, n_val: int = 2,
                 n_test: int = 2, frames: tuple[int, int] = (70, 130), seed: int = 0,
                 n_short: int = 0) -> Path:
    """A prepared dataset (features, joints, texts, splits, Mean/Std over train) in ``root``."""
    rng = np.random.default_rng(seed)
    splits: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    train_feats = []
    k = 0
    for split, n in (("train", n_train + n_short), ("val", n_val), ("test", n_test)):
        for i in range(n):
            T = 44 if (split == "train" and i >= n_train) else int(rng.integers(*frames))
            # heading="consistent": the fixture swings the hip and collar bones by up to 0.7 rad, far more
            # than a person, and the official (hip-reversed) IK heading, the difference of the shoulder
            # and hip vectors, then jitters; these tests are about the trainer, not the heading
            feats, joints = extract_features(sinus_motion(skel, T + 1, seed * 1000 + k), skel, heading="consistent")
            cid = f"{k:06d}"
            write_clip(root, cid, feats, joints, [f"a person moves around number {k}"])
            splits[split].append(cid)
            if split == "train":
                train_feats.append(feats)
            k += 1
    write_splits(root, splits)
    mean, std = compute_mean_std(train_feats, skel)
    write_mean_std(root, mean, std)
    return root


@pytest.fixture(scope="module")
def hml_data(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("hml"), n_train=4, n_val=2, n_test=2, n_short=1)


def _records(run: Path, kind: str) -> list[dict]:
    return [r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
            if r["type"] == kind]


QUICK = {"train.eval_every": 10_000, "train.save_every": 10_000}


# --------------------------------------------------------------------------- data
def test_windows_are_deterministic_and_skip_short_clips(hml_data):
    src = open_split(hml_data, "train")
    ds = WindowDataset(src, window=64)
    assert ds.n_short == 1 and len(ds) == 4          # the 44-frame clip cannot give a window
    s1 = StepBatchSampler(ds.lengths, 64, 3, seed=7)
    s2 = StepBatchSampler(ds.lengths, 64, 3, seed=7, start_step=5)
    for step in (0, 1, 5, 6, 13):
        c1, o1 = s1.batch(step)
        c2, o2 = s2.batch(step)
        assert torch.equal(c1, c2) and torch.equal(o1, o2)
        assert bool((o1 >= 0).all()) and bool((o1 + 64 <= ds.lengths[c1]).all())
    assert next(iter(s2)) == list(zip(*(t.tolist() for t in s1.batch(5))))
    # one epoch (4 clips, batch 2 -> steps 0, 1) visits every clip once
    s3 = StepBatchSampler(ds.lengths, 64, 2, seed=1)
    assert sorted(torch.cat([s3.batch(0)[0], s3.batch(1)[0]]).tolist()) == [0, 1, 2, 3]
    assert not torch.equal(StepBatchSampler(ds.lengths, 64, 8, seed=2).batch(0)[1],
                           StepBatchSampler(ds.lengths, 64, 8, seed=3).batch(0)[1])
    # windows are normalised slices of the clips
    c, o = s1.batch(2)
    x, mask = ds.get_batch(c, o)
    assert mask is None                               # "skip": every window is full
    ref = (src[int(c[0])].features[int(o[0]): int(o[0]) + 64] - src.mean) / src.std
    np.testing.assert_allclose(x[0].numpy(), ref, rtol=1e-6, atol=1e-6)
    # evaluation batches: whole clips, padded, masked
    clips = ClipDataset(open_split(hml_data, "val"), src.mean, src.std)
    batch = next(iter(make_eval_loader(clips, batch_size=2)))
    assert batch.mask.sum(1).tolist() == batch.lengths.tolist()


def test_short_clips_are_padded_and_masked(hml_data):
    """With ``short_clips: pad`` the 44-frame clip gives one zero-padded window with a mask, and
    whatever lies in the padding cannot change the loss or its gradients."""
    from motiongpt2.tokenizer.checkpoint import build_tokenizer
    from motiongpt2.tokenizer.losses import reconstruction_loss

    src = open_split(hml_data, "train")
    ds = WindowDataset(src, window=64, short_clips="pad", min_frames=4)
    assert len(ds) == 5 and ds.n_short == 0 and ds.n_padded == 1
    short = int(torch.nonzero(ds.lengths < 64)[0])
    sampler = StepBatchSampler(ds.lengths, 64, 5, seed=3)
    clips, offsets = sampler.batch(0)
    assert offsets[clips == short].tolist() == [0]     # one epoch of 5 clips: the short one, at 0
    x, mask = ds.get_batch(torch.arange(5), torch.zeros(5, dtype=torch.long))
    assert x.shape == (5, 64, 263) and mask.sum(1).tolist() == ds.lengths.clamp(max=64).tolist()
    assert float(x[short, 44:].abs().sum()) == 0.0
    ref = (src.get(ds.ids[short]).features - src.mean) / src.std
    np.testing.assert_allclose(x[short, :44].numpy(), ref, rtol=1e-6, atol=1e-6)

    torch.manual_seed(0)
    model = build_tokenizer(load_config(TINY)).eval()   # eval: no EMA update between the passes

    def loss_and_grads(batch):
        model.zero_grad()
        recon, _, commit, stats = model(batch, mask)
        loss = reconstruction_loss(recon, batch, stats["frame_mask"])[0] + commit
        loss.backward()
        return float(loss.detach()), [p.grad.clone() for p in model.parameters() if p.grad is not None]

    garbage = x.clone()
    garbage[short, 44:] = torch.randn(20, 263) * 5
    la, ga = loss_and_grads(x)
    lb, gb = loss_and_grads(garbage)
    assert la == pytest.approx(lb, rel=1e-6)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(ga, gb))


def test_corpus_balanced_sampling(tmp_path):
    from motiongpt2.data.corpora import corpus_labels
    from motiongpt2.data.layout import write_dataset_json
    from motiongpt2.tokenizer.data import corpus_weights

    labels = ["big"] * 90 + ["small"] * 10
    assert corpus_weights(labels, 0.0) is None and corpus_weights(["a", "a"], 1.0) is None
    with pytest.raises(ValueError):
        corpus_weights(labels, 1.5)
    lengths = torch.full((100,), 80)
    for balance, share in ((1.0, 0.5), (0.5, 0.25), (0.0, 0.10)):
        s = StepBatchSampler(lengths, 64, 50, seed=0, weights=corpus_weights(labels, balance))
        drawn = torch.cat([s.batch(k)[0] for k in range(200)])
        assert float((drawn >= 90).double().mean()) == pytest.approx(share, abs=0.03), balance
        assert torch.equal(s.batch(7)[0], s.batch(7)[0])  # a pure function of the step
    # labels: recorded corpus names first, else the folder below the sources' common parent
    write_dataset_json(tmp_path, {"clips": {
        "a": {"corpus": "cmu-humanml3d", "source": "/d/mocap/cmu/bvh/01_01.bvh"},
        "b": {"source": "/d/mocap/bandai-namco/dataset-1.tar.xz:data/x.bvh"},
        "c": {"source": "/d/mocap/cmu/asfamc/35_01.amc.xz"}}})
    assert corpus_labels(tmp_path, ["a", "b", "c", "zz"]) == ["cmu-humanml3d", "bandai-namco", "cmu",
                                                             tmp_path.name]


def test_config_values_are_type_checked(tmp_path):
    from motiongpt2.cli import _parse_overrides
    from motiongpt2.errors import InputFileError

    ov = _parse_overrides(["train.lr=2e-4", "train.lr_milestones=[10, 20]", "train.short_clips=pad"])
    assert ov == {"train.lr": 2e-4, "train.lr_milestones": [10, 20], "train.short_clips": "pad"}
    cfg = apply_overrides(load_config(TINY), {"train.lr": "2e-4", "train.max_iters": 50.0})
    assert cfg.train.lr == 2e-4 and isinstance(cfg.train.max_iters, int)
    for bad, key in (({"train.lr": "fast"}, "train.lr"), ({"train.max_iters": 1.5}, "train.max_iters"),
                     ({"train.short_clips": "crop"}, "short_clips"),
                     ({"train.source_balance": 2}, "source_balance")):
        with pytest.raises(InputFileError, match=key):
            apply_overrides(load_config(TINY), bad)


def test_lr_schedule_and_overrides():
    cfg = apply_overrides(load_config(TINY), {"train": {"warmup_iters": 10},
                                              "train.lr_milestones": [20], "train.lr_gamma": 0.5})
    assert cfg.train.warmup_iters == 10 and cfg.train.lr_milestones == [20]
    assert lr_factor(0, cfg, 100) == pytest.approx(0.1)
    assert lr_factor(9, cfg, 100) == pytest.approx(1.0)
    assert lr_factor(25, cfg, 100) == pytest.approx(0.5)
    cos = apply_overrides(cfg, {"train.lr_schedule": "cosine"})
    assert lr_factor(10, cos, 110) == pytest.approx(1.0)
    assert lr_factor(60, cos, 110) == pytest.approx(0.5)
    assert lr_factor(109, cos, 110) < 0.01
    from motiongpt2.errors import InputFileError
    with pytest.raises(InputFileError):
        apply_overrides(cfg, {"train.no_such_key": 1})


# --------------------------------------------------------------------------- training
#: the tiny config, a little wider and with a learning-rate drop, to overfit a few clips quickly
OVERFIT = {"model.width": 64, "model.depth": 1, "train.batch_size": 16, "train.max_iters": 400,
           "train.lr_milestones": [300], "train.lr_gamma": 0.2, "train.eval_every": 100,
           "train.save_every": 100}


def check_overfit(data: Path, run: Path, overrides: dict = OVERFIT, factor: float = 5.0) -> dict:
    """Train on ``data``'s train split, validating on it; the best MPJPE must be ``factor``x lower
    than the untrained model's (step 0)."""
    summary = train_tokenizer(TINY, data, run, device="cpu", progress=False, log_every=50,
                              val_split="train",  # overfitting: validate on the training clips
                              overrides=overrides)
    vals = _records(run, "val")
    n = overrides["train.max_iters"]
    assert [v["step"] for v in vals] == list(range(0, n + 1, 100))
    first, best = vals[0]["mpjpe_mm"], summary["best_mpjpe_mm"]
    assert best == min(v["mpjpe_mm"] for v in vals[1:])
    print(f"{data}: MPJPE {first:.1f} -> best {best:.1f} mm ({first / best:.1f}x)")
    assert best * factor <= first, f"MPJPE {first:.1f} mm -> {best:.1f} mm, less than {factor}x"
    return summary


def test_tiny_config_overfits(tmp_path):
    """MPJPE on three training clips falls by at least 5x within 400 CPU steps (~6 s)."""
    data = make_dataset(tmp_path / "data", n_train=3, n_val=0, n_test=0, frames=(60, 80), seed=0)
    run = tmp_path / "run"
    summary = check_overfit(data, run)
    vals = _records(run, "val")
    assert summary["final_step"] == 400 and not summary["interrupted"]
    assert summary["n_short_skipped"] == 0 and summary["n_train_clips"] == 3
    best = load_checkpoint(run, "best")
    assert best.step == summary["best_step"]
    assert best.meta["git_commit"] is None or len(best.meta["git_commit"]) == 40
    assert (best.path / "config.yaml").exists() and (run / "config.yaml").exists()
    assert yaml.safe_load((best.path / "config.yaml").read_text())["model"]["width"] == 64
    assert best.meta["metrics"]["val_mpjpe_mm"] == summary["best_mpjpe_mm"]
    # the checkpoint is self-contained: the normalisation comes with it
    src = open_split(data, "train")
    np.testing.assert_allclose(best.model.mean.numpy(), src.mean)
    np.testing.assert_allclose(best.model.std.numpy(), src.std)
    train_recs = _records(run, "train")
    assert [r["step"] for r in train_recs] == list(range(50, 401, 50))
    assert all(np.isfinite(r["loss"]) for r in train_recs)
    assert train_recs[-1]["lr"] == pytest.approx(3e-3 * 0.2)
    for key in ("feature_l1", "codebook_usage", "perplexity", "mpjpe_global_mm", "frames_per_s"):
        assert key in vals[-1]
    assert vals[-1]["feature_l1"] < vals[0]["feature_l1"] / 2


@pytest.mark.shared
def test_tiny_config_overfits_real_clips(shared_data, tmp_path):
    """The same on three real CMU clips (walk / jump / dance; 80 frames each, retargeted to
    HumanML3D joints), with 500 steps and a cosine schedule (real motion is harder)."""
    from motiongpt2.motion.io.load import load_joints

    root = tmp_path / "data"
    feats = []
    for k, (trial, first) in enumerate((("131_01", 0), ("16_01", 0), ("05_06", 0))):
        pos = load_joints(shared_data / "mocap" / "cmu" / "bvh" / f"{trial}.bvh").positions
        f, j = extract_features(pos[first: first + 81], HUMANML3D)
        write_clip(root, f"{k:06d}", f, j, [f"cmu {trial}"])
        feats.append(f)
    write_splits(root, {"train": [f"{k:06d}" for k in range(3)]})
    write_mean_std(root, *compute_mean_std(feats, HUMANML3D))
    check_overfit(root, tmp_path / "run", {**OVERFIT, "train.max_iters": 500, "train.warmup_iters": 20,
                                           "train.lr_schedule": "cosine"})


def test_resume_reproduces_the_loss_curve(hml_data, tmp_path):
    ov = {"train.max_iters": 40, "train.save_every": 20, "train.eval_every": 20}
    full = train_tokenizer(TINY, hml_data, tmp_path / "full", device="cpu", progress=False,
                           log_every=1, overrides=ov)
    part = train_tokenizer(TINY, hml_data, tmp_path / "part", device="cpu", progress=False,
                           log_every=1, overrides=ov, max_steps=20)
    assert part["final_step"] == 20 and part["checkpoint"].endswith("step-00000020")
    # the killed run had logged a few more steps after its last checkpoint
    with open(tmp_path / "part" / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"type": "train", "step": 21, "loss": 123.0}) + "\n")
    rest = train_tokenizer(TINY, hml_data, tmp_path / "part", device="cpu", progress=False,
                           log_every=1, overrides=ov)
    assert rest["resumed"] and rest["start_step"] == 20 and rest["final_step"] == 40
    assert full["train_losses"][:20] == part["train_losses"]
    assert full["train_losses"][20:] == rest["train_losses"]           # bit-identical floats
    logged = [(r["step"], r["loss"]) for r in _records(tmp_path / "part", "train")]
    assert logged == full["train_losses"]                              # stale step 21 dropped
    a = load_checkpoint(tmp_path / "full", "latest").model.state_dict()
    b = load_checkpoint(tmp_path / "part", "latest").model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(Exception, match="already holds"):
        train_tokenizer(TINY, hml_data, tmp_path / "full", resume=False, device="cpu",
                        progress=False)


def write_old_layout_checkpoint(run: Path, step_dir: Path, model_state: dict, config_yaml: str, kind: str,
                                step: int, epoch: int, metrics: dict, trainer: dict) -> None:
    """A tokenizer checkpoint exactly as the code before the shared run format wrote it
    (``tokenizer/checkpoint.py`` of commit ab8acde): same files, ``meta.json`` without ``model`` /
    ``depends_on``, pointers ``latest`` and ``best``."""
    from safetensors.torch import save_file

    step_dir.mkdir(parents=True)
    save_file(model_state, str(step_dir / "model.safetensors"), metadata={"kind": kind})
    (step_dir / "config.yaml").write_text(config_yaml)
    meta = {"format": 1, "kind": kind, "step": step, "epoch": epoch, "git_commit": None, "git_dirty": None,
            "time": "2024-01-01T00:00:00", "metrics": metrics, "has_trainer_state": True}
    (step_dir / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    torch.save({"optimizer": trainer["optimizer"], "scheduler": trainer["scheduler"], "rng": trainer["rng"],
                "step": step, "epoch": epoch}, step_dir / "trainer.pt")
    (run / "latest").write_text(step_dir.name + "\n")
    (run / "best").write_text(step_dir.name + "\n")


def test_old_layout_checkpoints_load_and_resume(hml_data, tmp_path):
    """A run folder written in the tokenizer layout of before the shared run format resumes bit-exactly."""
    from safetensors.torch import load_file

    ov = {"train.max_iters": 30, "train.save_every": 15, "train.eval_every": 15}
    full = train_tokenizer(TINY, hml_data, tmp_path / "full", device="cpu", progress=False, log_every=1,
                           overrides=ov)
    part = train_tokenizer(TINY, hml_data, tmp_path / "part", device="cpu", progress=False, log_every=1,
                           overrides=ov, max_steps=15)
    src = Path(part["checkpoint"])
    new_meta = json.loads((src / "meta.json").read_text())
    assert new_meta["model"] == "tokenizer" and new_meta["format"] == 1
    assert new_meta["depends_on"]["data"]["path"] == str(hml_data.resolve())
    old = tmp_path / "old"
    old.mkdir()
    (old / "metrics.jsonl").write_text((tmp_path / "part" / "metrics.jsonl").read_text())
    trainer = torch.load(src / "trainer.pt", weights_only=True)
    write_old_layout_checkpoint(old, old / src.name, load_file(str(src / "model.safetensors")),
                                (src / "config.yaml").read_text(), "vqvae", 15, new_meta["epoch"],
                                new_meta["metrics"], trainer)
    ck = load_checkpoint(old, "best")
    assert ck.step == 15 and ck.config.kind == "vqvae" and ck.trainer_state["step"] == 15
    assert "model" not in ck.meta
    rest = train_tokenizer(TINY, hml_data, old, device="cpu", progress=False, log_every=1, overrides=ov)
    assert rest["resumed"] and rest["start_step"] == 15 and rest["final_step"] == 30
    assert full["train_losses"][15:] == rest["train_losses"]           # bit-identical floats
    assert rest["best_mpjpe_mm"] == full["best_mpjpe_mm"]


def test_training_with_padded_short_clips_and_balance(hml_data, tmp_path):
    ov = {**QUICK, "train.window": 64, "train.max_iters": 6, "train.short_clips": "pad",
          "train.source_balance": 0.5}
    s = train_tokenizer(TINY, hml_data, tmp_path / "run", device="cpu", progress=False,
                        overrides=ov, eval_at_start=False, log_every=1)
    assert s["n_train_clips"] == 5 and s["n_short_skipped"] == 0 and s["final_step"] == 6
    info = _records(tmp_path / "run", "info")[0]
    assert info["n_short_padded"] == 1 and list(info["corpora"].values()) == [5]
    assert all(np.isfinite(loss) for _, loss in s["train_losses"])


def test_sigint_saves_a_checkpoint(hml_data, tmp_path):
    def interrupt(step, record):
        if step == 7:
            os.kill(os.getpid(), signal.SIGINT)

    s = train_tokenizer(TINY, hml_data, tmp_path / "run", device="cpu", progress=False,
                        overrides=QUICK, callback=interrupt, eval_at_start=False)
    assert s["interrupted"] and s["final_step"] == 7
    assert load_checkpoint(tmp_path / "run", "latest").step == 7


# --------------------------------------------------------------------------- evaluation
def test_evaluate_tokenizer_table(hml_data, tmp_path):
    run = tmp_path / "run"
    train_tokenizer(TINY, hml_data, run, device="cpu", progress=False, max_steps=30,
                    overrides={"train.eval_every": 15, "train.save_every": 15})
    res = evaluate_tokenizer(run, hml_data, split="test", batch_size=2, device="cpu")
    for key in ("mpjpe_mm", "mpjpe_global_mm", "feature_l1", "codebook_usage", "perplexity",
                "frames_per_s"):
        assert np.isfinite(res[key]), key
    assert 0 < res["codebook_usage"] <= 1 and 1 <= res["perplexity"] <= 64
    assert res["n_clips"] == 2 and res["split"] == "test"
    table = format_reconstruction_table(res)
    assert table.startswith("| Tokenizer") and "MPJPE (mm)" in table and "root-aligned" in table
    assert len([line for line in table.splitlines() if line.startswith("|")]) == 3


def test_part_aware_whole_body_metrics(tmp_path):
    """Whole-body (623-dim, 52 joints) data: body and hand MPJPE (pelvis- and wrist-relative)."""
    data = make_dataset(tmp_path / "data", skel=WHOLEBODY, n_train=2, n_val=1, n_test=1,
                        frames=(50, 70))
    cfg = {"kind": "part_aware",
           "model": {"input_dim": 623, "n_body_joints": 22, "width": 32, "depth": 1, "down_t": 2,
                     "dilation_growth": 3, "code_dim": 16, "num_codes_body": 32,
                     "num_codes_hand": 16, "decay": 0.9, "beta": 0.02, "reset_threshold": 0.1},
           "train": {"dataset": "motionx", "window": 32, "batch_size": 4, "lr": 3e-3,
                     "weight_decay": 0.0, "warmup_iters": 0, "epochs": None, "max_iters": 20,
                     "eval_every": 10, "save_every": 10, "seed": 0, "num_workers": 0}}
    cfg_path = tmp_path / "pa.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    s = train_tokenizer(cfg_path, data, tmp_path / "run", device="cpu", progress=False)
    assert s["final_step"] == 20 and s["best_step"] in (10, 20)
    for key in ("body_mpjpe_mm", "hand_mpjpe_mm", "hand_mpjpe_wrist_mm", "body_codebook_usage",
                "hand_perplexity"):
        assert np.isfinite(s["last_val"][key]), key
    res = evaluate_tokenizer(tmp_path / "run", data, split="test", device="cpu")
    assert res["kind"] == "part_aware" and res["dataset"] == "motionx"
    assert 0 < res["hand_mpjpe_wrist_mm"] and 0 < res["body_mpjpe_mm"]
    table = format_reconstruction_table([res, res])
    assert "Hand MPJPE wrist-rel. (mm)" in table and "wrist" in table.split("\n\n")[1]
    assert len([line for line in table.splitlines() if line.startswith("|")]) == 4
