"""Render one real clip of every prepared corpus to mp4 + interactive HTML (and a key-frame PNG strip).

Usage: python scripts/render_examples.py [--datasets ~/.cache/motiongpt2/datasets] [--out docs/examples]
Run `motiongpt2 prepare cmu-humanml3d|bandai-namco|wholebody-composite` first.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from motiongpt2 import api

EXAMPLES = {  # corpus → clip id (a HumanML3D id; a Bandai take; the same id with fingers attached)
    "cmu-humanml3d": "004041",
    "bandai-namco": "bn2-walk-turn-left-exhausted-001",
    "wholebody-composite": "004041",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", type=Path, default=api.default_cache() / "datasets")
    ap.add_argument("--out", type=Path, default=Path("docs/examples"))
    args = ap.parse_args()
    for corpus, clip in EXAMPLES.items():
        root = args.datasets / corpus
        feats = root / "new_joint_vecs" / f"{clip}.npy"
        if not feats.exists():
            print(f"skip {corpus}: {feats} not found (run `motiongpt2 prepare {corpus}`)")
            continue
        caption = (root / "texts" / f"{clip}.txt").read_text().splitlines()[0].split("#")[0]
        for suffix in (".mp4", ".html", ".png"):
            out = api.render([feats], args.out / f"{corpus}_{clip}{suffix}", captions=[caption], title=f"{corpus} {clip}")
            print(f"wrote {out}")


if __name__ == "__main__":
    main()
