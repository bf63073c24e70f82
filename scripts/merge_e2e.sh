#!/usr/bin/env bash
# MERGE's generation setting on E2E (issue 6, acceptance 4; BENCHMARKS.md): the built-in GPT-2 (4x192, trained
# on train-lm's train split of e2e/devset.csv) is the teacher; students distilled on the same train split:
#   merge                 Embedding Resending + Merge Module, MERGE's objective (cosine and word-embedding MSE
#                         pulling the final state at t to the embedding of token t+1, CE, soft-label KL; noisy
#                         teacher-forced input embeddings)
#   mpcformer-quad-2quad  Quad GeLU + 2Quad softmax, MPCFormer's two stages on the LM
# then BLEU, chrF++ and ROUGE-L on the test split: plaintext on every source, and generated under MPC (one
# session of three local processes over TLS) for the first PROMPTS test sources (default 50), with the online
# cost per token of each model.
#   usage: scripts/merge_e2e.sh [OUT_DIR] [STAGE ...]
#     STAGE in merge quad-2quad eval-teacher eval-merge eval-quad-2quad
# Environment: PYTHON, DATA (default ../shared/data), NICE (default 10), PROMPTS (default 50), NEW (new tokens
#   per prompt under MPC, default 48: every test reference of the teacher fits), MERGE_STEPS (default 1500),
#   STEPS1/STEPS2 (quad-2quad, default 800/1200).
set -euo pipefail
OUT=${1:-merge-e2e-out}; shift || true
STAGES=${*:-merge quad-2quad eval-teacher eval-merge eval-quad-2quad}
PYTHON=${PYTHON:-python}
DATA=${DATA:-../shared/data}
TEACHER=$($PYTHON -c "from privformers.lm import builtin_model_path as b; print(b())")
run() { HF_HUB_OFFLINE=1 nice -n "${NICE:-10}" $PYTHON -m privformers.cli "$@"; }
timed() { local name=$1; shift; local start; start=$(date +%s); "$@"; echo "$name: $(( $(date +%s) - start )) s" | tee -a "$OUT/times.txt" >&2; }
COMMON=(--teacher "$TEACHER" --task lm --data "$DATA/e2e/devset.csv" --split train --batch-size 16 --lr 5e-4
        --checkpoint-every 500)
mkdir -p "$OUT"
for stage in $STAGES; do
  case $stage in
    merge)
      timed merge run distill "${COMMON[@]}" --recipe merge --out "$OUT/merge" --stage2-steps "${MERGE_STEPS:-1500}" \
        --cosine 1 --embed-mse 10 --ce 1 --soft-kl 1 --tau 2 --lam 0.5 --eta 0.05 --dropout 0.1 \
        > "$OUT/merge.json" 2> "$OUT/merge.err" ;;
    quad-2quad)
      timed quad-2quad run distill "${COMMON[@]}" --recipe mpcformer-quad-2quad --out "$OUT/quad-2quad" \
        --stage1-steps "${STEPS1:-800}" --stage2-steps "${STEPS2:-1200}" > "$OUT/quad-2quad.json" 2> "$OUT/quad-2quad.err" ;;
    eval-teacher|eval-merge|eval-quad-2quad)
      name=${stage#eval-}
      model=$([ "$name" = teacher ] && echo "$TEACHER" || echo "$OUT/$name/student")
      EVAL=(evaluate --model "$model" --data "$DATA/e2e/devset.csv" --split test --metrics bleu,chrf++,rouge-l --json)
      run "${EVAL[@]}" --max-new-tokens 96 --hypotheses-out "$OUT/$name-plain.txt" > "$OUT/$name-plain.json"
      timed "$stage" run "${EVAL[@]}" --limit "${PROMPTS:-50}" --max-new-tokens "${NEW:-48}" --mpc \
        --hypotheses-out "$OUT/$name-mpc.txt" > "$OUT/$name-mpc.json" 2> "$OUT/$name-mpc.err" ;;
    *) echo "unknown stage $stage" >&2; exit 2 ;;
  esac
done
$PYTHON - "$OUT" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
print(f"{'model':<11} {'where':<16} {'BLEU':>6} {'chrF++':>6} {'ROUGE-L':>7}  decode s / MB / rounds per token")
for name in ("teacher", "merge", "quad-2quad"):
    for where in ("plain", "mpc"):
        p = out / f"{name}-{where}.json"
        if not (p.exists() and p.stat().st_size):
            continue
        r = json.loads(p.read_text())
        s, label = r["scores"], f"{where} ({r['sources']} src)"
        cost = ""
        if "mpc" in r:
            m = r["mpc"]
            cost = (f"{m['decode_seconds_per_token']:.3f} / {m['decode_bytes_per_token'] / 1e6:.2f} / "
                    f"{m['decode_rounds_per_token']:.0f}")
        print(f"{name:<11} {label:<16} {s['bleu']:6.2f} {s['chrf++']:6.2f} {s['rouge-l']:7.2f}  {cost}")
PY
