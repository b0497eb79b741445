"""MotionVQVAE: shapes, lengths and masks, batch invariance, errors, gradients, overfitting, losses."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from motiongpt2.tokenizer import (MotionVQVAE, VQVAEConfig, build_tokenizer, load_config,
                                  reconstruction_loss)
from motiongpt2.tokenizer.losses import masked_smooth_l1, velocity_loss

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "tokenizer"


def tiny(dim: int, **kw) -> MotionVQVAE:
    cfg = dict(input_dim=dim, width=32, depth=2, code_dim=16, num_codes=32)
    cfg.update(kw)
    return MotionVQVAE(VQVAEConfig(**cfg))


def _initialised(model: MotionVQVAE, dim: int, seed: int = 0) -> MotionVQVAE:
    """Run one training forward so the codebook is initialised, then switch to eval."""
    torch.manual_seed(seed)
    model.train()
    model(torch.randn(4, 32, dim))
    return model.eval()


@pytest.mark.parametrize("dim", [263, 251, 623])
def test_encode_decode_shapes_with_padding(dim):
    model = _initialised(tiny(dim), dim)
    lengths = torch.tensor([43, 40, 13])              # 43 and 13 are not multiples of 4
    x = torch.randn(3, 43, dim)
    assert model.codebook_sizes == (32,) and model.stream_names == ("motion",)
    (ids,), tok_len = model.encode(x, lengths)
    assert ids.shape == (3, 10) and ids.dtype == torch.long
    assert tok_len.tolist() == [10, 10, 3]            # floor(L / 4)
    assert (ids[2, 3:] == -1).all() and (ids[:, :3] >= 0).all()
    out = model.decode((ids,), tok_len)
    assert out.shape == (3, 40, dim) and out.dtype == torch.float32
    assert (out[2, 12:] == 0).all() and out[2, :12].abs().sum() > 0
    # 1-D ids decode one sequence
    assert model.decode((ids[0],)).shape == (40, dim)
    with pytest.raises(ValueError, match="tuple of 1 token stream"):
        model.decode(ids, tok_len)
    # training forward: any T, mask in, recon out at the input length
    model.train()
    mask = torch.arange(43)[None] < lengths[:, None]
    recon, (fids,), loss, stats = model(x, mask)
    assert recon.shape == x.shape and fids.shape == (3, 11) and loss.dim() == 0
    assert stats["frame_mask"].shape == (3, 43)
    assert stats["frame_mask"].sum(1).tolist() == [40, 40, 12]


def test_encode_crops_to_multiple_of_unit_and_is_batch_invariant():
    dim = 263
    model = _initialised(tiny(dim), dim)
    torch.manual_seed(1)
    a = torch.randn(1, 42, dim)
    b = torch.randn(1, 27, dim)
    (alone_a,), _ = model.encode(a)                    # 42 → 40 frames, 10 tokens
    (cropped_a,), _ = model.encode(a[:, :40])
    assert torch.equal(alone_a, cropped_a)
    (alone_b,), _ = model.encode(b)                    # 27 → 24 frames, 6 tokens
    batch = torch.zeros(2, 42, dim)
    batch[0] = a[0]
    batch[1, :27] = b[0]
    batch[1, 27:] = 100.0                              # garbage in the padding must not matter
    (ids,), tok_len = model.encode(batch, torch.tensor([42, 27]))
    assert torch.equal(ids[0], alone_a[0])
    assert torch.equal(ids[1, :6], alone_b[0]) and (ids[1, 6:] == -1).all()
    dec_batch = model.decode((ids,), tok_len)
    assert torch.allclose(dec_batch[1, :24], model.decode((alone_b,))[0], atol=1e-5)
    assert torch.allclose(dec_batch[0], model.decode((alone_a,))[0], atol=1e-5)


def test_decode_rejects_out_of_range_ids():
    model = _initialised(tiny(263), 263)
    with pytest.raises(ValueError, match=r"token id 32 .*codebook of size 32"):
        model.decode((torch.tensor([[0, 1, 32]]),))
    with pytest.raises(ValueError, match=r"token id -1 "):
        model.decode((torch.tensor([[0, -1, 3]]),))
    # padding beyond token_lengths is ignored
    out = model.decode((torch.tensor([[0, 1, -1], [2, 3, 4]]),), torch.tensor([2, 3]))
    assert out.shape == (2, 12, 263)


def test_encode_validates_inputs():
    model = _initialised(tiny(263), 263)
    with pytest.raises(ValueError, match="shorter than one token"):
        model.encode(torch.randn(1, 8, 263), torch.tensor([3]))
    with pytest.raises(ValueError, match="exceeds"):
        model.encode(torch.randn(1, 8, 263), torch.tensor([9]))
    with pytest.raises(ValueError, match=r"\(B, T, 263\)"):
        model.encode(torch.randn(1, 8, 251))


def test_encode_never_updates_the_codebook():
    model = _initialised(tiny(263), 263).train()
    before = model.quantizer.codebook.clone()
    model.encode(torch.randn(2, 16, 263))
    assert torch.equal(before, model.quantizer.codebook)


def test_gradient_reaches_encoder_through_straight_through():
    torch.manual_seed(0)
    model = tiny(263).train()
    x = torch.randn(2, 16, 263)
    recon, _, _, stats = model(x)
    loss, _ = reconstruction_loss(recon, x, stats["frame_mask"])  # reconstruction only
    loss.backward()
    assert model.encoder.conv_in.weight.grad is not None
    assert model.encoder.conv_in.weight.grad.abs().sum() > 0
    assert model.quantizer.codebook.grad is None


def test_normalization_buffers():
    model = tiny(263)
    mean, std = torch.randn(263), torch.rand(263) + 0.5
    model.set_normalization(mean, std)
    x = torch.randn(2, 5, 263)
    assert torch.allclose(model.denormalize(model.normalize(x)), x, atol=1e-5)
    assert "mean" in model.state_dict() and "std" in model.state_dict()


@pytest.mark.slow
def test_tiny_config_overfits_smooth_sequences():
    torch.manual_seed(0)
    cfg = load_config(CONFIGS / "tiny_test.yaml")
    model = build_tokenizer(cfg).train()
    t = torch.linspace(0, 1, cfg.train.window)
    freq = torch.rand(2, 1, 263) * 3 + 0.5
    phase = torch.rand(2, 1, 263) * 6.28
    x = torch.sin(2 * torch.pi * freq * t[None, :, None] + phase)      # 2 smooth sequences
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr, weight_decay=0.0)
    first = last = None
    for _ in range(cfg.train.max_iters):
        recon, _, commit, stats = model(x)
        rec, _ = reconstruction_loss(recon, x, stats["frame_mask"], cfg.train.vel_weight)
        opt.zero_grad()
        (rec + commit).backward()
        opt.step()
        first = rec.item() if first is None else first
        last = rec.item()
    assert first / last > 5, f"loss only fell from {first:.4f} to {last:.4f}"


# ------------------------------------------------------------------------------ losses
def test_losses_are_masked():
    torch.manual_seed(0)
    pred, target = torch.randn(2, 6, 4), torch.randn(2, 6, 4)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]], dtype=torch.bool)
    loss, parts = reconstruction_loss(pred, target, mask, vel_weight=0.5)
    pred2 = pred.clone()
    pred2[1, 3:] = 1e3                                  # padding changes nothing
    loss2, _ = reconstruction_loss(pred2, target, mask, vel_weight=0.5)
    assert loss.item() == pytest.approx(loss2.item())
    valid_p = torch.cat([pred[0], pred[1, :3]])
    valid_t = torch.cat([target[0], target[1, :3]])
    ref = torch.nn.functional.smooth_l1_loss(valid_p, valid_t)
    assert parts["recon"].item() == pytest.approx(ref.item(), rel=1e-6)
    dp = torch.cat([pred[0, 1:] - pred[0, :-1], pred[1, 1:3] - pred[1, :2]])
    dt = torch.cat([target[0, 1:] - target[0, :-1], target[1, 1:3] - target[1, :2]])
    ref_vel = torch.nn.functional.smooth_l1_loss(dp, dt)
    assert parts["vel"].item() == pytest.approx(ref_vel.item(), rel=1e-6)
    assert loss.item() == pytest.approx(ref.item() + 0.5 * ref_vel.item(), rel=1e-6)
    assert masked_smooth_l1(pred, pred, mask).item() == 0
    assert velocity_loss(pred, pred + 3.0, None).item() == pytest.approx(0.0, abs=1e-6)
