#!/usr/bin/env bash
# Train and evaluate MotionGPT-2 on an official HumanML3D folder with the official evaluator (paper Table I
# conditions): tokenizer -> stage 2 (alignment) -> stage 3 (instructions) -> the paper's tables.
#
#   HML=/data/HumanML3D T2M=/data/t2m_checkpoints bash scripts/humanml3d_recipe.sh
#
# HML  the official HumanML3D folder: new_joint_vecs/ new_joints/ texts/ train.txt val.txt test.txt Mean.npy Std.npy
# T2M  the official text-to-motion evaluator files: t2m/text_mot_match/model/finest.tar, t2m/Comp_v6_KLD01/meta/,
#      glove/ (our_vab_data.npy, our_vab_words.pkl, our_vab_idx.pkl)
# Optional: OUT (runs/humanml3d), M (the motiongpt2 command), VQ_CONFIG, ALIGN_CONFIG, INSTRUCT_CONFIG,
#      LM_OVERRIDES (extra KEY=VALUE for both stages, space-separated), VQ_OVERRIDES, REPS (20), TASKS, THREADS,
#      EVAL_ARGS (extra evaluate options, e.g. "--mm-samples 0").
# Every step resumes where it stopped when run again (the run folders keep their checkpoints).
set -euo pipefail
: "${HML:?set HML to the official HumanML3D folder}"
: "${T2M:?set T2M to the folder holding t2m/ and glove/ of the official evaluator}"
M=${M:-motiongpt2}
OUT=${OUT:-runs/humanml3d}
VQ_CONFIG=${VQ_CONFIG:-configs/tokenizer/vqvae_humanml3d.yaml}
ALIGN_CONFIG=${ALIGN_CONFIG:-configs/lm/smollm2_align_cpu.yaml}
INSTRUCT_CONFIG=${INSTRUCT_CONFIG:-configs/lm/smollm2_instruct_cpu.yaml}
REPS=${REPS:-20}
TASKS=${TASKS:-t2m t2m-init t2m-last t2m-key m2t predict inbetween}
threads=(); [ -n "${THREADS:-}" ] && threads=(--threads "$THREADS")
lm_over=(--override "tokenizer=$OUT/vq"); for kv in ${LM_OVERRIDES:-}; do lm_over+=(--override "$kv"); done
vq_over=(); for kv in ${VQ_OVERRIDES:-}; do vq_over+=(--override "$kv"); done
eval_args=(); for a in ${EVAL_ARGS:-}; do eval_args+=("$a"); done
evaluator=(-e "$T2M/t2m/text_mot_match/model/finest.tar" --glove-dir "$T2M/glove" --meta-dir "$T2M/t2m/Comp_v6_KLD01/meta")

$M validate "$HML"                                                                            # layout, NaN, lengths
$M train-tokenizer -c "$VQ_CONFIG" -d "$HML" -o "$OUT/vq" "${threads[@]}" "${vq_over[@]}"       # stage 1
$M train-lm --stage align -c "$ALIGN_CONFIG" -d "$HML" -o "$OUT/align" "${threads[@]}" "${lm_over[@]}"
$M train-lm --stage instruct -c "$INSTRUCT_CONFIG" -d "$HML" -o "$OUT/instruct" --init "$OUT/align" \
    "${threads[@]}" "${lm_over[@]}"
for task in $TASKS; do                                                                         # the paper's tables
  $M evaluate --task "$task" -d "$HML" "${evaluator[@]}" --generator "lm:$OUT/instruct" --replications "$REPS" \
      -o "$OUT/eval" "${eval_args[@]}"
done
echo "tables in $OUT/eval (one .md and .json per task)"
