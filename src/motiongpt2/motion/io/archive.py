"""Read motion files from folders and archives without extracting them to disk.

* :func:`iter_members` — yield ``(member name, bytes)`` lazily from a folder, a ``.tar.xz`` /
  ``.tar.gz`` / ``.tar.bz2`` / ``.tar`` archive or a ``.zip``, optionally filtered by suffix.
* :func:`open_text` / :func:`read_bytes` — open a file, transparently decompressing ``.xz``,
  ``.gz`` and ``.bz2``.

Members are read one at a time (tar archives are streamed in order), so even the 80 MB
Bandai-Namco archive never sits fully in memory.

Hardening: sizes are checked from the file system / archive headers before a member is read, and
decompression stops at :data:`~.validate.MAX_FILE_BYTES` (zip bombs); encrypted zip members, unknown
compression methods, bad CRCs and corrupt streams become one-line
:class:`~motiongpt2.errors.MotionFormatError` errors naming ``<archive>!<member>``.
"""
from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from motiongpt2.errors import MotionFormatError
from motiongpt2.motion.io.validate import MAX_FILE_BYTES, check_file_size, one_line

_COMPRESSORS = {".xz": lzma.open, ".lzma": lzma.open, ".gz": gzip.open, ".bz2": bz2.open}
_TAR_SUFFIXES = (".tar", ".tar.xz", ".txz", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2")
_ZIP_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
# what the decompressors and archive modules raise on corrupt input
_CORRUPT = (lzma.LZMAError, zlib.error, OSError, EOFError, ValueError)
_HINT_ARCHIVE = "the archive is corrupt; re-download it"


def _read_capped(fh, name: str) -> bytes:
    """Read a (decompressing) file object, refusing more than :data:`MAX_FILE_BYTES` bytes of output."""
    data = fh.read(MAX_FILE_BYTES + 1)
    check_file_size(name, len(data), "decompressed data")
    return data


def _decompress(data: bytes, suffix: str, name: str) -> bytes:
    """Decompress in-memory ``.xz``/``.lzma``/``.gz``/``.bz2`` bytes (``suffix``), capped at MAX_FILE_BYTES."""
    opener = _COMPRESSORS[suffix]
    try:
        with opener(io.BytesIO(data), "rb") as fh:
            return _read_capped(fh, name)
    except _CORRUPT as err:
        raise MotionFormatError(name, f"cannot decompress ({one_line(err)})",
                                "the file is corrupt or not really compressed; re-download it") from None


def strip_compression(name: str) -> str:
    """``"a/b.bvh.xz"`` → ``"a/b.bvh"`` (only one compression suffix is removed)."""
    for suf in _COMPRESSORS:
        if name.lower().endswith(suf):
            return name[: -len(suf)]
    return name


def read_bytes(path: str | Path) -> bytes:
    """All bytes of ``path``, decompressed when it ends in ``.xz``/``.lzma``/``.gz``/``.bz2``."""
    path = Path(path)
    opener = _COMPRESSORS.get(path.suffix.lower())
    try:
        if not path.is_file():
            raise MotionFormatError(path, "file not found" if not path.exists() else "not a regular file",
                                    "check the path")
        if opener is None:
            check_file_size(str(path), path.stat().st_size)
            return path.read_bytes()
        with opener(path, "rb") as fh:
            return _read_capped(fh, str(path))
    except _CORRUPT as err:
        raise MotionFormatError(path, f"cannot decompress ({one_line(err)})",
                                "the file is corrupt or not really compressed; re-download it") from None


def open_text(path: str | Path, encoding: str = "utf-8") -> io.TextIOBase:
    """Open ``path`` for reading text; ``.xz``/``.gz``/``.bz2`` are decompressed on the fly.

    Undecodable bytes are replaced (``errors="replace"``); newlines are left as in the file
    (``newline=""``), so callers see CRLF as ``"\\r\\n"``.
    """
    path = Path(path)
    opener = _COMPRESSORS.get(path.suffix.lower())
    if opener is None:
        return open(path, encoding=encoding, errors="replace", newline="")
    return opener(path, "rt", encoding=encoding, errors="replace", newline="")


def is_archive(path: str | Path) -> bool:
    """True for a ``.zip`` or a tar archive (by name)."""
    name = str(path).lower()
    return name.endswith(".zip") or name.endswith(_TAR_SUFFIXES)


def _wanted(name: str, suffixes: tuple[str, ...] | None, names: set[str] | None = None) -> bool:
    if names is not None and name not in names:
        return False
    if not suffixes:
        return True
    low = name.lower()
    return any(low.endswith(s) or low.endswith(s + ".xz") for s in suffixes)


def iter_members(source: str | Path, suffixes: Iterable[str] | None = (".bvh",),
                 decompress: bool = True, names: set[str] | None = None) -> Iterator[tuple[str, bytes]]:
    """Yield ``(member name, bytes)`` for each motion file in a folder or archive, lazily.

    Args:
        source: a directory (walked recursively, sorted), a tar archive (``.tar``, ``.tar.xz``,
            ``.tar.gz``, ``.tar.bz2``; streamed in archive order) or a ``.zip`` (sorted).
        suffixes: keep only names ending in one of these (case-insensitive; ``X.xz`` also matches
            suffix ``X``). ``None`` or empty keeps every regular file.
        decompress: decompress single members ending in ``.xz``/``.gz``/``.bz2`` (the yielded name
            keeps its suffix).
        names: if given, only these member names are read (others are skipped unread).

    Member names are relative paths with ``/`` separators. Raises MotionFormatError for a
    missing source or an unreadable archive.
    """
    source = Path(source)
    sfx = tuple(s.lower() for s in suffixes) if suffixes else None

    def _maybe_decompress(name: str, data: bytes) -> bytes:
        if not decompress:
            return data
        low = name.lower()
        if low.endswith((".tar.gz", ".tar.bz2")):
            return data
        for suf in _COMPRESSORS:
            if low.endswith(suf):
                return _decompress(data, suf, f"{source}!{name}")
        return data

    if source.is_dir():
        for p in sorted(x for x in source.rglob("*") if x.is_file()):
            rel = p.relative_to(source).as_posix()
            if _wanted(rel, sfx, names):
                check_file_size(str(p), p.stat().st_size)
                yield rel, _maybe_decompress(rel, p.read_bytes())
        return
    if not source.exists():
        raise MotionFormatError(source, "no such file or folder", "check the path")
    name = source.name.lower()
    if name.endswith(".zip"):
        try:
            zf = zipfile.ZipFile(source)
        except (zipfile.BadZipFile, *_CORRUPT) as err:
            raise MotionFormatError(source, f"not a readable zip ({one_line(err)})", "re-download the archive") from None
        with zf:
            for info in sorted(zf.infolist(), key=lambda i: i.filename):
                if info.is_dir() or not _wanted(info.filename, sfx, names):
                    continue
                yield info.filename, _maybe_decompress(info.filename, _zip_member(zf, info, f"{source}!{info.filename}"))
        return
    if name.endswith(_TAR_SUFFIXES):
        try:
            tf = tarfile.open(source, "r:*")
        except (tarfile.TarError, *_CORRUPT) as err:
            why = one_line(err)
            if "could not be opened successfully" in why:  # tarfile lists every method it tried
                why = "not a tar file, or its compression is corrupt"
            raise MotionFormatError(source, f"not a readable tar archive ({why})", "re-download the archive") from None
        with tf:
            try:
                for info in tf:  # streamed: members are decompressed in archive order
                    if not info.isfile() or not _wanted(info.name, sfx, names):
                        continue
                    check_file_size(f"{source}!{info.name}", info.size, "archive member")
                    fh = tf.extractfile(info)
                    if fh is None:
                        continue
                    yield info.name, _maybe_decompress(info.name, fh.read())
            except (tarfile.TarError, *_CORRUPT) as err:
                raise MotionFormatError(source, f"archive is truncated or corrupt ({one_line(err)})",
                                        "re-download the archive") from None
        return
    # a single (possibly compressed) file
    if _wanted(source.name, sfx, names):
        yield source.name, read_bytes(source)


def _zip_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> bytes:
    """Bytes of one zip member, checked from its header first (encryption, method, size)."""
    if info.flag_bits & 0x1:
        raise MotionFormatError(where, "zip member is encrypted", "re-pack the archive without a password")
    if info.compress_type not in _ZIP_METHODS:
        raise MotionFormatError(where, f"zip member uses unsupported compression method {info.compress_type}",
                                "re-pack the archive with deflate (zip's default), bzip2 or lzma")
    check_file_size(where, info.file_size, "zip member")
    try:
        return zf.read(info)
    except (zipfile.BadZipFile, RuntimeError, NotImplementedError, *_CORRUPT) as err:
        raise MotionFormatError(where, f"cannot read zip member ({one_line(err)})", _HINT_ARCHIVE) from None


def iter_member_names(source: str | Path) -> list[str]:
    """Names of every regular file in a folder (relative, sorted) or archive (archive order for tar,
    sorted for zip), without reading their contents into memory at once."""
    source = Path(source)
    if source.is_dir():
        return sorted(p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file())
    if not source.exists():
        raise MotionFormatError(source, "no such file or folder", "check the path")
    low = source.name.lower()
    try:
        if low.endswith(".zip"):
            with zipfile.ZipFile(source) as zf:
                return sorted(i.filename for i in zf.infolist() if not i.is_dir())
        if low.endswith(_TAR_SUFFIXES):
            with tarfile.open(source, "r:*") as tf:
                return [m.name for m in tf if m.isfile()]
    except (zipfile.BadZipFile, tarfile.TarError, *_CORRUPT) as err:
        raise MotionFormatError(source, f"not a readable archive ({one_line(err)})", "re-download the archive") from None
    return [source.name]


def iter_archive(source: str | Path, wanted: set[str] | None = None) -> Iterator[tuple[str, bytes]]:
    """Yield ``(member name, raw bytes)`` for the members named in ``wanted`` (all files if None),
    streaming the archive once. Member bytes are returned as stored (``*.bvh.xz`` stays compressed)."""
    yield from iter_members(source, suffixes=None, decompress=False, names=wanted)
