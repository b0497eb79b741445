#!/usr/bin/env bash
# Whole-body tokenizers (paper Table XI, tokenizer level): the Part-Aware VQ-VAE (body and hand codebooks)
# against a plain VQ-VAE of the same size (2.30M vs 2.29M parameters) on the composite whole-body corpus
# (52 joints, 623 dims: real body mocap with real ManipNet finger mocap attached at the wrists). Resumable.
#
#   bash scripts/wholebody_tokenizers.sh                 # both, STEPS (4000) each, then their test tables
#   STEPS=1000 bash scripts/wholebody_tokenizers.sh      # a reduced schedule (the LR drop stays at 75 %)
#
# Each run goes to OUT/<name> (OUT: runs/wholebody), its test-split reconstruction table to
# OUT/eval/<name>.json (motiongpt2 eval-tokenizer --json), which `python benchmarks/results.py` puts in
# docs/RESULTS.md. Optional: STEPS, THREADS (1), DATA (~/.cache/motiongpt2/datasets/wholebody-composite),
# M (the motiongpt2 command), OUT. The two runs are independent: run them side by side with ONLY=part_aware /
# ONLY=plain in two shells.
set -euo pipefail
M=${M:-motiongpt2}
STEPS=${STEPS:-4000}
THREADS=${THREADS:-1}
OUT=${OUT:-runs/wholebody}
DATA=${DATA:-$HOME/.cache/motiongpt2/datasets/wholebody-composite}
ONLY=${ONLY:-part_aware plain}
[ -f "$DATA/dataset.json" ] || $M prepare wholebody-composite -o "$DATA"
mkdir -p "$OUT/eval"
for name in $ONLY; do
  case "$name" in
    part_aware) config=configs/tokenizer/part_aware_cpu_small.yaml ;;
    plain) config=configs/tokenizer/vqvae_wholebody_cpu_small.yaml ;;
    *) echo "unknown tokenizer $name: part_aware | plain" >&2; exit 2 ;;
  esac
  $M train-tokenizer -c "$config" -d "$DATA" -o "$OUT/$name" --threads "$THREADS" \
      --override train.max_iters="$STEPS" --override "train.lr_milestones=[$((STEPS * 3 / 4))]"
  $M eval-tokenizer "$OUT/$name" -d "$DATA" --json "$OUT/eval/$name.json"
done
