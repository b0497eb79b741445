"""Plan objects shared by the ``prepare`` recipes.

A recipe turns a source folder into a :class:`Plan`: a list of :class:`SourceJob` (one motion file to
read, with the clips to cut from it) plus dataset-level metadata. The engine in
:mod:`motiongpt2.data.prepare` executes a plan in parallel and writes the HumanML3D layout.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Caption:
    """One caption of a clip; ``start``/``end`` in seconds within the clip, 0.0/0.0 = whole clip."""

    text: str
    start: float = 0.0
    end: float = 0.0
    source: str = ""


@dataclass
class ClipSpec:
    """One clip to cut from a source motion.

    Attributes:
        clip_id: output id (file stem); the mirrored copy gets ``"M" + clip_id``.
        start, end: frame range at the *target* fps (20 for HumanML3D), end exclusive;
            ``end=None`` means to the end of the source.
        captions: captions of the clip; ``mirror_captions`` optionally gives the mirrored clip's own
            captions (HumanML3D ships them); otherwise left/right words are swapped.
        split: ``"train"``, ``"val"`` or ``"test"``.
        chunk: when true, a range longer than the maximum clip length is cut into near-equal chunks
            ``<clip_id>_NN`` that share the captions (whole-trial texts); otherwise it is cropped.
        meta: free-form provenance recorded in ``dataset.json``.
    """

    clip_id: str
    start: int
    end: int | None
    captions: list[Caption]
    split: str
    mirror_captions: list[Caption] | None = None
    chunk: bool = False
    meta: dict = field(default_factory=dict)


@dataclass
class SourceJob:
    """One motion file and the clips cut from it.

    ``path`` is a file on disk or an archive; ``member`` names the file inside the archive.
    ``preset`` names the retargeting preset (see :mod:`motiongpt2.motion.io.retarget`); ``map_file``
    is a user JSON map; ``asf`` is the skeleton file of an AMC motion. ``fps`` is the take's true
    frame rate when the recipe knows it (a manifest), which wins over the file's header.
    """

    path: Path
    clips: list[ClipSpec]
    member: str | None = None
    preset: str = "auto"
    map_file: Path | None = None
    asf: Path | None = None
    fps: float | None = None

    @property
    def display_name(self) -> str:
        return f"{self.path}:{self.member}" if self.member else str(self.path)


@dataclass
class Plan:
    """Everything a recipe decided; the engine only executes it."""

    name: str
    jobs: list[SourceJob]
    meta: dict = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # one line per input not planned, with the reason


def chunk_ranges(n_frames: int, max_len: int, min_len: int) -> list[tuple[int, int]]:
    """Split ``n_frames`` into consecutive, near-equal chunks of at most ``max_len`` frames.

    Chunks shorter than ``min_len`` are not produced (a clip shorter than ``min_len`` gives ``[]``).
    Returns ``[(start, end), ...]`` with ``end`` exclusive.
    """
    if n_frames < min_len:
        return []
    n_chunks = -(-n_frames // max_len)
    bounds = [round(i * n_frames / n_chunks) for i in range(n_chunks + 1)]
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b - a >= min_len]


def stable_fraction(key: str) -> float:
    """A deterministic number in [0, 1) from a string (for seeded split assignment)."""
    import hashlib

    return int(hashlib.sha1(key.encode()).hexdigest()[:12], 16) / float(1 << 48)


def split_for(key: str, val: float = 0.05, test: float = 0.15) -> str:
    """Deterministic split of an item by its key: ``train`` / ``val`` / ``test`` with the given shares."""
    u = stable_fraction(key)
    if u < test:
        return "test"
    if u < test + val:
        return "val"
    return "train"


def merge_plans(name: str, plans: list[Plan], meta: dict) -> Plan:
    """One plan executing several recipes' jobs into one dataset (clip ids must not collide)."""
    for p in plans:  # each clip remembers its corpus (tokenizer training can balance corpora)
        for job in p.jobs:
            for clip in job.clips:
                clip.meta.setdefault("corpus", p.name)
    merged = dict(meta)
    merged.setdefault("recipes", [p.name for p in plans])
    merged["sources"] = [s for p in plans for s in p.meta.get("sources", [])] + list(meta.get("sources", []))
    merged["licences"] = [x for p in plans for x in p.meta.get("licences", [])] + list(meta.get("licences", []))
    return Plan(name=name, jobs=[j for p in plans for j in p.jobs], meta=merged,
                skipped=[s for p in plans for s in p.skipped])
