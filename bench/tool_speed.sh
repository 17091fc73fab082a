#!/usr/bin/env bash
# Benchmark (not a test): what the image encoder costs where users meet it, and its share of it, for
# one build and model (docs/performance.md; run it for two builds/models to compare them):
#   1. sam-box over a folder of 10 photos of mixed sizes (451x300 to 4000x3000, made from the
#      repository's photos), one box each;
#   2. sam-amg with the official defaults (32 points per side) on coffee, 600x400.
# Each is run cold, then again with a warm --embedding-cache, which skips the encoder and nothing
# else: the encoder's share is 1 - warm/cold.
#
#   bench/tool_speed.sh MODEL_DIR [BIN_DIR (default build/apps)] [threads (default 2)]
#
# Time it on a quiet machine, one benchmark at a time.
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:?usage: bench/tool_speed.sh MODEL_DIR [BIN_DIR] [threads]}"
bin="${2:-build/apps}"
threads="${3:-2}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 - "$work/photos" <<'PY'
import os, sys
from PIL import Image
out = sys.argv[1]
os.makedirs(out)
images = {"astronaut": "tests/data/reference/images/astronaut.png", "coffee": "tests/data/reference/images/coffee.png",
          "portrait": "tests/data/reference/images/coffee_portrait.png", "chelsea": "data/chelsea.png"}
sizes = [("astronaut", 512, 512), ("coffee", 600, 400), ("chelsea", 451, 300), ("portrait", 1000, 1500),
         ("coffee", 1024, 768), ("astronaut", 1280, 1280), ("chelsea", 1920, 1281), ("coffee", 4000, 3000),
         ("portrait", 800, 1200), ("chelsea", 2048, 1365)]
for i, (name, w, h) in enumerate(sizes):
    Image.open(images[name]).convert("RGB").resize((w, h), Image.BICUBIC).save("%s/%02d_%s_%dx%d.png" % (out, i, name, w, h))
PY

# wall time of one command in nanoseconds, its output discarded
nanoseconds() {
  local start
  start=$(date +%s%N)
  "$@" >/dev/null
  echo $(($(date +%s%N) - start))
}

report() {  # name cold_ns warm_ns
  awk -v name="$1" -v cold="$2" -v warm="$3" 'BEGIN {
    printf "%-40s cold %7.2f s   warm cache %7.2f s   encoder share %3.0f %%\n", name, cold / 1e9, warm / 1e9, 100 * (1 - warm / cold) }'
}

# One cache per tool: coffee is also among the photos (resized to its own size), and sam-amg's cold
# run must not find its embedding.
common=(--model "$model" --threads "$threads" -q)
box=("$bin/sam-box" "$work"/photos/*.png --box 50,50,300,250 "${common[@]}" --embedding-cache "$work/box_cache")
box_cold=$(nanoseconds "${box[@]}" -o "$work/box1")
box_warm=$(nanoseconds "${box[@]}" -o "$work/box2")
report "sam-box, 10 photos, one box each" "$box_cold" "$box_warm"
amg=("$bin/sam-amg" tests/data/reference/images/coffee.png "${common[@]}" --embedding-cache "$work/amg_cache")
amg_cold=$(nanoseconds "${amg[@]}" -o "$work/amg1")
amg_warm=$(nanoseconds "${amg[@]}" -o "$work/amg2")
report "sam-amg, 32 points per side, 600x400" "$amg_cold" "$amg_warm"
