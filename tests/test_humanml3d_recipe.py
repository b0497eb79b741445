"""``scripts/humanml3d_recipe.sh`` end to end, as a user with the official HumanML3D release runs it: on a
tiny HumanML3D folder made from the three official processed clips in ``../shared/data`` (features and
joints as released; crops of them so that train / val / test have clips) and an evaluator in the official
``finest.tar`` / ``glove/`` / ``meta/`` format (random weights), with tiny tokenizer and language-model
configs.  It checks that every command of the recipe runs on the official layout and writes the tables."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from motiongpt2.data.layout import write_clip, write_splits
from motiongpt2.data.text import TextEntry, fallback_tag

from lm_fixtures import REPO, save_tiny_backbone  # noqa: E402
from test_eval_evaluator import _fake_official  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.shared]
SAMPLES = ("000000", "007005", "M010968")


def official_folder(shared: Path, root: Path) -> Path:
    """A HumanML3D folder in the official layout: overlapping 48-frame crops of the three official sample
    clips (half of them test), the official Mean/Std, captions (the real ones of 000000, plain ones for
    the two others)."""
    src = shared / "annotations" / "humanml3d"
    captions = json.loads((src / "captions.json").read_text())
    splits: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    k = 0
    for sid in SAMPLES:
        vecs = np.load(src / "official-samples" / f"{sid}_vecs.npy")
        joints = np.load(src / "official-samples" / f"{sid}_joints.npy")
        texts = [c["caption"] for c in captions.get(sid, [])] or [f"a person moves (clip {sid})",
                                                                   f"someone performs motion {sid}"]
        for start in range(0, len(vecs) - 48 + 1, 3):          # 48-frame crops: enough test pairs for R@32
            cid = f"{k:06d}"
            write_clip(root, cid, vecs[start:start + 48], joints[start:start + 48],
                       [TextEntry(t, fallback_tag(t)) for t in texts])
            splits[("train", "test", "val", "test")[k % 4]].append(cid)
            k += 1
    write_splits(root, splits)
    for name in ("Mean.npy", "Std.npy"):
        shutil.copy(src / name, root / name)
    return root


def test_recipe_runs_on_the_official_layout(shared_data, tmp_path):
    hml = official_folder(shared_data, tmp_path / "HumanML3D")
    t2m = tmp_path / "t2m"
    fake = tmp_path / "fake"
    fake.mkdir()
    _, finest, glove, meta = _fake_official(fake)
    (t2m / "t2m" / "text_mot_match" / "model").mkdir(parents=True)
    (t2m / "t2m" / "Comp_v6_KLD01").mkdir()
    shutil.move(finest, t2m / "t2m" / "text_mot_match" / "model" / "finest.tar")
    shutil.move(meta, t2m / "t2m" / "Comp_v6_KLD01" / "meta")
    shutil.move(glove, t2m / "glove")
    backbone = save_tiny_backbone(tmp_path / "backbone")
    out = tmp_path / "runs"
    env = {**os.environ, "HML": str(hml), "T2M": str(t2m), "OUT": str(out), "M": f"{sys.executable} -m motiongpt2.cli",
           "VQ_CONFIG": str(REPO / "configs/tokenizer/tiny_test.yaml"),
           "VQ_OVERRIDES": "train.max_iters=2 train.eval_every=1 train.save_every=1",
           "ALIGN_CONFIG": str(REPO / "configs/lm/tiny_test.yaml"),
           "INSTRUCT_CONFIG": str(REPO / "configs/lm/tiny_test.yaml"),
           "LM_OVERRIDES": f"backbone={backbone} train.max_steps=2 train.eval_every=1 train.save_every=1",
           "REPS": "2", "TASKS": "t2m m2t", "EVAL_ARGS": "--mm-samples 0", "THREADS": "1",
           "MOTIONGPT2_SHARED": str(tmp_path / "no-shared")}
    res = subprocess.run(["bash", str(REPO / "scripts" / "humanml3d_recipe.sh")], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    for run in ("vq", "align", "instruct"):
        assert (out / run / "latest").exists(), run
    for task in ("t2m", "m2t"):
        table = json.loads((out / "eval" / f"{task}_test.json").read_text())
        methods = [r["method"] for r in table["rows"]]
        assert methods[0] == "Real" and any("lm" in m or "instruct" in m for m in methods), methods
        assert table["replications"] == 2 and table["n_pairs"] > 0
        assert "finest.tar" in str(table["evaluator"])
