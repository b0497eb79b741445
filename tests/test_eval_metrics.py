"""Embedding metrics (FID, R-Precision, MM-Dist, Diversity, MultiModality) vs independent computations."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg, stats

from motiongpt2.eval import metrics as M


def _random_spd(rng: np.random.Generator, d: int, rank: int | None = None) -> np.ndarray:
    a = rng.standard_normal((d, rank or d))
    return a @ a.T / d + (0 if rank else 0.1 * np.eye(d))


def _fid_eigh(mu1, s1, mu2, s2) -> float:
    """Independent Frechet distance: Tr((S1 S2)^1/2) = sum sqrt(eig(S1^1/2 S2 S1^1/2)), all symmetric."""
    w, v = linalg.eigh(s1)
    r1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    ev = linalg.eigvalsh(r1 @ s2 @ r1)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.clip(ev, 0, None)).sum())


# ---------------------------------------------------------------- distances


def test_euclidean_distance_matrix_matches_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((17, 8)), rng.standard_normal((11, 8))
    from scipy.spatial.distance import cdist

    np.testing.assert_allclose(M.euclidean_distance_matrix(a, b), cdist(a, b), atol=1e-10)
    # identical rows: rounding may make |a|^2-2ab+|b|^2 slightly negative -> clipped to 0, never NaN
    d = M.euclidean_distance_matrix(a * 1e3, a * 1e3)
    assert np.isfinite(d).all() and np.allclose(np.diag(d), 0, atol=1e-3)


# ---------------------------------------------------------------- FID


def test_fid_diagonal_known_answer():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)  # 5 + 1 + 1 + 4
    assert M.frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, abs=1e-10)
    assert expected == pytest.approx(11.0)


def test_fid_scaled_covariance_known_answer():
    rng = np.random.default_rng(1)
    s = _random_spd(rng, 12)
    c = 2.5
    mu1, mu2 = rng.standard_normal(12), rng.standard_normal(12)
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s) * (1 + c - 2 * np.sqrt(c))
    assert M.frechet_distance(mu1, s, mu2, c * s) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("d", [2, 16, 64])
def test_fid_random_gaussians_vs_eigh_reference(d):
    rng = np.random.default_rng(d)
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    s1, s2 = _random_spd(rng, d), _random_spd(rng, d)
    assert M.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(_fid_eigh(mu1, s1, mu2, s2), rel=1e-8, abs=1e-9)
    assert M.frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-6)


def test_fid_from_samples_converges_to_population_value():
    rng = np.random.default_rng(2)
    d = 4
    mu1, mu2 = np.zeros(d), np.full(d, 0.5)
    s1, s2 = np.eye(d), 4 * np.eye(d)  # population FID = 4*0.25 + 4*(1-2)^2 = 5
    x = stats.multivariate_normal(mu1, s1).rvs(200_000, random_state=rng)
    y = stats.multivariate_normal(mu2, s2).rvs(200_000, random_state=rng)
    assert M.fid(x, y) == pytest.approx(5.0, abs=0.05)
    assert M.fid(x, x) == pytest.approx(0.0, abs=1e-6)
    mu, cov = M.activation_statistics(x)
    np.testing.assert_allclose(cov, np.cov(x.T, ddof=1))
    np.testing.assert_allclose(mu, x.mean(0))


def test_fid_singular_covariances_stay_finite_and_correct():
    rng = np.random.default_rng(3)
    d = 32
    x, y = rng.standard_normal((10, d)), rng.standard_normal((12, d)) + 0.3  # N < D: rank-deficient covs
    val = M.fid(x, y)
    mu1, s1 = x.mean(0), np.cov(x, rowvar=False)
    mu2, s2 = y.mean(0), np.cov(y, rowvar=False)
    assert np.isfinite(val)
    assert val == pytest.approx(_fid_eigh(mu1, s1, mu2, s2), rel=1e-5, abs=1e-5)


def test_fid_eps_fallback_when_sqrtm_fails(monkeypatch):
    rng = np.random.default_rng(4)
    mu1, mu2 = rng.standard_normal(5), rng.standard_normal(5)
    s1, s2 = _random_spd(rng, 5), _random_spd(rng, 5)
    real_sqrtm = linalg.sqrtm
    calls = []

    def flaky(a):
        calls.append(a)
        return np.full_like(a, np.nan) if len(calls) == 1 else real_sqrtm(a)

    monkeypatch.setattr(M.linalg, "sqrtm", flaky)
    eps = 1e-3
    got = M.frechet_distance(mu1, s1, mu2, s2, eps=eps)
    assert len(calls) == 2
    off = eps * np.eye(5)
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(
        real_sqrtm((s1 + off) @ (s2 + off)).real
    )
    assert got == pytest.approx(expected, rel=1e-12)


def test_fid_shape_errors():
    with pytest.raises(ValueError):
        M.frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(ValueError):
        M.activation_statistics(np.zeros((1, 3)))


# ---------------------------------------------------------------- R-Precision / MM-Dist


def test_r_precision_constructed_ranks():
    """All texts at the origin; in each pool the motions lie at distances 1..32, so text i's match
    has rank dist_i - 1: R@k = k/32 exactly, MM-Dist = mean(1..32) = 16.5."""
    rng = np.random.default_rng(5)
    pools, d = 3, 6
    text = np.zeros((32 * pools, d))
    motion = np.zeros((32 * pools, d))
    for p in range(pools):
        radii = rng.permutation(np.arange(1, 33)).astype(float)
        dirs = rng.standard_normal((32, d))
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        motion[32 * p : 32 * (p + 1)] = dirs * radii[:, None]
    out = M.r_precision(text, motion, rng=0, shuffle=False, top_k=5)
    for k in range(1, 6):
        assert out[f"R@{k}"] == pytest.approx(k / 32)
    assert out["MM-Dist"] == pytest.approx(16.5)


def test_r_precision_perfect_and_drop_last():
    rng = np.random.default_rng(6)
    text = rng.standard_normal((70, 16)) * 10
    motion = text + 1e-3 * rng.standard_normal((70, 16))
    out = M.r_precision(text, motion, rng=1)
    assert out["R@1"] == out["R@2"] == out["R@3"] == 1.0
    # MM-Dist averages only the 64 pairs in the 2 full pools
    assert 0 < out["MM-Dist"] < 1e-2


def _naive_r_precision(text, motion, perm, pool=32, top_k=3):
    n_pools = len(perm) // pool
    hits = np.zeros(top_k)
    trace = 0.0
    for p in range(n_pools):
        ids = perm[p * pool : (p + 1) * pool]
        for i, qi in enumerate(ids):
            dists = [float(np.sqrt(np.sum((text[qi] - motion[mj]) ** 2))) for mj in ids]
            trace += dists[i]
            rank = sorted(range(pool), key=lambda j: (dists[j], j)).index(i)
            hits += np.arange(top_k) >= rank
    return hits / (n_pools * pool), trace / (n_pools * pool)


def test_r_precision_matches_naive_loop_with_same_shuffle():
    rng = np.random.default_rng(7)
    text = rng.standard_normal((100, 8))
    motion = text + 0.8 * rng.standard_normal((100, 8))
    out = M.r_precision(text, motion, rng=123)
    perm = np.random.default_rng(123).permutation(100)
    r, mm = _naive_r_precision(text, motion, perm)
    np.testing.assert_allclose([out["R@1"], out["R@2"], out["R@3"]], r)
    assert out["MM-Dist"] == pytest.approx(mm, rel=1e-10)
    assert 0 < out["R@1"] <= out["R@2"] <= out["R@3"] <= 1


def test_matching_ranks():
    d = np.array([[1.0, 0.5, 2.0], [0.1, 0.2, 0.3], [5.0, 4.0, 3.0]])
    np.testing.assert_array_equal(M.matching_ranks(d), [1, 1, 0])


def test_r_precision_seeded_and_validated():
    rng = np.random.default_rng(8)
    t, m = rng.standard_normal((200, 4)), rng.standard_normal((200, 4))
    assert M.r_precision(t, m, rng=5) == M.r_precision(t, m, rng=5)
    assert M.r_precision(t, m, rng=5) != M.r_precision(t, m, rng=6)
    with pytest.raises(ValueError):
        M.r_precision(t[:10], m[:10], rng=0)
    with pytest.raises(TypeError):
        M.r_precision(t, m, rng=None)


# ---------------------------------------------------------------- Diversity / MultiModality


def test_diversity_simplex_known_answer():
    """Scaled basis vectors: distinct points are c*sqrt(2) apart, a point with itself 0."""
    n, c = 400, 3.0
    emb = c * np.eye(n)
    g = np.random.default_rng(9)
    first, second = g.choice(n, 300, replace=False), g.choice(n, 300, replace=False)
    expected = c * np.sqrt(2) * np.mean(first != second)
    assert M.diversity(emb, rng=9) == pytest.approx(expected)
    assert M.diversity(np.ones((400, 5)), rng=0) == 0.0


def test_diversity_gaussian_expectation():
    """E|x - y| for x, y ~ N(0, I_D): sqrt(2) * sqrt(2) * Gamma((D+1)/2) / Gamma(D/2)."""
    from scipy.special import gammaln

    d = 64
    emb = np.random.default_rng(10).standard_normal((5000, d))
    expected = 2 * np.exp(gammaln((d + 1) / 2) - gammaln(d / 2))
    vals = [M.diversity(emb, rng=s) for s in range(20)]
    assert np.mean(vals) == pytest.approx(expected, rel=0.01)


def test_diversity_seeded_and_validated():
    emb = np.random.default_rng(11).standard_normal((500, 8))
    assert M.diversity(emb, rng=1) == M.diversity(emb, rng=np.random.default_rng(1))
    assert M.diversity(emb, rng=1) != M.diversity(emb, rng=2)
    with pytest.raises(ValueError):
        M.diversity(emb[:300], rng=0)


def test_multimodality_known_answer():
    """Generation g of every text sits at base_t + g*u: pair distance |g1 - g2| for all texts."""
    rng = np.random.default_rng(12)
    n_texts, n_gen, d = 100, 30, 7
    u = rng.standard_normal(d)
    u /= np.linalg.norm(u)
    emb = rng.standard_normal((n_texts, 1, d)) * 5 + np.arange(n_gen)[None, :, None] * u
    g = np.random.default_rng(13)
    first, second = g.choice(n_gen, 10, replace=False), g.choice(n_gen, 10, replace=False)
    assert M.multimodality(emb, rng=13) == pytest.approx(np.mean(np.abs(first - second)))
    with pytest.raises(ValueError):
        M.multimodality(emb[:, :10], rng=0)
    with pytest.raises(ValueError):
        M.multimodality(emb[0], rng=0)
