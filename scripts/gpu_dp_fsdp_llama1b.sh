#!/bin/bash
# Issue 35, acceptance 4, for a machine with GPUs: one FSDP DP step of the Llama-3.2-1B shape, its time and
# GPU memory, private (bk) against non-private, full fine-tuning and LoRA; first the sharded-DP tests.
# NPROC ranks (default: every visible GPU; 1 runs the sharded code path on one rank). Not run yet: no GPU
# machine was lent to the session that wrote it.
# Usage: scripts/gpu_dp_fsdp_llama1b.sh OUTDIR   (PYTHON=..., NPROC=..., BATCH=8, SEQ=512)
set -u
OUT=${1:?usage: $0 OUTDIR}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
NPROC=${NPROC:-$(nvidia-smi -L | wc -l)}
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
{ nvidia-smi -L; echo "cpus: $(nproc)"; git rev-parse --short HEAD;
  $PY -c "import torch; print(torch.__version__, torch.cuda.is_available())"; date -u +%FT%TZ; } > "$OUT/machine.txt" 2>&1
$PY -m pytest -q -p no:cacheprovider tests/dp/test_sharded.py tests/dp/test_distributed.py > "$OUT/tests.txt" 2>&1
tail -1 "$OUT/tests.txt"
for lora in 0 16; do
  echo "== lora $lora ($(date -u +%TZ))"
  $PY -m privformers.cli bench dp --nproc "$NPROC" --fsdp --arch llama --size 1b --dtype bfloat16 --lora "$lora" \
    --batch "${BATCH:-8}" --seq "${SEQ:-512}" --steps 1 --warmup 1 --threads 4 --modes nonprivate bk \
    --json > "$OUT/fsdp-lora$lora.json" 2> "$OUT/fsdp-lora$lora.err"
  cat "$OUT/fsdp-lora$lora.json"
done
