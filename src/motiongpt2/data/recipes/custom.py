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
Clip ids are made from it by :func:`~motiongpt2.data.layout.unique_ids` (any file name gives a plain,
distinct id: ``my walk.bvh`` → ``my_walk``, ``a/b.bvh`` → ``a__b``); captions are cleaned of ``#``, line
breaks and control characters.
Files without a caption are reported and skipped; files without a split get a seeded hash split (80/5/15).
AMC files use the ``.asf`` of the same subject (``SS.asf`` for ``SS_TT.amc``) or the only ``.asf`` of
their folder. Long motions are cut into chunks of at most the maximum clip length.
"""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from motiongpt2.data.layout import unique_ids
from motiongpt2.data.recipes.base import Caption, ClipSpec, Plan, SourceJob, split_for
from motiongpt2.data.text import clean_caption, decode_text_bytes
from motiongpt2.errors import DatasetError

MOTION_SUFFIXES = (".bvh", ".bvh.xz", ".amc", ".amc.xz", ".npy")


def _strip_motion_suffix(name: str) -> str:
    for suf in sorted(MOTION_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suf):
            return name[: -len(suf)]
    return name


#: Largest captions file read (bytes).
MAX_CAPTION_FILE_BYTES = 64 * 2**20


def _caption_text(path: Path) -> str:
    """The decoded text of a captions file (UTF-8, UTF-16/32 with BOM, else Latin-1), size-capped."""
    if not path.exists():
        raise DatasetError(path, "captions file not found", "pass --captions with a CSV or JSON file")
    if path.is_dir():
        raise DatasetError(path, "is a folder, not a captions file", "pass --captions with a CSV or JSON file")
    try:
        size = path.stat().st_size
        if size > MAX_CAPTION_FILE_BYTES:
            raise DatasetError(path, f"captions file is {size / 2**20:.0f} MiB, over the "
                               f"{MAX_CAPTION_FILE_BYTES // 2**20} MiB limit", "split it or check that it is a captions file")
        data = path.read_bytes()
    except OSError as err:
        raise DatasetError(path, f"cannot read ({' '.join(str(err).split())[:120]})", "check the file") from None
    return decode_text_bytes(data, str(path))


def _json_texts(path: Path, key: str, val) -> list[str]:
    """The captions of one JSON entry: a string, a list of strings (``null`` items ignored) or ``null``."""
    if val is None:
        return []
    if isinstance(val, str):
        val = [val]
    if not isinstance(val, list) or not all(isinstance(c, str) or c is None for c in val):
        kind = type(val).__name__ if not isinstance(val, list) else \
            f"a list holding {next(type(c).__name__ for c in val if not (isinstance(c, str) or c is None))}"
        raise DatasetError(path, f"captions of {key[:80]!r} are {kind}, not text",
                           'write {"file.bvh": ["caption", ...]} or {"file.bvh": {"captions": [...], "split": "train"}}')
    return [c for c in val if c is not None]


def _read_json_captions(path: Path, text: str) -> dict[str, dict]:
    try:
        data = json.loads(text)
    except RecursionError:
        raise DatasetError(path, "JSON nested too deep", "use {file: [captions]}") from None
    except ValueError as err:
        raise DatasetError(path, f"not valid JSON ({' '.join(str(err).split())[:120]})",
                           "fix the file or use the CSV form") from None
    if not isinstance(data, dict):
        raise DatasetError(path, "top level must be an object {file: captions}", "see `motiongpt2 prepare --help`")
    out: dict[str, dict] = {}
    for key, val in data.items():
        entry = {"captions": [], "split": None}
        caps = val.get("captions") if isinstance(val, dict) else val
        texts = (clean_caption(c) for c in _json_texts(path, key, caps))
        entry["captions"] = [Caption(c, 0.0, 0.0, "user") for c in texts if c]
        if isinstance(val, dict) and val.get("split") is not None:
            if not isinstance(val["split"], str):
                raise DatasetError(path, f"split of {key[:80]!r} is {type(val['split']).__name__}, not text",
                                   "write train, val or test")
            entry["split"] = val["split"].strip().lower()
        if _strip_motion_suffix(key).strip():
            out[_strip_motion_suffix(key)] = entry
    return out


def _times(path: Path, row: dict, lineno: int) -> tuple[float, float]:
    """``(start, end)`` seconds of a CSV row: finite, >= 0, and ``end > start`` unless both are 0."""
    try:
        start = float(row.get("start") or 0.0)
        end = float(row.get("end") or 0.0)
    except (TypeError, ValueError):
        raise DatasetError(path, "start/end are not numbers (seconds)", "write e.g. 0.0,3.5", line=lineno) from None
    if not (math.isfinite(start) and math.isfinite(end) and start >= 0 and end >= 0):
        raise DatasetError(path, f"start/end {start!r}/{end!r} must be finite seconds >= 0", "write e.g. 0.0,3.5",
                           line=lineno)
    if (start, end) != (0.0, 0.0) and end <= start:
        raise DatasetError(path, f"end {end:g} s is not after start {start:g} s",
                           "write start < end, or leave both empty for the whole motion", line=lineno)
    return start, end


def _read_csv_captions(path: Path, text: str) -> dict[str, dict]:
    out: dict[str, dict] = {}
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        if not reader.fieldnames or not {"file", "caption"} <= set(reader.fieldnames):
            raise DatasetError(path, f"CSV header {str(reader.fieldnames)[:120]} lacks the columns 'file' and 'caption'",
                               "write a header line: file,caption[,start,end][,split]", line=1)
        for row in reader:
            lineno = reader.line_num
            key = _strip_motion_suffix(str(row.get("file") or "").strip())
            caption = clean_caption(row.get("caption") or "")
            if not key or not caption:
                raise DatasetError(path, "empty file name or caption", "fill both columns or delete the row", line=lineno)
            start, end = _times(path, row, lineno)
            entry = out.setdefault(key, {"captions": [], "split": None})
            entry["captions"].append(Caption(caption, start, end, "user"))
            if row.get("split"):
                entry["split"] = str(row["split"]).strip().lower()
    except csv.Error as err:
        raise DatasetError(path, f"not a readable CSV file ({' '.join(str(err).split())[:120]})",
                           "check quoting and field sizes (a field may hold at most 128 KiB)",
                           line=reader.line_num or None) from None
    return out


def read_caption_file(path: Path) -> dict[str, dict]:
    """``{file key without suffix: {"captions": [Caption], "split": str | None}}`` from a CSV or JSON file.

    Captions are cleaned (:func:`~motiongpt2.data.text.clean_caption`: no ``#``, line breaks or control
    characters); any encoding decodes (UTF-8, UTF-16/32 with BOM, else Latin-1). Every unusable file is one
    :class:`DatasetError` line naming the file (and CSV line): a folder, invalid or too deeply nested JSON,
    captions that are numbers, a CSV without the columns, a field over 128 KiB, bad start/end times.
    """
    text = _caption_text(path)
    if path.suffix.lower() == ".json":
        return _read_json_captions(path, text)
    return _read_csv_captions(path, text)


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
    usable = []
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
            skipped.append(f"{captions}: split {split[:40]!r} for {rel} is not train/val/test — file not used")
            continue
        usable.append((path, member, rel, key, entry, split))
    # ids safe as file names whatever the file is called; distinct (also from the mirrored "M" ids)
    clip_ids = unique_ids([key.replace("/", "__") for *_, key, _, _ in usable])
    for (path, member, rel, key, entry, split), clip_id in zip(usable, clip_ids):
        asf = _find_asf(path) if member is None and ".amc" in path.name.lower() else None
        jobs.append(SourceJob(path=path, member=member, preset=preset, map_file=map_file, asf=asf,
                              clips=[ClipSpec(clip_id, 0, None, entry["captions"], split, chunk=True,
                                              meta={"file": rel})]))
    for key in sorted(set(caps) - seen):
        skipped.append(f"{captions}: captions for {key!r} match no motion file in {source}")
    meta = {"recipe": "custom", "sources": [str(source)], "captions_file": str(captions),
            "licences": ["user-supplied data: check its own licence"]}
    return Plan(name="custom", jobs=jobs, meta=meta, skipped=skipped)
