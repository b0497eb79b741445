"""Archive iteration (folder, tar.xz, tar.gz, zip) without extraction, and open_text."""
from __future__ import annotations

import gzip
import io
import lzma
import tarfile
import zipfile

import pytest

from motiongpt2.errors import MotionFormatError
from motiongpt2.motion.io.archive import (
    is_archive, iter_archive, iter_member_names, iter_members, open_text, read_bytes, strip_compression,
)

FILES = {"a/one.bvh": b"ONE", "a/two.BVH": b"TWO", "b/notes.json": b"{}", "c/three.bvh.xz": lzma.compress(b"THREE")}


def _tar(path, mode):
    with tarfile.open(path, mode) as tf:
        for name, data in FILES.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize("suffix,mode", [(".tar.xz", "w:xz"), (".tar.gz", "w:gz"), (".tar", "w")])
def test_tar(tmp_path, suffix, mode):
    p = tmp_path / f"x{suffix}"
    _tar(p, mode)
    assert is_archive(p)
    got = dict(iter_members(p))
    assert got == {"a/one.bvh": b"ONE", "a/two.BVH": b"TWO", "c/three.bvh.xz": b"THREE"}
    assert {n for n, _ in iter_members(p, suffixes=None)} == set(FILES)


def test_zip_and_folder(tmp_path):
    z = tmp_path / "x.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for name, data in FILES.items():
            zf.writestr(name, data)
    assert [n for n, _ in iter_members(z)] == ["a/one.bvh", "a/two.BVH", "c/three.bvh.xz"]
    d = tmp_path / "dir"
    for name, data in FILES.items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_bytes(data)
    assert dict(iter_members(d, suffixes=(".json",))) == {"b/notes.json": b"{}"}
    assert dict(iter_members(d))["c/three.bvh.xz"] == b"THREE"


def test_lazy(tmp_path):
    p = tmp_path / "x.tar.xz"
    _tar(p, "w:xz")
    it = iter_members(p)
    assert next(it)[0] == "a/one.bvh"  # first member available before reading the rest


def test_open_text_and_errors(tmp_path):
    (tmp_path / "t.txt.xz").write_bytes(lzma.compress(b"a\r\nb\n"))
    (tmp_path / "t.txt.gz").write_bytes(gzip.compress(b"hello"))
    with open_text(tmp_path / "t.txt.xz") as fh:
        assert fh.read() == "a\r\nb\n"
    with open_text(tmp_path / "t.txt.gz") as fh:
        assert fh.read() == "hello"
    assert read_bytes(tmp_path / "t.txt.xz") == b"a\r\nb\n"
    assert strip_compression("x/y.bvh.xz") == "x/y.bvh"
    (tmp_path / "bad.tar.xz").write_bytes(b"not an archive")
    with pytest.raises(MotionFormatError, match="bad.tar.xz"):
        list(iter_members(tmp_path / "bad.tar.xz"))
    (tmp_path / "bad.bvh.xz").write_bytes(b"nope")
    with pytest.raises(MotionFormatError, match="cannot decompress"):
        read_bytes(tmp_path / "bad.bvh.xz")
    with pytest.raises(MotionFormatError, match="no such file"):
        list(iter_members(tmp_path / "missing.zip"))


def test_member_names_and_wanted(tmp_path):
    p = tmp_path / "x.tar.xz"
    _tar(p, "w:xz")
    assert sorted(iter_member_names(p)) == sorted(FILES)
    got = dict(iter_archive(p, wanted={"c/three.bvh.xz", "b/notes.json"}))
    assert got == {"c/three.bvh.xz": FILES["c/three.bvh.xz"], "b/notes.json": b"{}"}  # raw bytes
