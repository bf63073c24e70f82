#!/usr/bin/env bash
# The private pipeline on E2E with the built-in architecture (BENCHMARKS.md, "One private pipeline"), on the
# public/private split of scripts/dp_e2e.sh: train-lm's split of e2e/devset.csv by MR keeps its 55 test MRs,
# its train MRs are cut by MR into a public 20% and a private 80%.
# 0. split, pretrain (scripts/dp_e2e.sh's stages): a GPT-2 4x192 with a 1K BPE vocabulary pretrained on the
#    public part only; it is the pipeline's starting model;
# 1. teacher: fine-tuned on the private part by dp-train (expected batch 256 x 150 steps, lr 1e-3, clip 0.1,
#    all parameters), noise calibrated with RDP to the total epsilon 8 at delta 1e-5;
# 2. student: mpcformer-quad-2quad distilled from it on the public part (no privacy cost; eps8, nonprivate),
#    or on the private part with DP-SGD and a quarter of the budget (eps8-private);
# 3. check: BLEU, chrF++, ROUGE-L of greedy texts on the 55 test MRs in plaintext (teacher and student) and of
#    the student under MPC on the first PROMPTS test MRs, NEW tokens each (three local processes over TLS).
#   usage: scripts/pipeline_e2e.sh [OUT_DIR] [STAGE ...]
#     STAGE in split pretrain eps8 nonprivate eps8-private (default: split pretrain eps8 nonprivate)
# Environment: PYTHON (default python), DATA (default ../shared/data), NICE (default 15), PROMPTS (default 50),
#   NEW (default 48), STEPS1/STEPS2 (distillation on public rows, default 800/400), PSTEPS1/PSTEPS2 (with DP-SGD
#   on the private rows, expected batch 256, default 100/150).
set -euo pipefail
OUT=${1:-pipeline-e2e-out}; shift || true
STAGES=${*:-split pretrain eps8 nonprivate}
PYTHON=${PYTHON:-python}
DATA=${DATA:-../shared/data}
SCRIPTS=$(cd "$(dirname "$0")" && pwd)
COMMON=(--task lm --model "$OUT/public-gpt2" --private-data "$OUT/data/private.csv"
        --public-data "$OUT/data/public.csv" --eval-data "$OUT/data/test.csv" --recipe mpcformer-quad-2quad
        --teacher-batch-size 256 --teacher-steps 150 --teacher-lr 1e-3 --teacher-max-grad-norm 0.1
        --teacher-max-length 128 --teacher-physical-batch-size 64 --stage1-steps "${STEPS1:-800}"
        --stage2-steps "${STEPS2:-400}" --distill-lr 5e-4 --distill-max-length 128 --check-rows "${PROMPTS:-50}"
        --max-new-tokens "${NEW:-48}" --metrics bleu,chrf++,rouge-l --threads 1 --json)
run() { HF_HUB_OFFLINE=1 nice -n "${NICE:-15}" $PYTHON -m privformers.cli pipeline "$@"; }
mkdir -p "$OUT"
for stage in $STAGES; do
  start=$(date +%s)
  case $stage in
    split|pretrain) PYTHON=$PYTHON DATA=$DATA "$SCRIPTS/dp_e2e.sh" "$OUT" "$stage" ;;
    eps8) run "${COMMON[@]}" --target-epsilon 8 --delta 1e-5 --distill-batch-size 16 --out "$OUT/eps8" \
            > "$OUT/eps8.json" 2> "$OUT/eps8.err" ;;
    nonprivate) run "${COMMON[@]}" --non-private --distill-batch-size 16 --out "$OUT/nonprivate" \
            > "$OUT/nonprivate.json" 2> "$OUT/nonprivate.err" ;;
    eps8-private) run "${COMMON[@]}" --target-epsilon 8 --delta 1e-5 --distill-on private \
            --distill-epsilon-fraction 0.25 --distill-batch-size 256 --distill-physical-batch-size 64 \
            --distill-max-grad-norm 1.0 --stage1-steps "${PSTEPS1:-100}" --stage2-steps "${PSTEPS2:-150}" \
            --out "$OUT/eps8-private" > "$OUT/eps8-private.json" 2> "$OUT/eps8-private.err" ;;
    *) echo "unknown stage $stage" >&2; exit 2 ;;
  esac
  echo "$stage: $(( $(date +%s) - start )) s" | tee -a "$OUT/times.txt"
done
for run in eps8 nonprivate eps8-private; do
  [ -f "$OUT/$run/pipeline_report.txt" ] && { echo "== $run"; cat "$OUT/$run/pipeline_report.txt"; }
done
exit 0
