"""``motiongpt2 export``: one motion → ``.bvh`` / ``.npz`` (SMPL-style) / ``.npy`` / ``.json`` / ``.html``.

:func:`export_motion` picks the writer from the file suffix:

* ``.bvh``  — :func:`~.export_bvh.write_bvh` (joint rotations, ZXY Euler degrees, root position).
* ``.npz``  — :func:`~.export_smpl.write_smpl_npz` (AMASS-like ``poses``/``trans``/``mocap_framerate``).
* ``.npy``  — plain joints ``(T, J, 3)`` float32, metres (skeleton units), Y-up.
* ``.json`` — ``{"format": "motiongpt2-joints", "fps", "skeleton", "unit", "up_axis",
  "joint_names", "parents", "n_frames", "joints": [[[x, y, z] × J] × T]}`` (5 decimals).
* ``.html`` — :func:`~.html.write_html_viewer` (interactive viewer).

Input is joint positions ``(T, J, 3)`` or de-normalised HumanML3D-style features ``(T, D)``
(decoded with ``recover_from_ric``; the BVH/npz rotations then take their twist from the 6D slots).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .export_bvh import joints_from_input, write_bvh
from .export_smpl import write_smpl_npz

__all__ = ["EXPORT_FORMATS", "export_motion", "write_joints_json"]

EXPORT_FORMATS = ("bvh", "npz", "npy", "json", "html")


def _fmt_of(path: Path, fmt: str | None) -> str:
    if fmt:
        f = fmt.lower().lstrip(".")
    else:
        f = path.suffix.lower().lstrip(".")
    if f not in EXPORT_FORMATS:
        raise ValueError(f"cannot export to {path.name!r}: use a .bvh, .npz (SMPL-style), .npy, .json or .html "
                         "file name (or pass fmt=)")
    return f


def write_joints_json(positions: np.ndarray, out_path: str | Path, fps: float, skel, decimals: int = 5) -> None:
    """Plain joints as JSON (see the module docstring for the schema)."""
    pos = np.round(np.asarray(positions, dtype=np.float64), decimals)
    pos[pos == 0] = 0.0
    doc = {
        "format": "motiongpt2-joints", "fps": float(fps), "skeleton": skel.name, "unit": skel.unit,
        "up_axis": "y", "joint_names": list(skel.joint_names), "parents": [int(p) for p in skel.parents],
        "n_frames": int(pos.shape[0]), "joints": pos.tolist(),
    }
    Path(out_path).write_text(json.dumps(doc, separators=(",", ":")))


def export_motion(joints_or_features, out_path: str | Path, fps: float = 20.0, skeleton=None, *,
                  fmt: str | None = None, caption: str | None = None, **options) -> dict:
    """Export one motion; the format follows ``out_path``'s suffix (or ``fmt``).

    Args:
        joints_or_features: ``(T, J, 3)`` joints (J = 22 / 52 / 21) or ``(T, D)`` features.
        out_path: destination file (parent folders are created).
        fps: frame rate of the motion.
        skeleton: :class:`~motiongpt2.motion.skeleton.Skeleton`, its name, or ``None`` (inferred).
        fmt: override the suffix (``"bvh"``, ``"npz"``, ``"npy"``, ``"json"``, ``"html"``).
        caption: shown by the HTML viewer.
        **options: passed to the writer (BVH: ``unit``, ``twist``, ``stretch``, ``decimals``; npz:
            ``up``, ``twist``; html: ``title``).

    Returns:
        ``{"path", "format", "frames", "fps", "skeleton", "seconds"}`` plus, for BVH,
        ``"max_error"`` (skeleton units) and ``"position_channels"`` (joint names).
    """
    out = Path(out_path)
    f = _fmt_of(out, fmt)
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    report: dict = {"path": str(out), "format": f, "fps": float(fps)}
    if f == "bvh":
        exp = write_bvh(joints_or_features, out, fps, skeleton, **options)
        report.update(frames=int(exp.local_rotations.shape[0]), skeleton=exp.info["skeleton"],
                      max_error=exp.max_error,
                      position_channels=[n for n, c in zip(exp.names, exp.position_channels) if c])
    elif f == "npz":
        params = write_smpl_npz(joints_or_features, out, fps, skeleton, **options)
        report.update(frames=int(params["poses"].shape[0]), skeleton={22: "humanml3d", 52: "wholebody", 21: "kit"}.get(len(params["joint_names"]), "custom"))
    else:
        pos, skel, _ = joints_from_input(joints_or_features, skeleton)
        if options and f != "html":
            raise TypeError(f"unexpected options for .{f}: {sorted(options)}")
        if f == "npy":
            with open(out, "wb") as fh:                                     # keep the exact name
                np.save(fh, pos.astype(np.float32))
        elif f == "json":
            write_joints_json(pos, out, fps, skel)
        else:
            from .html import write_html_viewer
            write_html_viewer([pos], out, fps, captions=[caption] if caption else None, skeleton=skel,
                              **options)
        report.update(frames=int(pos.shape[0]), skeleton=skel.name)
    report["seconds"] = time.perf_counter() - t0
    return report
