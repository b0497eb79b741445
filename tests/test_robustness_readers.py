"""Robustness of the motion-file readers against malformed and hostile input.

Every input below must end in one of two ways, within a time and memory bound:

* a clean error: a :class:`~motiongpt2.errors.MotionGPT2Error` whose message is one non-empty line, or
* a valid motion: every array finite (and, for :func:`load_joints`, features computable).

(a) A deterministic mutation suite (seeded per family/seed/index) over small synthetic seeds, which
always run, and real CMU BVH and ASF/AMC seeds from ``../shared/data`` (skipped without it).
Families: truncate, byte_flip, delete_lines, duplicate_lines, extreme_numbers, headers, cycles,
encodings, archives, npy. :func:`mutation_counts` returns ``{family: {"tried", "clean_error",
"accepted"}}`` for a benchmark script (``python -c "from test_robustness_readers import
mutation_counts; print(mutation_counts())"`` from ``tests/``).

(b) Property-based tests (hypothesis, derandomized) for the BVH, ASF/AMC and ``.npy`` readers.
"""
from __future__ import annotations

import bz2
import functools
import gzip
import io
import lzma
import os
import random
import re
import struct
import tarfile
import time
import tracemalloc
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from motiongpt2.errors import MotionFormatError, MotionGPT2Error
from motiongpt2.motion.features import extract_features
from motiongpt2.motion.io import archive as archive_mod
from motiongpt2.motion.io import validate
from motiongpt2.motion.io.archive import iter_members, read_bytes
from motiongpt2.motion.io.asf_amc import Asf, read_amc, read_asf
from motiongpt2.motion.io.bvh import read_bvh
from motiongpt2.motion.io.load import Joints, iter_joints, load_joints
from motiongpt2.motion.io.mocap import Mocap
from motiongpt2.motion.io.retarget import load_map
from test_io_asf_amc import AMC as SYN_AMC
from test_io_asf_amc import ASF as SYN_ASF
from test_io_bvh import CHAIN
from test_io_retarget import make_bvh

TIME_LIMIT_S = 5.0          # per input, same process (generous: the CI machine is shared)
MEMORY_LIMIT = 1 << 30      # per input, tracemalloc peak (numpy buffers are traced)
N_RANDOM = 8                # mutations per random family and seed
REAL_BVH = {"02_01": "cmu-cgspeed-31", "02_03": "cmu-daz"}
REAL_AMC = {"35_01": "35.asf", "11_01": "11.asf"}   # 11.asf has a comment line at the top
REAL_FRAMES = 96            # real seeds are cut to their first frames to keep the suite fast

FAMILIES = ("truncate", "byte_flip", "delete_lines", "duplicate_lines", "extreme_numbers", "headers", "cycles",
            "encodings", "archives", "npy")
EXTREMES = ("inf", "-inf", "nan", "NaN", "1e300", "-1e300", "5e-324", "1e23", "100000000000000000000000", "1e-9",
            "0", "-0", "1e6", "1e7", "", "x", "0x10", "1_0", "١٢")


# --------------------------------------------------------------------------- seeds
def _shared_dir() -> Path:
    env = os.environ.get("MOTIONGPT2_SHARED")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _cut_bvh(text: str, frames: int) -> str:
    """The BVH with only its first ``frames`` frames (``Frames:`` rewritten)."""
    head, motion = text.split("MOTION", 1)
    lines = motion.strip("\n").splitlines()
    data = [ln for ln in lines[2:] if ln.strip()][:frames]
    return f"{head}MOTION\nFrames: {len(data)}\n{lines[1].strip()}\n" + "\n".join(data) + "\n"


def _cut_amc(text: str, frames: int) -> str:
    """The AMC up to (not including) frame record ``frames + 1``."""
    m = re.search(rf"^{frames + 1}\s*$", text, re.M)
    return text[: m.start()] if m else text


@functools.lru_cache(maxsize=None)
def seeds(source: str) -> dict[str, dict]:
    """``{seed name: {"kind": "bvh"|"amc", "data": bytes, "asf": bytes (amc only), "preset": str|None}}``.

    ``source="synthetic"`` (always available) or ``"real"`` (CMU files from ``../shared/data``)."""
    if source == "synthetic":
        return {
            "syn-chain": {"kind": "bvh", "data": CHAIN.encode(), "preset": None},
            "syn-body": {"kind": "bvh", "data": make_bvh(frames=12).encode(), "preset": "bandai-namco"},
            "syn-asfamc": {"kind": "amc", "data": SYN_AMC.encode(), "asf": SYN_ASF.encode(), "preset": None},
        }
    root = _shared_dir() / "mocap" / "cmu"
    out = {}
    for trial, preset in REAL_BVH.items():
        text = (root / "bvh" / f"{trial}.bvh").read_text()
        out[f"cmu-{trial}"] = {"kind": "bvh", "data": _cut_bvh(text, REAL_FRAMES).encode(), "preset": preset}
    for trial, asf in REAL_AMC.items():
        amc = lzma.decompress((root / "asfamc" / f"{trial}.amc.xz").read_bytes()).decode()
        out[f"cmu-{trial}"] = {"kind": "amc", "data": _cut_amc(amc, REAL_FRAMES).encode(),
                               "asf": (root / "asfamc" / asf).read_bytes(), "preset": "cmu-asf"}
    return out


def _has_shared() -> bool:
    return (_shared_dir() / "README.md").exists()


# --------------------------------------------------------------------------- outcome checks
def _check_valid(out) -> None:
    """Assert that an accepted result is a usable, finite motion."""
    if isinstance(out, (list, tuple)):
        for o in out:
            _check_valid(o)
    elif isinstance(out, Mocap):
        assert np.isfinite(out.offsets).all()
        assert np.isfinite(out.local_rotations).all() and np.isfinite(out.local_positions).all()
        assert np.isfinite(out.fps) and out.fps > 0
        assert np.isfinite(out.world_positions(slice(0, 8))).all()
    elif isinstance(out, Joints):
        p = out.positions
        assert p.dtype == np.float32 and p.ndim == 3 and p.shape[0] >= 2 and np.isfinite(p).all()
        feats, joints = extract_features(p)
        assert np.isfinite(feats).all() and np.isfinite(joints).all()
    elif isinstance(out, Asf):
        assert out.bones
    else:
        raise AssertionError(f"unexpected result {type(out)}")


#: the slowest input and the largest traced peak seen by :func:`run_case` (for the benchmark script)
STATS = {"inputs": 0, "max_s": 0.0, "max_peak_bytes": 0}


def run_case(fn: Callable[[], object], check: Callable[[object], None] | None = None) -> str:
    """Run one input; return ``"clean_error"`` or ``"accepted"`` (then ``check(result)`` must pass; default:
    a valid finite motion); assert the time and memory bounds.

    Anything else (a raw exception, a multi-line message, a failed check) fails the assertion."""
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = fn()
        outcome = "accepted"
    except MotionGPT2Error as err:
        msg = str(err)
        assert msg and "\n" not in msg and "\r" not in msg, f"message not one line: {msg!r}"
        outcome = "clean_error"
    finally:
        elapsed = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        STATS["inputs"] += 1
        STATS["max_s"] = max(STATS["max_s"], elapsed)
        STATS["max_peak_bytes"] = max(STATS["max_peak_bytes"], peak)
    assert elapsed < TIME_LIMIT_S, f"took {elapsed:.1f} s"
    assert peak < MEMORY_LIMIT, f"peak {peak / 2**20:.0f} MiB"
    if outcome == "accepted":
        (check or _check_valid)(out)
    return outcome


def _reader(seed: dict, data: bytes | None = None, asf: bytes | None = None, full: bool = True):
    """A callable that reads ``data`` (default: the seed's) like the seed, through ``load_joints`` when the
    seed has a preset (``full``), else through the bare reader."""
    data = seed["data"] if data is None else data
    if seed["kind"] == "bvh":
        if full and seed["preset"]:
            return lambda: load_joints(data, name="m.bvh", preset=seed["preset"])
        return lambda: read_bvh(data, name="m.bvh")
    asf = seed["asf"] if asf is None else asf
    if full and seed["preset"]:
        return lambda: load_joints(data, name="m.amc", asf=asf, preset=seed["preset"])
    return lambda: read_amc(data, asf=read_asf(asf, name="m.asf"), name="m.amc")


# --------------------------------------------------------------------------- mutations
def _truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(len(data))]


def _byte_flip(rng: random.Random, data: bytes) -> bytes:
    arr = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        arr[rng.randrange(len(arr))] ^= rng.randint(1, 255)
    return bytes(arr)


def _delete_lines(rng: random.Random, data: bytes) -> bytes:
    lines = data.split(b"\n")
    for _ in range(rng.randint(1, 3)):
        del lines[rng.randrange(len(lines))]
    return b"\n".join(lines)


def _duplicate_lines(rng: random.Random, data: bytes) -> bytes:
    lines = data.split(b"\n")
    for _ in range(rng.randint(1, 3)):
        k = rng.randrange(len(lines))
        lines[k:k] = [lines[k]] * rng.choice((1, 1, 2, 50))
    return b"\n".join(lines)


_NUM = re.compile(rb"-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?")


def _extreme_number(rng: random.Random, data: bytes) -> bytes:
    nums = [m.span() for m in _NUM.finditer(data)]
    head = data.find(b"MOTION")
    if rng.random() < 0.5 and head > 0:  # half the time in the hierarchy / skeleton part
        nums = [s for s in nums if s[0] < head] or nums
    out = data
    for _ in range(rng.randint(1, 2)):
        a, b = rng.choice(nums)
        out = out[:a] + rng.choice(EXTREMES).encode() + out[b:]
        nums = [m.span() for m in _NUM.finditer(out)] or [(0, 0)]
    return out


RANDOM_MUTATIONS = {"truncate": _truncate, "byte_flip": _byte_flip, "delete_lines": _delete_lines,
                    "duplicate_lines": _duplicate_lines, "extreme_numbers": _extreme_number}


def _sub(data: bytes, pattern: str, repl: str, count: int = 1) -> bytes:
    return re.sub(pattern.encode(), repl.encode(), data, count=count, flags=re.M)


def _bvh_header_variants(data: bytes) -> dict[str, bytes]:
    """Targeted BVH header and hierarchy edits (the issue's reproductions among them)."""
    out = {}
    for v in ("inf", "nan", "-1", "1e23", "1000000000", "2.5", "0", "1", "3e9", "abc", ""):
        out[f"frames={v}"] = _sub(data, r"^Frames:.*$", f"Frames: {v}")
    for v in ("5e-324", "1e300", "1000", "1e-9", "0", "-0.01", "nan", "inf", "abc", "1"):
        out[f"frame_time={v}"] = _sub(data, r"^Frame Time:.*$", f"Frame Time: {v}")
    # no channels at all, with a huge frame count and no data (allocated gigabytes before)
    nochan = re.sub(rb"CHANNELS \d+[^\n]*", b"CHANNELS 0", data)
    out["no_channels_frames=1e9"] = nochan.split(b"MOTION")[0] + b"MOTION\nFrames: 1000000000\nFrame Time: 0.01\n"
    out["no_channels_frames=3"] = nochan.split(b"MOTION")[0] + b"MOTION\nFrames: 3\nFrame Time: 0.01\n\n\n\n"
    for v in ("-2", "99999999999", "7", "x", "1e2"):
        out[f"channels={v}"] = _sub(data, r"CHANNELS \d+", f"CHANNELS {v}")
    out["channels_dup"] = _sub(data, r"CHANNELS 3 (\w+) (\w+) (\w+)", r"CHANNELS 3 \1 \1 \3")
    for v in ("nan 0 0", "inf 0 0", "1e20 0 0", "0 0", "1e300 1e300 1e300"):
        out[f"offset={v}"] = _sub(data, r"OFFSET [^\n]*", f"OFFSET {v}")
    out["no_hierarchy_word"] = _sub(data, "HIERARCHY", "HIERARCHX")
    out["no_motion"] = _sub(data, "^MOTION", "MOTON")
    out["root_as_joint"] = _sub(data, "ROOT", "JOINT")
    out["unclosed_brace"] = _sub(data, r"^\s*}\s*$", "")
    out["extra_brace"] = _sub(data, r"^MOTION", "}\nMOTION")
    head, motion = data.split(b"MOTION", 1)
    lines = motion.split(b"\n")
    for v in ("1e20", "nan", "-inf", "1e7", "1e300"):  # root X position in every frame
        rows = [re.sub(rb"^\s*\S+", v.encode(), ln) if k >= 3 and ln.strip() else ln for k, ln in enumerate(lines)]
        out[f"root_pos={v}"] = head + b"MOTION" + b"\n".join(rows)
    out["zero_frames"] = head + b"MOTION\nFrames: 0\nFrame Time: 0.01\n"
    one = [ln for ln in lines[3:] if ln.strip()][:1]
    out["one_frame"] = head + b"MOTION\nFrames: 1\nFrame Time: 0.01\n" + b"\n".join(one) + b"\n"
    out["html"] = b"<html><body>404 Not Found</body></html>\n"
    out["empty"] = b""
    out["whitespace"] = b" \n\t\n"
    return out


def _asf_header_variants(asf: bytes) -> dict[str, bytes]:
    """Targeted ASF edits: missing values, bad axis orders/dofs, zero/negative/non-finite lengths."""
    out = {}
    for v in ("0", "-1", "inf", "nan", "1e-300", "1e300", ""):
        out[f"units_length={v}"] = _sub(asf, r"^(\s*)length [^\n]*", rf"\1length {v}")  # the :units one
    head, bonedata = asf.split(b":bonedata", 1)
    for v in ("0", "-2", "inf", "1e300", "nan"):  # the first bone's length
        out[f"bone_length={v}"] = head + b":bonedata" + _sub(bonedata, r"^(\s*)length [^\n]*", rf"\1length {v}")
    for key in ("angle", "axis", "name", "order", "direction", "length", "dof", "position", "orientation"):
        out[f"{key}_no_value"] = _sub(asf, rf"^(\s*){key}\b[^\n]*", rf"\1{key}")
    for v in ("XYQ", "XXY", "XYZW", "xyz", "Z"):
        out[f"bone_axis_order={v}"] = _sub(asf, r"^(\s*axis [-\d.eE+]+ [-\d.eE+]+ [-\d.eE+]+\s+)\w+", rf"\g<1>{v}")
        out[f"root_axis={v}"] = _sub(asf, r"^(\s*)axis (XYZ)\s*$", rf"\1axis {v}")
    for v in ("rq", "rx rx", "rx ry rz tx ty tz l", ""):
        out[f"dof={v}"] = _sub(asf, r"^(\s*)dof [^\n]*", rf"\1dof {v}")
    for v in ("nan 0 0", "1e300 0 0", "0 0 0"):
        out[f"direction={v}"] = _sub(asf, r"^(\s*)direction [^\n]*", rf"\1direction {v}")
    out["axis_angles=inf"] = _sub(asf, r"^(\s*)axis [-\d.eE+]+", r"\1axis inf")
    out["duplicate_bone_name"] = _sub(asf, r"^(\s*name )(\w+)([\s\S]*?^\s*name )\w+", r"\1\2\3\2")
    out["no_bonedata"] = _sub(asf, ":bonedata", ":bonedatum")
    out["no_hierarchy"] = asf.split(b":hierarchy")[0]
    out["empty"] = b""
    return out


def _amc_header_variants(amc: bytes) -> dict[str, bytes]:
    out = {}
    for v in ("100000000000000000000000", "-1", "0", "1e3", "x"):
        out[f"frame_no={v}"] = _sub(amc, r"^1\s*$", v)
    out["frame_no_last_huge"] = _sub(amc, r"^2\s*$", "100000000000000000000000")
    for v in ("nan", "inf", "1e20", "1e300", "-1e7"):
        out[f"root={v}"] = _sub(amc, r"^root \S+", f"root {v}", count=0)
    out["radians_huge"] = _sub(amc, ":DEGREES", ":RADIANS").replace(b"root ", b"root 1e9 ", 1)
    out["bone_before_frame"] = _sub(amc, r"^1\s*$", "")
    out["unknown_bone"] = _sub(amc, r"^root ", "toor ")
    out["empty"] = b""
    return out


def _hierarchy_cycles(asf: bytes, rng: random.Random) -> dict[str, bytes]:
    """ASF ``:hierarchy`` made cyclic or inconsistent (a bone its own child, 2-cycles, two parents...)."""
    head, tail = asf.split(b":hierarchy", 1)
    rows = [ln.split() for ln in tail.decode().splitlines() if ln.split() and ln.split()[0] not in ("begin", "end")]
    edges = [(r[0], c) for r in rows for c in r[1:]]
    bones = sorted({c for _, c in edges})
    parent = {c: p for p, c in edges}

    def with_rows(extra: list[str], drop: set[tuple[str, str]] = frozenset()) -> bytes:
        kids: dict[str, list[str]] = {}
        for p, c in edges:
            if (p, c) not in drop:
                kids.setdefault(p, []).append(c)
        lines = ["  begin"] + [f"    {p} {' '.join(cs)}" for p, cs in kids.items()] + [f"    {x}" for x in extra]
        return head + b":hierarchy\n" + "\n".join(lines + ["  end", ""]).encode()

    out = {}
    b = rng.choice(bones)
    out["self_child"] = with_rows([f"{b} {b}"])
    chain = [b]
    while parent.get(chain[-1], "root") != "root":
        chain.append(parent[chain[-1]])
    anc = chain[-1]
    out["ancestor_as_child"] = with_rows([f"{b} {anc}"])
    if parent.get(b, "root") != "root":  # the 2-cycle a -> b -> a, cut off from the root
        p = parent[b]
        out["two_cycle_detached"] = with_rows([f"{b} {p}"], drop={(parent.get(p, "root"), p)})
    out["two_parents"] = with_rows([f"{rng.choice([x for x in bones if x != b] or [b])} {b}"])
    out["root_as_child"] = with_rows([f"{b} root"])
    out["unknown_bone"] = with_rows([f"{b} nosuchbone"])
    out["detached_bone"] = with_rows([], drop={(parent[b], b)})
    return out


def _encodings(data: bytes) -> dict[str, bytes]:
    text = data.decode("latin-1")
    return {
        "utf16_bom": text.encode("utf-16"),
        "utf16be_bom": b"\xfe\xff" + text.encode("utf-16-be"),
        "utf16_no_bom": text.encode("utf-16-le"),
        "utf32": text.encode("utf-32"),
        "utf8_bom": b"\xef\xbb\xbf" + data,
        "crlf": data.replace(b"\n", b"\r\n"),
        "cr_only": data.replace(b"\n", b"\r"),
        "tabs": data.replace(b" ", b"\t"),
        "nul_inside": data[: len(data) // 2] + b"\x00" + data[len(data) // 2:],
        "latin1_name": re.sub(rb"(ROOT|JOINT|name) (\w+)", lambda m: m.group(0) + b"\xe9", data, count=2),
        "utf8_name": re.sub(rb"(ROOT|JOINT|name) (\w+)", lambda m: m.group(0) + "\u00e9\u4e2d".encode(), data,
                            count=2),
        "invalid_utf8": data.replace(b"\n", b"\n\xff\xfe\xfd", 1),
        "binary_prefix": bytes(range(256)) + data,
    }


# --------------------------------------------------------------------------- archives and npy
def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _patch_zip_headers(z: bytes, offset_local: int, offset_central: int, value: int, fmt: str = "<H") -> bytes:
    """Overwrite a field in every local (PK\\3\\4) and central (PK\\1\\2) header."""
    arr = bytearray(z)
    for sig, off in ((b"PK\x03\x04", offset_local), (b"PK\x01\x02", offset_central)):
        for m in re.finditer(re.escape(sig), z):
            struct.pack_into(fmt, arr, m.start() + off, value)
    return bytes(arr)


def _tar(members: dict[str, bytes], mode: str = "w:xz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _archive_variants(bvh: bytes, rng: random.Random) -> dict[str, tuple[str, bytes]]:
    """``{label: (file suffix, archive bytes)}``: zip and tar damage of many kinds."""
    good = _zip({"a.bvh": bvh, "b.bvh": bvh})
    stored = _zip({"a.bvh": bvh}, zipfile.ZIP_STORED)
    data_at = stored.find(b"HIERARCHY")
    out = {"zip_ok": (".zip", good)}
    bad_crc = bytearray(stored)
    bad_crc[data_at + 20] ^= 0x01
    out["zip_bad_crc"] = (".zip", bytes(bad_crc))
    deflated = _zip({"a.bvh": bvh})
    corrupt = bytearray(deflated)
    start = 30 + len("a.bvh")
    for k in range(start + 2, start + 40):
        corrupt[k] ^= 0x5A
    out["zip_corrupt_deflate"] = (".zip", bytes(corrupt))
    out["zip_encrypted_flag"] = (".zip", _patch_zip_headers(good, 6, 8, 0x1))
    out["zip_unknown_method"] = (".zip", _patch_zip_headers(good, 8, 10, 98))
    out["zip_size_lie"] = (".zip", _patch_zip_headers(good, 22, 24, 0xFFFFFFF0, "<I"))
    out["zip_truncated"] = (".zip", good[: len(good) // 2])
    out["zip_flipped"] = (".zip", _byte_flip(rng, good))
    out["zip_corrupt_member_xz"] = (".zip", _zip({"a.bvh.xz": lzma.compress(bvh)[:-9] + b"garbage!!"}))
    out["zip_corrupt_member_gz"] = (".zip", _zip({"a.bvh.gz": gzip.compress(bvh)[:40] + b"\x00" * 40}))
    out["zip_member_bz2"] = (".zip", _zip({"a.bvh.bz2": bz2.compress(bvh)}))
    tar_xz = _tar({"d/a.bvh": bvh, "d/b.bvh": bvh})
    out["tar_xz_ok"] = (".tar.xz", tar_xz)
    out["tar_xz_truncated"] = (".tar.xz", tar_xz[: len(tar_xz) * 2 // 3])
    out["tar_xz_flipped"] = (".tar.xz", _byte_flip(rng, tar_xz))
    tar_gz = _tar({"d/a.bvh": bvh}, "w:gz")
    out["tar_gz_truncated"] = (".tar.gz", tar_gz[: len(tar_gz) // 2])
    out["tar_gz_flipped"] = (".tar.gz", _byte_flip(rng, tar_gz))
    plain = _tar({"d/a.bvh": bvh}, "w")
    out["tar_header_flipped"] = (".tar", _byte_flip(rng, plain[:512]) + plain[512:])
    huge = tarfile.TarInfo("d/huge.bvh")
    huge.size = 2**40
    out["tar_size_claims_1TiB"] = (".tar", huge.tobuf(format=tarfile.GNU_FORMAT) + b"\x00" * 1024)
    out["not_an_archive"] = (".tar.xz", b"this is not an archive")
    return out


def _all_members(path: Path) -> list:
    """Every member of an archive (compressed members decompressed), each read as BVH when it is one."""
    out = []
    for name, data in iter_members(path, suffixes=None):
        if ".bvh" in name:
            out.append(read_bvh(data, name=name))
    return out


def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def _npy_header(shape: tuple, descr: str = "<f4", fortran: bool = False, data: bytes = b"") -> bytes:
    header = {"descr": descr, "fortran_order": fortran, "shape": shape}
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue() + data


def _npy_variants() -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    ok = rng.normal(size=(12, 22, 3)).astype(np.float32)
    zbuf = io.BytesIO()
    np.savez(zbuf, joints=ok)
    out = {
        "ok": _npy_bytes(ok),
        "ok_f64_fortran": _npy_bytes(np.asfortranarray(ok.astype(np.float64))),
        "ok_big_endian": _npy_bytes(ok.astype(">f8")),
        "ok_int": _npy_bytes((ok * 100).astype(np.int16)),
        "empty": b"",
        "magic_only": b"\x93NUMPY",
        "npz_named_npy": zbuf.getvalue(),
        "string_dtype": _npy_bytes(np.full((4, 22, 3), "ab")),
        "void_dtype": _npy_bytes(np.zeros((4, 22, 3), dtype="V4")),
        "structured": _npy_bytes(np.zeros((4, 22, 3), dtype=[("a", "<f4")])),
        "complex": _npy_bytes(ok.astype(np.complex64)),
        "object_pickle": _npy_header((4, 22, 3), "|O", data=b"\x80\x04N."),
        "header_1e12_rows": _npy_header((10**12, 22, 3)),
        "header_1e12_rows_with_data": _npy_header((10**12, 22, 3), data=ok.tobytes()),
        "header_negative": _npy_header((-5, 22, 3)),
        "truncated_data": _npy_bytes(ok)[:-100],
        "bad_header_text": b"\x93NUMPY\x01\x00\x10\x00{'descr': <f4, }\n",
        "version_9": b"\x93NUMPY\x09\x00" + _npy_bytes(ok)[8:],
        "nan": _npy_bytes(np.where(rng.random(ok.shape) < 0.01, np.nan, ok)),
        "inf": _npy_bytes(np.where(rng.random(ok.shape) < 0.01, np.inf, ok)),
        "f64_1e300": _npy_bytes(ok.astype(np.float64) * 1e300),
        "f64_1e20": _npy_bytes(ok.astype(np.float64) * 1e20),
        "wrong_shape": _npy_bytes(np.zeros((5, 7))),
        "wrong_joints": _npy_bytes(np.zeros((5, 23, 3))),
        "one_frame": _npy_bytes(ok[:1]),
        "zero_frames": _npy_bytes(ok[:0]),
        "f16": _npy_bytes(ok.astype(np.float16)),
        "all_zero": _npy_bytes(np.zeros((12, 22, 3), np.float32)),
    }
    return out


# --------------------------------------------------------------------------- suite
def family_cases(family: str, source: str, tmp: Path) -> list[tuple[str, Callable[[], object]]]:
    """``[(label, callable)]`` for one family over the seeds of ``source`` ("synthetic" or "real")."""
    cases: list[tuple[str, Callable[[], object]]] = []
    for sname, seed in seeds(source).items():
        rng = random.Random(f"{family}:{sname}")
        if family in RANDOM_MUTATIONS:
            mutate = RANDOM_MUTATIONS[family]
            for i in range(N_RANDOM):
                if seed["kind"] == "amc" and i % 2:  # half of the AMC mutations hit the skeleton
                    cases.append((f"{sname}:asf:{i}", _reader(seed, asf=mutate(rng, seed["asf"]))))
                else:
                    cases.append((f"{sname}:{i}", _reader(seed, mutate(rng, seed["data"]))))
        elif family == "headers":
            if seed["kind"] == "bvh":
                for label, data in _bvh_header_variants(seed["data"]).items():
                    cases.append((f"{sname}:{label}", _reader(seed, data)))
            else:
                for label, asf in _asf_header_variants(seed["asf"]).items():
                    cases.append((f"{sname}:asf:{label}", _reader(seed, asf=asf)))
                for label, data in _amc_header_variants(seed["data"]).items():
                    cases.append((f"{sname}:amc:{label}", _reader(seed, data)))
        elif family == "cycles" and seed["kind"] == "amc":
            for label, asf in _hierarchy_cycles(seed["asf"], rng).items():
                cases.append((f"{sname}:{label}", _reader(seed, asf=asf, full=False)))
        elif family == "encodings":
            for label, data in _encodings(seed["data"]).items():
                cases.append((f"{sname}:{label}", _reader(seed, data)))
            if seed["kind"] == "amc":
                for label, asf in _encodings(seed["asf"]).items():
                    cases.append((f"{sname}:asf:{label}", _reader(seed, asf=asf)))
        elif family == "archives" and seed["kind"] == "bvh":
            for label, (suffix, blob) in _archive_variants(seed["data"], rng).items():
                path = tmp / f"{sname}-{label}{suffix}"
                path.write_bytes(blob)
                cases.append((f"{sname}:{label}",
                              functools.partial(lambda p, pre: list(iter_joints(p, preset=pre or "auto")), path,
                                                seed["preset"])))
                cases.append((f"{sname}:{label}:members", functools.partial(_all_members, path)))
            for label, blob in (("gz_corrupt", gzip.compress(seed["data"])[:-30] + b"\x01" * 30),
                                ("gz_not_gzip", seed["data"]), ("xz_truncated", lzma.compress(seed["data"])[:60])):
                path = tmp / f"{sname}-{label}.bvh.{'xz' if label.startswith('xz') else 'gz'}"
                path.write_bytes(blob)
                cases.append((f"{sname}:{label}", functools.partial(read_bvh, path)))
    if family == "npy" and source == "synthetic":
        for label, blob in _npy_variants().items():
            cases.append((f"npy:{label}:bytes", functools.partial(load_joints, blob, name="m.npy")))
            path = tmp / f"{label}.npy"
            path.write_bytes(blob)
            cases.append((f"npy:{label}:path", functools.partial(load_joints, path)))
        path = tmp / "joints.npy.xz"
        path.write_bytes(lzma.compress(_npy_variants()["ok"]))
        cases.append(("npy:xz", functools.partial(load_joints, path)))
    return cases


def tally(cases) -> dict:
    """Run ``(label, run)`` cases (``run()`` returns the outcome); ``{"tried", "clean_error", "accepted",
    "failures": ["label: error", ...]}``."""
    counts = {"tried": 0, "clean_error": 0, "accepted": 0, "failures": []}
    for label, run in cases:
        counts["tried"] += 1
        try:
            counts[run()] += 1
        except Exception as err:  # noqa: BLE001 - collected and reported by the test
            counts["failures"].append(f"{label}: {type(err).__name__}: {' '.join(str(err).split())[:300]}")
    return counts


def totals(run_family: Callable[[str, str, Path], dict], families: tuple[str, ...],
           sources: tuple[str, ...] | None = None) -> dict[str, dict[str, int]]:
    """``{family: {"tried", "clean_error", "accepted", "failed"}}`` of ``run_family`` over the synthetic seeds
    and, when ``../shared/data`` is there, the real CMU seeds (for a benchmark script)."""
    import tempfile

    sources = sources or (("synthetic", "real") if _has_shared() else ("synthetic",))
    total = {f: {"tried": 0, "clean_error": 0, "accepted": 0, "failed": 0} for f in families}
    with tempfile.TemporaryDirectory() as tmp:
        for source in sources:
            for fam in families:
                c = run_family(fam, source, Path(tmp))
                for k in ("tried", "clean_error", "accepted"):
                    total[fam][k] += c[k]
                total[fam]["failed"] += len(c["failures"])
    return total


def run_family(family: str, source: str, tmp: Path) -> dict:
    """:func:`tally` of every case of one family (each through :func:`run_case`)."""
    return tally((label, functools.partial(run_case, fn)) for label, fn in family_cases(family, source, tmp))


def mutation_counts(sources: tuple[str, ...] | None = None) -> dict[str, dict[str, int]]:
    """:func:`totals` of this suite's families."""
    return totals(run_family, FAMILIES, sources)


@pytest.mark.parametrize("family", FAMILIES)
def test_mutations_synthetic(family, tmp_path):
    c = run_family(family, "synthetic", tmp_path)
    assert c["tried"] > 0
    assert not c["failures"], "\n".join(c["failures"])


@pytest.mark.shared
@pytest.mark.parametrize("family", [f for f in FAMILIES if f != "npy"])
def test_mutations_real(family, tmp_path, shared_data):
    c = run_family(family, "real", tmp_path)
    assert c["tried"] > 0
    assert not c["failures"], "\n".join(c["failures"])


def test_real_seeds_are_accepted(shared_data):
    """The unmutated real seeds load (so mutations start from valid files)."""
    for sname, seed in seeds("real").items():
        assert run_case(_reader(seed)) == "accepted", sname


# --------------------------------------------------------------------------- targeted regressions
def _clean(fn, match: str, line: int | None = -1) -> MotionGPT2Error:
    """``fn()`` must raise a one-line MotionGPT2Error matching ``match`` (and at ``line`` unless -1)."""
    box: dict[str, MotionGPT2Error] = {}

    def wrapped():
        try:
            return fn()
        except MotionGPT2Error as err:
            box["err"] = err
            raise

    assert run_case(wrapped) == "clean_error", f"accepted, expected an error matching {match!r}"
    err = box["err"]
    assert re.search(match, str(err)), str(err)
    if line != -1:
        assert getattr(err, "line", None) == line, str(err)
    return err


def test_issue_bvh_reproductions(tmp_path):
    text = CHAIN
    _clean(lambda: read_bvh(text.replace("Frames: 2", "Frames: inf"), name="x.bvh"), "bad frame count", 22)
    _clean(lambda: read_bvh(text.replace("0.0333333", "5e-324"), name="x.bvh"), "outside", 23)
    _clean(lambda: read_bvh(text.replace("0.0333333", "1e300"), name="x.bvh"), "outside", 23)
    _clean(lambda: read_bvh(text.replace("0.0333333", "1000"), name="x.bvh"), "outside", 23)
    _clean(lambda: read_bvh(text.replace("0.0333333", "1e-9"), name="x.bvh"), "outside", 23)
    nochan = re.sub(r"CHANNELS \d+[^\n]*", "CHANNELS 0", text).split("MOTION")[0]
    _clean(lambda: read_bvh(nochan + "MOTION\nFrames: 1000000000\nFrame Time: 0.01\n", name="x.bvh"),
           "over the limit", 22)
    _clean(lambda: read_bvh(nochan + "MOTION\nFrames: 999999\nFrame Time: 0.01\n", name="x.bvh"), "truncated", 22)
    _clean(lambda: read_bvh(text.replace("CHANNELS 3 Y", "CHANNELS -2 Y"), name="x.bvh"), "channel count", 9)
    _clean(lambda: read_bvh(text.replace("OFFSET 1 0 0", "OFFSET nan 0 0", 1), name="x.bvh"), "OFFSET", 8)
    _clean(lambda: read_bvh(text.replace("1 2 3 90", "1e20 2 3 90"), name="x.bvh"), "frame 1, channel 1", 24)
    _clean(lambda: read_bvh(text.replace("0 0 0 0 0 0 0 0 0 0 0 0", "0 0 0 0 0 0 0 0 0 0 0 inf"), name="x.bvh"),
           "frame 2, channel 12", 25)
    gz = tmp_path / "c.bvh.gz"
    gz.write_bytes(gzip.compress(text.encode())[:-20] + b"\xff" * 20)
    _clean(lambda: read_bvh(gz), "cannot decompress")
    # 0/1-frame motions are read, but load_joints refuses them (features need 2 frames)
    body = make_bvh(frames=12)
    one = _cut_bvh(body, 1)
    assert read_bvh(one, name="one.bvh").n_frames == 1
    _clean(lambda: load_joints(one.encode(), name="one.bvh"), "at least 2")
    _clean(lambda: load_joints(_cut_bvh(body, 0).encode(), name="zero.bvh"), "at least 2")
    # a collapsed skeleton (every OFFSET 0) gave NaN features
    flat = re.sub(r"OFFSET [^\n]*", "OFFSET 0 0 0", body)
    _clean(lambda: load_joints(flat.encode(), name="flat.bvh", preset="bandai-namco"), "no size")
    # a map with unit_scale 0 (NaN features before) or 1e300
    for bad in (0, -1, 1e300, float("nan"), True):
        with pytest.raises(MotionGPT2Error, match="bad unit_scale"):
            load_map({"name": "m", "unit_scale": bad, "joints": {}})


def test_issue_asf_reproductions():
    asf = SYN_ASF
    for edit, match in (
        (("root a c\n", "root a c\n    b b\n"), "its own child"),               # a bone its own child
        (("    a b\n", "    a b\n    b a\n"), "appears twice|two parents"),    # 2-cycle through the root chain
        (("angle deg", "angle"), "without a value"),
        (("name b", "name"), "without a value"),
        (("axis 0 0 90  XYZ", "axis 0 0 90  XYQ"), "bad axis order 'XYQ'"),
        (("length 0.5", "length 0"), "length unit 0 is not positive"),
    ):
        _clean(lambda: read_asf(asf.replace(*edit), name="t.asf"), match)
    # detached 2-cycle: b <-> a with nothing under root except c
    cyc = asf.replace("root a c\n    a b\n", "root c\n    a b\n    b a\n")
    _clean(lambda: read_asf(cyc, name="t.asf"), "not connected|appears twice|two parents")
    # a zero-length bone is fine
    m = read_amc(SYN_AMC, asf=read_asf(asf.replace("length 2", "length 0"), name="t.asf"), name="t.amc")
    assert np.isfinite(m.world_positions()).all()
    big = SYN_AMC.replace("\n2\n", "\n100000000000000000000000\n")
    assert run_case(lambda: read_amc(big, asf=read_asf(asf, name="t.asf"), name="t.amc")) in ("accepted",
                                                                                              "clean_error")
    _clean(lambda: read_amc(SYN_AMC.replace("a 90", "a nan"), asf=read_asf(asf, name="t.asf"), name="t.amc"),
           "not a finite number", 6)
    _clean(lambda: read_amc(SYN_AMC, asf=read_asf(asf, name="t.asf"), name="t.amc", fps=0), "frame rate")


def test_tree_order_refuses_cycles_and_encodings_decode():
    kids = {"root": ["a"], "a": ["b"], "b": ["a"]}
    with pytest.raises(MotionFormatError, match="appears twice"):
        validate.tree_order(kids, "root", "x.asf")
    assert validate.tree_order({"root": ["a", "c"], "a": ["b"]}, "root", "x.asf") == ["a", "b", "c"]
    ref = read_bvh(CHAIN, name="x.bvh")
    for blob in (CHAIN.encode("utf-16-le"), CHAIN.encode("utf-16-be"), CHAIN.encode("utf-32"),
                 CHAIN.replace("\n", "\r").encode()):
        m = read_bvh(blob, name="x.bvh")
        np.testing.assert_allclose(m.world_positions(), ref.world_positions())


def test_issue_npy_reproductions(tmp_path):
    v = _npy_variants()
    for label, match in (("empty", "empty .npy"), ("npz_named_npy", "npz"), ("string_dtype", "dtype"),
                         ("void_dtype", "dtype"), ("header_1e12_rows", "over the limit"),
                         ("truncated_data", "truncated"), ("f64_1e300", "not finite or beyond"),
                         ("nan", "not finite"), ("object_pickle", "dtype")):
        p = tmp_path / f"{label}.npy"
        p.write_bytes(v[label])
        _clean(lambda: load_joints(p), match)
    p = tmp_path / "ok.npy"
    p.write_bytes(v["ok_f64_fortran"])
    j = load_joints(p)
    assert j.positions.dtype == np.float32 and j.positions.shape == (12, 22, 3)


def test_issue_archive_reproductions(tmp_path):
    bvh = make_bvh(frames=6).encode()
    rng = random.Random(0)
    variants = _archive_variants(bvh, rng)
    for label, match in (("zip_bad_crc", "Bad CRC"), ("zip_corrupt_deflate", "cannot read zip member"),
                         ("zip_encrypted_flag", "encrypted"), ("zip_unknown_method", "compression method 98"),
                         ("zip_size_lie", "over the"), ("tar_size_claims_1TiB", "over the"),
                         ("tar_xz_truncated", "truncated or corrupt")):
        suffix, blob = variants[label]
        p = tmp_path / f"{label}{suffix}"
        p.write_bytes(blob)
        err = _clean(lambda: list(iter_members(p)), match)
        assert str(p) in str(err)


def test_zip_member_with_one_huge_line(tmp_path):
    """The issue's 120 MB single-line member (peaked at 3.4 GB): refused, bounded memory."""
    line = b"1.5 " * (30 * 2**20)  # 120 MiB, no newline
    p = tmp_path / "huge.zip"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("huge.bvh", make_bvh(frames=2).encode() + line)
    del line
    _clean(lambda: list(iter_joints(p)), "characters")


def test_decompression_is_capped(tmp_path, monkeypatch):
    """A small compressed file that expands past MAX_FILE_BYTES is refused while decompressing."""
    monkeypatch.setattr(validate, "MAX_FILE_BYTES", 2**20)
    monkeypatch.setattr(archive_mod, "MAX_FILE_BYTES", 2**20)
    bomb = gzip.compress(b"0" * (8 * 2**20))
    p = tmp_path / "bomb.bvh.gz"
    p.write_bytes(bomb)
    _clean(lambda: read_bytes(p), "over the 1 MiB limit")
    z = tmp_path / "bomb.zip"
    z.write_bytes(_zip({"bomb.bvh.gz": bomb}))
    _clean(lambda: list(iter_members(z, suffixes=None)), "over the 1 MiB limit")


def test_real_gzip_and_bounds_keep_real_rates():
    """Real frame times (120, 60, 30 fps; 0.00833333 s) pass; the documented bounds hold."""
    for ft in ("0.008333", "0.00833333", "0.0166667", "0.0333333"):
        assert read_bvh(CHAIN.replace("0.0333333", ft), name="x.bvh").fps in (120.0, 60.0, 30.0)
    assert validate.MIN_FRAME_TIME == 1e-4 and validate.MAX_FRAME_TIME == 1.0
    assert validate.MAX_FRAMES >= 1_000_000


# --------------------------------------------------------------------------- property-based
PROPS = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

_floats = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                    st.floats(-400, 400), st.sampled_from([0.0, 1e300, -1e300, 5e-324, 1e23, 1e6, 1e7]))


@st.composite
def bvh_texts(draw):
    """A random tree of 1–6 joints with random channel subsets, 0–4 frames of random values."""
    n = draw(st.integers(1, 6))
    parents = [-1] + [draw(st.integers(0, k - 1)) for k in range(1, n)]
    chans = []
    for k in range(n):
        pos = draw(st.permutations(["Xposition", "Yposition", "Zposition"]))[: draw(st.integers(0, 3 if k == 0 else 1))]
        rot = draw(st.permutations(["Xrotation", "Yrotation", "Zrotation"]))[: draw(st.integers(0, 3))]
        chans.append(list(pos) + list(rot))
    offsets = [[draw(_floats) for _ in range(3)] for _ in range(n)]
    frames = draw(st.integers(0, 4))
    nch = sum(len(c) for c in chans)
    values = [[draw(_floats) for _ in range(nch)] for _ in range(frames)]
    ft = draw(st.sampled_from([0.0083333, 0.01, 0.0333333, 1e-5, 2.0, 0.5]))
    kids = {k: [c for c in range(n) if parents[c] == k] for k in range(n)}
    out = ["HIERARCHY"]

    def emit(k, depth):
        ind = "\t" * depth
        out.append(f"{ind}{'ROOT' if k == 0 else 'JOINT'} j{k}\n{ind}{{")
        out.append(f"{ind}\tOFFSET {' '.join(repr(v) for v in offsets[k])}")
        out.append(f"{ind}\tCHANNELS {len(chans[k])} {' '.join(chans[k])}")
        for c in kids[k]:
            emit(c, depth + 1)
        out.append(f"{ind}}}")

    emit(0, 0)
    out += ["MOTION", f"Frames: {frames}", f"Frame Time: {ft!r}"] + [" ".join(repr(v) for v in row) for row in values]
    ok = (all(abs(v) <= 1e6 for row in offsets for v in row) and all(abs(v) <= 1e6 for row in values for v in row)
          and 1e-4 <= ft <= 1.0)
    return "\n".join(out) + "\n", ok, frames, nch, values


@PROPS
@given(bvh_texts())
def test_property_bvh_generated(case):
    """Random valid-shaped BVH: accepted exactly when every value is in range, with the values kept."""
    text, ok, frames, nch, values = case
    outcome = run_case(lambda: read_bvh(text, name="p.bvh"))
    assert outcome == ("accepted" if ok else "clean_error"), text
    if ok:
        m = read_bvh(text, name="p.bvh")
        assert m.n_frames == frames


@PROPS
@given(st.binary(max_size=400), st.sampled_from(["bvh", "asf", "amc", "npy"]))
def test_property_random_bytes(data, kind):
    """Arbitrary bytes never crash any reader."""
    asf = read_asf(SYN_ASF, name="t.asf")
    fn = {"bvh": lambda: read_bvh(data, name="r.bvh"), "asf": lambda: read_asf(data, name="r.asf"),
          "amc": lambda: read_amc(data, asf=asf, name="r.amc"), "npy": lambda: load_joints(data, name="r.npy")}[kind]
    run_case(fn)


@PROPS
@given(st.sampled_from(["syn-chain", "syn-body", "syn-asfamc"]), st.integers(0, 10**6), st.integers(0, 40),
       st.one_of(st.binary(max_size=24), st.sampled_from([s.encode() for s in EXTREMES]),
                 st.text(max_size=12).map(str.encode)), st.booleans())
def test_property_splice_seed(sname, pos, cut, insert, skeleton):
    """A seed with a random span replaced by random bytes / extreme numbers: clean error or valid motion."""
    seed = seeds("synthetic")[sname]
    target = seed["asf"] if skeleton and seed["kind"] == "amc" else seed["data"]
    at = pos % (len(target) + 1)
    mutated = target[:at] + insert + target[at + cut:]
    if target is seed["data"]:
        run_case(_reader(seed, mutated))
    else:
        run_case(_reader(seed, asf=mutated))


@PROPS
@given(st.integers(2, 7).flatmap(lambda n: st.tuples(
    st.just(n), st.lists(st.tuples(st.integers(-1, n - 1), st.integers(0, n - 1)), min_size=1, max_size=10))))
def test_property_asf_hierarchy(case):
    """Random ``:hierarchy`` edges (cycles, self loops, two parents): clean error, or parents-first order."""
    n, edges = case
    bones = "".join(f"  begin\n    name b{k}\n    direction 1 0 0\n    length 1\n    axis 0 0 0 XYZ\n    dof rx\n  end\n"
                    for k in range(n))
    rows = "".join(f"    {'root' if p < 0 else f'b{p}'} b{c}\n" for p, c in edges)
    text = f":units\n  length 1\n:root\n  order TX TY TZ RX RY RZ\n  axis XYZ\n:bonedata\n{bones}:hierarchy\n  begin\n{rows}  end\n"
    outcome = run_case(lambda: read_asf(text, name="h.asf"))
    if outcome == "accepted":
        asf = read_asf(text, name="h.asf")
        seen = {"root"}
        for b in asf.bones:
            assert b.parent in seen
            seen.add(b.name)


@PROPS
@given(st.lists(st.integers(-3, 2**62), min_size=0, max_size=4).map(tuple),
       st.sampled_from(["<f4", "<f8", ">f8", "<i2", "|u1", "<c8", "|S3", "|V4", "|O", "<U2", "|b1"]),
       st.booleans(), st.integers(0, 2000))
def test_property_npy_headers(shape, descr, fortran, nbytes):
    """A ``.npy`` header with any shape / dtype and a short data part: refused before allocating, or valid."""
    try:
        blob = _npy_header(shape, descr, fortran, bytes(nbytes))
    except ValueError:
        return
    run_case(lambda: load_joints(blob, name="h.npy"))
