"""Hand FID (Table XI at generation level): descriptors read the fingers and only the fingers; the
distance is zero for a set against itself and separates frozen fingers from moving ones."""
from __future__ import annotations

import numpy as np
import pytest

from motiongpt2.eval.hands import (
    DESCRIPTOR_DIM,
    HAND_JOINTS,
    hand_descriptors,
    hand_fid,
    has_hands,
)
from motiongpt2.motion.features import extract_features, feature_slices
from motiongpt2.motion.skeleton import WHOLEBODY
from motiongpt2.motion.synthetic import synthetic_walk

RIC = feature_slices(WHOLEBODY.n_joints)["ric"]


def _with_ric(ric: np.ndarray) -> np.ndarray:
    """``(T, 623)`` features whose ``ric`` block is ``ric`` ``(T, 51, 3)`` (joints 1..51), the rest zero."""
    f = np.zeros((len(ric), WHOLEBODY.feature_dim))
    f[:, RIC] = ric.reshape(len(ric), -1)
    return f


def test_only_whole_body_features_have_hands():
    assert has_hands(623) and not has_hands(263) and not has_hands(251)


def test_descriptor_is_wrist_relative_pose_spread_and_speed():
    T = 21
    rng = np.random.default_rng(0)
    ric = np.repeat(rng.normal(size=(1, 51, 3)), T, axis=0)
    finger, wrist = 30, 21                       # joint 30 hangs from the left wrist (joint 20)
    ric[:, finger - 1] = ric[0, wrist - 2] + [0.1, 0.0, 0.0]
    ric[:, finger - 1, 1] += np.arange(T) * 0.01  # 0.01 m per frame = 0.2 m/s at 20 fps
    d = hand_descriptors([_with_ric(ric)])[0]
    assert d.shape == (DESCRIPTOR_DIM,)
    k = int(np.flatnonzero(HAND_JOINTS == finger)[0])
    mean, std, speed = d[:90].reshape(30, 3), d[90:180].reshape(30, 3), d[180:]
    np.testing.assert_allclose(mean[k], [0.1, 0.1, 0.0], atol=1e-12)
    np.testing.assert_allclose(std[k], [0.0, np.arange(T).std() * 0.01, 0.0], atol=1e-12)
    np.testing.assert_allclose(speed[k], 0.2, rtol=1e-9)
    others = np.delete(np.arange(30), k)
    np.testing.assert_allclose(std[others], 0.0, atol=1e-12)
    np.testing.assert_allclose(speed[others], 0.0, atol=1e-12)


def test_descriptor_ignores_where_the_hands_are():
    pos = synthetic_walk(WHOLEBODY, T=60, seed=3)
    feats, _ = extract_features(pos, WHOLEBODY)
    moved = feats.copy()
    ric = moved[:, RIC].reshape(len(moved), -1, 3)
    ric += np.array([0.3, -0.2, 0.5])            # the whole body shifted: fingers unchanged at their wrists
    moved[:, RIC] = ric.reshape(len(moved), -1)
    moved[:, :4] += 1.0                          # root features are not read either
    np.testing.assert_allclose(hand_descriptors([moved]), hand_descriptors([feats]), atol=1e-6)  # float32 features


def _clips(n: int, seed: int, amplitude: float) -> list[np.ndarray]:
    """``n`` clips whose fingers swing about a random pose with ``amplitude`` m at random rates."""
    rng = np.random.default_rng(seed)
    t = np.arange(40)[:, None, None] / 20.0
    out = []
    for _ in range(n):
        ric = np.repeat(rng.normal(scale=0.05, size=(1, 51, 3)), 40, axis=0)
        rate = rng.uniform(0.5, 2.0, size=(1, 30, 3))
        ric[:, HAND_JOINTS - 1] += amplitude * rng.uniform(0.5, 1.5) * np.sin(2 * np.pi * rate * t)
        out.append(_with_ric(ric))
    return out


def test_hand_fid_is_zero_on_itself_and_separates_frozen_fingers():
    ref = hand_descriptors(_clips(400, 0, 0.02))
    same = hand_descriptors(_clips(400, 1, 0.02))
    frozen = hand_descriptors(_clips(400, 2, 0.0))
    assert hand_fid(ref, ref) == pytest.approx(0.0, abs=1e-6)
    assert hand_fid(ref, same) < 0.5 * hand_fid(ref, frozen)


def test_wrong_width_is_one_clear_error():
    with pytest.raises(ValueError, match=r"motion #0 has shape \(5, 263\), expected \(T, 623\)"):
        hand_descriptors([np.zeros((5, 263))])
