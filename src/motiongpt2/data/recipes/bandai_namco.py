"""Recipe ``bandai-namco``: the Bandai-Namco Research Motion datasets 1 and 2, captioned from labels.

Each take ``dataset-N_{content}_{style}_{NNN}.bvh`` comes with a JSON ``{"content": i, "style": j}``
indexing ``cfg/content_label.txt`` and ``cfg/style_label.txt``. Captions are written from the label pair
in several natural phrasings ("a person walks while turning left, looking exhausted"); the phrasings are
chosen deterministically per take. Splits are assigned per take (a take's chunks never straddle two
splits), stratified within each (dataset, content, style) group so every label pair with enough takes
appears in test. Both archives are read without extracting them.
"""
from __future__ import annotations

import json
import random
import tarfile
from collections import defaultdict
from pathlib import Path

from motiongpt2.data.recipes.base import Caption, ClipSpec, Plan, SourceJob, stable_fraction
from motiongpt2.errors import DatasetError

LICENCE = ("Bandai-Namco-Research-Motiondataset, CC BY-NC 4.0 (non-commercial, attribution). Kobayashi et al., "
           "'Motion Capture Dataset for Practical Use of AI-based Motion Editing and Stylization', arXiv:2306.08861, 2023.")

# Verb phrases per content label (present tense, third person).
CONTENT_PHRASES: dict[str, list[str]] = {
    "walk": ["walks forward", "walks straight ahead", "takes a few steps forward"],
    "run": ["runs forward", "jogs straight ahead", "runs ahead"],
    "dash": ["sprints forward", "dashes ahead at full speed", "runs forward very fast"],
    "walk-back": ["walks backwards", "steps backward several times", "walks in reverse"],
    "walk-left": ["walks sideways to the left", "steps to the left", "moves sideways towards the left"],
    "walk-right": ["walks sideways to the right", "steps to the right", "moves sideways towards the right"],
    "walk-turn-left": ["walks while turning left", "walks forward and turns to the left", "walks in a curve to the left"],
    "walk-turn-right": ["walks while turning right", "walks forward and turns to the right", "walks in a curve to the right"],
    "bow": ["bows", "takes a bow", "bends forward in a polite bow"],
    "bye": ["waves goodbye", "waves a hand to say goodbye", "says goodbye with a wave"],
    "byebye": ["waves goodbye repeatedly", "waves goodbye with big motions", "keeps waving goodbye"],
    "guide": ["gestures to guide someone the way", "points the way with an arm", "shows someone where to go"],
    "respond": ["responds to someone with a gesture", "answers a call with a gesture", "reacts to being called"],
    "call": ["calls out to someone and beckons", "beckons someone to come over", "waves someone over"],
    "punch": ["throws a punch", "punches forward", "strikes with a fist"],
    "kick": ["kicks forward", "throws a kick", "kicks with one leg"],
    "slash": ["slashes with a sword", "swings an imaginary blade", "makes a slashing attack"],
    "dance-long": ["dances", "performs a long dance", "dances energetically"],
    "dance-short": ["dances briefly", "performs a short dance", "does a short dance move"],
    "wave-both-hands": ["waves both hands", "waves with both arms raised", "waves both hands in the air"],
    "wave-left-hand": ["waves the left hand", "waves with the left arm", "raises the left hand and waves"],
    "wave-right-hand": ["waves the right hand", "waves with the right arm", "raises the right hand and waves"],
    "raise-up-both-hands": ["raises both hands", "lifts both arms up", "puts both hands up in the air"],
    "raise-up-left-hand": ["raises the left hand", "lifts the left arm up", "puts the left hand up"],
    "raise-up-right-hand": ["raises the right hand", "lifts the right arm up", "puts the right hand up"],
}

# Manner phrases per style label, appended to the verb phrase ("" = plain).
STYLE_PHRASES: dict[str, list[str]] = {
    "normal": ["", " in a normal way", " calmly"],
    "happy": [" happily", ", looking happy", " in a cheerful mood"],
    "sad": [" sadly", ", looking sad", " with a sad, drooping posture"],
    "angry": [" angrily", ", looking angry", " in an angry manner"],
    "proud": [" proudly", ", looking proud", " with a proud, upright posture"],
    "not-confident": [" without confidence", ", looking unsure", " timidly"],
    "masculinity": [" in a masculine manner", " with a masculine attitude", " in a manly way"],
    "masculine": [" in a masculine manner", " with a masculine attitude", " in a manly way"],
    "feminine": [" in a feminine manner", " gracefully, in a feminine way", " with a feminine attitude"],
    "childish": [" like a child", " in a childish way", " playfully like a child"],
    "children": [" like a child", " in a childish way", " playfully like a child"],
    "old": [" like an old person", " slowly like an elderly person", " with the posture of an old person"],
    "elderly": [" like an elderly person", " slowly like an old person", " with the posture of an elderly person"],
    "tired": [", looking tired", " wearily", " in a tired way"],
    "exhausted": [", looking exhausted", " wearily, completely exhausted", " in an exhausted way"],
    "active": [" energetically", " actively and full of energy", ", very lively"],
    "youthful": [" in a youthful way", " with youthful energy", " lively like a young person"],
    "musical": [" theatrically, like in a musical", " in a musical style", " with exaggerated, theatrical moves"],
    "giant": [" like a giant with heavy steps", " like a huge, heavy giant", " in a giant's heavy manner"],
    "chimpira": [" like a street thug", " with a swaggering, thuggish attitude", " like a delinquent"],
}

SUBJECTS = ["a person", "someone", "the person", "a man"]


def _label(lines: list[str], index: int, dataset: str) -> str:
    name = lines[index].strip()
    prefix = f"{dataset}_"
    return name[len(prefix):] if name.startswith(prefix) else name


def captions_for(content: str, style: str, take: str, n: int = 3) -> list[Caption]:
    """``n`` distinct captions for a (content, style) pair, chosen deterministically from ``take``."""
    verbs = CONTENT_PHRASES.get(content, [content.replace("-", " ")])
    manners = STYLE_PHRASES.get(style, [f" in a {style.replace('-', ' ')} style"])
    rng = random.Random(take)
    combos = [(s, v, m) for v in verbs for m in manners for s in SUBJECTS]
    rng.shuffle(combos)
    out, seen_verb = [], set()
    for s, v, m in combos:  # prefer different verb phrases first
        if v in seen_verb and len(seen_verb) < len(verbs):
            continue
        seen_verb.add(v)
        out.append(Caption(f"{s} {v}{m}.", 0.0, 0.0, "bandai-labels"))
        if len(out) == n:
            break
    return out


def _assign_splits(groups: dict[tuple, list[str]], val: float, test: float) -> dict[str, str]:
    """Stratified per-take split: within each label group takes are ordered by a stable hash and the
    first ``round(test·n)`` go to test, the next ``round(val·n)`` to val (groups of < 3 stay in train)."""
    out: dict[str, str] = {}
    for takes in groups.values():
        takes = sorted(takes, key=stable_fraction)
        n = len(takes)
        n_test = round(test * n) if n >= 3 else 0
        n_val = round(val * n) if n >= 10 else 0
        for i, t in enumerate(takes):
            out[t] = "test" if i < n_test else "val" if i < n_test + n_val else "train"
    return out


def plan(shared: Path, val: float = 0.05, test: float = 0.15) -> Plan:
    """Read the labels of both archives and plan one chunked clip per take."""
    root = shared / "mocap" / "bandai-namco"
    jobs: list[SourceJob] = []
    skipped: list[str] = []
    groups: dict[tuple, list[str]] = defaultdict(list)
    takes: dict[str, tuple[Path, str, str, str]] = {}
    for ds in ("dataset-1", "dataset-2"):
        archive = root / f"{ds}.tar.xz"
        if not archive.exists():
            raise DatasetError(archive, "archive is missing", "point --shared at the folder holding mocap/bandai-namco")
        contents = (root / ds / "cfg" / "content_label.txt").read_text().splitlines()
        styles = (root / ds / "cfg" / "style_label.txt").read_text().splitlines()
        bvh, labels = set(), {}
        with tarfile.open(archive, "r|xz") as tar:
            for m in tar:
                stem = Path(m.name).stem
                if m.name.endswith(".bvh"):
                    bvh.add(stem)
                elif m.name.endswith(".json"):
                    try:
                        labels[stem] = json.loads(tar.extractfile(m).read())
                    except (ValueError, AttributeError) as err:
                        skipped.append(f"{archive}:{m.name}: unreadable label JSON ({err}) — take not used")
        for stem in sorted(labels.keys() | bvh):
            if stem not in bvh:
                skipped.append(f"{archive}:data/{stem}.bvh: label JSON present but the BVH is missing from the archive")
                continue
            if stem not in labels:
                skipped.append(f"{archive}:data/{stem}.json: no label JSON for this BVH — take not used")
                continue
            lab = labels[stem]
            try:
                content, style = _label(contents, lab["content"], ds), _label(styles, lab["style"], ds)
            except (KeyError, IndexError, TypeError):
                skipped.append(f"{archive}:data/{stem}.json: label {lab} is not a valid content/style index — take not used")
                continue
            takes[stem] = (archive, f"data/{stem}.bvh", content, style)
            groups[(ds, content, style)].append(stem)
    splits = _assign_splits(groups, val, test)
    for stem, (archive, member, content, style) in sorted(takes.items()):
        clip_id = "bn" + stem.replace("dataset-", "").replace("_", "-")
        clip = ClipSpec(clip_id, 0, None, captions_for(content, style, stem), splits[stem], chunk=True,
                        meta={"take": stem, "content": content, "style": style})
        jobs.append(SourceJob(path=archive, member=member, clips=[clip], preset="bandai-namco"))
    meta = {
        "recipe": "bandai-namco",
        "sources": ["mocap/bandai-namco/dataset-1.tar.xz", "mocap/bandai-namco/dataset-2.tar.xz"],
        "licences": [LICENCE],
        "takes": len(takes),
        "label_pairs": {f"{k[0]}:{k[1]}:{k[2]}": len(v) for k, v in sorted(groups.items())},
        "captions": "generated from content x style labels (templates in motiongpt2.data.recipes.bandai_namco)",
    }
    return Plan(name="bandai-namco", jobs=jobs, meta=meta, skipped=skipped)
