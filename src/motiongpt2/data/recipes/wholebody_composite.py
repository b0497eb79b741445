"""Recipe ``wholebody-composite``: real body clips with real finger motion attached (52 joints, 623 dims).

Real whole-body text–motion data is not available here, so this corpus is **composite**: the body clips,
captions and splits of ``cmu-humanml3d`` and ``bandai-namco`` (real mocap), with the fingers of a
ManipNet hand clip (real finger mocap, chosen deterministically per clip) attached at each wrist by
:mod:`motiongpt2.motion.hands`. ``dataset.json`` labels it ``"composite": true``. Captions describe
the body only; the fingers are plausible real articulation, not described by the text.
Users with real Motion-X data read it with :func:`motiongpt2.data.readers.open_dataset` (kind ``motionx``).
"""
from __future__ import annotations

from pathlib import Path

from motiongpt2.data.recipes import bandai_namco, cmu_humanml3d
from motiongpt2.data.recipes.base import Plan, merge_plans
from motiongpt2.errors import DatasetError

HANDS_LICENCE = ("ManipNet hand motion, CC BY-NC (see hands/manipnet/LICENSE-NOTE.md); "
                 "cite Zhang, Ye, Shiratori, Komura, SIGGRAPH 2021.")
BODIES = ("cmu-humanml3d", "bandai-namco", "both")


def hands_archive(shared: Path) -> Path:
    path = shared / "hands" / "manipnet" / "manipnet-hands.tar.xz"
    if not path.exists():
        raise DatasetError(path, "hand mocap archive is missing", "point --shared at the folder holding hands/manipnet")
    return path


def plan(shared: Path, body: str = "both") -> Plan:
    """The body plan(s) with whole-body metadata; the engine attaches the hands."""
    if body not in BODIES:
        raise DatasetError(body, f"unknown body corpus; choose one of {', '.join(BODIES)}")
    plans = []
    if body in ("cmu-humanml3d", "both"):
        plans.append(cmu_humanml3d.plan(shared))
    if body in ("bandai-namco", "both"):
        plans.append(bandai_namco.plan(shared))
    return merge_plans("wholebody-composite", plans, {
        "recipe": "wholebody-composite",
        "composite": True,
        "description": "real body mocap + real ManipNet finger mocap attached at the wrists (not real whole-body capture)",
        "sources": ["hands/manipnet/manipnet-hands.tar.xz"],
        "licences": [HANDS_LICENCE],
    })
