"""Real-data checks on one file of every preset in ../shared/data (skipped when absent).

For each: load -> (T, 22, 3) metres Y-up at 20 fps; upright; plausible height; the left hip on the
person's left; frame count = header frames after resampling. Heights are taken on "standing"
frames (95th percentile over the clip) so that crouching/bowing clips do not fail.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from motiongpt2.motion.io.archive import iter_members
from motiongpt2.motion.io.bvh import read_bvh
from motiongpt2.motion.io.load import load_hand_joints, load_joints, load_mocap
from motiongpt2.motion.io.resample import resampled_length
from motiongpt2.motion.io.retarget import MANO_NAMES, detect_preset, grounded_forward

pytestmark = pytest.mark.shared

CMU_FILES = {
    "cmu-cgspeed-31": "02_01",
    "cmu-cgspeed-31-max": "131_02",
    "cmu-daz": "02_03",
    "cmu-asfnames-31": "16_01",
    "cmu-asf": "11_01",
    "iclone-cc-base": "02_05",
}


def _check_body(j, native_frames, native_fps):
    p = j.positions
    assert p.ndim == 3 and p.shape[1:] == (22, 3) and p.dtype == np.float32
    assert np.isfinite(p).all()
    assert j.fps == 20.0
    assert len(p) == resampled_length(native_frames - j.info["dropped_leading_frames"], native_fps, 20.0)
    head_above = np.percentile(p[:, 15, 1] - p[:, 0, 1], 95)
    assert 0.4 <= head_above <= 0.9, head_above
    height = np.percentile(p[:, 15, 1] - p[:, [7, 8, 10, 11], 1].min(axis=1), 95)
    assert 1.3 <= height <= 2.1, height
    # forward = toe minus ankle of the grounded feet (horizontal); the person's left = cross(up, forward)
    fwd = grounded_forward(p)
    ok = np.linalg.norm(fwd, axis=-1) > 1e-6
    assert ok.sum() >= 3
    left = np.cross([0.0, 1.0, 0.0], fwd[ok])
    for a, b in ((1, 2), (16, 17), (13, 14)):  # hips, shoulders, collars
        frac = np.mean(np.einsum("ta,ta->t", left, p[ok, a] - p[ok, b]) > 0)
        assert frac > 0.9, (a, b, frac)
    # bones: thigh and shin between 0.3 and 0.6 m
    for a, b in ((1, 4), (4, 7), (2, 5), (5, 8)):
        assert 0.3 < np.median(np.linalg.norm(p[:, a] - p[:, b], axis=-1)) < 0.6


@pytest.mark.parametrize("preset", sorted(CMU_FILES))
def test_cmu_presets(shared_data, preset):
    manifest = json.loads((shared_data / "mocap/cmu/manifest.json").read_text())
    entry = manifest[CMU_FILES[preset]]
    assert entry["skeleton"] == preset
    path = shared_data / "mocap/cmu" / entry["path"]
    j = load_joints(path)  # preset="auto"
    assert j.preset == preset
    assert j.info["up_axis"] == "y"
    _check_body(j, entry["frames"], entry["fps"])
    if entry["format"] == "bvh":
        m = load_mocap(path)
        assert m.n_frames == entry["frames"] and m.fps == pytest.approx(entry["fps"], rel=1e-3)
    # explicit preset gives the same result
    np.testing.assert_array_equal(load_joints(path, preset=preset).positions, j.positions)


@pytest.mark.parametrize("trial, dropped", [("01_01", (1, 1)), ("07_01", (3, 6)), ("14_08", (3, 6)),
                                            ("131_01", (0, 0)), ("02_01", (0, 0)), ("11_01", (0, 0))])
def test_reference_pose_at_the_start_is_dropped(shared_data, trial, dropped):
    """cgspeed CMU BVH files start with a T-pose (31-joint: one frame; Daz: a T-pose blended into the
    first real frame); other sources do not.  After dropping it, no joint jumps at the start."""
    entry = json.loads((shared_data / "mocap/cmu/manifest.json").read_text())[trial]
    kw = {"asf": shared_data / "mocap/cmu" / entry["asf"]} if "asf" in entry else {}
    j = load_joints(shared_data / "mocap/cmu" / entry["path"], **kw)
    assert dropped[0] <= j.info["dropped_leading_frames"] <= dropped[1]
    local = j.positions - j.positions[:, :1]
    step = np.linalg.norm(np.diff(local[:20], axis=0), axis=-1).max(axis=1)   # metres per 1/20 s
    assert step.max() < 0.3, step
    raw = load_joints(shared_data / "mocap/cmu" / entry["path"], drop_reference_pose=False, **kw)
    assert raw.info["dropped_leading_frames"] == 0
    if dropped[1]:
        first = np.linalg.norm(np.diff(raw.positions[:2] - raw.positions[:2, :1], axis=0), axis=-1).max()
        assert first > 0.5                         # the T-pose jump the option removes


def test_bandai_from_archive(shared_data):
    src = shared_data / "mocap/bandai-namco/dataset-1.tar.xz"
    name, data = next(iter_members(src))
    m = read_bvh(data, name=name)
    j = load_joints(data, name=name)
    assert j.preset == "bandai-namco" and m.fps == 30.0
    _check_body(j, m.n_frames, 30.0)


def test_wholebody_from_fingered_rigs(shared_data):
    for trial in ("02_05", "02_03"):  # iClone (3-bone fingers), Daz (2-bone fingers + End Sites)
        entry = json.loads((shared_data / "mocap/cmu/manifest.json").read_text())[trial]
        j = load_joints(shared_data / "mocap/cmu" / entry["path"], target="wholebody")
        p = j.positions
        assert p.shape[1:] == (52, 3)
        # fingers within 25 cm of their wrist
        assert np.linalg.norm(p[:, 22:37] - p[:, 20:21], axis=-1).max() < 0.25
        assert np.linalg.norm(p[:, 37:52] - p[:, 21:22], axis=-1).max() < 0.25


def test_manipnet_hand(shared_data):
    src = shared_data / "hands/manipnet/manipnet-hands.tar.xz"
    manifest = json.loads((shared_data / "hands/manipnet/manifest.json").read_text())
    seen = 0
    for name, data in iter_members(src):
        h = load_hand_joints(data, name=name)
        assert h.preset == "manipnet-hand" and h.side in ("left", "right")
        assert h.relative.shape == (manifest["files"][name]["frames"], 15, 3)
        d = np.median(np.linalg.norm(h.relative, axis=-1), axis=0)
        assert np.all((d > 0.03) & (d < 0.2)), d  # knuckles to finger tips, metres
        # fingertips further from the wrist than knuckles
        for f in range(5):
            assert d[3 * f] < d[3 * f + 1] < d[3 * f + 2]
        # local frame: fingers along +x for the left hand, -x for the right
        sign = 1 if h.side == "left" else -1
        assert sign * np.median(h.local[:, MANO_NAMES.index("middle1"), 0]) > 0.05
        seen += 1
        if seen == 2:
            break
    h20 = load_hand_joints(data, name=name, fps=20)
    assert h20.fps == 20 and len(h20.relative) == resampled_length(manifest["files"][name]["frames"], 120, 20)


def test_auto_detect_every_cmu_file_header(shared_data):
    """Every CMU file's joint names map to the preset the manifest names (headers only, fast)."""
    manifest = json.loads((shared_data / "mocap/cmu/manifest.json").read_text())
    for trial, e in manifest.items():
        if e["format"] != "bvh":
            continue
        from motiongpt2.motion.io.archive import read_bytes
        text = read_bytes(shared_data / "mocap/cmu" / e["path"]).decode("latin-1")
        head = text.split("MOTION")[0] + "MOTION\nFrames: 0\nFrame Time: 0.01\n"
        names = read_bvh(head, name=trial).names
        assert detect_preset(names, trial).name == e["skeleton"], trial
