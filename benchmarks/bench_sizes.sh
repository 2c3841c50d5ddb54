#!/bin/sh
# DF-GAN end to end at 256x256 and 512x384 on the procedural data: train a few CPU minutes,
# then generate from typed sentences. Grids land in bench-runs/df-SIZE/{samples,typed.png}.
# Usage: sh benchmarks/bench_sizes.sh [MINUTES]   (default 6 per size; run inside the project's .venv)
set -e
minutes=${1:-6}
export HF_HUB_OFFLINE=1
for size in 256x256 512x384; do
  t2igan train --model df-gan --image-size $size --ngf 8 --ndf 8 --batch-size 8 --num-images 1000 \
    --steps 1000000 --sample-every 50 --checkpoint-every 50 --max-minutes "$minutes" --out bench-runs/df-$size
  t2igan generate --run bench-runs/df-$size --prompt "a ginger cat with green eyes lying on a blue rug" \
    --prompt "a red pickup truck on a city street at night" --num 4 --out bench-runs/df-$size/typed.png
done
