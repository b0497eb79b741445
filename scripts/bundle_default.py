"""Make trained runs the bundled defaults in ``src/motiongpt2/assets/``.

Usage: python scripts/bundle_default.py runs/lm_smollm2_instruct [--dtype float16]
       python scripts/bundle_default.py runs/evaluator_guo_glove50 --evaluator

A language model goes to ``assets/default_lm`` (the model every command uses when none is named), an
evaluator (``--evaluator``) to ``assets/evaluator_guo_glove50`` (the reference evaluator ``evaluate`` uses
when none is named).  The run's best step (else latest) is written in float16 without optimizer state
(:mod:`motiongpt2.bundle`), refusing to go over the 50 MB asset limit.  Commit the result rarely: every
committed binary stays in the history.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from motiongpt2.bundle import assets_dir
from motiongpt2.eval.evaluator import DEFAULT_EVALUATOR, bundle_evaluator
from motiongpt2.lm.bundle import DEFAULT_NAME, write_bundle


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="train-lm (or, with --evaluator, train-evaluator) run or step folder")
    ap.add_argument("--evaluator", action="store_true", help="bundle a reference evaluator instead of a model")
    ap.add_argument("--dtype", choices=["float16", "bfloat16", "float32"], default="float16",
                    help="language model only (an evaluator's weights are float16, its statistics float32)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if args.evaluator:
        res = bundle_evaluator(args.run, args.out or assets_dir() / DEFAULT_EVALUATOR)
    else:
        res = write_bundle(args.run, args.out or assets_dir() / DEFAULT_NAME, getattr(torch, args.dtype))
    print(f"wrote {res['path']}: {res['bytes'] / 1e6:.1f} MB, {res['tensors']} tensors")


if __name__ == "__main__":
    main()
