"""EMAQuantizer: nearest codes, EMA formula, dead-code reset, masks, straight-through, perplexity."""
from __future__ import annotations

import pytest
import torch

from motiongpt2.tokenizer import EMAQuantizer


def _set_state(q: EMAQuantizer, codebook: torch.Tensor, count: torch.Tensor | None = None) -> None:
    """Give ``q`` a known, consistent state (codebook, counts, sums = codebook · counts)."""
    count = torch.ones(codebook.shape[0]) if count is None else count
    with torch.no_grad():
        q.codebook.copy_(codebook)
        q.ema_count.copy_(count)
        q.ema_sum.copy_(codebook * count[:, None])
        q.initialized.fill_(True)


def _bct(vectors: torch.Tensor) -> torch.Tensor:
    """``(N, C)`` vectors → ``(1, C, N)`` encoder-output layout."""
    return vectors.t()[None].contiguous()


def test_nearest_code_lookup():
    q = EMAQuantizer(num_codes=3, dim=2).eval()
    _set_state(q, torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]]))
    x = torch.tensor([[1.0, 1.0], [9.0, -1.0], [2.0, 7.0], [6.0, 5.0]])
    quant, ids, _, _ = q(_bct(x))
    assert ids.tolist() == [[0, 1, 2, 1]]
    assert torch.equal(quant[0].t(), q.codebook[ids[0]])


def test_ema_update_matches_hand_computation():
    decay, eps = 0.9, 1e-5
    q = EMAQuantizer(num_codes=3, dim=2, decay=decay, reset_threshold=0.0, eps=eps).train()
    code0 = [[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]]
    count0 = [2.0, 1.0, 1.0]
    _set_state(q, torch.tensor(code0), torch.tensor(count0))
    x = [[1.0, 0.0], [0.0, 1.0], [2.0, 2.0], [9.0, 1.0]]      # three → code 0, one → code 1
    _, ids, _, stats = q(_bct(torch.tensor(x)))
    assert ids.tolist() == [[0, 0, 0, 1]]

    # by hand: n = (3, 1, 0), s_0 = (3, 3), s_1 = (9, 1), s_2 = 0
    n = [3.0, 1.0, 0.0]
    s = [[3.0, 3.0], [9.0, 1.0], [0.0, 0.0]]
    N = [decay * count0[k] + (1 - decay) * n[k] for k in range(3)]
    S = [[decay * code0[k][c] * count0[k] + (1 - decay) * s[k][c] for c in range(2)] for k in range(3)]
    total = sum(N)
    smoothed = [(N[k] + eps) / (total + 3 * eps) * total for k in range(3)]
    expected = [[S[k][c] / smoothed[k] for c in range(2)] for k in range(3)]

    assert torch.allclose(q.ema_count, torch.tensor(N), atol=1e-6)
    assert torch.allclose(q.ema_sum, torch.tensor(S), atol=1e-6)
    assert torch.allclose(q.codebook, torch.tensor(expected), atol=1e-5)
    # code 0 moved towards the mean (1, 1) of its assigned vectors, code 2 (unused) stayed in place
    assert torch.dist(q.codebook[0], torch.tensor([1.0, 1.0])) < torch.dist(torch.tensor(code0[0]),
                                                                          torch.tensor([1.0, 1.0]))
    assert torch.allclose(q.codebook[2], torch.tensor(code0[2]), atol=1e-4)
    assert stats["resets"].item() == 0


def test_eval_mode_changes_nothing():
    q = EMAQuantizer(num_codes=4, dim=3)
    _set_state(q, torch.randn(4, 3))
    before = {k: v.clone() for k, v in q.state_dict().items()}
    q.eval()
    q(torch.randn(2, 3, 5))
    for k, v in q.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_dead_codes_reset_to_valid_batch_vectors():
    torch.manual_seed(0)
    k, c = 8, 4
    q = EMAQuantizer(num_codes=k, dim=c, decay=0.99, reset_threshold=1.0).train()
    cb = torch.full((k, c), 1000.0)
    cb[0] = 0.0
    _set_state(q, cb)
    valid = torch.randn(2, c, 6)                      # all near code 0
    x = valid.clone()
    mask = torch.ones(2, 6, dtype=torch.bool)
    mask[1, 4:] = False
    x[1, :, 4:] = 500.0                               # padded steps: must never become codes
    _, _, _, stats = q(x, mask)

    assert stats["resets"].item() == k - 1            # codes 1..7 had EMA count 0.99 < 1
    valid_vecs = x.permute(0, 2, 1)[mask]             # (10, C)
    for j in range(1, k):
        d = (valid_vecs - q.codebook[j]).abs().sum(1)
        assert d.min().item() < 1e-6, f"code {j} is not a valid batch vector"
        assert q.ema_count[j].item() == pytest.approx(1.0)
        assert torch.allclose(q.ema_sum[j], q.codebook[j])
    assert (q.codebook != 500.0).all()
    # code 0 was used 10 times: it is alive and follows the EMA formula
    assert q.ema_count[0].item() == pytest.approx(0.99 + 0.01 * 10)


def test_codebook_initialised_from_first_batch_valid_steps_only():
    torch.manual_seed(0)
    q = EMAQuantizer(num_codes=16, dim=3, reset_threshold=0.0).train()
    x = torch.randn(2, 3, 10)
    mask = torch.ones(2, 10, dtype=torch.bool)
    mask[0, 7:] = False
    x[0, :, 7:] = 1e4
    assert not bool(q.initialized)
    q(x, mask)
    assert bool(q.initialized)
    assert (q.codebook.abs() < 1e3).all()            # padded steps are never drawn
    q = EMAQuantizer(num_codes=16, dim=3)
    q.init_codebook(x, mask)                          # (what the first training forward calls)
    valid = x.permute(0, 2, 1)[mask]                  # 17 valid vectors ≥ 16 codes: all distinct
    assert all((valid - code).abs().sum(1).min() == 0 for code in q.codebook)
    assert len({tuple(code.tolist()) for code in q.codebook}) == 16
    # fewer valid vectors than codes: the batch is tiled
    q2 = EMAQuantizer(num_codes=16, dim=3)
    q2.init_codebook(x[:1, :, :3])
    assert len({tuple(code.tolist()) for code in q2.codebook}) == 3


def test_padded_steps_do_not_count():
    """A padded batch and the same valid vectors without padding give identical updates and stats."""
    torch.manual_seed(0)
    cb = torch.randn(6, 4)
    qa = EMAQuantizer(num_codes=6, dim=4, reset_threshold=0.0).train()
    qb = EMAQuantizer(num_codes=6, dim=4, reset_threshold=0.0).train()
    _set_state(qa, cb)
    _set_state(qb, cb)
    x = torch.randn(3, 4, 5)
    lengths = torch.tensor([5, 2, 3])
    mask = torch.arange(5)[None] < lengths[:, None]
    x_pad = x.clone()
    x_pad[~mask[:, None, :].expand_as(x)] = 50.0     # far from everything: would dominate if counted
    _, ids_a, loss_a, st_a = qa(x_pad, mask)
    flat = x.permute(0, 2, 1)[mask]                  # (10, C) valid vectors only
    _, ids_b, loss_b, st_b = qb(_bct(flat))
    assert torch.equal(ids_a[mask], ids_b[0])
    for name in ("codebook", "ema_count", "ema_sum"):
        assert torch.allclose(getattr(qa, name), getattr(qb, name), atol=1e-6), name
    assert loss_a.item() == pytest.approx(loss_b.item(), rel=1e-5)
    for key in ("perplexity", "usage"):
        assert st_a[key].item() == pytest.approx(st_b[key].item(), rel=1e-5)


def test_straight_through_gradient_and_commitment():
    q = EMAQuantizer(num_codes=4, dim=3, beta=0.25).eval()
    _set_state(q, torch.randn(4, 3))
    x = torch.randn(2, 3, 5, requires_grad=True)
    mask = torch.ones(2, 5, dtype=torch.bool)
    mask[1, 3:] = False
    quant, _, loss, _ = q(x, mask)
    w = torch.randn_like(quant)
    (quant * w).sum().backward()
    assert torch.allclose(x.grad, w)                  # identity gradient through the quantizer
    x.grad = None
    quant, ids, loss, _ = q(x, mask)
    loss.backward()
    code = q.codebook[ids].permute(0, 2, 1)
    n_valid = int(mask.sum())
    expected = 0.25 * 2 * (x.detach() - code) / (n_valid * 3) * mask[:, None, :]
    assert torch.allclose(x.grad, expected, atol=1e-6)
    assert (x.grad[1, :, 3:] == 0).all()              # padded steps do not enter the loss


def test_perplexity_equals_number_of_codes_for_uniform_usage():
    k = 5
    q = EMAQuantizer(num_codes=k, dim=2).eval()
    cb = torch.tensor([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0], [5.0, 5.0], [-5.0, -5.0]])
    _set_state(q, cb)
    x = _bct(cb.repeat(3, 1))                         # every code exactly three times
    _, _, _, st = q(x)
    assert st["perplexity"].item() == pytest.approx(k, rel=1e-5)
    assert st["usage"].item() == pytest.approx(1.0)
    _, _, _, st = q(_bct(cb[:2].repeat(4, 1)))        # two codes, uniformly
    assert st["perplexity"].item() == pytest.approx(2.0, rel=1e-5)
    assert st["usage"].item() == pytest.approx(2 / k)


def test_state_dict_round_trip_and_dequantize_errors():
    torch.manual_seed(0)
    q = EMAQuantizer(num_codes=8, dim=4).train()
    x = torch.randn(2, 4, 16)
    q(x)
    sd = q.state_dict()
    assert set(sd) == {"codebook", "ema_count", "ema_sum", "initialized"}
    q2 = EMAQuantizer(num_codes=8, dim=4)
    q2.load_state_dict(sd)
    assert torch.equal(q.quantize(x), q2.quantize(x))
    with pytest.raises(ValueError, match=r"token id 8 .*codebook of size 8"):
        q.dequantize(torch.tensor([[0, 8]]))
    with pytest.raises(ValueError, match=r"token id -1 "):
        q.dequantize(torch.tensor([[-1, 2]]))
