"""Make a trained language model the bundled default (``src/motiongpt2/assets/default_lm``).

Usage: python scripts/bundle_default.py runs/lm_smollm2_instruct [--dtype float16]

Writes the run's best step (else latest) in float16 without optimizer state (:mod:`motiongpt2.lm.bundle`)
and refuses to go over the 50 MB asset limit.  Commit the result rarely: every committed binary stays in
the history.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from motiongpt2.lm.bundle import DEFAULT_NAME, assets_dir, write_bundle


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="train-lm run folder or step folder")
    ap.add_argument("--dtype", choices=["float16", "bfloat16", "float32"], default="float16")
    ap.add_argument("--out", type=Path, default=assets_dir() / DEFAULT_NAME)
    args = ap.parse_args()
    res = write_bundle(args.run, args.out, getattr(torch, args.dtype))
    print(f"wrote {res['path']}: {res['bytes'] / 1e6:.1f} MB, {res['tensors']} tensors")


if __name__ == "__main__":
    main()
