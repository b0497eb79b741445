#!/usr/bin/env bash
# The paper's ablations at reduced size on the real-body corpus (CPU): one arm per call, resumable.
#
#   bash scripts/ablations.sh pretrained   # stage 2 (STEPS) then stage 3 (STEPS), SmolLM2 weights
#   bash scripts/ablations.sh random       # the same recipe on the same architecture, weights drawn afresh
#   bash scripts/ablations.sh noalign      # no stage 2: stage 3 alone for 2 x STEPS (same total steps)
#
# Then each arm's t2m and m2t tables (REPS replications, MultiModality skipped) go to runs/ablation/ARM/eval.
# Optional: STEPS (100), REPS (1), THREADS (1), DATA (~/.cache/motiongpt2/datasets/real-body),
# EVALUATOR (runs/evaluator_guo_glove50), M (the motiongpt2 command), OUT (runs/ablation).
set -euo pipefail
arm=${1:?give an arm: pretrained | random | noalign}
M=${M:-motiongpt2}
STEPS=${STEPS:-100}
REPS=${REPS:-1}
THREADS=${THREADS:-1}
DATA=${DATA:-$HOME/.cache/motiongpt2/datasets/real-body}
EVALUATOR=${EVALUATOR:-runs/evaluator_guo_glove50}
OUT=${OUT:-runs/ablation}/$arm
common=(-d "$DATA" --threads "$THREADS")
init=(); [ "$arm" = random ] && init=(--override backbone_init=random)
case "$arm" in
  pretrained|random)
    $M train-lm --stage align -c configs/lm/smollm2_align_cpu.yaml "${common[@]}" -o "$OUT/align" \
        --override train.max_steps="$STEPS" "${init[@]}"
    $M train-lm --stage instruct -c configs/lm/smollm2_instruct_cpu.yaml "${common[@]}" -o "$OUT/instruct" \
        --init "$OUT/align" --override train.max_steps="$STEPS" "${init[@]}" ;;
  noalign)
    $M train-lm --stage instruct -c configs/lm/smollm2_instruct_cpu.yaml "${common[@]}" -o "$OUT/instruct" \
        --override train.max_steps=$((2 * STEPS)) ;;
  *) echo "unknown arm $arm: pretrained | random | noalign" >&2; exit 2 ;;
esac
for task in t2m m2t; do
  [ -f "$OUT/eval/${task}_test.json" ] && continue
  $M evaluate --task "$task" -d "$DATA" -e "$EVALUATOR" --generator "lm:$OUT/instruct" --replications "$REPS" \
      --mm-samples 0 --no-retrieval -o "$OUT/eval"
done
