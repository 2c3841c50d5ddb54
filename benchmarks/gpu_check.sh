#!/usr/bin/env bash
# The GPU check: run it once on any machine with a CUDA device (under 8 minutes) and put its
# output in docs/results.md. It prints every model's training images/s at 64 and 256 px in fp32,
# bf16 and fp16, eager and compiled (compiled in the precision --precision auto picks), with peak
# memory (benchmarks/bench_cuda.py); then, where two devices exist, one process against two
# (torchrun, DistributedDataParallel) at the same global batch.
#
# Usage: benchmarks/gpu_check.sh            (from a checkout where `make` has set up .venv)
#        benchmarks/gpu_check.sh --tiny     (seconds, on the CPU: the same scripts run)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
export HF_HUB_OFFLINE=1

if [ "${1:-}" = "--tiny" ]; then
    exec "$PY" benchmarks/bench_cuda.py --tiny
fi

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PY" benchmarks/bench_cuda.py --steps 30 --budget-minutes 5

GPUS=$("$PY" -c "import torch; print(torch.cuda.device_count())")
if [ "$GPUS" -ge 2 ]; then
    OUT=$(mktemp -d)
    TRAIN=(train --model df-gan --ngf 32 --ndf 32 --batch-size 64 --steps 80 --num-images 512
           --sample-every 100000 --checkpoint-every 100000)
    echo "| processes | DF-GAN 64 px, nf 32, global batch 64: img/s |"
    echo "| ---: | ---: |"
    for N in 1 2; do
        "$PY" -m torch.distributed.run --standalone --nproc_per_node "$N" -m t2igan \
            "${TRAIN[@]}" --out "$OUT/ddp$N" > "$OUT/ddp$N.json" 2> "$OUT/ddp$N.err" || true
        RATE=$("$PY" -c "import json,sys; t=open(sys.argv[1]).read(); \
print(json.loads(t[t.index('{'):t.rindex('}')+1])['images_per_s'])" "$OUT/ddp$N.json" \
            2>/dev/null || echo "failed: see $OUT/ddp$N.err")
        echo "| $N | $RATE |"
    done
else
    echo "one CUDA device: no multi-GPU row (tests/test_distributed.py covers 2 CPU processes)"
fi
