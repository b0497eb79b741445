"""Stick-figure renderer: files, frame counts, frame rates, colours, framing."""
from __future__ import annotations

import imageio.v3 as iio
import imageio_ffmpeg
import numpy as np
import pytest

from motiongpt2.motion.skeleton import HUMANML3D, KIT, WHOLEBODY, Skeleton
from motiongpt2.render import (
    LEFT_COLORS,
    RIGHT_COLORS,
    SPINE_COLOR,
    chain_styles,
    render_frame,
    render_motion,
    render_strip,
)

SIZE = (240, 240)  # small panels keep the tests fast


def rest_pose(skel: Skeleton) -> np.ndarray:
    """``(J, 3)`` rest pose by forward kinematics (cumulative offsets along the parents), feet on y=0."""
    offs = skel.offsets()
    pos = np.zeros_like(offs)
    for j, p in enumerate(skel.parents):  # parents come before children
        if p >= 0:
            pos[j] = pos[p] + offs[j]
    pos[:, 1] -= pos[:, 1].min()
    return pos


def walk_forward(skel: Skeleton = HUMANML3D, T: int = 30, speed: float = 1.0) -> np.ndarray:
    """``(T, J, 3)`` rest pose translated along +Z (speed in m/s at the skeleton's fps)."""
    scale = 1000.0 if skel.unit == "mm" else 1.0
    pose = rest_pose(skel)
    z = np.arange(T) * speed * scale / skel.fps
    out = np.repeat(pose[None], T, 0)
    out[:, :, 2] += z[:, None]
    return out


def _hex_rgb(h: str) -> np.ndarray:
    return np.array([int(h[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.int64)


def _mask_of(img: np.ndarray, colors, tol: int = 40) -> np.ndarray:
    img = img.astype(np.int64)
    m = np.zeros(img.shape[:2], bool)
    for c in colors:
        m |= np.abs(img - _hex_rgb(c)).sum(-1) < tol
    return m


def _foreground(img: np.ndarray) -> np.ndarray:
    return (img < 245).any(-1)


def _mp4_info(path):
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    frames = [np.frombuffer(b, np.uint8).reshape(meta["size"][1], meta["size"][0], 3) for b in reader]
    return meta, frames


# --------------------------------------------------------------------------- files
@pytest.mark.parametrize("fps", [20.0, 12.5])
def test_mp4_has_T_frames_at_fps(tmp_path, fps):
    m = walk_forward(T=30)
    out = render_motion(m, tmp_path / "walk.mp4", fps=fps, size=SIZE, title="walks forward")
    assert out.exists() and out.stat().st_size > 0
    meta, frames = _mp4_info(out)
    assert meta["codec"] == "h264"
    assert meta["pix_fmt"].startswith("yuv420p")
    assert meta["fps"] == pytest.approx(fps)
    assert len(frames) == 30
    w, h = meta["size"]
    assert w % 2 == 0 and h % 2 == 0
    n, secs = imageio_ffmpeg.count_frames_and_secs(str(out))
    assert n == 30 and secs == pytest.approx(30 / fps, abs=1e-3)


def test_mp4_odd_size_becomes_even(tmp_path):
    meta, frames = _mp4_info(render_motion(walk_forward(T=5), tmp_path / "o.mp4", size=(201, 151)))
    assert meta["size"] == (202, 152) and len(frames) == 5


def test_gif_has_T_frames_at_fps(tmp_path):
    out = render_motion(walk_forward(T=30), tmp_path / "walk.gif", fps=20.0, size=SIZE)
    frames = iio.imread(out, index=None)
    assert frames.shape[0] == 30
    assert iio.immeta(out)["duration"] == 50  # ms per frame = 1000 / 20


def test_gif_keeps_identical_frames(tmp_path):
    still = np.repeat(rest_pose(HUMANML3D)[None], 12, 0)
    out = render_motion(still, tmp_path / "still.gif", size=SIZE)
    assert iio.imread(out, index=None).shape[0] == 12


def test_default_fps_is_the_skeletons(tmp_path):
    meta, frames = _mp4_info(render_motion(walk_forward(KIT, T=10), tmp_path / "kit.mp4", size=SIZE))
    assert meta["fps"] == pytest.approx(KIT.fps) and len(frames) == 10


def test_bad_suffix_and_bad_shape(tmp_path):
    with pytest.raises(ValueError):
        render_motion(walk_forward(T=3), tmp_path / "x.avi")
    with pytest.raises(ValueError):
        render_frame(np.zeros((3, 17, 3)))  # cannot infer a skeleton from 17 joints
    with pytest.raises(ValueError):
        render_frame(np.zeros((3, 22)))


# --------------------------------------------------------------------------- frames
def test_frame_not_blank_and_inside_the_image():
    img = render_frame(walk_forward(T=30), 10, size=(480, 480))
    assert img.dtype == np.uint8 and img.shape == (480, 480, 3)
    fg = _foreground(img)
    assert fg.sum() > 3000
    assert not fg[0].any() and not fg[-1].any() and not fg[:, 0].any() and not fg[:, -1].any()
    # the figure fills a good part of the panel (it is fitted, not a small box in the middle)
    rows, cols = np.nonzero(fg)
    assert rows.max() - rows.min() > 0.6 * img.shape[0]


def test_title_and_caption_add_a_header_without_touching_borders():
    plain = render_frame(walk_forward(T=5), 0, size=SIZE)
    img = render_frame(walk_forward(T=5), 0, size=SIZE, title="A person walks",
                       captions="forward in a straight line")
    assert img.shape[1] == plain.shape[1] and img.shape[0] > plain.shape[0]
    assert img.shape[0] % 2 == 0
    fg = _foreground(img)
    assert not fg[0].any() and not fg[-1].any() and not fg[:, 0].any() and not fg[:, -1].any()


def test_left_side_is_drawn_in_the_left_colour():
    styles = chain_styles(HUMANML3D)
    by_chain = {s.joints: s for s in styles}
    assert by_chain[(0, 1, 4, 7, 10)].color in LEFT_COLORS  # left leg
    assert by_chain[(9, 13, 16, 18, 20)].color in LEFT_COLORS  # left arm
    assert by_chain[(0, 2, 5, 8, 11)].color in RIGHT_COLORS
    assert by_chain[(0, 3, 6, 9, 12, 15)].color == SPINE_COLOR

    img = render_frame(walk_forward(T=10), 0, size=(480, 480))
    left = _mask_of(img, LEFT_COLORS)
    right = _mask_of(img, RIGHT_COLORS)
    assert left.sum() > 300 and right.sum() > 300
    # camera in front of the person: their left (+X) is on the viewer's right
    assert np.nonzero(left)[1].mean() > np.nonzero(right)[1].mean()


def test_two_frames_of_a_moving_clip_differ():
    m = walk_forward(T=30)
    a, b = render_frame(m, 0, size=SIZE), render_frame(m, 29, size=SIZE)
    assert (np.abs(a.astype(int) - b.astype(int)).sum(-1) > 30).sum() > 50
    # world view too: the person itself moves across the floor
    a, b = render_frame(m, 0, size=SIZE, follow=False), render_frame(m, 29, size=SIZE, follow=False)
    assert (np.abs(a.astype(int) - b.astype(int)).sum(-1) > 30).sum() > 200


def test_side_by_side(tmp_path):
    a, b = walk_forward(T=30), walk_forward(T=20, speed=0.5)
    img = render_frame([a, b], 5, size=SIZE, captions=["fast", "slow"])
    assert img.shape[1] == 2 * SIZE[0]
    half = img.shape[1] // 2
    assert _foreground(img[:, :half]).sum() > 500 and _foreground(img[:, half:]).sum() > 500
    meta, frames = _mp4_info(render_motion([a, b], tmp_path / "pair.mp4", size=SIZE,
                                           captions=["fast", "slow"]))
    assert len(frames) == 30 and meta["size"][0] == 2 * SIZE[0]
    with pytest.raises(ValueError):
        render_frame([a, b], 0, captions=["only one", "two", "three"])


@pytest.mark.parametrize("skel", [WHOLEBODY, KIT], ids=lambda s: s.name)
def test_other_skeletons_render(skel):
    m = walk_forward(skel, T=10)
    img = render_frame(m, 3, size=SIZE)  # skeleton inferred from J
    fg = _foreground(img)
    assert fg.sum() > 500 and not fg[0].any() and not fg[-1].any()
    assert _mask_of(img, LEFT_COLORS).sum() > 50 and _mask_of(img, RIGHT_COLORS).sum() > 50
    np.testing.assert_array_equal(img, render_frame(m, 3, skel, size=SIZE))


def test_wholebody_fingers_are_thinner():
    styles = chain_styles(WHOLEBODY)
    fingers = [s for s in styles if s.finger]
    assert len(fingers) == 10
    assert max(s.width for s in fingers) < min(s.width for s in styles if not s.finger)
    assert {s.side for s in fingers} == {1, -1}


def test_kit_in_millimetres_matches_metres():
    import dataclasses

    m_mm = walk_forward(KIT, T=8)
    img_mm = render_frame(m_mm, 4, KIT, size=SIZE)
    kit_m = dataclasses.replace(KIT, unit="m")
    img_m = render_frame(m_mm / 1000.0, 4, kit_m, size=SIZE)
    assert _foreground(img_mm).sum() > 500
    assert (np.abs(img_mm.astype(int) - img_m.astype(int)).sum(-1) > 30).mean() < 0.002


def test_render_strip(tmp_path):
    out = render_strip(walk_forward(T=30), tmp_path / "strip.png", n=5, size=(120, 160))
    img = iio.imread(out)
    assert img.shape[:2] == (160, 5 * 120)
    two = iio.imread(render_strip([walk_forward(T=30), walk_forward(T=30)], tmp_path / "s2.png",
                                  n=4, size=(120, 160), captions=["a", "b"]))
    assert two.shape[1] == 4 * 120 and two.shape[0] > 2 * 160


def test_single_frame_and_nan_tolerated():
    m = walk_forward(T=1)
    assert _foreground(render_frame(m, 0, size=SIZE)).sum() > 500
    m = walk_forward(T=6)
    m[2, 5] = np.nan
    assert _foreground(render_frame(m, 2, size=SIZE)).sum() > 500
