"""Tokenizer configs (YAML) and checkpoints (atomic save, pointers, identical outputs after reload)."""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from motiongpt2.errors import InputFileError
from motiongpt2.tokenizer import (PartAwareConfig, TokenizerConfig, TrainConfig, VQVAEConfig,
                                  build_tokenizer, load_checkpoint, load_config, mark_best,
                                  reconstruction_loss, restore_training_state, save_checkpoint)
from motiongpt2.tokenizer.config import config_from_dict, config_to_dict

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "tokenizer"


def test_every_shipped_config_is_tested():
    names = {p.stem for p in CONFIGS.glob("*.yaml")}
    assert names == set(SHIPPED), f"add new configs to SHIPPED: {sorted(names - set(SHIPPED))}"


SHIPPED = {"vqvae_humanml3d": ("vqvae", 263), "vqvae_humanml3d_cpu_budget": ("vqvae", 263),
           "vqvae_cpu_small": ("vqvae", 263), "part_aware_wholebody": ("part_aware", 623),
           "vqvae_wholebody_plain": ("vqvae", 623), "part_aware_cpu_small": ("part_aware", 623),
           "vqvae_wholebody_cpu_small": ("vqvae", 623), "tiny_test": ("vqvae", 263)}


@pytest.mark.parametrize("name,kind,dim", [(n, k, d) for n, (k, d) in sorted(SHIPPED.items())])
def test_shipped_configs_load(name, kind, dim):
    cfg = load_config(CONFIGS / f"{name}.yaml")
    assert cfg.kind == kind and cfg.model.input_dim == dim
    assert cfg.model.down_t == 2 and cfg.train.window % cfg.model.unit == 0
    assert config_from_dict(config_to_dict(cfg)) == cfg


def test_paper_settings_in_standard_configs():
    hml = load_config(CONFIGS / "vqvae_humanml3d.yaml")
    assert (hml.model.num_codes, hml.model.code_dim, hml.model.width) == (512, 512, 512)
    assert (hml.train.batch_size, hml.train.lr, hml.train.weight_decay) == (256, 1e-4, 1e-5)
    assert (hml.model.decay, hml.model.beta, hml.train.vel_weight) == (0.99, 0.02, 0.5)
    budget = load_config(CONFIGS / "vqvae_humanml3d_cpu_budget.yaml")
    assert budget.model == hml.model                      # the paper's model, only the schedule differs
    pa = load_config(CONFIGS / "part_aware_wholebody.yaml")
    assert (pa.model.num_codes_body, pa.model.num_codes_hand, pa.model.code_dim) == (512, 512, 512)


def test_config_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: vqvae\nmodel:\n  widht: 3\n")
    with pytest.raises(InputFileError, match=r"bad\.yaml.*unknown key.*widht"):
        load_config(bad)
    bad.write_text("kind: vqvae\ntrain:\n  window: 30\n")
    with pytest.raises(InputFileError, match="not a multiple"):
        load_config(bad)
    bad.write_text("kind: transformer\n")
    with pytest.raises(InputFileError, match="unknown tokenizer kind"):
        load_config(bad)


def _tiny_cfg(kind: str) -> TokenizerConfig:
    if kind == "vqvae":
        model = VQVAEConfig(input_dim=263, width=32, depth=2, code_dim=16, num_codes=32)
    else:
        model = PartAwareConfig(width=32, depth=2, code_dim=16, num_codes_body=32, num_codes_hand=16)
    return TokenizerConfig(kind=kind, model=model, train=TrainConfig(window=16, batch_size=2))


def _train_steps(model, opt, sched, dim, n=3):
    model.train()
    for _ in range(n):
        x = torch.randn(2, 16, dim)
        recon, _, commit, stats = model(x)
        loss, _ = reconstruction_loss(recon, x, stats["frame_mask"])
        opt.zero_grad()
        (loss + commit).backward()
        opt.step()
        sched.step()


@pytest.mark.parametrize("kind,dim", [("vqvae", 263), ("part_aware", 623)])
def test_checkpoint_round_trip_gives_identical_outputs(tmp_path, kind, dim):
    torch.manual_seed(0)
    cfg = _tiny_cfg(kind)
    model = build_tokenizer(cfg)
    model.set_normalization(torch.randn(dim), torch.rand(dim) + 0.5)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-5)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[2, 100], gamma=0.5)
    _train_steps(model, opt, sched, dim)
    model.eval()

    torch.manual_seed(123)
    np.random.seed(7)
    random.seed(9)
    step_dir = save_checkpoint(tmp_path / "run", model, cfg, step=3, epoch=1, optimizer=opt,
                               scheduler=sched, metrics={"val_rec": 0.5}, is_best=True)
    expected_rng = (torch.rand(3), np.random.rand(2), random.random())
    assert step_dir.name == "step-00000003"
    assert {p.name for p in step_dir.iterdir()} == {"model.safetensors", "config.yaml", "meta.json",
                                                    "trainer.pt"}
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.startswith(".")]

    ck = load_checkpoint(tmp_path / "run")
    assert ck.path == step_dir and ck.step == 3 and ck.epoch == 1 and ck.config == cfg
    assert ck.meta["metrics"] == {"val_rec": 0.5} and "git_commit" in ck.meta
    assert not ck.model.training
    for k, v in model.state_dict().items():
        assert torch.equal(v, ck.model.state_dict()[k]), k

    x = torch.randn(2, 24, dim)
    lengths = torch.tensor([24, 13])
    (sa, na), (sb, nb) = model.encode(x, lengths), ck.model.encode(x, lengths)
    assert len(sa) == len(model.codebook_sizes) and torch.equal(na, nb)
    for ta, tb in zip(sa, sb):
        assert torch.equal(ta, tb)
    assert torch.equal(model.decode(sa, na), ck.model.decode(sb, nb))
    assert torch.equal(model(x)[0], ck.model(x)[0])

    # resume: optimizer, scheduler and RNG states come back
    opt2 = torch.optim.AdamW(ck.model.parameters(), lr=1e-3, weight_decay=1e-5)
    sched2 = torch.optim.lr_scheduler.MultiStepLR(opt2, milestones=[2, 100], gamma=0.5)
    restore_training_state(ck, opt2, sched2)
    assert sched2.state_dict()["last_epoch"] == 3 and opt2.param_groups[0]["lr"] == pytest.approx(5e-4)
    s1, s2 = opt.state_dict()["state"], opt2.state_dict()["state"]
    assert s1.keys() == s2.keys()
    for k in s1:
        assert torch.equal(s1[k]["exp_avg"], s2[k]["exp_avg"])
    got = (torch.rand(3), np.random.rand(2), random.random())
    assert torch.equal(got[0], expected_rng[0]) and np.array_equal(got[1], expected_rng[1])
    assert got[2] == expected_rng[2]


def test_pointers_keep_last_and_resave(tmp_path):
    cfg = _tiny_cfg("vqvae")
    model = build_tokenizer(cfg)
    root = tmp_path / "run"
    save_checkpoint(root, model, cfg, step=1, is_best=True, save_rng=False)
    for step in (2, 3, 4):
        save_checkpoint(root, model, cfg, step=step, keep_last=2, save_rng=False)
    names = sorted(p.name for p in root.iterdir() if p.is_dir())
    assert names == ["step-00000001", "step-00000003", "step-00000004"]   # best is kept
    assert (root / "latest").read_text().strip() == "step-00000004"
    assert load_checkpoint(root, which="best").step == 1
    assert load_checkpoint(root).trainer_state is None
    mark_best(root, "step-00000003")
    assert load_checkpoint(root, which="best").step == 3
    with torch.no_grad():
        model.quantizer.codebook.add_(1.0)
    save_checkpoint(root, model, cfg, step=4, save_rng=False)            # re-save the same step
    ck = load_checkpoint(root / "step-00000004")
    assert torch.equal(ck.model.quantizer.codebook, model.quantizer.codebook)
    assert not [p for p in root.iterdir() if p.name.startswith(".")]
    with pytest.raises(InputFileError, match="no tokenizer checkpoint"):
        load_checkpoint(tmp_path)
    with pytest.raises(InputFileError, match="weights only"):
        restore_training_state(ck)
