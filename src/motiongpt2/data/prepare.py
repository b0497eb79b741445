"""The ``prepare`` engine: execute a recipe's :class:`~motiongpt2.data.recipes.base.Plan` in parallel.

For every source motion (a file, or a member of a ``.tar.*``/``.zip`` archive streamed once) a worker
process loads and retargets it to the target skeleton at the target fps, cuts the planned clips,
computes HumanML3D features and their recovered joints, and writes ``new_joint_vecs/<id>.npy`` and
``new_joints/<id>.npy`` (plus the mirrored ``M<id>`` copy). The main process tags captions (POS),
writes ``texts/``, the split files, ``Mean.npy``/``Std.npy`` (train split) and ``dataset.json`` with the
sources, counts, licences, the command and every skipped input with its reason.
"""
from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from tqdm import tqdm

from motiongpt2.data.recipes.base import Caption, ClipSpec, Plan, SourceJob, chunk_ranges
from motiongpt2.errors import DatasetError, MotionGPT2Error
from motiongpt2.motion.hands import HandBank, attach_canonical_hands
from motiongpt2.runtime import git_commit


@dataclass
class PrepareConfig:
    """Settings of one ``prepare`` run.

    ``max_len``/``min_len`` count feature rows (HumanML3D: 196 / 40 at 20 fps); a clip of ``n`` joint
    frames gives ``n - 1`` feature rows.
    """

    out: Path
    skeleton: str = "humanml3d"
    fps: float = 20.0
    max_len: int = 196
    min_len: int = 40
    workers: int = max(1, min(2, os.cpu_count() or 1))
    mirror: bool = True
    heading: str = "official"  # IK heading: "official" (HumanML3D-exact) or "consistent" (corrected)
    hands: "HandBank | None" = None  # composite whole-body: real finger clips attached to every body clip


@dataclass
class ClipRecord:
    """What a worker wrote for one clip (mirrored copies are separate records)."""

    clip_id: str
    split: str
    n_rows: int
    captions: list[Caption]
    meta: dict = field(default_factory=dict)


@dataclass
class PrepareReport:
    out: Path
    clips: dict[str, int]
    frames: int
    seconds: float
    sources: int
    failures: list[str]
    skipped: list[str]
    elapsed_s: float


# ----------------------------------------------------------------------------------------- worker
def _load_positions(job: SourceJob, data: bytes | None, cfg: PrepareConfig) -> tuple[np.ndarray, dict]:
    """Joint positions ``(T, J, 3)`` float32, metres, Y-up, at ``cfg.fps`` for one source, and what the
    clips' records keep of the load: native fps (and the header's when a manifest rate overrode it) and
    the number of native frames of a leading reference pose (T-pose) that were dropped."""
    from motiongpt2.motion.io.load import load_joints

    body_target = "humanml3d" if cfg.hands is not None else cfg.skeleton
    kwargs = dict(preset=job.preset, map_file=job.map_file, target=body_target, fps=cfg.fps)
    if job.asf is not None:
        kwargs["asf"] = job.asf
    if job.fps is not None:
        kwargs["native_fps"] = job.fps
    if data is None:
        joints = load_joints(job.path, **kwargs)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / Path(job.member).name
            path.write_bytes(data)
            joints = load_joints(path, **kwargs)
    info = joints.info
    record = {"native_fps": float(info.get("native_fps", cfg.fps))}
    header = info.get("header_fps")
    if header is not None and abs(float(header) - record["native_fps"]) > 1e-3 * record["native_fps"]:
        record["header_fps"] = round(float(header), 4)
        record["fps_from"] = "manifest"
    if info.get("dropped_leading_frames"):  # frames count from the first real frame, after the reference pose
        record["dropped_reference_frames"] = int(info["dropped_leading_frames"])
    return joints.positions, record


def _clip_ranges(clip: ClipSpec, n_frames: int, cfg: PrepareConfig) -> list[tuple[str, int, int]]:
    """``[(clip_id, start, end), ...]`` in joint frames for one planned clip of a source of ``n_frames``."""
    start = max(0, clip.start)
    end = n_frames if clip.end is None else min(clip.end, n_frames)
    if end - start - 1 < cfg.min_len:
        return []
    if not clip.chunk or end - start - 1 <= cfg.max_len:
        return [(clip.clip_id, start, end)]
    parts = chunk_ranges(end - start, cfg.max_len + 1, cfg.min_len + 1)
    return [(f"{clip.clip_id}_{k:02d}", start + a, start + b) for k, (a, b) in enumerate(parts)]


def _write_clip_arrays(out: Path, clip_id: str, positions: np.ndarray, skel, heading: str = "official") -> int:
    from motiongpt2.motion.features import extract_features

    feats, joints = extract_features(positions, skel, heading=heading)
    if not (np.isfinite(feats).all() and np.isfinite(joints).all()):
        raise ValueError("features contain NaN/Inf")
    for folder, arr in (("new_joint_vecs", feats), ("new_joints", joints)):
        dst = out / folder / f"{clip_id}.npy"
        tmp = dst.with_suffix(".tmp.npy")
        np.save(tmp, arr.astype(np.float32))
        os.replace(tmp, dst)
    return len(feats)


def process_source(job: SourceJob, data: bytes | None, cfg: PrepareConfig) -> tuple[list[ClipRecord], list[str]]:
    """Load one source, write all its clips; returns the records and one failure line per problem."""
    from motiongpt2.motion.mirror import mirror_joints
    from motiongpt2.motion.skeleton import get_skeleton
    from motiongpt2.data.text import swap_left_right

    skel = get_skeleton(cfg.skeleton)
    records: list[ClipRecord] = []
    failures: list[str] = []
    try:
        positions, load_record = _load_positions(job, data, cfg)
    except MotionGPT2Error as err:
        return [], [str(err)]
    except Exception as err:  # a bug or an unforeseen file problem: report it, keep going
        return [], [f"{job.display_name}: could not be read ({type(err).__name__}: {err}) — please report this file"]
    for clip in job.clips:
        ranges = _clip_ranges(clip, len(positions), cfg)
        if not ranges:
            failures.append(f"{job.display_name}: clip {clip.clip_id} frames {clip.start}-{'end' if clip.end is None else clip.end} gives fewer than "
                            f"{cfg.min_len} frames (source has {len(positions)} at {cfg.fps:g} fps) — not used")
            continue
        for clip_id, a, b in ranges:
            caps = clip.captions if (a, b) == (clip.start, clip.end) or not clip.chunk else \
                [Caption(c.text, 0.0, 0.0, c.source) for c in clip.captions]
            meta = dict(clip.meta, source=job.display_name, frames=[a, b], **load_record)
            try:
                pos = positions[a:b]
                if cfg.hands is not None:
                    left, right = (cfg.hands.sample(side, b - a, clip_id) for side in ("left", "right"))
                    pos = attach_canonical_hands(pos, left, right)
                    meta["hands"] = "composite: ManipNet fingers attached at the wrists"
                n = _write_clip_arrays(cfg.out, clip_id, pos, skel, cfg.heading)
                records.append(ClipRecord(clip_id, clip.split, n, caps, meta))
                if cfg.mirror:
                    n = _write_clip_arrays(cfg.out, "M" + clip_id, mirror_joints(pos, skel), skel, cfg.heading)
                    mcaps = clip.mirror_captions or [Caption(swap_left_right(c.text), c.start, c.end, c.source)
                                                     for c in caps]
                    records.append(ClipRecord("M" + clip_id, clip.split, n, mcaps, dict(meta, mirrored=True)))
            except Exception as err:
                failures.append(f"{job.display_name}: clip {clip_id} failed ({type(err).__name__}: {err}) — not used")
    return records, failures


def _distinct_records(records: list[ClipRecord], failures: list[str], out: Path) -> list[ClipRecord]:
    """Records sorted by id, without ids written by more than one source (e.g. ``walk`` chunked into
    ``walk_00`` and a file named ``walk_00``): their files may hold either source, so they are deleted and
    each source is listed in ``failures``."""
    count = Counter(r.clip_id for r in records)
    for r in records:
        if count[r.clip_id] > 1:
            failures.append(f"{r.meta.get('source', '?')}: clip id {r.clip_id} is also written by another "
                            "source — rename one of the files; not used")
            for folder in ("new_joint_vecs", "new_joints"):
                (out / folder / f"{r.clip_id}.npy").unlink(missing_ok=True)
    return sorted((r for r in records if count[r.clip_id] == 1), key=lambda r: r.clip_id)


# ----------------------------------------------------------------------------------------- feeding
def _iter_inputs(jobs: list[SourceJob]):
    """Yield ``(job, bytes | None)``: plain files as paths, archive members streamed once per archive."""
    from motiongpt2.motion.io.archive import iter_archive

    by_archive: dict[Path, dict[str, SourceJob]] = defaultdict(dict)
    for job in jobs:
        if job.member is None:
            yield job, None
        else:
            by_archive[job.path][job.member] = job
    for archive, wanted in by_archive.items():
        for name, data in iter_archive(archive, wanted=set(wanted)):
            yield wanted[name], data


def check_output_folder(out: Path) -> None:
    """Refuse (one line) an output path that ``prepare`` must not replace: a file, or a non-empty folder that
    is not a dataset (no ``dataset.json`` or ``new_joint_vecs/``), e.g. a home folder given by mistake."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DatasetError(out, "exists and is not a folder", "choose a new folder for the dataset")
    if out.is_dir() and any(out.iterdir()) and not ((out / "dataset.json").exists() or (out / "new_joint_vecs").is_dir()):
        raise DatasetError(out, "is a non-empty folder that holds no dataset; prepare would replace it",
                           "choose a new or empty folder, or a dataset folder to rebuild")


def run_plan(plan: Plan, cfg: PrepareConfig, command: str | None = None, progress: bool = True) -> PrepareReport:
    """Execute ``plan`` into ``cfg.out`` (HumanML3D layout) and return the counts.

    Atomic: everything is built in a hidden temporary folder beside ``cfg.out`` that replaces it only when
    complete (:func:`motiongpt2.atomic.atomic_folder`), so an error or Ctrl-C leaves the previous state (no
    folder, or the previous dataset) untouched. A plan that yields no clip at all raises one
    :class:`MotionGPT2Error` line (with the first reason) and writes nothing.
    """
    from motiongpt2.atomic import atomic_folder

    final = Path(cfg.out)
    check_output_folder(final)
    box: dict[str, PrepareReport] = {}

    def fill(tmp: Path) -> None:
        box["report"] = _build(plan, dataclasses.replace(cfg, out=tmp), command, progress)

    atomic_folder(final, fill)
    report = box["report"]
    report.out = final
    return report


def _build(plan: Plan, cfg: PrepareConfig, command: str | None, progress: bool) -> PrepareReport:
    """:func:`run_plan`'s work, writing straight into ``cfg.out``."""
    from motiongpt2.data import layout
    from motiongpt2.data.caption_groups import caption_group_of_sources
    from motiongpt2.data.text import tag_captions
    from motiongpt2.motion.skeleton import get_skeleton

    t0 = time.time()
    out = cfg.out
    for folder in ("new_joint_vecs", "new_joints", "texts"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    records: list[ClipRecord] = []
    failures: list[str] = []
    bar = tqdm(total=len(plan.jobs), desc=f"prepare {plan.name}", unit="file", disable=not progress, file=sys.stderr)
    if cfg.workers <= 1:
        for job, data in _iter_inputs(plan.jobs):
            recs, fails = process_source(job, data, cfg)
            records += recs
            failures += fails
            bar.update(1)
    else:
        with ProcessPoolExecutor(max_workers=cfg.workers, mp_context=get_context("fork")) as pool:
            pending = set()
            for job, data in _iter_inputs(plan.jobs):
                pending.add(pool.submit(process_source, job, data, cfg))
                if len(pending) >= 4 * cfg.workers:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        recs, fails = fut.result()
                        records += recs
                        failures += fails
                        bar.update(1)
            for fut in pending:
                recs, fails = fut.result()
                records += recs
                failures += fails
                bar.update(1)
    bar.close()
    records = _distinct_records(records, failures, out)
    if not records:
        problems = plan.skipped + failures
        raise MotionGPT2Error(f"{plan.name}: no usable clip from {len(plan.jobs)} source file(s), nothing written"
                              + (f" ({len(problems)} problems; first: {' '.join(problems[0].split())[:300]})"
                                 if problems else ""))

    # Texts (tagged in one batch), splits, normalisation statistics, metadata.
    texts = sorted({c.text for r in records for c in r.captions})
    tags = dict(zip(texts, tag_captions(texts)))
    for r in records:
        lines = [layout.TextEntry(c.text, tags[c.text], c.start, c.end) for c in r.captions]
        layout.write_texts(out, r.clip_id, lines)
    splits: dict[str, list[str]] = defaultdict(list)
    for r in records:
        splits[r.split].append(r.clip_id)
    layout.write_splits(out, {k: splits.get(k, []) for k in ("train", "val", "test")})
    skel = get_skeleton(cfg.skeleton)
    train_ids = splits.get("train") or [r.clip_id for r in records]
    if train_ids:
        mean, std = layout.compute_mean_std((np.load(out / "new_joint_vecs" / f"{i}.npy") for i in train_ids), skel)
        np.save(out / "Mean.npy", mean)
        np.save(out / "Std.npy", std)
    frames = sum(r.n_rows for r in records)
    counts = {k: len(v) for k, v in sorted(splits.items())}
    commit, dirty = git_commit()
    meta = dict(plan.meta)
    meta.update({
        "name": plan.name,
        "skeleton": cfg.skeleton,
        "feature_dim": skel.feature_dim,
        "fps": cfg.fps,
        "min_len": cfg.min_len,
        "max_len": cfg.max_len,
        "mirrored": cfg.mirror,
        "heading": cfg.heading,
        "normalisation": "Mean.npy/Std.npy from the train split, HumanML3D per-group std",
        "counts": {"clips": len(records), **counts, "frames": frames, "seconds": round(frames / cfg.fps, 1),
                   "source_files": len(plan.jobs)},
        "caption_sources": dict(Counter(c.source for r in records for c in r.captions)),
        "caption_groups": dict(Counter(caption_group_of_sources(c.source for c in r.captions) for r in records)),
        "clips": {r.clip_id: {"corpus": plan.name, **r.meta,
                              "caption_group": caption_group_of_sources(c.source for c in r.captions)}
                  for r in records},
        "skipped": plan.skipped,
        "failures": failures,
        "command": command or " ".join(sys.argv),
        "motiongpt2_commit": commit or "unknown",
        "motiongpt2_commit_dirty": dirty,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    })
    layout.write_dataset_json(out, meta)
    return PrepareReport(out=out, clips={"total": len(records), **counts}, frames=frames,
                         seconds=frames / cfg.fps, sources=len(plan.jobs), failures=failures,
                         skipped=plan.skipped, elapsed_s=time.time() - t0)
