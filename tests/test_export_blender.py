"""Exported BVH imported by Blender (Debian's ``blender``, headless): every joint within 1 mm.

Blender is installed by ``make system-deps`` (run by ``make test``); when it is not on ``PATH`` the
tests are skipped with that reason.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from motiongpt2.motion.skeleton import HUMANML3D, WHOLEBODY
from motiongpt2.motion.synthetic import synthetic_motion
from motiongpt2.render.export_bvh import write_bvh

HERE = Path(__file__).resolve().parent
from tooling import require_tool  # noqa: E402



@pytest.fixture(scope="module")
def blender() -> str:
    return require_tool("blender")


def blender_positions(blender: str, bvh: Path, names, tmp_path: Path) -> tuple[np.ndarray, dict]:
    """World joint positions after Blender's BVH import, converted back to our Y-up axes."""
    out = tmp_path / (bvh.stem + "_blender.json")
    res = subprocess.run([blender, "-b", "--factory-startup", "--python-exit-code", "1", "--python",
                          str(HERE / "blender_check.py"), "--", str(bvh), str(out)],
                         check=False, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0 and out.exists(), res.stdout[-2000:] + res.stderr[-2000:]
    doc = json.loads(out.read_text())
    b = np.asarray(doc["frames"], dtype=np.float64)[:, [doc["names"].index(n) for n in names]]
    # Blender's default BVH axis conversion: (x, y, z)_bvh -> (x, -z, y)_blender
    return np.stack([b[..., 0], b[..., 2], -b[..., 1]], axis=-1), doc


@pytest.mark.slow
@pytest.mark.parametrize("skel", [HUMANML3D, WHOLEBODY], ids=lambda s: s.name)
def test_blender_import_synthetic(tmp_path, blender, skel):
    pos = synthetic_motion(skel, seconds=3.0, fps=30.0, seed=11)
    exp = write_bvh(pos, tmp_path / "m.bvh", fps=30.0)
    got, doc = blender_positions(blender, tmp_path / "m.bvh", exp.names, tmp_path)
    assert got.shape == pos.shape
    assert abs(doc["fps"] - 30.0) < 1e-3       # Blender stores fps / fps_base as float32
    err = np.linalg.norm(got - pos, axis=-1)
    assert err.max() < 1e-3, err.max()


@pytest.mark.slow
def test_blender_import_real_clip_with_position_channels(tmp_path, blender, shared_data):
    from motiongpt2.motion.io.load import load_joints

    clip = shared_data / "mocap" / "cmu" / "bvh" / "01_01.bvh"
    if not clip.exists():
        pytest.skip(f"{clip} not found")
    pos = load_joints(clip).positions.astype(np.float64)
    exp = write_bvh(pos, tmp_path / "cmu.bvh", fps=20.0)
    got, _ = blender_positions(blender, tmp_path / "cmu.bvh", exp.names, tmp_path)
    err = np.linalg.norm(got - pos, axis=-1)
    assert err.max() < 1e-3, err.max()


def _prepared_real_clip(shared_data, corpus: str) -> np.ndarray:
    """Joints of one real clip as the ``prepare`` recipes write them (``new_joints``), per corpus."""
    from motiongpt2.motion.features import extract_features
    from motiongpt2.motion.hands import attach_canonical_hands, load_hand_bank
    from motiongpt2.motion.io.archive import iter_archive
    from motiongpt2.motion.io.load import load_joints

    if corpus == "cmu-humanml3d":
        body = load_joints(shared_data / "mocap/cmu/asfamc/01_02.amc.xz").positions[:120]
        return extract_features(body, HUMANML3D)[1]
    name, data = next(iter_archive(shared_data / "mocap/bandai-namco/dataset-2.tar.xz",
                                   wanted={"data/dataset-2_wave-left-hand_feminine_001.bvh"}))
    body = load_joints(data, name=name).positions[:120]
    if corpus == "bandai-namco":
        return extract_features(body, HUMANML3D)[1]
    bank = load_hand_bank(shared_data / "hands/manipnet/manipnet-hands.tar.xz")
    whole = attach_canonical_hands(body, bank.sample("left", len(body), "t"), bank.sample("right", len(body), "t"))
    return extract_features(whole, WHOLEBODY)[1]


@pytest.mark.slow
@pytest.mark.parametrize("corpus", ["cmu-humanml3d", "bandai-namco", "wholebody-composite"])
def test_blender_import_of_every_prepared_corpus(tmp_path, blender, shared_data, corpus):
    """A clip of each corpus as `prepare` writes it, exported to BVH, opens in Blender at the same joints."""
    pos = _prepared_real_clip(shared_data, corpus).astype(np.float64)
    exp = write_bvh(pos, tmp_path / "clip.bvh", fps=20.0)
    got, _ = blender_positions(blender, tmp_path / "clip.bvh", exp.names, tmp_path)
    err = np.linalg.norm(got - pos, axis=-1)
    print(f"{corpus}: Blender max error {err.max() * 1e3:.4f} mm, mean {err.mean() * 1e3:.5f} mm")
    assert err.max() < 1e-3, err.max()
