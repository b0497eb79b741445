"""Part-Aware VQ-VAE: body/hand split of the 623-dim layout, hand-first quantization, shapes, errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from motiongpt2.motion.skeleton import HUMANML3D, WHOLEBODY
from motiongpt2.tokenizer import PartAwareConfig, PartAwareVQVAE, merge_parts, part_indices, split_parts


def _labels(n_joints: int) -> list[tuple[str, int]]:
    """(component, joint) of every feature index, written out from the layout description."""
    lab = [("root", -1)] * 4
    lab += [("ric", j) for j in range(1, n_joints) for _ in range(3)]
    lab += [("rot", j) for j in range(1, n_joints) for _ in range(6)]
    lab += [("vel", j) for j in range(n_joints) for _ in range(3)]
    lab += [("feet", -1)] * 4
    return lab


def test_part_indices_partition_the_layout_exactly():
    body, hand = part_indices(WHOLEBODY.n_joints, 22)
    assert WHOLEBODY.feature_dim == 623
    assert len(body) == 263 and len(hand) == 360
    both = np.concatenate([body, hand])
    assert np.array_equal(np.sort(both), np.arange(623))       # every index exactly once
    assert np.all(np.diff(body) > 0) and np.all(np.diff(hand) > 0)
    lab = _labels(52)
    assert {lab[i][0] for i in body} == {"root", "ric", "rot", "vel", "feet"}
    assert all(lab[i][1] < 22 for i in body)
    assert all(lab[i][0] in ("ric", "rot", "vel") and 22 <= lab[i][1] <= 51 for i in hand)
    # body stream = the HumanML3D layout of joints 0..21, in order
    body_lab = [lab[i] for i in body]
    assert body_lab == _labels(22) and HUMANML3D.feature_dim == 263
    assert [lab[i][1] for i in hand[:3]] == [22, 22, 22]        # starts with the left hand


def test_part_indices_match_feature_slices():
    from motiongpt2.motion import features

    sl = features.feature_slices(52)
    body, hand = part_indices(52, 22)
    assert set(range(sl["root"].start, sl["root"].stop)) <= set(body.tolist())
    assert set(range(sl["feet"].start, sl["feet"].stop)) <= set(body.tolist())
    ric = np.arange(sl["ric"].start, sl["ric"].stop).reshape(51, 3)   # joints 1..51
    assert set(ric[21:].ravel()) <= set(hand.tolist()) and set(ric[:21].ravel()) <= set(body.tolist())
    vel = np.arange(sl["local_vel"].start, sl["local_vel"].stop).reshape(52, 3)
    assert set(vel[22:].ravel()) <= set(hand.tolist()) and set(vel[:22].ravel()) <= set(body.tolist())


def test_split_merge_round_trip():
    body, hand = (torch.from_numpy(a) for a in part_indices(52, 22))
    x = torch.randn(2, 7, 623)
    xb, xh = split_parts(x, body, hand)
    assert xb.shape == (2, 7, 263) and xh.shape == (2, 7, 360)
    assert torch.equal(merge_parts(xb, xh, body, hand), x)


def _model(seed: int = 0) -> PartAwareVQVAE:
    torch.manual_seed(seed)
    model = PartAwareVQVAE(PartAwareConfig(width=32, depth=2, code_dim=16, num_codes_body=32,
                                           num_codes_hand=32))
    model.train()
    model(torch.randn(6, 32, 623))                               # initialise both codebooks
    return model.eval()


def test_hand_is_quantized_first_and_fused_into_body():
    model = _model()
    order = []
    seen = {}
    model.hand_quantizer.register_forward_hook(lambda m, i, o: order.append("hand"))

    def body_hook(m, inputs, output):
        order.append("body")
        seen["body_input"] = inputs[0].detach()

    model.body_quantizer.register_forward_hook(body_hook)
    x = torch.randn(2, 16, 623)
    _, (ids_b, ids_h), _, _ = model(x)
    assert order == ["hand", "body"]
    # the body quantizer sees Conv1x1([e_b ; q_h]) with q_h the *quantized* hand codes
    xb, xh = split_parts(x, model.body_idx, model.hand_idx)
    e_b = model.body_encoder(xb.permute(0, 2, 1), [None] * 3)
    q_h = model.hand_quantizer.dequantize(ids_h)
    fused = model.fuse(torch.cat([e_b, q_h], dim=1))
    assert torch.allclose(seen["body_input"], fused, atol=1e-5)


def test_hand_input_changes_body_ids_but_not_vice_versa():
    model = _model()
    torch.manual_seed(3)
    x = torch.randn(2, 32, 623)
    body, hand = model.body_idx, model.hand_idx
    (ids_b, ids_h), _ = model.encode(x)

    x_body = x.clone()
    x_body[..., body] = torch.randn(2, 32, 263) * 3            # change only the body stream
    (ids_b2, ids_h2), _ = model.encode(x_body)
    assert torch.equal(ids_h2, ids_h)                          # hand ids never see the body
    assert not torch.equal(ids_b2, ids_b)

    x_hand = x.clone()
    x_hand[..., hand] = torch.randn(2, 32, 360) * 3            # change only the hand stream
    (ids_b3, ids_h3), _ = model.encode(x_hand)
    assert not torch.equal(ids_h3, ids_h)
    assert not torch.equal(ids_b3, ids_b)                      # body ids depend on the hand codes


def test_part_aware_shapes_lengths_and_errors():
    model = _model()
    x = torch.randn(3, 30, 623)
    lengths = torch.tensor([30, 17, 8])
    assert model.codebook_sizes == (32, 32) and model.stream_names == ("body", "hand")
    (ids_b, ids_h), tok_len = model.encode(x, lengths)
    assert ids_b.shape == ids_h.shape == (3, 7)
    assert tok_len.tolist() == [7, 4, 2]
    assert (ids_b[2, 2:] == -1).all() and (ids_h[1, 4:] == -1).all()
    out = model.decode((ids_b, ids_h), tok_len)
    assert out.shape == (3, 28, 623) and (out[1, 16:] == 0).all()
    # a sequence alone gives the same ids and features as inside the padded batch
    (b1, h1), _ = model.encode(x[1:2, :17])
    assert torch.equal(b1[0], ids_b[1, :4]) and torch.equal(h1[0], ids_h[1, :4])
    assert torch.allclose(model.decode((b1, h1))[0], out[1, :16], atol=1e-5)
    with pytest.raises(ValueError, match=r"hand stream: token id 40 .*codebook of size 32"):
        model.decode((ids_b[:1, :2], torch.tensor([[0, 40]])))
    with pytest.raises(ValueError, match=r"body stream: token id 32 "):
        model.decode((torch.tensor([[32, 0]]), ids_h[:1, :2]))
    with pytest.raises(ValueError, match="same shape"):
        model.decode((ids_b[:, :2], ids_h[:, :3]))
    with pytest.raises(ValueError, match="tuple of 2 token stream"):
        model.decode((ids_b,), tok_len)
    model.train()
    recon, (fb, fh), loss, stats = model(x, torch.arange(30)[None] < lengths[:, None])
    assert recon.shape == x.shape and fb.shape == fh.shape == (3, 8)
    assert {"body_perplexity", "hand_perplexity", "frame_mask"} <= set(stats)
    loss.backward()
    assert model.hand_encoder.conv_in.weight.grad.abs().sum() > 0
