"""Recipe ``cmu-humanml3d``: CMU mocap trials cut and captioned like HumanML3D.

Inputs (all under the shared data root, see its README):

* ``mocap/cmu/manifest.json`` — one motion file per trial, its rig (``skeleton``), fps and frames; its
  ``fps`` is the take's true rate and wins over a BVH header (recorded per clip in ``dataset.json``);
* ``annotations/humanml3d/cmu_pairs.csv`` — HumanML3D ids cut from CMU trials (start/end at 20 fps);
* ``annotations/humanml3d/captions.json`` and ``{train,val,test}.txt`` — captions and official splits;
* ``annotations/kitml/{annotations.json,cmu_pairs.csv,splits/}`` — KIT-ML whole-trial texts and splits;
* ``mocap/cmu/descriptions.csv`` — the CMU database's one-line trial descriptions.

Clips:

1. every plain HumanML3D id of ``cmu_pairs.csv`` becomes a clip with that id, its 20-fps frame range,
   its HumanML3D captions (or, when it has none, the trial's KIT-ML text, else its CMU description)
   and its official split;
2. the parts of each trial not covered by a HumanML3D id become clips ``cmuSS_TT_pNN`` of at most
   ``max_len`` frames, captioned with the trial's KIT-ML texts or its CMU description; their split is
   the trial's HumanML3D split (majority) or its KIT-ML split, else a seeded hash of the trial, so that
   one trial's frames never straddle train and test where the official splits allow it.

The engine adds a mirrored copy (``M`` + id) of every clip, using HumanML3D's own mirrored captions where
they exist and swapping left/right words otherwise.
"""
from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from pathlib import Path

from motiongpt2.data.recipes.base import Caption, ClipSpec, Plan, SourceJob, split_for
from motiongpt2.errors import DatasetError

LICENCE = ("CMU Graphics Lab Motion Capture Database (mocap.cs.cmu.edu), free for research, not for resale; "
           "created with funding from NSF EIA-0196217. Captions: HumanML3D (MIT), KIT-ML (MIT, cite Plappert et al. 2016).")


def _read_split_files(folder: Path, names=("train", "val", "test")) -> dict[str, str]:
    out: dict[str, str] = {}
    for split in names:
        f = folder / f"{split}.txt"
        if f.exists():
            for line in f.read_text().split():
                out[line.strip()] = split
    return out


def _need(path: Path) -> Path:
    if not path.exists():
        raise DatasetError(path, "required input file is missing",
                           "point --shared at the folder that holds mocap/ and annotations/ (see its README)")
    return path


def description_caption(description: str) -> str:
    """Turn a CMU database description (``"playground - forward jumps, turn around"``) into a caption."""
    text = " ".join(description.replace("_", " ").split()).strip(" .")
    if " - " in text:
        place, action = text.split(" - ", 1)
        text = f"{action} ({place})"
    return f"a person performs: {text.lower()}."


def plan(shared: Path, fps: float = 20.0, max_len: int = 196, min_len: int = 40) -> Plan:
    """Build the clip plan from the shared data root (no motion is read here)."""
    cmu = shared / "mocap" / "cmu"
    hml = shared / "annotations" / "humanml3d"
    kit = shared / "annotations" / "kitml"
    manifest = json.loads(_need(cmu / "manifest.json").read_text())
    captions = json.loads(_need(hml / "captions.json").read_text())
    hml_split = _read_split_files(hml)
    kit_split = _read_split_files(kit / "splits")
    kit_ann = json.loads(_need(kit / "annotations.json").read_text()) if (kit / "annotations.json").exists() else {}

    descriptions: dict[str, str] = {}
    if (cmu / "descriptions.csv").exists():
        with open(cmu / "descriptions.csv", newline="") as fh:
            descriptions = {r["trial"]: r["description"] for r in csv.DictReader(fh)}

    kit_texts: dict[str, list[Caption]] = {}
    kit_trial_split: dict[str, str] = {}
    if (kit / "cmu_pairs.csv").exists():
        with open(kit / "cmu_pairs.csv", newline="") as fh:
            for r in csv.DictReader(fh):
                if r["mirrored"] == "1":
                    continue
                ann = kit_ann.get(r["kitml_id"], {}).get("annotations", [])
                kit_texts[r["trial"]] = [Caption(a["text"].strip(), 0.0, 0.0, "kitml") for a in ann if a["text"].strip()]
                if r["kitml_id"] in kit_split:
                    kit_trial_split[r["trial"]] = kit_split[r["kitml_id"]]

    pairs: dict[str, list[dict]] = defaultdict(list)
    with open(_need(hml / "cmu_pairs.csv"), newline="") as fh:
        for r in csv.DictReader(fh):
            if not r["humanml3d_id"].startswith("M"):
                pairs[r["trial"]].append(r)

    def trial_text(trial: str) -> list[Caption]:
        if kit_texts.get(trial):
            return list(kit_texts[trial])
        if trial in descriptions:
            return [Caption(description_caption(descriptions[trial]), 0.0, 0.0, "cmu-description")]
        return []

    def hml_captions(hid: str) -> list[Caption]:
        return [Caption(c["caption"].strip(), float(c["start"]), float(c["end"]), f"humanml3d/{c['source']}")
                for c in captions.get(hid, []) if c["caption"].strip()]

    jobs: list[SourceJob] = []
    skipped: list[str] = []
    for trial, entry in sorted(manifest.items()):
        path = cmu / entry["path"]
        n_target = int(entry["frames"] * fps / float(entry["fps"]))
        clips: list[ClipSpec] = []
        covered = [False] * n_target
        splits_seen: Counter = Counter()
        for r in pairs.get(trial, []):
            hid = r["humanml3d_id"]
            start, end = int(r["start_frame"]), int(r["end_frame"])
            end = n_target if end < 0 else min(end, n_target)
            if end - start < min_len:
                skipped.append(f"{path}: HumanML3D id {hid} frames {start}-{end} shorter than {min_len} frames at {fps:g} fps "
                               f"(trial has {n_target}) — not used")
                continue
            caps = hml_captions(hid) or trial_text(trial)
            split = hml_split.get(hid) or kit_trial_split.get(trial) or split_for(trial)
            splits_seen[split] += 1
            clips.append(ClipSpec(hid, start, end, caps, split, mirror_captions=hml_captions("M" + hid) or None,
                                  meta={"trial": trial, "kind": "humanml3d-id",
                                        "captions": "humanml3d" if hml_captions(hid) else "trial-text"}))
            for i in range(start, end):
                covered[i] = True
        # Uncovered runs of the trial become extra clips.
        trial_split = (splits_seen.most_common(1)[0][0] if splits_seen
                       else kit_trial_split.get(trial) or split_for(trial))
        texts = trial_text(trial)
        runs, i = [], 0
        while i < n_target:
            if covered[i]:
                i += 1
                continue
            j = i
            while j < n_target and not covered[j]:
                j += 1
            runs.append((i, j))
            i = j
        part = 0
        for a, b in runs:
            if b - a < min_len:
                continue
            if not texts:
                skipped.append(f"{path}: frames {a}-{b} of trial {trial} have no caption source — not used")
                continue
            clips.append(ClipSpec(f"cmu{trial}_p{part:02d}", a, b, texts, trial_split, chunk=True,
                                  meta={"trial": trial, "kind": "trial-part", "captions": texts[0].source}))
            part += 1
        if not clips:
            skipped.append(f"{path}: trial {trial} gave no clip (shorter than {min_len} frames at {fps:g} fps or no captions)")
            continue
        asf = cmu / entry["asf"] if entry.get("asf") else None
        # the manifest's fps wins over the file header (salsa BVH headers say 120 for 60-fps takes;
        # AMC files carry no rate and three of them are 60 fps)
        jobs.append(SourceJob(path=path, clips=clips, preset=entry["skeleton"], asf=asf, fps=float(entry["fps"])))

    meta = {
        "recipe": "cmu-humanml3d",
        "sources": ["mocap/cmu", "annotations/humanml3d", "annotations/kitml"],
        "licences": [LICENCE],
        "trials": len(manifest),
        "skeletons": dict(Counter(e["skeleton"] for e in manifest.values())),
    }
    return Plan(name="cmu-humanml3d", jobs=jobs, meta=meta, skipped=skipped)
