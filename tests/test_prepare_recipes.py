"""Recipe planning: chunking, split assignment, captions, custom caption files, real plans."""
from __future__ import annotations

import json
from collections import Counter

import pytest

from motiongpt2.data.recipes import bandai_namco, cmu_humanml3d, custom
from motiongpt2.data.recipes.base import chunk_ranges, split_for
from motiongpt2.errors import DatasetError


def test_chunk_ranges_cover_and_respect_limits():
    parts = chunk_ranges(1000, 197, 41)
    assert parts[0][0] == 0 and parts[-1][1] == 1000
    assert all(b == c for (_, b), (c, _) in zip(parts[:-1], parts[1:]))  # contiguous
    assert all(41 <= b - a <= 197 for a, b in parts)
    assert chunk_ranges(30, 197, 41) == []
    assert chunk_ranges(197, 197, 41) == [(0, 197)]


def test_split_for_is_deterministic_and_proportional():
    keys = [f"take{i}" for i in range(4000)]
    splits = Counter(split_for(k) for k in keys)
    assert [split_for(k) for k in keys[:50]] == [split_for(k) for k in keys[:50]]
    assert 0.12 < splits["test"] / 4000 < 0.18
    assert 0.03 < splits["val"] / 4000 < 0.07


def test_bandai_captions_are_distinct_natural_and_stable():
    caps = bandai_namco.captions_for("walk-turn-left", "exhausted", "dataset-2_walk-turn-left_exhausted_003")
    assert len(caps) == 3 and len({c.text for c in caps}) == 3
    assert all("left" in c.text and c.text.endswith(".") for c in caps)
    assert caps == bandai_namco.captions_for("walk-turn-left", "exhausted", "dataset-2_walk-turn-left_exhausted_003")
    # every label of both datasets has phrasings
    for label in ("walk-back", "raise-up-right-hand", "dance-long", "byebye"):
        assert label in bandai_namco.CONTENT_PHRASES
    for style in ("chimpira", "not-confident", "youthful", "childish"):
        assert style in bandai_namco.STYLE_PHRASES


def test_bandai_splits_keep_each_take_in_one_split_and_stratify():
    groups = {("d", "walk", "happy"): [f"t{i}" for i in range(20)], ("d", "bow", "sad"): ["a", "b"]}
    s = bandai_namco._assign_splits(groups, 0.05, 0.15)
    assert Counter(s[f"t{i}"] for i in range(20)) == Counter({"train": 16, "test": 3, "val": 1})
    assert s["a"] == s["b"] == "train"


def test_description_caption():
    assert cmu_humanml3d.description_caption("playground - forward jumps, turn around") == \
        "a person performs: forward jumps, turn around (playground)."


def test_custom_csv_and_json_caption_files(tmp_path):
    csv_file = tmp_path / "caps.csv"
    csv_file.write_text("file,caption,start,end,split\nwalk.bvh,a person walks,0,2.5,test\nwalk.bvh,someone walks,,,test\n")
    caps = custom.read_caption_file(csv_file)
    assert [c.text for c in caps["walk"]["captions"]] == ["a person walks", "someone walks"]
    assert caps["walk"]["captions"][0].end == 2.5 and caps["walk"]["split"] == "test"
    js = tmp_path / "caps.json"
    js.write_text(json.dumps({"a/run.bvh": ["runs"], "jump": {"captions": ["jumps"], "split": "val"}}))
    caps = custom.read_caption_file(js)
    assert caps["a/run"]["captions"][0].text == "runs" and caps["jump"]["split"] == "val"


@pytest.mark.parametrize("content,line", [("file,text\nx,y\n", 1), ("file,caption,start\nx.bvh,walks,abc\n", 2),
                                          ("file,caption\n,walks\n", 2)])
def test_custom_csv_errors_name_file_and_line(tmp_path, content, line):
    f = tmp_path / "bad.csv"
    f.write_text(content)
    with pytest.raises(DatasetError) as exc:
        custom.read_caption_file(f)
    assert f"{f}:{line}:" in str(exc.value)


@pytest.mark.shared
def test_cmu_plan_on_real_annotations(shared_data):
    plan = cmu_humanml3d.plan(shared_data)
    assert len(plan.jobs) >= 100  # 118 trials, nearly all usable
    clips = [c for j in plan.jobs for c in j.clips]
    ids = [c.clip_id for c in clips]
    assert len(ids) == len(set(ids))
    hml = [c for c in clips if c.meta["kind"] == "humanml3d-id"]
    assert len(hml) >= 100
    assert "004041" in ids  # 01_01 frames 19-219, 3 HumanML3D captions
    c = next(c for c in clips if c.clip_id == "004041")
    assert (c.start, c.end) == (19, 219) and len(c.captions) == 3
    for split in ("train", "val", "test"):
        ids_in = set((shared_data / "annotations/humanml3d" / f"{split}.txt").read_text().split())
        assert all(h.split == split for h in hml if h.clip_id in ids_in)
    # every trial's extra parts share one split with nothing of the same trial in another split when possible
    assert all(j.preset in {"cmu-cgspeed-31", "cmu-cgspeed-31-max", "cmu-daz", "cmu-asfnames-31", "cmu-asf",
                            "iclone-cc-base"} for j in plan.jobs)


@pytest.mark.shared
@pytest.mark.slow
def test_bandai_plan_on_real_archives(shared_data):
    plan = bandai_namco.plan(shared_data)
    assert len(plan.jobs) == 174 + 2902
    assert any("dance-long_normal_001" in s for s in plan.skipped)  # BVH absent from the snapshot: reported
    splits = Counter(j.clips[0].split for j in plan.jobs)
    assert splits["test"] > 300 and splits["train"] > 2000
