#!/usr/bin/env bash
# Whole-body generation (paper Table XI, generation level): the same language-model recipe with the Part-Aware
# tokenizer (body and hand codebooks: two tokens per time step) and with the plain VQ-VAE (one token), on the
# composite whole-body corpus, scored with an evaluator trained on that corpus and the text-free Hand FID.
# Needs the two tokenizers of scripts/wholebody_tokenizers.sh. Resumable: rerun the same command.
#
#   bash scripts/wholebody_generation.sh                 # both arms, STEPS (100) + STEPS per stage, then t2m tables
#   STEPS=300 REPS=3 bash scripts/wholebody_generation.sh
#
# Recipe: scripts/ablations.sh's pretrained arm (SmolLM2-135M, stage 2 then stage 3) with stage 3 on text-to-motion
# only (a whole-body comparison; the other tasks would take most of so few steps). Steps:
#   1. language models -> OUT/lm/<tokenizer>/pretrained/{align,instruct}
#   2. the whole-body evaluator (configs/eval/evaluator_guo_glove50.yaml, EVAL_STEPS 2500) -> OUT/evaluator
#   3. t2m on the test split, REPS replications (1) -> OUT/lm/<tokenizer>/pretrained/eval/t2m_test.json, which
#      `python benchmarks/results.py` puts in docs/RESULTS.md.
# Optional: STEPS, REPS, THREADS (1), EVAL_STEPS, DATA (~/.cache/motiongpt2/datasets/wholebody-composite),
# M (the motiongpt2 command), OUT (runs/wholebody), ONLY ("part_aware plain").
set -euo pipefail
M=${M:-motiongpt2}
OUT=${OUT:-runs/wholebody}
DATA=${DATA:-$HOME/.cache/motiongpt2/datasets/wholebody-composite}
ONLY=${ONLY:-part_aware plain}
EVAL_STEPS=${EVAL_STEPS:-2500}
export M DATA STEPS REPS THREADS
export OVERRIDES="instruct.tasks.t2m=1.0 instruct.tasks.t2m-init=0 instruct.tasks.t2m-last=0 instruct.tasks.t2m-key=0 instruct.tasks.m2t=0
instruct.tasks.predict=0 instruct.tasks.inbetween=0 instruct.tasks.wholebody=0"
for name in $ONLY; do
  [ -e "$OUT/$name/best" ] || { echo "$OUT/$name: no tokenizer — run scripts/wholebody_tokenizers.sh first" >&2; exit 2; }
  TOKENIZER=$OUT/$name/best OUT=$OUT/lm/$name TASKS="" bash scripts/ablations.sh pretrained
done
$M train-evaluator -d "$DATA" -o "$OUT/evaluator" -c configs/eval/evaluator_guo_glove50.yaml --max-steps "$EVAL_STEPS"
for name in $ONLY; do
  EVALUATOR=$OUT/evaluator TOKENIZER=$OUT/$name/best OUT=$OUT/lm/$name TASKS=t2m \
      bash scripts/ablations.sh pretrained  # (OUT last: a prefix assignment sees the ones before it)
done
