#!/usr/bin/env bash
# E2E utility of DP fine-tuning (BENCHMARKS.md, DP section). Protocol, as the seed's public-pretraining /
# private-fine-tuning setting on our data: train-lm's split of devset.csv by MR keeps its 55 test MRs;
# its 465 train MRs are cut by MR into a public 20% and a private 80% (scripts/e2e_public_private.py).
# 1. pretrain (non-private) a GPT-2 4x192 with a 1K BPE tokenizer on the public part only (train-lm);
# 2. fine-tune it on the private part with dp-train at epsilon 8 and 3 (delta 1e-5) and non-privately,
#    same steps, expected batch, learning rate; 3. BLEU of greedy decoding on the test MRs.
#   usage: scripts/dp_e2e.sh [OUT_DIR] [STAGE ...]   STAGE in split pretrain eps8 eps3 nonprivate evaluate
# Environment: PYTHON (default python), DATA (default ../shared/data), NICE (default 15).
set -euo pipefail
OUT=${1:-dp-e2e-out}; shift || true
STAGES=${*:-split pretrain eps8 eps3 nonprivate evaluate}
PYTHON=${PYTHON:-python}
DATA=${DATA:-../shared/data}
SCRIPTS=$(cd "$(dirname "$0")" && pwd)
run() { HF_HUB_OFFLINE=1 nice -n "${NICE:-15}" $PYTHON -m privformers.cli "$@"; }
timed() { local name=$1; shift; local start; start=$(date +%s); "$@"; echo "$name: $(( $(date +%s) - start )) s" | tee -a "$OUT/times.txt"; }
FINETUNE=(--task lm --data "$OUT/data/private.csv" --eval-data "$OUT/data/validation.csv" --batch-size 256
          --max-physical-batch-size 64 --steps 150 --lr 1e-3 --max-grad-norm 0.1 --max-length 128
          --log-every 50 --threads 1)
mkdir -p "$OUT"
for stage in $STAGES; do
  case $stage in
    split) $PYTHON "$SCRIPTS/e2e_public_private.py" "$DATA/e2e/devset.csv" "$OUT/data" | tee "$OUT/split.txt" ;;
    pretrain) timed pretrain run train-lm --data "$OUT/data/public.csv" --task e2e --validation-fraction 0.1 \
                --test-fraction 0 --epochs 20 --batch-size 32 --warmup-steps 50 --eval-every 4 --out "$OUT/public-gpt2" > "$OUT/pretrain.log" 2>&1 ;;
    eps8|eps3|nonprivate)
      case $stage in
        eps8) privacy=(--target-epsilon 8 --target-delta 1e-5) ;;
        eps3) privacy=(--target-epsilon 3 --target-delta 1e-5) ;;
        nonprivate) privacy=(--non-private) ;;
      esac
      mkdir -p "$OUT/$stage"
      timed "$stage" run dp-train --model "$OUT/public-gpt2" "${FINETUNE[@]}" "${privacy[@]}" \
        --output-dir "$OUT/$stage" > "$OUT/$stage/stdout.json" 2> "$OUT/$stage/stderr.log" ;;
    evaluate)
      for model in public-gpt2 nonprivate/final eps8/final eps3/final; do
        [ -d "$OUT/$model" ] || continue
        run evaluate --model "$OUT/$model" --data "$DATA/e2e/devset.csv" --task e2e --split test \
          --metrics bleu,chrf++,rouge-l --json > "$OUT/${model%%/*}.test.json"
        echo "$model: $($PYTHON -c "import json,sys; print(json.load(open(sys.argv[1]))['scores'])" "$OUT/${model%%/*}.test.json")"
      done | tee "$OUT/test_scores.txt" ;;
    *) echo "unknown stage $stage" >&2; exit 2 ;;
  esac
done
