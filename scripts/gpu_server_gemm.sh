#!/bin/bash
# The server's plaintext-weight products on a GPU (issue 6, acceptance 3 on a GPU machine):
# the CUDA exactness tests, then `bench forward --compare exact,mpcformer-quad-2quad` at 128 tokens
# with the server's products on the GPU, on 8 CPU threads, and as shipped (2 threads).
# Usage: scripts/gpu_server_gemm.sh OUTDIR   (PYTHON=... to pick the interpreter; default python3)
set -u
OUT=${1:?usage: $0 OUTDIR}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
{ nvidia-smi -L; echo "cpus: $(nproc)"; lscpu | grep -i "model name";
  $PY -c "import sys, torch, transformers; print(sys.version.split()[0], torch.__version__, transformers.__version__, torch.cuda.is_available())";
  date -u +%FT%TZ; } > "$OUT/machine.txt" 2>&1
$PY -m pytest -q -p no:cacheprovider tests/mpc/test_ringmath.py tests/mpc/test_weights.py tests/mpc/test_launch.py \
  -k "gpu or gemm" > "$OUT/tests.txt" 2>&1
tail -3 "$OUT/tests.txt"
bench() {  # name, extra flags
  echo "== $1 ($(date -u +%TZ))"
  $PY -m privformers.cli bench forward --arch bert --size minilm --random-weights --seq-len 128 \
    --compare exact,mpcformer-quad-2quad --repeats 2 "${@:2}" --json > "$OUT/forward-$1.json" 2> "$OUT/forward-$1.err"
  tail -4 "$OUT/forward-$1.err"
}
bench cuda --server-gemm-device cuda
# later configurations only while the time the caller allows (BUDGET_S) lasts
if [ "$SECONDS" -lt "$(( ${BUDGET_S:-600} * 45 / 100 ))" ]; then bench cpu8 --server-gemm-threads 8; else echo "skipped cpu8: ${SECONDS}s used"; fi
if [ "$SECONDS" -lt "$(( ${BUDGET_S:-600} * 65 / 100 ))" ]; then bench cpu2; else echo "skipped cpu2: ${SECONDS}s used"; fi
