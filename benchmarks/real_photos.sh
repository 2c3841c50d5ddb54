#!/usr/bin/env bash
# Real photos from ../shared/data, each trained for the same CPU budget at 64x64, then asked for
# typed sentences. Prints images/s per run; grids land in bench-runs/photos/<name>/.
#   bash benchmarks/real_photos.sh [MINUTES]        (default 15; the cars of bench_cars.py take 30)
# Runs one at a time: two torch processes on a 2-core machine slow each other down many times over.
set -euo pipefail
MINUTES=${1:-15}
DATA=${T2IGAN_SHARED_DATA:-$(dirname "$0")/../../shared/data}
OUT=bench-runs/photos
T2IGAN=${T2IGAN:-.venv/bin/t2igan}
# The settings bench_cars.py found best for the cars (README, "Real photos").
MODEL=(--model tac-gan --label label --ngf 16 --ndf 16 --lr 4e-4 --batch-size 32 --augment color,translation,cutout)

run() {  # name, source, fit, prompt...
  local name=$1 source=$2 fit=$3; shift 3
  [ -f "$OUT/$name-cache/cache.json" ] || $T2IGAN data prepare "$source" --size 64x64 --fit "$fit" --out "$OUT/$name-cache" >/dev/null
  rm -rf "$OUT/$name"
  $T2IGAN train --data "$OUT/$name-cache" --out "$OUT/$name" "${MODEL[@]}" --max-minutes "$MINUTES" \
    --steps 10000000 --sample-every 1000 --checkpoint-every 1000 2>/dev/null | grep -E '"step"|images_per_s|samples'
  local prompts=()
  for p in "$@"; do prompts+=(--prompt "$p"); done
  $T2IGAN generate --run "$OUT/$name" "${prompts[@]}" --num 8 --out "$OUT/$name/typed.png"
}

mkdir -p "$OUT"
run cat-breeds "$DATA/cat-breeds" crop "a photo of an Abyssinian cat" "a photo of an American Curl cat" \
  "a photo of an American Shorthair cat"
run petimages "$DATA/petimages-cats-128" crop "a photo of a Cat" "a ginger cat with green eyes lying on a blue rug"
