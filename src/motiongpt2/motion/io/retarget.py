"""Map a source mocap skeleton onto the HumanML3D (22) or whole-body (52) joint set by joint names.

Every target joint is one source joint's world position or a weighted mean of several source
joints, evaluated after forward kinematics and then converted to **metres, Y-up** (the HumanML3D
"uniform skeleton" step later rescales bone lengths; here we only want plausible metres).

Presets (JSON files in ``motiongpt2/motion/io/maps/``) exist for every skeleton in the shared data:
``cmu-cgspeed-31``, ``cmu-cgspeed-31-max``, ``cmu-daz``, ``cmu-asfnames-31``, ``cmu-asf`` (ASF/AMC),
``iclone-cc-base``, ``bandai-namco`` and the hand-only ``manipnet-hand``. ``preset="auto"`` picks the
preset whose source joints all exist in the file (:func:`detect_preset`).

JSON map schema (a user map passed as ``map_file=`` uses the same schema)::

    {
      "name": "my-rig",                       # required, free text
      "description": "...",                   # optional
      "unit_scale": 0.01,                     # metres per file unit, or "auto" (default "auto":
                                              #   picks m/dm/cm/mm/inch/CMU-unit from body height)
      "up_axis": "y",                         # "x"|"y"|"z"|"-x"|"-y"|"-z" or "auto" (default "auto":
                                              #   the axis from pelvis to head)
      "root_offset_add": false,               # true when the root position channels are relative
                                              #   to the root OFFSET (iClone)
      "joints": {                             # required: all 22 HumanML3D joint names
        "pelvis": "Hips",                     #   a source joint name,
        "l_hip":  ["LeftUpLeg"],              #   a list (equal weights),
        "spine3": {"Spine1": 0.5, "Neck": 0.5}, # or weights (normalised to sum 1)
        ...
      },
      "hands": {                              # optional, needed for target="wholebody":
        "left":  {"index1": "LeftHandIndex1", ..., "thumb3": ...},   # 15 MANO names each
        "right": {...}
      }
    }

HumanML3D joint names: pelvis, l_hip, r_hip, spine1, l_knee, r_knee, spine2, l_ankle, r_ankle,
spine3, l_foot (toe/ball), r_foot, neck, l_collar, r_collar, head, l_shoulder, r_shoulder, l_elbow,
r_elbow, l_wrist, r_wrist. ``l_`` is the **person's** left. MANO finger names: index1..3,
middle1..3, pinky1..3, ring1..3, thumb1..3 (1 = knuckle/CMC, 3 = the most distal joint).
Source names may be End Sites (``<joint>_end``). Hand-only maps (``"kind": "hand"``) instead give
``"wrist": "<name>"`` and ``"hand": {mano name: source}``.

Orientation check (used by the tests): with up ``u = +Y`` and forward ``f`` (toe minus ankle,
horizontal), the person's left is ``cross(u, f)``; e.g. facing +Z, left is +X (HumanML3D convention).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from motiongpt2.errors import SkeletonMapError
from motiongpt2.motion.io.mocap import Mocap
from motiongpt2.motion.io.validate import MAX_UNIT_SCALE, MIN_UNIT_SCALE
from motiongpt2.motion.skeleton import HUMANML3D, WHOLEBODY

__all__ = [
    "JointMap", "HandJoints", "load_map", "get_preset", "preset_names", "detect_preset", "resolve_map",
    "retarget", "map_positions", "hand_joints", "attach_hands", "up_rotation", "estimate_unit_scale",
    "detect_up_axis", "orientation_report", "grounded_forward", "BODY_NAMES", "MANO_NAMES",
]

BODY_NAMES: tuple[str, ...] = HUMANML3D.joint_names
MANO_NAMES: tuple[str, ...] = tuple(f"{f}{k}" for f in ("index", "middle", "pinky", "ring", "thumb")
                                    for k in (1, 2, 3))
_UNIT_CANDIDATES = {"m": 1.0, "dm": 0.1, "cm": 0.01, "mm": 0.001, "inch": 0.0254, "cmu-asf": 0.0254 / 0.45}
_HOW_TO_MAP = ("pass preset=<name> (one of {presets}) or map_file=<map.json> "
               "(schema: motiongpt2.motion.io.retarget docstring)")


@dataclass
class JointMap:
    """A parsed joint map (preset or user JSON).

    Attributes:
        name: map name. joints: target body joint → {source joint: weight} (weights sum to 1).
        hands: ``{"left"|"right": {mano name: {source: weight}}}`` (may be empty).
        unit_scale: metres per source unit, or None for automatic detection.
        up_axis: ``"x"``, ``"-z"`` … or ``"auto"``. root_offset_add: see module docstring.
        kind: ``"body"`` or ``"hand"``; wrist / hand: for hand maps. source: where it was loaded from.
    """

    name: str
    joints: dict[str, dict[str, float]] = field(default_factory=dict)
    hands: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    unit_scale: float | None = None
    up_axis: str = "auto"
    root_offset_add: bool = False
    kind: str = "body"
    wrist: str = ""
    hand: dict[str, dict[str, float]] = field(default_factory=dict)
    description: str = ""
    source: str = ""

    def source_names(self, hands: bool = False) -> set[str]:
        """Every source joint name the map refers to (body only unless ``hands``)."""
        out: set[str] = set()
        for w in self.joints.values():
            out |= set(w)
        if self.kind == "hand":
            out.add(self.wrist)
            for w in self.hand.values():
                out |= set(w)
        if hands:
            for side in self.hands.values():
                for w in side.values():
                    out |= set(w)
        return out


def _weights(spec, where: str, key: str) -> dict[str, float]:
    if isinstance(spec, str):
        return {spec: 1.0}
    if isinstance(spec, list) and spec and all(isinstance(s, str) for s in spec):
        return {s: 1.0 / len(spec) for s in spec}
    if isinstance(spec, dict) and spec:
        try:
            w = {str(k): float(v) for k, v in spec.items()}
        except (TypeError, ValueError):
            raise SkeletonMapError(where, f"weights of {key!r} must be numbers", "write {\"Joint\": 0.5, ...}") from None
        tot = sum(w.values())
        if tot <= 0:
            raise SkeletonMapError(where, f"weights of {key!r} sum to {tot}", "use positive weights")
        return {k: v / tot for k, v in w.items()}
    raise SkeletonMapError(where, f"bad source spec for {key!r}: {spec!r}",
                           "use a joint name, a list of names, or {name: weight}")


MAX_MAP_BYTES = 16 * 2**20


def _read_map_json(path: Path, where: str):
    """The JSON value of a map file; one :class:`SkeletonMapError` line when it is missing, a folder, over
    :data:`MAX_MAP_BYTES`, not UTF-8, not JSON or nested too deep."""
    hint = "pass a JSON joint map (schema in motiongpt2.motion.io.retarget)"
    if not path.exists():
        raise SkeletonMapError(where, "map file not found", "check the --map path")
    if path.is_dir():
        raise SkeletonMapError(where, "is a folder, not a map file", hint)
    if path.stat().st_size > MAX_MAP_BYTES:
        raise SkeletonMapError(where, f"map file is over {MAX_MAP_BYTES // 2**20} MiB", hint)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SkeletonMapError(where, "map file is not UTF-8 text", "save it as UTF-8 JSON") from None
    except OSError as err:
        raise SkeletonMapError(where, f"cannot read the map file ({err.strerror})", "check the file") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise SkeletonMapError(where, f"invalid JSON ({err.msg})", "fix the JSON syntax", line=err.lineno) from None
    except RecursionError:
        raise SkeletonMapError(where, "JSON nested too deep", hint) from None


def load_map(source: str | Path | dict, where: str | None = None) -> JointMap:
    """Parse a JSON joint map (path or already-loaded dict); raises SkeletonMapError when invalid."""
    if isinstance(source, dict):
        data, where = source, where or "<map>"
    else:
        where = where or str(source)
        data = _read_map_json(Path(source), where)
    if not isinstance(data, dict) or "name" not in data:
        raise SkeletonMapError(where, "a joint map needs a \"name\"", "see the schema in motiongpt2.motion.io.retarget")
    us = data.get("unit_scale", "auto")
    if us in (None, "auto"):
        unit_scale = None
    elif isinstance(us, str) and us in _UNIT_CANDIDATES:
        unit_scale = _UNIT_CANDIDATES[us]
    else:
        try:
            unit_scale = float(us)
        except (TypeError, ValueError):
            unit_scale = float("nan")
        if isinstance(us, bool) or not (MIN_UNIT_SCALE <= unit_scale <= MAX_UNIT_SCALE):  # NaN fails too
            raise SkeletonMapError(where, f"bad unit_scale {us!r}",
                                   f"use metres per unit between {MIN_UNIT_SCALE:g} and {MAX_UNIT_SCALE:g} (e.g. 0.01), "
                                   f"'auto' or one of {sorted(_UNIT_CANDIDATES)}")
    up = str(data.get("up_axis", "auto")).lower()
    if up != "auto" and up.lstrip("+-") not in ("x", "y", "z"):
        raise SkeletonMapError(where, f"bad up_axis {up!r}", "use x, y, z, -x, -y, -z or auto")
    jm = JointMap(name=str(data["name"]), unit_scale=unit_scale, up_axis=up,
                  root_offset_add=bool(data.get("root_offset_add", False)), kind=data.get("kind", "body"),
                  description=str(data.get("description", "")), source=where)
    if jm.kind == "hand":
        jm.wrist = str(data.get("wrist", ""))
        hand = data.get("hand", {})
        missing = [n for n in MANO_NAMES if n not in hand]
        if not jm.wrist or missing:
            raise SkeletonMapError(where, f"hand map lacks wrist or fingers {missing}", "give \"wrist\" and all 15 MANO names")
        jm.hand = {n: _weights(hand[n], where, n) for n in MANO_NAMES}
        return jm
    joints = data.get("joints")
    if not isinstance(joints, dict):
        raise SkeletonMapError(where, "map has no \"joints\" object", "list the 22 HumanML3D joints")
    unknown = [k for k in joints if k not in BODY_NAMES]
    if unknown:
        raise SkeletonMapError(where, f"unknown target joints {unknown}", f"use the HumanML3D names {list(BODY_NAMES)}")
    missing = [n for n in BODY_NAMES if n not in joints]
    if missing:
        raise SkeletonMapError(where, f"map lacks target joints {missing}", "map all 22 HumanML3D joints")
    jm.joints = {n: _weights(joints[n], where, n) for n in BODY_NAMES}
    for side, fingers in (data.get("hands") or {}).items():
        if side not in ("left", "right"):
            raise SkeletonMapError(where, f"hands key {side!r}", "use \"left\" and \"right\"")
        miss = [n for n in MANO_NAMES if n not in fingers]
        if miss:
            raise SkeletonMapError(where, f"{side} hand lacks {miss}", "map all 15 MANO finger joints")
        jm.hands[side] = {n: _weights(fingers[n], where, f"{side}.{n}") for n in MANO_NAMES}
    return jm


def _maps_dir():
    return resources.files("motiongpt2.motion.io") / "maps"


@lru_cache(maxsize=None)
def _presets() -> dict[str, JointMap]:
    out = {}
    for f in sorted(_maps_dir().iterdir(), key=lambda p: p.name):
        if f.name.endswith(".json"):
            jm = load_map(json.loads(f.read_text()), where=f"maps/{f.name}")
            out[jm.name] = jm
    return out


def preset_names() -> list[str]:
    """Names of the bundled presets."""
    return list(_presets())


def get_preset(name: str) -> JointMap:
    """A bundled preset by name (SkeletonMapError listing the presets if unknown)."""
    try:
        return _presets()[name]
    except KeyError:
        raise SkeletonMapError(name, "unknown skeleton preset", f"use one of {preset_names()} or 'auto'") from None


def detect_preset(names: list[str] | tuple[str, ...], source: str = "<motion>", kind: str = "body") -> JointMap:
    """The preset whose referenced source joints all exist in ``names``.

    Ties go to the preset that references the most joints. Raises SkeletonMapError naming
    ``source``, the closest preset and its unmatched target joints when none fits.
    """
    have = set(names)
    best: tuple[int, JointMap] | None = None
    closest: tuple[float, JointMap, list[str]] | None = None
    for jm in _presets().values():
        if jm.kind != kind:
            continue
        need = jm.source_names()
        if need <= have:
            if best is None or len(need) > best[0]:
                best = (len(need), jm)
            continue
        items = jm.joints.items() if kind == "body" else jm.hand.items()
        unmatched = [t for t, w in items if not set(w) <= have]
        if kind == "hand" and jm.wrist not in have:
            unmatched.insert(0, "wrist")
        frac = len(unmatched) / max(1, len(items))
        if closest is None or frac < closest[0]:
            closest = (frac, jm, unmatched)
    if best is not None:
        return best[1]
    hint = _HOW_TO_MAP.format(presets=", ".join(preset_names()))
    if closest is not None and closest[0] < 1.0:
        problem = (f"unknown skeleton ({len(names)} joints); closest preset {closest[1].name!r} leaves target joints "
                   f"unmatched: {', '.join(closest[2])}")
    else:
        problem = (f"unknown skeleton ({len(names)} joints, e.g. {', '.join(list(names)[:6])}); no preset matches; "
                   f"unmatched target joints: {', '.join(BODY_NAMES if kind == 'body' else MANO_NAMES)}")
    raise SkeletonMapError(source, problem, hint)


def resolve_map(names, preset: str = "auto", map_file: str | Path | dict | None = None,
                source: str = "<motion>", kind: str = "body") -> JointMap:
    """The map to use: ``map_file`` if given, else the named preset, else auto-detection."""
    if map_file is not None:
        return load_map(map_file)
    if preset in (None, "auto"):
        return detect_preset(names, source, kind)
    return get_preset(preset)


# --------------------------------------------------------------------------- axes and units
def up_rotation(up_axis: str) -> np.ndarray:
    """``(3, 3)`` proper rotation taking the given up axis to +Y (identity for ``"y"``)."""
    a = up_axis.lower().lstrip("+")
    table = {
        "y": np.eye(3),
        "-y": np.diag([1.0, -1.0, -1.0]),                                   # 180° about X
        "z": np.array([[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]]),            # -90° about X: z→y, y→-z
        "-z": np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]]),
        "x": np.array([[0, -1.0, 0], [1.0, 0, 0], [0, 0, 1.0]]),            # x→y, y→-x
        "-x": np.array([[0, 1.0, 0], [-1.0, 0, 0], [0, 0, 1.0]]),
    }
    try:
        return table[a]
    except KeyError:
        raise ValueError(f"up axis {up_axis!r} is not one of x, y, z, -x, -y, -z") from None


def detect_up_axis(pelvis: np.ndarray, head: np.ndarray) -> str:
    """Signed axis closest to the mean pelvis→head direction (``(T,3)`` each) → e.g. ``"y"``, ``"-z"``."""
    v = np.nanmean(head - pelvis, axis=0)
    k = int(np.argmax(np.abs(v)))
    return ("" if v[k] >= 0 else "-") + "xyz"[k]


def estimate_unit_scale(height_units: float) -> float:
    """Pick metres-per-unit among m, dm, cm, mm, inch and CMU ASF units so that the foot-to-head-joint
    height (file units) becomes closest to 1.5 m (log scale)."""
    if not np.isfinite(height_units) or height_units <= 0:
        return 1.0
    cands = np.array(list(_UNIT_CANDIDATES.values()))
    return float(cands[np.argmin(np.abs(np.log(height_units * cands / 1.5)))])


# --------------------------------------------------------------------------- mapping
def _combine(world: np.ndarray, index: dict[str, int], spec: dict[str, dict[str, float]], order,
             where: str, what: str) -> np.ndarray:
    missing = [t for t in order if not set(spec[t]) <= set(index)]
    if missing:
        detail = "; ".join(f"{t} needs {sorted(set(spec[t]) - set(index))}" for t in missing[:6])
        raise SkeletonMapError(where, f"{what}: source joints not found for {len(missing)} target joints ({detail})",
                               _HOW_TO_MAP.format(presets=", ".join(preset_names())))
    out = np.zeros(world.shape[:1] + (len(order), 3), dtype=np.float64)
    for k, t in enumerate(order):
        for s, w in spec[t].items():
            out[:, k] += w * world[:, index[s]]
    return out


def map_positions(world: np.ndarray, names, jmap: JointMap, target: str = "humanml3d",
                  source: str = "<motion>") -> np.ndarray:
    """Apply the joint map to ``(T, J, 3)`` source world positions (no unit/axis change).

    Returns ``(T, 22, 3)`` (``target="humanml3d"``) or ``(T, 52, 3)`` (``"wholebody"``, needs the
    map's ``hands``) float64 in source units.
    """
    index = {n: i for i, n in enumerate(names)}
    body = _combine(world, index, jmap.joints, BODY_NAMES, source, f"map {jmap.name!r}")
    if target == "humanml3d":
        return body
    if target != "wholebody":
        raise ValueError(f"target must be 'humanml3d' or 'wholebody', not {target!r}")
    if set(jmap.hands) != {"left", "right"}:
        raise SkeletonMapError(source, f"map {jmap.name!r} has no finger joints for the 52-joint whole-body target",
                               "use target='humanml3d', or load hands separately (load_hand_joints) and "
                               "attach_hands(), or add \"hands\" to the map")
    left = _combine(world, index, jmap.hands["left"], MANO_NAMES, source, f"map {jmap.name!r} left hand")
    right = _combine(world, index, jmap.hands["right"], MANO_NAMES, source, f"map {jmap.name!r} right hand")
    return np.concatenate([body, left, right], axis=1)


def _normalise(mocap: Mocap, jmap: JointMap, pelvis: np.ndarray, head: np.ndarray,
               feet: np.ndarray) -> tuple[np.ndarray, float, str]:
    """Unit scale and up-axis rotation for mapped points; returns (rotation@scale matrix, scale, up)."""
    up = jmap.up_axis
    if up == "auto":
        up = detect_up_axis(pelvis, head)
    rot = up_rotation(up)
    scale = jmap.unit_scale
    if scale is None:
        scale = mocap.meta.get("unit_scale")
    if scale is None:
        h = np.nanmedian((head @ rot.T)[:, 1] - (feet @ rot.T)[..., 1].min(axis=1))
        scale = estimate_unit_scale(float(h))
    return rot * scale, float(scale), up


def retarget(mocap: Mocap, jmap: JointMap, target: str = "humanml3d") -> tuple[np.ndarray, dict]:
    """Forward kinematics + joint map + unit/up normalisation.

    Returns:
        ``(positions, info)``: ``(T, 22|52, 3)`` float32 metres, Y-up, and
        ``{"unit_scale", "up_axis", "preset"}``.
    """
    if jmap.kind != "body":
        raise SkeletonMapError(mocap.source, f"{jmap.name!r} is a hand-only map", "use load_hand_joints() for hand files")
    world = mocap.world_positions()
    if jmap.root_offset_add:
        roots = np.flatnonzero(mocap.parents < 0)
        world = world + mocap.offsets[roots[0]]
    pts = map_positions(world, mocap.names, jmap, target, mocap.source)
    sub = pts[:: max(1, len(pts) // 200)]
    feet = sub[:, [HUMANML3D.index(n) for n in ("l_ankle", "r_ankle", "l_foot", "r_foot")]]
    m, scale, up = _normalise(mocap, jmap, sub[:, 0], sub[:, HUMANML3D.index("head")], feet)
    out = (pts @ m.T).astype(np.float32)
    return out, {"unit_scale": scale, "up_axis": up, "preset": jmap.name}


# --------------------------------------------------------------------------- hands
@dataclass
class HandJoints:
    """Finger joints of one hand, ready to attach to a body wrist.

    Attributes:
        relative: ``(T, 15, 3)`` float32 MANO finger joints minus the wrist, metres, source axes
            (after the map's up-axis rotation).
        local: ``(T, 15, 3)`` float32 the same points in the wrist's own frame (``R_wᵀ · rel``).
        wrist_rotation: ``(T, 3, 3)`` float32 wrist world rotation (same axes as ``relative``).
        wrist_position: ``(T, 3)`` float32 wrist position, metres.
        side: ``"left"`` / ``"right"`` / ``""`` (unknown). fps, source, preset.
    """

    relative: np.ndarray
    local: np.ndarray
    wrist_rotation: np.ndarray
    wrist_position: np.ndarray
    side: str
    fps: float
    source: str = ""
    preset: str = ""

    names = MANO_NAMES


def hand_joints(mocap: Mocap, jmap: JointMap, side: str = "") -> HandJoints:
    """Hand-only mocap (e.g. ManipNet) → :class:`HandJoints` (15 MANO joints relative to the wrist)."""
    if jmap.kind != "hand":
        raise SkeletonMapError(mocap.source, f"{jmap.name!r} is not a hand map", "use preset='manipnet-hand' or a hand map")
    rw, pw = mocap.world_transforms()
    index = {n: i for i, n in enumerate(mocap.names)}
    if jmap.wrist not in index:
        raise SkeletonMapError(mocap.source, f"wrist joint {jmap.wrist!r} not found", "use the matching hand map")
    pts = _combine(pw, index, jmap.hand, MANO_NAMES, mocap.source, f"map {jmap.name!r}")
    wi = index[jmap.wrist]
    scale = jmap.unit_scale if jmap.unit_scale is not None else 0.1
    rot = up_rotation(jmap.up_axis if jmap.up_axis != "auto" else "y")
    rel = (pts - pw[:, wi:wi + 1]) * scale @ rot.T
    wrot = rot @ rw[:, wi]
    local = np.einsum("tba,tjb->tja", wrot, rel)
    return HandJoints(relative=rel.astype(np.float32), local=local.astype(np.float32),
                      wrist_rotation=wrot.astype(np.float32),
                      wrist_position=((pw[:, wi] * scale) @ rot.T).astype(np.float32),
                      side=side, fps=mocap.fps, source=mocap.source, preset=jmap.name)


def attach_hands(body: np.ndarray, left: np.ndarray | HandJoints | None = None,
                 right: np.ndarray | HandJoints | None = None) -> np.ndarray:
    """``(T, 22, 3)`` body + wrist-relative fingers → ``(T, 52, 3)`` whole-body joints.

    ``left``/``right`` are ``(T, 15, 3)`` finger offsets from the wrist already expressed in the
    body's axes (or :class:`HandJoints`, whose ``relative`` is used; the caller must make its axes
    match the body's). A missing hand is filled by a rest-pose hand along the forearm direction
    (fingers straight, lengths from ``WHOLEBODY.bone_lengths``).
    """
    t = body.shape[0]
    out = np.zeros((t, WHOLEBODY.n_joints, 3), dtype=np.float32)
    out[:, :22] = body
    for side, hand, wrist, elbow, first in (("left", left, 20, 18, 22), ("right", right, 21, 19, 37)):
        if isinstance(hand, HandJoints):
            hand = hand.relative
        if hand is None:
            d = body[:, wrist] - body[:, elbow]
            d = d / np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), 1e-9)
            lengths = WHOLEBODY.bone_lengths[first:first + 15].reshape(5, 3)
            cum = np.cumsum(lengths, axis=1).reshape(15)
            hand = cum[None, :, None] * d[:, None, :]
        if hand.shape[0] != t:
            raise ValueError(f"{side} hand has {hand.shape[0]} frames, body has {t}; resample first")
        out[:, first:first + 15] = body[:, wrist:wrist + 1] + hand
    return out


# --------------------------------------------------------------------------- checks
def grounded_forward(joints: np.ndarray, tol: float = 0.05) -> np.ndarray:
    """``(T, 3)`` horizontal facing estimate from the feet: the sum of toe-minus-ankle vectors of the
    feet whose ankle is within ``tol`` m of that ankle's lowest height (a foot on the ground points
    forward; a swinging foot in a run can point backwards). Zero where no foot is grounded."""
    j = np.asarray(joints, dtype=np.float64)
    i = HUMANML3D.index
    fwd = np.zeros((len(j), 3))
    for ankle, toe in ((i("l_ankle"), i("l_foot")), (i("r_ankle"), i("r_foot"))):
        low = j[:, ankle, 1] <= j[:, ankle, 1].min() + tol
        fwd[low] += j[low, toe] - j[low, ankle]
    fwd[:, 1] = 0.0
    return fwd


def orientation_report(joints: np.ndarray) -> dict:
    """Sanity numbers for ``(T, 22, 3)`` metres Y-up HumanML3D joints.

    Returns ``{"head_above_pelvis": median m, "height": median foot-to-head m, "left_ok": fraction of
    frames where the left hip is on the person's left (left = cross(up, forward), forward =
    :func:`grounded_forward`)}``.
    """
    j = np.asarray(joints, dtype=np.float64)
    up = np.array([0.0, 1.0, 0.0])
    i = HUMANML3D.index
    head_above = np.median(j[:, i("head"), 1] - j[:, i("pelvis"), 1])
    feet = j[:, [i("l_ankle"), i("r_ankle"), i("l_foot"), i("r_foot")], 1].min(axis=1)
    height = np.median(j[:, i("head"), 1] - feet)
    fwd = grounded_forward(j)
    ok = np.linalg.norm(fwd, axis=-1) > 1e-6
    left = np.cross(up, fwd[ok])
    across = j[ok, i("l_hip")] - j[ok, i("r_hip")]
    left_ok = float(np.mean(np.einsum("ta,ta->t", left, across) > 0)) if ok.any() else float("nan")
    return {"head_above_pelvis": float(head_above), "height": float(height), "left_ok": left_ok}
