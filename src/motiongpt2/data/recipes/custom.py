"""Recipe ``custom``: any folder (or .zip / .tar.* archive) of BVH, ASF/AMC or joint ``.npy`` files plus captions.

Captions come from a CSV or a JSON file:

* CSV with a header, columns ``file,caption`` and optionally ``start,end`` (seconds within the motion)
  and ``split``; several rows per file give several captions::

      file,caption,split
      walk_01.bvh,a person walks forward,train
      walk_01.bvh,someone takes a few steps,train

* JSON ``{"walk_01.bvh": ["a person walks forward", ...]}`` or
  ``{"walk_01.bvh": {"captions": ["..."], "split": "test"}}``.

``file`` is the path relative to the folder (or the archive member name); the extension may be left out.
Files without a caption are reported and skipped; files without a split get a seeded hash split (80/5/15).
AMC files use the ``.asf`` of the same subject (``SS.asf`` for ``SS_TT.amc``) or the only ``.asf`` of
their folder. Long motions are cut into chunks of at most the maximum clip length.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

from motiongpt2.data.recipes.base import Caption, ClipSpec, Plan, SourceJob, split_for
from motiongpt2.errors import DatasetError

MOTION_SUFFIXES = (".bvh", ".bvh.xz", ".amc", ".amc.xz", ".npy")


def _strip_motion_suffix(name: str) -> str:
    for suf in sorted(MOTION_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suf):
            return name[: -len(suf)]
    return name


def read_caption_file(path: Path) -> dict[str, dict]:
    """``{file key without suffix: {"captions": [Caption], "split": str | None}}`` from a CSV or JSON file."""
    if not path.exists():
        raise DatasetError(path, "captions file not found", "pass --captions with a CSV or JSON file")
    out: dict[str, dict] = {}
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text())
        except ValueError as err:
            raise DatasetError(path, f"not valid JSON ({err})", "fix the file or use the CSV form") from None
        if not isinstance(data, dict):
            raise DatasetError(path, "top level must be an object {file: captions}", "see `motiongpt2 prepare --help`")
        for key, val in data.items():
            entry = {"captions": [], "split": None}
            caps = val.get("captions", []) if isinstance(val, dict) else val
            if isinstance(caps, str):
                caps = [caps]
            entry["captions"] = [Caption(str(c).strip(), 0.0, 0.0, "user") for c in caps if str(c).strip()]
            if isinstance(val, dict):
                entry["split"] = val.get("split")
            out[_strip_motion_suffix(key)] = entry
        return out
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"file", "caption"} <= set(reader.fieldnames):
            raise DatasetError(path, f"CSV header {reader.fieldnames} lacks the columns 'file' and 'caption'",
                               "write a header line: file,caption[,start,end][,split]", line=1)
        for lineno, row in enumerate(reader, start=2):
            key = _strip_motion_suffix((row.get("file") or "").strip())
            text = (row.get("caption") or "").strip()
            if not key or not text:
                raise DatasetError(path, "empty file name or caption", "fill both columns or delete the row", line=lineno)
            try:
                start = float(row.get("start") or 0.0)
                end = float(row.get("end") or 0.0)
            except ValueError:
                raise DatasetError(path, "start/end are not numbers (seconds)", "write e.g. 0.0,3.5", line=lineno) from None
            entry = out.setdefault(key, {"captions": [], "split": None})
            entry["captions"].append(Caption(text, start, end, "user"))
            if row.get("split"):
                entry["split"] = row["split"].strip()
    return out


def _find_asf(amc: Path) -> Path | None:
    subject = amc.name.split("_")[0]
    for cand in (amc.parent / f"{subject}.asf", amc.with_suffix("").with_suffix(".asf")):
        if cand.exists():
            return cand
    asfs = sorted(amc.parent.glob("*.asf"))
    return asfs[0] if len(asfs) == 1 else None


def plan(source: Path, captions: Path, preset: str = "auto", map_file: Path | None = None) -> Plan:
    """Plan one chunked clip per captioned motion file of a folder or archive."""
    from motiongpt2.motion.io.archive import iter_member_names

    caps = read_caption_file(captions)
    jobs: list[SourceJob] = []
    skipped: list[str] = []
    seen: set[str] = set()
    if source.is_dir():
        files = sorted(p for p in source.rglob("*") if p.is_file() and p.name.lower().endswith(MOTION_SUFFIXES))
        members = [(p, None, p.relative_to(source).as_posix()) for p in files]
    elif source.exists():
        members = [(source, name, name) for name in iter_member_names(source)
                   if name.lower().endswith(MOTION_SUFFIXES)]
    else:
        raise DatasetError(source, "source folder or archive not found", "pass a folder, .zip or .tar.* of motion files")
    if not members:
        raise DatasetError(source, f"no motion files ({', '.join(MOTION_SUFFIXES)}) found", "check the path")
    for path, member, rel in members:
        key = _strip_motion_suffix(rel)
        short = _strip_motion_suffix(Path(rel).name)
        entry = caps.get(key) or caps.get(short)
        if not entry or not entry["captions"]:
            skipped.append(f"{path if member is None else f'{path}:{member}'}: no caption in {captions} — not used")
            continue
        seen.add(key if key in caps else short)
        split = entry["split"] or split_for(key)
        if split not in ("train", "val", "test"):
            skipped.append(f"{captions}: split {split!r} for {rel} is not train/val/test — file not used")
            continue
        clip_id = key.replace("/", "__")
        asf = _find_asf(path) if member is None and ".amc" in path.name.lower() else None
        jobs.append(SourceJob(path=path, member=member, preset=preset, map_file=map_file, asf=asf,
                              clips=[ClipSpec(clip_id, 0, None, entry["captions"], split, chunk=True,
                                              meta={"file": rel})]))
    for key in sorted(set(caps) - seen):
        skipped.append(f"{captions}: captions for {key!r} match no motion file in {source}")
    meta = {"recipe": "custom", "sources": [str(source)], "captions_file": str(captions),
            "licences": ["user-supplied data: check its own licence"]}
    return Plan(name="custom", jobs=jobs, meta=meta, skipped=skipped)
