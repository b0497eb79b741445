"""The shared run format: step folders, pointers, meta, trainer state, and the generator registry."""
from __future__ import annotations


import pytest
import torch

from motiongpt2 import runs
from motiongpt2.errors import InputFileError, MotionGPT2Error
from motiongpt2.eval import generators


def _save(root, step, model, opt, **kw):
    return runs.save_step(root, step, tensors=runs.state_tensors(model), config_yaml="a: 1\n",
                          meta=runs.checkpoint_meta("toy", step, metrics={"loss": 0.5},
                                                    depends_on={"tokenizer": {"path": "/x", "hash": "ab"}}),
                          trainer=runs.trainer_state(opt, None, step), files={"extra.txt": "hi"}, **kw)


def test_step_folders_pointers_meta_and_trainer_state(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    root = tmp_path / "run"
    assert runs.open_run(root, resume=False) is False
    d1 = _save(root, 1, model, opt, is_best=True)
    d2 = _save(root, 2, model, opt)
    assert {p.name for p in d2.iterdir()} == {"model.safetensors", "config.yaml", "meta.json", "trainer.pt",
                                              "extra.txt"}
    assert runs.resolve_step(root) == d2 and runs.resolve_step(root, "best") == d1
    assert runs.resolve_step(d1, "latest") == d1
    assert runs.resolve_step(root / "best") == d1 and runs.resolve_step(root / "latest", "best") == d2
    meta = runs.read_meta(d2)
    assert meta["format"] == runs.RUN_FORMAT and meta["model"] == "toy" and meta["step"] == 2
    assert meta["has_trainer_state"] and "git_commit" in meta and "git_dirty" in meta
    assert runs.dependency(meta, "tokenizer") == {"path": "/x", "hash": "ab"}
    assert runs.dependency({"tokenizer": "/y", "tokenizer_hash": "cd"}, "tokenizer") == {"path": "/y", "hash": "cd"}
    assert len(runs.weights_hash(d2)) == 16
    clone = runs.load_into(torch.nn.Linear(3, 2), runs.load_tensors(d2), d2)
    assert torch.equal(clone.weight, model.weight)
    opt2 = torch.optim.Adam(clone.parameters(), lr=0.1)
    runs.restore_trainer_state(runs.load_trainer_state(d2), d2, opt2)
    assert opt2.state_dict()["state"][0]["step"] == opt.state_dict()["state"][0]["step"]
    with pytest.raises(InputFileError, match="already holds"):
        runs.open_run(root, resume=False)
    with pytest.raises(InputFileError, match="weights do not match"):
        runs.load_into(torch.nn.Linear(3, 5), runs.load_tensors(d2), d2)
    with pytest.raises(InputFileError, match="holds weights only"):
        runs.restore_trainer_state(None, d2, opt2)
    # keep_last prunes old folders but never the best one
    for s in (3, 4):
        _save(root, s, model, opt, keep_last=2)
    assert sorted(p.name for p in root.glob("step-*")) == ["step-00000001", "step-00000003", "step-00000004"]


def test_best_falls_back_to_latest_and_errors_name_the_folder(tmp_path):
    model = torch.nn.Linear(2, 2)
    _save(tmp_path, 5, model, None)
    with pytest.raises(InputFileError, match="no 'best' pointer"):
        runs.resolve_step(tmp_path, "best", what="toy checkpoint")
    assert runs.resolve_step(tmp_path, "best", best_falls_back=True).name == "step-00000005"
    (tmp_path / "latest").write_text("step-00000009\n")
    with pytest.raises(InputFileError, match="points at 'step-00000009'"):
        runs.resolve_step(tmp_path)
    assert runs.best_so_far({"metrics": {"best_loss": 0.25, "best_step": 4.0}}, "best_loss") == (0.25, 4)
    assert runs.best_so_far({}, "best_loss") == (None, None)


def test_generator_registry(tmp_path):
    assert {"tokenizer", "t2mgpt"} <= set(generators.generator_kinds())
    with pytest.raises(MotionGPT2Error, match="unknown kind 'nope' — use one of: .*t2mgpt.*tokenizer"):
        generators.load_generator(f"nope:{tmp_path}")
    with pytest.raises(MotionGPT2Error, match="write KIND:RUN"):
        generators.load_generator("tokenizer")
    with pytest.raises(ValueError):
        generators.register_generator("a:b", lambda run, device="cpu": None)
    # "module:function" loaders are imported on first use
    from motiongpt2.t2mgpt.generate import load_generator as load_t2mgpt

    assert generators._resolve_loader("t2mgpt") is load_t2mgpt

    seen = {}

    @generators.register_generator("toy-test")
    def load_toy(run, device="cpu"):
        seen["args"] = (run, device)
        return "a generator"

    try:
        assert generators.load_generator(f"toy-test:{tmp_path}") == "a generator"
        assert seen["args"] == (str(tmp_path), "cpu")
    finally:
        generators._REGISTRY.pop("toy-test", None)


@pytest.mark.filterwarnings("ignore:EMAQuantizer.quantize called on a codebook")
@pytest.mark.parametrize("kind,dim", [("vqvae", 263), ("part_aware", 623)])
def test_tokenizer_generator_reconstructs_with_either_tokenizer(tmp_path, kind, dim):
    import numpy as np

    from motiongpt2.tokenizer import (PartAwareConfig, TokenizerConfig, TrainConfig, VQVAEConfig,
                                      build_tokenizer, save_checkpoint)

    model_cfg = (VQVAEConfig(input_dim=263, width=16, depth=1, code_dim=8, num_codes=16) if kind == "vqvae" else
                 PartAwareConfig(width=16, depth=1, code_dim=8, num_codes_body=16, num_codes_hand=8))
    cfg = TokenizerConfig(kind=kind, model=model_cfg, train=TrainConfig(window=16, batch_size=2))
    save_checkpoint(tmp_path, build_tokenizer(cfg), cfg, step=1, save_rng=False)   # no best: latest is used
    gen = generators.load_generator(f"tokenizer:{tmp_path}")
    out = gen.generate("tokenizer", None, [{"motion": np.zeros((42, dim), np.float32)}], np.random.default_rng(0))
    assert out[0].shape == (40, dim) and np.isfinite(out[0]).all()
    with pytest.raises(MotionGPT2Error, match="only reconstructs"):
        gen.generate("t2m", [], [], np.random.default_rng(0))
