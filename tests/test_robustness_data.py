"""Robustness of the API, feature extraction, datasets and command line against bad input.

Every input below must end in one of two ways, within a time and memory bound:

* a clean error: a :class:`~motiongpt2.errors.MotionGPT2Error` whose message is one non-empty line, or
* a valid result: every array finite, every id a plain name, every caption one clean line.

(a) A deterministic mutation suite over small synthetic seeds (always run) and real CMU BVH seeds from
``../shared/data`` (skipped without it). Families:

* ``captions``: caption files for ``prepare custom`` (encodings, huge fields, JSON of the wrong types or
  nested too deep, a folder, ``#`` and line breaks, bad times, random damage) → ``read_caption_file``;
* ``file_names``: motion files named anyhow (spaces, ``#``, backslashes, non-ASCII, duplicates after
  sanitising, ``M`` prefixes) → ``custom.plan`` ids;
* ``joint_maps``: ``--map`` JSON files of every wrong shape → ``api.convert``;
* ``motions``: joint arrays that break feature extraction (0/1 frames, NaN/inf, 1e20 roots, zero-length
  legs, collapsed bodies) and real/synthetic BVH header damage → ``api.convert``;
* ``npy_outputs``: our own ``.features.npy`` / ``.joints.npy`` damaged (truncated, flipped, NaN, wrong
  shapes and dtypes, lying headers) → ``api.export`` / ``api.render`` (``.html``);
* ``datasets``: a small prepared dataset with one file damaged (split files not UTF-8, 10 MB id lines,
  ``../`` and absolute ids, ``dataset.json`` a list or nested deeply, ``Mean.npy`` of strings, truncated
  or NaN features and joints, bad texts) → ``validate_dataset`` and ``open_dataset``.

:func:`mutation_counts` returns ``{family: {"tried", "clean_error", "accepted", "failed"}}`` (``python -c
"from test_robustness_data import mutation_counts; print(mutation_counts())"`` from ``tests/``).

(b) Property-based tests (hypothesis, derandomized): ids from any name, captions from any text, caption
files from any bytes, feature extraction from any small array.

(c) The command line: bad inputs to ``convert``, ``export``, ``render``, ``prepare custom`` and ``validate``
print one line and no traceback; an injected bug prints the short internal-error line and the path of a
file holding the traceback; Ctrl-C exits with 130.
"""
from __future__ import annotations

import functools
import io
import json
import os
import random
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from motiongpt2 import api, cli
from motiongpt2.data import layout
from motiongpt2.data.readers import Report, id_problem, open_dataset, validate_dataset
from motiongpt2.data.recipes import custom
from motiongpt2.data.text import clean_caption, fallback_tag, format_text_line
from motiongpt2.errors import MotionGPT2Error
from motiongpt2.motion.features import extract_features
from motiongpt2.motion.io.retarget import get_preset
from motiongpt2.motion.skeleton import HUMANML3D
from motiongpt2.motion.synthetic import synthetic_walk
from test_io_retarget import make_bvh
from test_robustness_readers import MEMORY_LIMIT, STATS, TIME_LIMIT_S, _bvh_header_variants, _has_shared, seeds  # noqa: F401
from test_robustness_readers import run_case as _run_case, tally, totals

N_RANDOM = 6                # random mutations per seed in the random parts of a family
FAMILIES = ("captions", "file_names", "joint_maps", "motions", "npy_outputs", "datasets")


# --------------------------------------------------------------------------- outcome checks
def run_case(fn: Callable[[], object], check: Callable[[object], None] | None = None) -> str:
    """:func:`test_robustness_readers.run_case` (same time and memory bounds, same ``STATS``) with ``check``
    applied to an accepted result (none by default: these inputs are not all motions)."""
    return _run_case(fn, check or (lambda out: None))


def _check_captions(caps: dict) -> None:
    for key, entry in caps.items():
        assert isinstance(key, str) and key
        for c in entry["captions"]:
            assert c.text and c.text == clean_caption(c.text), c.text
            format_text_line(c.text, fallback_tag(c.text), c.start, c.end)  # writable as one text line
        assert entry["split"] is None or isinstance(entry["split"], str)


def _check_plan(plan) -> None:
    ids = [c.clip_id for j in plan.jobs for c in j.clips]
    assert len({i.lower() for i in ids} | {("M" + i).lower() for i in ids}) == 2 * len(ids), ids
    for i in ids:
        layout._check_id(i)
        assert id_problem(i) is None and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]*", i), i


def _check_converted(info: dict) -> None:
    for key in ("joints", "features"):
        arr = np.load(info[key])
        assert np.isfinite(arr).all() and len(arr) >= 1, key
    assert np.load(info["features"]).shape[1] == 263


def _check_exported(info) -> None:
    path = Path(info["path"] if isinstance(info, dict) else info)
    assert path.exists() and path.stat().st_size > 0
    if path.suffix == ".npy":
        assert np.isfinite(np.load(path)).all()
    elif path.suffix == ".json":
        assert "NaN" not in path.read_text() and "Infinity" not in path.read_text()


def _check_report(rep: Report) -> None:
    assert isinstance(rep, Report)
    for line in rep.lines():
        assert line and "\n" not in line and len(line) < 2000, line[:200]


def _load_all(ds):
    """Every sample of ``ds`` (lazy loading may raise a clean DatasetError)."""
    return ds, [ds[i] for i in range(len(ds))]


def _check_dataset(out) -> None:
    ds, samples = out
    assert len(samples) == len(ds.ids)
    for sample in samples:
        assert np.isfinite(sample.features).all()
        assert sample.texts and all("\n" not in t.caption for t in sample.texts)


# --------------------------------------------------------------------------- seeds
def _walk(T: int = 60, seed: int = 1) -> np.ndarray:
    return synthetic_walk(T=T, seed=seed).astype(np.float32)


def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def _npy_header(shape: tuple, descr: str = "<f4", data: bytes = b"") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue() + data


def _byte_flip(rng: random.Random, data: bytes, n: int = 8) -> bytes:
    arr = bytearray(data)
    for _ in range(rng.randint(1, n)):
        arr[rng.randrange(len(arr))] ^= rng.randint(1, 255)
    return bytes(arr)


def _truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(len(data))]


GOOD_CSV = ("file,caption,start,end,split\n"
            "walk.bvh,a person walks forward,,,train\n"
            "walk.bvh,someone walks,0,2.5,train\n"
            "run.bvh,a person runs,,,test\n")
GOOD_JSON = {"walk.bvh": ["a person walks forward", "someone walks"], "run": {"captions": ["runs"], "split": "val"}}


def _caption_variants(rng: random.Random) -> dict[str, tuple[str, bytes | None]]:
    """``{label: (suffix, bytes)}`` (``None`` bytes: a folder named like the file)."""
    text = GOOD_CSV
    js = json.dumps(GOOD_JSON)
    out = {
        "csv_ok": (".csv", text.encode()),
        "json_ok": (".json", js.encode()),
        "latin1": (".csv", text.replace("walks forward", "marche à côté").encode("latin-1")),
        "utf16": (".csv", text.encode("utf-16")),
        "utf32": (".csv", text.encode("utf-32")),
        "utf8_bom": (".csv", b"\xef\xbb\xbf" + text.encode()),
        "utf16_json": (".json", js.encode("utf-16")),
        "crlf": (".csv", text.replace("\n", "\r\n").encode()),
        "field_over_128k": (".csv", (text + f'jump.bvh,"{"x" * 140_000}",,,train\n').encode()),
        "caption_200k_words": (".csv", (text + "jump.bvh," + "jump " * 40_000 + ",,,train\n").encode()),
        "hash_and_breaks": (".csv", (text + 'jump.bvh,"a #person\njumps\r\nhigh\x00\x07\u2028ok",,,train\n').encode()),
        "only_hash": (".csv", (text + "jump.bvh,###,,,train\n").encode()),
        "control_chars": (".json", json.dumps({"a.bvh": ["walks\x1b[31m red\x7f", "\t\n"]}).encode()),
        "json_int": (".json", json.dumps({"a.bvh": 5}).encode()),
        "json_null": (".json", json.dumps({"a.bvh": None, "b.bvh": [None, "walks"]}).encode()),
        "json_list_of_ints": (".json", json.dumps({"a.bvh": [1, 2]}).encode()),
        "json_dict_int_captions": (".json", json.dumps({"a.bvh": {"captions": 3}}).encode()),
        "json_split_int": (".json", json.dumps({"a.bvh": {"captions": ["x"], "split": 7}}).encode()),
        "json_split_list": (".json", json.dumps({"a.bvh": {"captions": ["x"], "split": ["train"]}}).encode()),
        "json_bool": (".json", json.dumps({"a.bvh": True}).encode()),
        "json_nested_captions": (".json", json.dumps({"a.bvh": [["x"]]}).encode()),
        "json_deep_list": (".json", b"[" * 100_000 + b"]" * 100_000),
        "json_deep_dict": (".json", b'{"a.bvh": ' * 50_000 + b"1" + b"}" * 50_000),
        "json_list_top": (".json", b'["a.bvh", "walks"]'),
        "json_string_top": (".json", b'"walks"'),
        "json_invalid": (".json", js[:-5].encode()),
        "json_nan": (".json", b'{"a.bvh": NaN}'),
        "json_empty_key": (".json", b'{"": ["walks"], ".bvh": ["x"]}'),
        "empty": (".csv", b""),
        "header_only": (".csv", b"file,caption\n"),
        "no_header": (".csv", b"walk.bvh,walks\n"),
        "binary": (".csv", bytes(range(256)) * 4),
        "nul_in_csv": (".csv", text.encode().replace(b"walks", b"wa\x00lks", 1)),
        "unclosed_quote": (".csv", (text + 'jump.bvh,"never closed,,,train\n').encode()),
        "times_nan": (".csv", b"file,caption,start,end\nw.bvh,walks,nan,1\n"),
        "times_inf": (".csv", b"file,caption,start,end\nw.bvh,walks,0,inf\n"),
        "times_negative": (".csv", b"file,caption,start,end\nw.bvh,walks,-1,2\n"),
        "times_reversed": (".csv", b"file,caption,start,end\nw.bvh,walks,3,1\n"),
        "times_huge": (".csv", b"file,caption,start,end\nw.bvh,walks,0,1e308\n"),
        "extra_columns": (".csv", b"file,caption,x\nw.bvh,walks,1,2,3,4\n"),
        "short_row": (".csv", b"file,caption,split\nw.bvh\n"),
        "split_upper": (".csv", b"file,caption,split\nw.bvh,walks, TRAIN \n"),
        "folder": (".csv", None),
    }
    for i in range(N_RANDOM):
        out[f"csv_flip_{i}"] = (".csv", _byte_flip(rng, text.encode()))
        out[f"csv_cut_{i}"] = (".csv", _truncate(rng, text.encode()))
        out[f"json_flip_{i}"] = (".json", _byte_flip(rng, js.encode()))
        out[f"json_cut_{i}"] = (".json", _truncate(rng, js.encode()))
    return out


FILE_NAMES = {
    "spaces": ["my walk.bvh", "my  walk.bvh", "my_walk.bvh"],
    "hash": ["walk#1.bvh", "walk#2.bvh", "walk_1.bvh"],
    "backslash": ["a\\b.bvh", "a_b.bvh"],
    "non_ascii": ["marché.bvh", "走路.bvh", "跑步.bvh", "ü.bvh", "🙂.bvh"],
    "case_dupes": ["Walk.bvh", "walk.bvh", "WALK.bvh"],
    "m_prefix": ["walk.bvh", "Mwalk.bvh", "MMwalk.bvh"],
    "dots": [".hidden.bvh", "..bvh", "a..b.bvh", "-dash.bvh", "_u.bvh"],
    "long": ["x" * 240 + ".bvh", "x" * 241 + ".bvh"],
    "controls": ["tab\there.bvh", "bell\x07.bvh", "nl\nname.bvh"],
    "nested": ["sub/walk.bvh", "sub/sub/walk.bvh", "sub__walk.bvh"],
    "quotes": ["it's.bvh", 'say "hi".bvh', "semi;colon.bvh", "per%cent.bvh", "a,b.bvh"],
}


def _base_map() -> dict:
    return {"name": "my-rig", "unit_scale": "auto", "up_axis": "auto",
            "joints": json.loads(json.dumps(get_preset("bandai-namco").joints))}


def _map_variants(rng: random.Random) -> dict[str, bytes | None]:
    base = _base_map()

    def with_(**kw) -> bytes:
        return json.dumps(dict(base, **kw)).encode()

    first = next(iter(base["joints"]))
    out: dict[str, bytes | None] = {
        "ok": json.dumps(base).encode(),
        "list": b"[1, 2]",
        "null": b"null",
        "deep": b"[" * 100_000 + b"]" * 100_000,
        "deep_dict": b'{"name": ' * 50_000 + b"1" + b"}" * 50_000,
        "invalid": json.dumps(base).encode()[:-3],
        "latin1": json.dumps(base).replace("my-rig", "mé").encode("utf-8").replace(b"\xc3\xa9", b"\xe9"),
        "utf16": json.dumps(base).encode("utf-16"),
        "empty": b"",
        "folder": None,
        "no_name": json.dumps({k: v for k, v in base.items() if k != "name"}).encode(),
        "joints_null": with_(joints=None),
        "joints_list": with_(joints=[1, 2]),
        "joints_int": with_(joints=5),
        "joints_empty": with_(joints={}),
        "joint_int_value": with_(joints=dict(base["joints"], **{first: 3})),
        "joint_null_value": with_(joints=dict(base["joints"], **{first: None})),
        "joint_unknown_source": with_(joints=dict(base["joints"], **{first: "NoSuchBone"})),
        "joint_weight_nan": with_(joints=dict(base["joints"], **{first: {"Hips": float("nan")}})),
        "joint_weight_str": with_(joints=dict(base["joints"], **{first: {"Hips": "x"}})),
        "joint_weight_zero": with_(joints=dict(base["joints"], **{first: {"Hips": 0}})),
        "joint_weight_huge": with_(joints=dict(base["joints"], **{first: {"Hips": 1e300}})),
        "unknown_target": with_(joints=dict(base["joints"], nosuchjoint="Hips")),
        "name_int": with_(name=5),
        "name_null": with_(name=None),
    }
    for v in (0, -1, 1e300, "nan", "cm?", None, [1], True, 1e-12):
        out[f"unit_scale={v}"] = with_(unit_scale=v)
    for v in ("w", "", None, 5, "+-y", ["y"]):
        out[f"up_axis={v}"] = with_(up_axis=v)
    for i in range(N_RANDOM):
        out[f"flip_{i}"] = _byte_flip(rng, json.dumps(base).encode())
        out[f"cut_{i}"] = _truncate(rng, json.dumps(base).encode())
    return out


def _joint_variants() -> dict[str, np.ndarray]:
    """Joint arrays ``(T, 22, 3)`` (metres) that feature extraction must refuse cleanly or handle."""
    w = _walk(40).astype(np.float64)
    out = {"ok": w, "zero_frames": w[:0], "one_frame": w[:1], "two_frames": w[:2]}
    for v in (np.nan, np.inf, -np.inf, 1e20, 1e7, 1e300):
        a = w.copy()
        a[5, 0, 0] = v
        out[f"root={v}"] = a
        b = w.copy()
        b[:, 0, 1] = v
        out[f"all_roots_y={v}"] = b
    leg = w.copy()
    leg[:, 5] = leg[:, 2]  # right knee on the right hip: zero-length leg bone (division by zero before)
    out["zero_leg"] = leg
    legs = w.copy()
    legs[:, [4, 5, 7, 8]] = legs[:, [1, 2, 1, 2]]
    out["zero_legs"] = legs
    out["collapsed"] = np.repeat(w[:, :1], 22, axis=1)
    hips = w.copy()
    hips[:, [1, 2, 16, 17]] = hips[:, [0, 0, 0, 0]]  # hips and shoulders on the root: no facing direction
    out["no_facing"] = hips
    out["all_zero"] = np.zeros_like(w)
    out["tiny"] = w * 1e-9
    out["huge_but_finite"] = w * 1e5
    out["constant"] = np.repeat(w[:1], 40, axis=0)
    out["float16"] = w.astype(np.float16)
    out["int"] = (w * 100).astype(np.int32)
    return out


def _npy_output_variants(feats: bytes, joints: bytes, rng: random.Random) -> dict[str, bytes]:
    f = np.load(io.BytesIO(feats))
    j = np.load(io.BytesIO(joints))
    out = {"features_ok": feats, "joints_ok": joints}
    for name, blob, arr in (("features", feats, f), ("joints", joints, j)):
        out[f"{name}_empty"] = b""
        out[f"{name}_header_only"] = blob[:128]
        out[f"{name}_truncated"] = blob[:-7]
        for k in range(3):
            out[f"{name}_flip_{k}"] = blob[:128] + _byte_flip(rng, blob[128:], 4)
            out[f"{name}_header_flip_{k}"] = _byte_flip(rng, blob[:128], 2) + blob[128:]
        for v in (np.nan, np.inf, 1e20, 1e38):
            a = arr.copy()
            a.reshape(-1)[rng.randrange(a.size)] = v
            out[f"{name}_value={v}"] = _npy_bytes(a)
        out[f"{name}_zero_frames"] = _npy_bytes(arr[:0])
        out[f"{name}_one_frame"] = _npy_bytes(arr[:1])
        out[f"{name}_strings"] = _npy_bytes(arr.astype(str)[:3])
        out[f"{name}_complex"] = _npy_bytes(arr.astype(np.complex64))
        out[f"{name}_f64_be"] = _npy_bytes(arr.astype(">f8"))
        out[f"{name}_fortran"] = _npy_bytes(np.asfortranarray(arr))
        out[f"{name}_1e12_rows"] = _npy_header((10**12,) + arr.shape[1:], data=arr.tobytes())
    out["object_pickle"] = _npy_header((4, 263), "|O", data=b"\x80\x04N.")
    out["npz"] = (lambda b: (np.savez(b, a=f), b.getvalue())[1])(io.BytesIO())
    for shape in ((30, 5, 3), (30, 100, 3), (30, 22, 4), (30, 264), (30,), (2, 3, 22, 3), (), (30, 0), (0, 263)):
        out[f"shape={shape}"] = _npy_bytes(np.zeros(shape, np.float32))
    out["joints_2000_joints"] = _npy_bytes(np.zeros((2, 2000, 3), np.float32))
    return out


# --------------------------------------------------------------------------- a small dataset
@functools.lru_cache(maxsize=None)
def _clip_arrays(seed: int) -> tuple[np.ndarray, np.ndarray]:
    return extract_features(_walk(60, seed), HUMANML3D)


def make_dataset(root: Path) -> Path:
    """A 4-clip HumanML3D-layout dataset (train 2, val 1, test 1) with joints, texts, Mean/Std, dataset.json."""
    ids = ["000001", "000002", "000003", "M000001"]
    feats = []
    for k, sid in enumerate(ids):
        f, j = _clip_arrays(k % 3)
        feats.append(f)
        layout.write_clip(root, sid, f, j, [layout.TextEntry("a person walks forward",
                                                              [("a", "DET"), ("person", "NOUN")], 0.0, 0.0)])
    layout.write_splits(root, {"train": ["000001", "M000001"], "val": ["000002"], "test": ["000003"]})
    mean, std = layout.compute_mean_std(feats, HUMANML3D)
    layout.write_mean_std(root, mean, std)
    layout.write_dataset_json(root, {"name": "tiny", "kind": "humanml3d"})
    return root


def _dataset_variants(root: Path, rng: random.Random) -> dict[str, tuple[str, bytes | None]]:
    """``{label: (relative path to replace, new bytes or None = make it a folder)}``."""
    train = (root / "train.txt").read_bytes()
    feat = (root / "new_joint_vecs" / "000001.npy").read_bytes()
    joints = (root / "new_joints" / "000001.npy").read_bytes()
    f = np.load(io.BytesIO(feat))
    j = np.load(io.BytesIO(joints))
    text = (root / "texts" / "000001.txt").read_bytes()
    nanf = f.copy()
    nanf[3, 7] = np.nan
    nanj = j.copy()
    nanj[10, 4, 1] = np.nan
    out = {
        "unchanged": ("train.txt", train),
        "split_latin1": ("train.txt", train + "caf\xe9\n".encode("latin-1")),
        "split_utf16": ("train.txt", train.decode().encode("utf-16")),
        "split_binary": ("train.txt", bytes(range(256))),
        "split_10MB_line": ("train.txt", train + b"x" * 10_000_000 + b"\n"),
        "split_dotdot": ("train.txt", train + b"../outside\n"),
        "split_dotdot_deep": ("train.txt", train + b"new_joint_vecs/../../outside\n"),
        "split_absolute": ("train.txt", train + os.fsencode(root.parent / "outside") + b"\n"),
        "split_backslash": ("train.txt", train + b"..\\outside\n"),
        "split_nul": ("train.txt", train + b"a\x00b\n"),
        "split_control": ("train.txt", train + b"a\x1bb\n"),
        "split_dupes": ("train.txt", train + train),
        "split_cross_leak": ("val.txt", (root / "val.txt").read_bytes() + b"000001\n"),
        "split_missing_id": ("train.txt", train + b"999999\n"),
        "split_folder": ("train.txt", None),
        "dataset_json_list": ("dataset.json", b"[1, 2, 3]"),
        "dataset_json_deep": ("dataset.json", b"[" * 100_000 + b"]" * 100_000),
        "dataset_json_deep_dict": ("dataset.json", b'{"kind": ' * 50_000 + b"1" + b"}" * 50_000),
        "dataset_json_invalid": ("dataset.json", b"{kind: humanml3d"),
        "dataset_json_kind_int": ("dataset.json", b'{"kind": 5}'),
        "dataset_json_kind_list": ("dataset.json", b'{"kind": ["kit"]}'),
        "dataset_json_latin1": ("dataset.json", b'{"name": "caf\xe9"}'),
        "mean_strings": ("Mean.npy", _npy_bytes(np.array(["a"] * 263))),
        "mean_objects": ("Mean.npy", _npy_header((263,), "|O", b"\x80\x04N.")),
        "mean_wrong_shape": ("Mean.npy", _npy_bytes(np.zeros(262, np.float32))),
        "mean_2d": ("Mean.npy", _npy_bytes(np.zeros((263, 1), np.float32))),
        "mean_nan": ("Mean.npy", _npy_bytes(np.full(263, np.nan, np.float32))),
        "mean_truncated": ("Mean.npy", _npy_bytes(np.zeros(263, np.float32))[:-10]),
        "mean_huge_header": ("Mean.npy", _npy_header((10**12,))),
        "mean_empty": ("Mean.npy", b""),
        "mean_folder": ("Mean.npy", None),
        "std_zero": ("Std.npy", _npy_bytes(np.zeros(263, np.float32))),
        "std_negative": ("Std.npy", _npy_bytes(-np.ones(263, np.float32))),
        "feature_truncated": ("new_joint_vecs/000001.npy", feat[:-100]),
        "feature_nan": ("new_joint_vecs/000001.npy", _npy_bytes(nanf)),
        "feature_inf": ("new_joint_vecs/000001.npy", _npy_bytes(np.where(nanf != nanf, np.inf, nanf))),
        "feature_strings": ("new_joint_vecs/000001.npy", _npy_bytes(f.astype(str))),
        "feature_int": ("new_joint_vecs/000001.npy", _npy_bytes(f.astype(np.int32))),
        "feature_wrong_dim": ("new_joint_vecs/000001.npy", _npy_bytes(f[:, :251])),
        "feature_3d": ("new_joint_vecs/000001.npy", _npy_bytes(f[None])),
        "feature_1e12_rows": ("new_joint_vecs/000001.npy", _npy_header((10**12, 263), data=f.tobytes())),
        "feature_short": ("new_joint_vecs/000001.npy", _npy_bytes(f[:5])),
        "feature_empty": ("new_joint_vecs/000001.npy", b""),
        "feature_npz": ("new_joint_vecs/000001.npy", (lambda b: (np.savez(b, a=f), b.getvalue())[1])(io.BytesIO())),
        "feature_folder": ("new_joint_vecs/000001.npy", None),
        "joints_nan": ("new_joints/000001.npy", _npy_bytes(nanj)),
        "joints_truncated": ("new_joints/000001.npy", joints[:-50]),
        "joints_wrong_shape": ("new_joints/000001.npy", _npy_bytes(j[:, :21])),
        "joints_strings": ("new_joints/000001.npy", _npy_bytes(j.astype(str)[:2])),
        "text_latin1": ("texts/000001.txt", "caf\xe9 walks#a/DET#0.0#0.0\n".encode("latin-1")),
        "text_binary": ("texts/000001.txt", bytes(range(256))),
        "text_empty": ("texts/000001.txt", b""),
        "text_bad_fields": ("texts/000001.txt", b"just a caption\n"),
        "text_bad_times": ("texts/000001.txt", b"walks#a/DET#5#1\n"),
        "text_huge_line": ("texts/000001.txt", b"w" * 5_000_000 + b"#a/DET#0.0#0.0\n"),
        "text_folder": ("texts/000001.txt", None),
    }
    for k in range(N_RANDOM):
        out[f"feature_flip_{k}"] = ("new_joint_vecs/000002.npy",
                                    _byte_flip(rng, (root / "new_joint_vecs" / "000002.npy").read_bytes(), 4))
        out[f"split_flip_{k}"] = ("train.txt", _byte_flip(rng, train, 3))
        out[f"text_flip_{k}"] = ("texts/000002.txt", _byte_flip(rng, text, 4))
    return out


def _replace(path: Path, data: bytes | None) -> None:
    if path.is_dir():
        import shutil

        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
    if data is None:
        path.mkdir()
    else:
        path.write_bytes(data)


def _write_outside(tmp: Path) -> None:
    """A valid clip *outside* the dataset root (``tmp/outside.npy``): an id that escapes must never load it."""
    f, _ = _clip_arrays(0)
    np.save(tmp / "outside.npy", f)
    (tmp / "outside.txt").write_text("a person walks#a/DET#0.0#0.0\n")


# --------------------------------------------------------------------------- families
def family_cases(family: str, source: str, tmp: Path) -> list[tuple[str, Callable[[], str]]]:
    """``[(label, run)]`` for one family; ``run()`` returns the outcome of :func:`run_case`."""
    rng = random.Random(f"{family}:{source}")
    cases: list[tuple[str, Callable[[], str]]] = []
    if family == "captions" and source == "synthetic":
        for label, (suffix, data) in _caption_variants(rng).items():
            path = tmp / f"{label}{suffix}"

            def run(path=path, data=data):
                _replace(path, data)
                return run_case(lambda: custom.read_caption_file(path), _check_captions)
            cases.append((label, run))
    elif family == "file_names" and source == "synthetic":
        bvh = make_bvh(frames=4)
        for label, names in FILE_NAMES.items():
            def run(label=label, names=names):
                src = tmp / f"names_{label}"
                src.mkdir()
                rows = ["file,caption"]
                for n in names:
                    try:
                        (src / n).parent.mkdir(parents=True, exist_ok=True)
                        (src / n).write_text(bvh)
                    except OSError:  # a name this file system refuses
                        continue
                    rows.append(f'"{n}",a person walks')
                cap = tmp / f"names_{label}.csv"
                cap.write_text("\n".join(rows) + "\n")
                return run_case(lambda: custom.plan(src, cap), _check_plan)
            cases.append((label, run))
    elif family == "joint_maps" and source == "synthetic":
        bvh = tmp / "maps_rig.bvh"
        bvh.write_text(make_bvh(frames=12))
        for label, data in _map_variants(rng).items():
            def run(label=label, data=data):
                mp = tmp / f"map_{re.sub(r'[^A-Za-z0-9_]', '_', label)}.json"
                _replace(mp, data)
                return run_case(lambda: api.convert(bvh, tmp / "map_out", map_file=mp), _check_converted)
            cases.append((label, run))
    elif family == "motions":
        if source == "synthetic":
            for label, arr in _joint_variants().items():
                def run(label=label, arr=arr):
                    p = tmp / "motion.npy"
                    np.save(p, arr)
                    out = run_case(lambda: api.convert(p, tmp / "motion_out"), _check_converted)
                    # the extractor itself: clean error or finite features, never NaN
                    run_case(lambda: extract_features(arr, HUMANML3D), lambda r: np.isfinite(r[0]).all() or
                             pytest.fail("NaN features"))
                    return out
                cases.append((label, run))
        for sname, seed in seeds(source).items():
            if seed["kind"] != "bvh" or not seed["preset"]:
                continue
            for label, data in _bvh_header_variants(seed["data"]).items():
                def run(data=data, seed=seed):
                    p = tmp / "take.bvh"
                    p.write_bytes(data)
                    return run_case(lambda: api.convert(p, tmp / "take_out", preset=seed["preset"]), _check_converted)
                cases.append((f"{sname}:{label}", run))
    elif family == "npy_outputs":
        if source == "synthetic":
            np.save(tmp / "seed.npy", _walk(50))
            info = api.convert(tmp / "seed.npy", tmp / "seed")
        else:
            seed = seeds("real")["cmu-02_01"]
            (tmp / "seed.bvh").write_bytes(seed["data"])
            info = api.convert(tmp / "seed.bvh", tmp / "seed", preset=seed["preset"])
        variants = _npy_output_variants(info["features"].read_bytes(), info["joints"].read_bytes(), rng)
        for k, (label, data) in enumerate(variants.items()):
            def run(label=label, data=data, k=k):
                p = tmp / f"out_{source}.npy"
                p.write_bytes(data)
                target = tmp / ("exp.json", "exp.npy", "exp.html")[k % 3]
                if target.suffix == ".html":
                    return run_case(lambda: api.render([p], target), _check_exported)
                return run_case(lambda: api.export(p, target), _check_exported)
            cases.append((label, run))
    elif family == "datasets" and source == "synthetic":
        pristine = make_dataset(tmp / "pristine")
        _write_outside(tmp)
        for label, (rel, data) in _dataset_variants(pristine, rng).items():
            def run(label=label, rel=rel, data=data):
                import shutil

                root = tmp / "ds"
                if root.exists():
                    shutil.rmtree(root)
                shutil.copytree(pristine, root)
                _replace(root / rel, data)
                outcome = run_case(lambda: validate_dataset(root), _check_report)
                if outcome == "accepted":  # a report: its problems are the clean one-line errors
                    rep = validate_dataset(root)
                    outcome = "clean_error" if rep.problems else "accepted"
                    if label != "unchanged" and not label.startswith(("split_flip", "text_flip", "feature_flip")) \
                            and label not in ("dataset_json_latin1", "dataset_json_kind_int", "dataset_json_kind_list",
                                              "split_dupes", "feature_int"):
                        assert rep.problems, f"{label}: validate found no problem"
                    if "outside" in label or "dotdot" in label or "absolute" in label:
                        assert any("outside the dataset" in line for line in rep.lines()), rep.lines()
                for split in ("train", "val", "test"):
                    for lazy in (True, False):
                        got = run_case(lambda: _load_all(open_dataset(root, split=split, lazy=lazy)), _check_dataset)
                        if got == "accepted":
                            ids = open_dataset(root, split=split, lazy=lazy).ids
                            assert not any("outside" in i for i in ids), ids
                return outcome
            cases.append((label, run))
    return cases


def run_family(family: str, source: str, tmp: Path) -> dict:
    """:func:`test_robustness_readers.tally` of one family and source (each case runs :func:`run_case`)."""
    work = tmp / f"{family}-{source}"
    work.mkdir(parents=True, exist_ok=True)
    return tally(family_cases(family, source, work))


def mutation_counts(sources: tuple[str, ...] | None = None) -> dict[str, dict[str, int]]:
    """:func:`test_robustness_readers.totals` of this suite's families."""
    return totals(run_family, FAMILIES, sources)


@pytest.mark.parametrize("family", FAMILIES)
def test_mutations_synthetic(family, tmp_path):
    c = run_family(family, "synthetic", tmp_path)
    assert c["tried"] > 0
    assert not c["failures"], "\n".join(c["failures"])


@pytest.mark.shared
@pytest.mark.parametrize("family", ["motions", "npy_outputs"])
def test_mutations_real(family, tmp_path, shared_data):
    c = run_family(family, "real", tmp_path)
    assert c["tried"] > 0
    assert not c["failures"], "\n".join(c["failures"])


def test_validate_reports_nan_joints_and_never_reads_outside(tmp_path):
    root = make_dataset(tmp_path / "ds")
    _write_outside(tmp_path)
    j = np.load(root / "new_joints" / "000002.npy")
    j[7, 3, 2] = np.nan
    np.save(root / "new_joints" / "000002.npy", j)
    with open(root / "train.txt", "a") as fh:
        fh.write("../outside\n" + str(tmp_path / "outside") + "\n")
    rep = validate_dataset(root)
    lines = rep.lines()
    assert any("000002.npy" in x and "NaN" in x and "frame 7" in x for x in lines), lines
    assert sum("outside the dataset" in x for x in lines) == 2, lines
    ds = open_dataset(root, split="train")
    assert ds.ids == ["000001", "M000001"]


def test_open_dataset_clean_errors(tmp_path):
    root = make_dataset(tmp_path / "ds")
    (root / "dataset.json").write_text("[1, 2]")
    with pytest.raises(MotionGPT2Error, match="top level is a list"):
        layout.read_dataset_json(root)
    assert open_dataset(root, split="train").kind == "humanml3d"  # kind guessed from the features
    np.save(root / "Mean.npy", np.array(["a"] * 263))
    ds = open_dataset(root, split="train")
    assert ds.mean is None and any("dtype" in str(p) for p in ds.problems)
    with pytest.raises(MotionGPT2Error, match="dtype"):
        open_dataset(root, split="train", strict=True)
    f = (root / "new_joint_vecs" / "000001.npy").read_bytes()
    (root / "new_joint_vecs" / "000001.npy").write_bytes(f[:-64])
    ds = open_dataset(root, split="train")
    assert ds.ids == ["M000001"] and "truncated" in str(ds.skipped[0])
    (root / "train.txt").write_bytes(b"000001\n\xff\xfe\n")
    ds = open_dataset(root, split="train")
    assert len(ds) == 0 and "not UTF-8" in str(ds.problems[-1])


def test_prepare_is_atomic_and_ids_are_safe(tmp_path, monkeypatch):
    """prepare custom: weird file names give plain distinct ids, captions are cleaned, and a failure half-way
    leaves nothing behind (no output folder, no temporary folder)."""
    from motiongpt2.data import prepare as prepare_mod

    src = tmp_path / "src"
    src.mkdir()
    names = ["my walk.npy", "my_walk.npy", "walk#1.npy", "a\\b.npy", "marché.npy", "Mmy_walk.npy"]
    for k, n in enumerate(names):
        np.save(src / n, _walk(50, k))
    cap = tmp_path / "caps.json"
    cap.write_text(json.dumps({n: [f"a person # walks\nforward {k}"] for k, n in enumerate(names)}))
    out = tmp_path / "ds"
    rep = api.prepare("custom", out, source=src, captions=cap, workers=1, progress=False)
    ids = sorted(p.stem for p in (out / "new_joint_vecs").glob("*.npy"))
    assert rep.clips["total"] == 2 * len(names) and len(ids) == 2 * len(names)
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-]+", i) for i in ids), ids
    assert validate_dataset(out).ok
    line = (out / "texts" / f"{ids[-1]}.txt").read_text().splitlines()[0]
    assert line.count("#") == 3 and "\n" not in line.split("#")[0]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []

    calls = {"n": 0}
    real = prepare_mod._write_clip_arrays

    def dying(*a, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*a, **kw)

    monkeypatch.setattr(prepare_mod, "_write_clip_arrays", dying)
    before = sorted(p.name for p in (out / "new_joint_vecs").iterdir())
    with pytest.raises(KeyboardInterrupt):
        api.prepare("custom", out, source=src, captions=cap, workers=1, progress=False)
    assert sorted(p.name for p in (out / "new_joint_vecs").iterdir()) == before  # the old dataset is intact
    calls["n"] = 0
    with pytest.raises(KeyboardInterrupt):
        api.prepare("custom", tmp_path / "new", source=src, captions=cap, workers=1, progress=False)
    assert not (tmp_path / "new").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    # a non-empty folder that is not a dataset is never replaced
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("x")
    with pytest.raises(MotionGPT2Error, match="holds no dataset"):
        api.prepare("custom", home, source=src, captions=cap, workers=1, progress=False)
    assert (home / "thesis.tex").exists()


def test_feature_extraction_reproductions(tmp_path):
    w = _walk(40).astype(np.float64)
    for arr, match in ((w[:1], "at least 2 frames"), (np.where(np.arange(40)[:, None, None] == 3, np.nan, w), "frame 3"),
                       (w + np.array([1e20, 0, 0]), "not finite or beyond")):
        with pytest.raises(MotionGPT2Error, match=match):
            extract_features(arr, HUMANML3D)
        with pytest.raises(ValueError):  # still a ValueError for older callers
            extract_features(arr, HUMANML3D)
    legs = w.copy()
    legs[:, [5, 8]] = legs[:, [2, 2]]
    with pytest.raises(MotionGPT2Error, match="zero length"):
        extract_features(legs, HUMANML3D)
    np.save(tmp_path / "legs.npy", legs.astype(np.float32))
    with pytest.raises(MotionGPT2Error, match="legs.npy: cannot compute features"):
        api.convert(tmp_path / "legs.npy", tmp_path / "o")
    assert not list(tmp_path.glob("o.*"))


# --------------------------------------------------------------------------- property-based
PROPS = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                        HealthCheck.function_scoped_fixture])


@PROPS
@given(st.lists(st.text(max_size=40), min_size=1, max_size=8))
def test_property_ids_from_any_names(names):
    ids = layout.unique_ids(names)
    assert len(ids) == len(names)
    assert len({i.lower() for i in ids} | {("M" + i).lower() for i in ids}) == 2 * len(ids)
    for i in ids:
        layout._check_id(i)
        assert id_problem(i) is None and len(i) <= layout.MAX_ID_CHARS + 8


@PROPS
@given(st.text(max_size=300))
def test_property_captions_from_any_text(text):
    c = clean_caption(text)
    assert c == clean_caption(c) and len(c) <= 1000
    if c:
        line = format_text_line(c, fallback_tag(c))
        assert "\n" not in line and line.count("#") == 3


@PROPS
@given(st.binary(max_size=600), st.sampled_from([".csv", ".json"]))
def test_property_caption_files_from_any_bytes(tmp_path, data, suffix):
    p = tmp_path / f"caps{suffix}"
    p.write_bytes(data)
    run_case(lambda: custom.read_caption_file(p), _check_captions)


_vals = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(-3, 3),
                  st.sampled_from([0.0, 1e20, -1e300, 5e-324, 1e3, 1e4]))


@PROPS
@given(st.integers(0, 5), st.lists(st.tuples(st.integers(0, 5), st.integers(0, 21), st.integers(0, 2), _vals),
                                   max_size=6), st.floats(1e-9, 1e4))
def test_property_features_from_any_small_motion(T, edits, scale):
    """A short walk, rescaled and with a few values replaced: clean error or finite features."""
    arr = _walk(max(T, 1), 3).astype(np.float64)[:T] * scale
    for t, j, c, v in edits:
        if t < T:
            arr[t, j, c] = v
    run_case(lambda: extract_features(arr, HUMANML3D),
             lambda r: (np.isfinite(r[0]).all() and np.isfinite(r[1]).all()) or pytest.fail("not finite"))


@PROPS
@given(st.lists(st.one_of(st.text(max_size=20), st.sampled_from(["../x", "/etc/passwd", "a\\b", "a//b", ".", "x" * 300])),
                max_size=6))
def test_property_split_lines(tmp_path, lines):
    root = tmp_path / "ds"
    if not root.exists():
        make_dataset(root)
    (root / "test.txt").write_bytes("\n".join(lines).encode("utf-8", "surrogatepass"))
    out = run_case(lambda: _load_all(open_dataset(root, split="test")), _check_dataset)
    if out == "accepted":
        assert all(id_problem(i) is None for i in open_dataset(root, split="test").ids)


# --------------------------------------------------------------------------- command line
runner = CliRunner()


def _one_error_line(res, code: int = 2) -> str:
    out = res.output
    assert res.exit_code == code, (res.exit_code, out)
    assert "Traceback" not in out and not isinstance(res.exception, (AssertionError, TypeError, KeyError)), out
    errors = [ln for ln in out.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and len(out.strip().splitlines()) == 1, out
    return errors[0]


def test_cli_bad_inputs_print_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTIONGPT2_CACHE", str(tmp_path / "cache"))  # an unexpected crash log stays here
    w = _walk(40)
    bad = {
        "nan.npy": np.where(np.arange(40)[:, None, None] == 2, np.nan, w),
        "zero.npy": w[:0], "one.npy": w[:1], "five_joints.npy": np.zeros((10, 5, 3), np.float32),
        "hundred.npy": np.zeros((10, 100, 3), np.float32), "root1e20.npy": w + np.float32(1e20),
    }
    for name, arr in bad.items():
        np.save(tmp_path / name, arr)
    (tmp_path / "strings.npy").write_bytes(_npy_bytes(np.array(["a", "b"])))
    (tmp_path / "trunc.npy").write_bytes(_npy_bytes(w)[:-9])
    (tmp_path / "bad.bvh").write_text("HIERARCHY\nROOT x\n{\n")
    inputs = sorted(tmp_path.glob("*.npy")) + [tmp_path / "bad.bvh", tmp_path / "missing.npy"]
    for p in inputs:
        for args in (["convert", str(p), "-o", str(tmp_path / "c")], ["export", str(p), "-o", str(tmp_path / "e.bvh")],
                     ["render", str(p), "-o", str(tmp_path / "r.html")], ["render", str(p), "-o", str(tmp_path / "r.png")]):
            if args[0] == "convert" and p.name == "one.npy" or args[0] != "convert" and p.name in ("one.npy", "root1e20.npy"):
                continue  # valid for that command
            line = _one_error_line(runner.invoke(cli.app, args))
            assert p.name in line, (args, line)
    assert not list(tmp_path.glob("c.*"))
    line = _one_error_line(runner.invoke(cli.app, ["render", str(tmp_path / "one.npy"), "-o", str(tmp_path / "x.mp4"),
                                                   "--fps", "nan"]))
    assert "--fps" in line
    # prepare custom: a captions folder, nested JSON, a source without motions
    (tmp_path / "capdir").mkdir()
    (tmp_path / "deep.json").write_bytes(b"[" * 100_000 + b"]" * 100_000)
    for cap in ("capdir", "deep.json"):
        line = _one_error_line(runner.invoke(cli.app, ["prepare", "custom", "--source", str(tmp_path), "--captions",
                                                       str(tmp_path / cap), "-o", str(tmp_path / "ds")]))
        assert cap in line
    assert not (tmp_path / "ds").exists()
    # validate: not a dataset → one line, exit 2; a dataset with problems → listed, exit 1
    _one_error_line(runner.invoke(cli.app, ["validate", str(tmp_path / "bad.bvh")]))
    root = make_dataset(tmp_path / "vds")
    (root / "val.txt").write_bytes(b"../outside\n")
    (root / "test.txt").write_bytes(b"000003\n\xff\n")
    res = runner.invoke(cli.app, ["validate", str(root)])
    assert res.exit_code == 1 and "Traceback" not in res.output and "internal error" not in res.output
    assert "outside the dataset" in res.output and "not UTF-8" in res.output


def test_cli_file_names_with_markup_are_printed_verbatim(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTIONGPT2_CACHE", str(tmp_path / "cache"))
    (tmp_path / "x[red].npy").write_bytes(b"junk")
    for name in ("x[red].npy", "[/bold]/missing[/].npy"):  # rich markup (an unknown closing tag raised before)
        line = _one_error_line(runner.invoke(cli.app, ["export", str(tmp_path / name), "-o", str(tmp_path / "e.npy")]))
        assert name in line


def test_cli_internal_error_and_interrupt(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTIONGPT2_CACHE", str(tmp_path / "cache"))

    def bug(*a, **kw):
        raise RuntimeError("injected\nbug")

    monkeypatch.setattr(api, "convert", bug)
    res = runner.invoke(cli.app, ["convert", "x.bvh", "-o", str(tmp_path / "o")])
    line = _one_error_line(res, code=1)
    m = re.fullmatch(r"error: internal error \(RuntimeError: injected bug\) — the full traceback is in (\S+)", line)
    assert m, line
    log = Path(m.group(1))
    assert log.parent == tmp_path / "cache" / "logs" and "Traceback" in log.read_text()
    assert "RuntimeError: injected" in log.read_text()

    def interrupted(*a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(api, "convert", interrupted)
    res = runner.invoke(cli.app, ["convert", "x.bvh", "-o", str(tmp_path / "o")])
    assert "interrupted" in _one_error_line(res, code=130)
    # typer's own usage errors are unchanged
    res = runner.invoke(cli.app, ["convert"])
    assert res.exit_code == 2 and "Missing argument" in res.output and "internal error" not in res.output
