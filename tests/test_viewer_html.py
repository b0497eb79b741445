"""Self-contained HTML viewer: file content, and drawing in headless Chromium (Debian's ``chromium``).

Chromium is installed by ``make system-deps`` (run by ``make test``); when it is not on ``PATH`` the
browser tests are skipped with that reason. WebGL runs on
SwiftShader (software) with ``--use-gl=swiftshader --enable-unsafe-swiftshader``.
"""
from __future__ import annotations

import base64
import json
import re
import subprocess
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from motiongpt2.motion.skeleton import HUMANML3D, WHOLEBODY
from motiongpt2.render import LEFT_COLORS, RIGHT_COLORS, SPINE_COLOR
from motiongpt2.motion.synthetic import synthetic_motion
from motiongpt2.render.html import html_viewer, write_html_viewer

from tooling import require_tool  # noqa: E402



@pytest.fixture(scope="module")
def chromium() -> str:
    return require_tool("chromium")


def screenshot(chromium: str, page: Path, frag: str, out: Path, tmp: Path, size=(640, 480)) -> np.ndarray:
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--use-gl=swiftshader",
           "--enable-unsafe-swiftshader", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp / 'chromium-profile'}", "--hide-scrollbars",
           f"--window-size={size[0]},{size[1]}", f"--screenshot={out}", page.as_uri() + frag]
    res = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=120)
    assert out.exists(), f"no screenshot (rc={res.returncode}): {res.stderr[-2000:]}"
    return iio.imread(out)[..., :3].astype(np.int16)


def coloured(img: np.ndarray) -> np.ndarray:
    """Mask of strongly coloured pixels (the red/blue bones; background, grid and text are grey)."""
    return (img.max(-1) - img.min(-1)) > 80


def test_page_is_self_contained(tmp_path):
    pos = synthetic_motion(HUMANML3D, seconds=1.0)
    text = html_viewer([pos, pos], fps=20.0, captions=["a <b>walk</b>", "</script><script>alert(1)"],
                       title="T & T")
    assert "<script src" not in text and "<link" not in text and "import(" not in text
    assert not re.search(r"""(src|href)\s*=\s*["']?https?://""", text)
    assert text.count("</script>") == 4                          # data, three, controls, app
    assert "&lt;b&gt;walk&lt;/b&gt;" in text and "T &amp; T" in text
    data = json.loads(re.search(r'<script id="mg2-data" type="application/json">(.*?)</script>', text, re.DOTALL)
                      .group(1).replace("<\\/script", "</script"))
    assert data["fps"] == 20.0 and len(data["motions"]) == 2
    arr = np.frombuffer(base64.b64decode(data["motions"][0]["data"]), dtype="<f4").reshape(pos.shape)
    assert np.allclose(arr, pos, atol=1e-6)
    colours = {b[2] for b in data["motions"][0]["bones"]}
    assert SPINE_COLOR in colours and LEFT_COLORS[0] in colours and RIGHT_COLORS[0] in colours
    with pytest.raises(ValueError):
        html_viewer([pos], fps=20.0, captions=["a", "b"])


def test_viewer_draws_and_animates(tmp_path, chromium):
    pos = synthetic_motion(HUMANML3D, seconds=3.0, seed=3)
    page = write_html_viewer([pos], tmp_path / "v.html", fps=20.0, captions=["a person sways"])
    a = screenshot(chromium, page, "#t=0.2", tmp_path / "a.png", tmp_path)
    b = screenshot(chromium, page, "#t=2.0", tmp_path / "b.png", tmp_path)
    assert coloured(a).sum() > 150 and coloured(b).sum() > 150, "the figure is not drawn"
    changed = (np.abs(a - b).max(-1) > 40).sum()
    assert changed > 150, f"only {changed} pixels differ between t=0.2 s and t=2.0 s"
    again = screenshot(chromium, page, "#t=0.2", tmp_path / "c.png", tmp_path)
    assert (np.abs(again - a).max(-1) > 40).sum() < 0.2 * changed   # the fragment pins the time


def test_viewer_several_motions_wholebody(tmp_path, chromium):
    m1 = synthetic_motion(WHOLEBODY, seconds=2.0, seed=1)
    m2 = synthetic_motion(HUMANML3D, seconds=1.0, seed=2)
    page = write_html_viewer([m1, m2], tmp_path / "w.html", fps=20.0, captions=["hands", "body"], title="two")
    img = screenshot(chromium, page, "#t=0.5", tmp_path / "w.png", tmp_path)
    mask = coloured(img)
    cols = np.flatnonzero(mask.any(0))
    assert mask.sum() > 200 and cols.max() - cols.min() > 100     # two figures side by side
