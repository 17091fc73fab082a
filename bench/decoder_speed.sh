#!/usr/bin/env bash
# Benchmark (not a test): the prompt decoder and sam-amg against the official implementation, in one
# run on this machine (docs/performance.md). Needs a local checkout of facebookresearch/segment-anything
# and the checkpoint MODEL_DIR was exported from (e.g. the stand-in of tests/data/README.md).
#
#   SAM_REFERENCE_DIR=/path/to/segment-anything bench/decoder_speed.sh MODEL_DIR CHECKPOINT [threads]
#
# 1. bench/decoder_bench.py: one 64-prompt batch, samcli's decoder against SamPredictor.predict_torch,
#    and the encoder's GFLOP/s against a plain matrix product's.
# 2. tests/parity/compare_amg.py live mode, official defaults (32 points per side): the official
#    generator and sam-amg on 600x400, 1000x1500 and 4000x3000 images, same masks checked, wall times
#    and their ratio.
# 3. bench/amg_bench: sam-amg's stages and peak memory on the 600x400 image.
# Time it on a quiet machine, one benchmark at a time.
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:?usage: bench/decoder_speed.sh MODEL_DIR CHECKPOINT [threads]}"
checkpoint="${2:?usage: bench/decoder_speed.sh MODEL_DIR CHECKPOINT [threads]}"
threads="${3:-2}"
: "${SAM_REFERENCE_DIR:?set SAM_REFERENCE_DIR to a checkout of facebookresearch/segment-anything}"
bin="${SAMCLI_BIN_DIR:-build/apps}"
images=tests/data/reference/images
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 -c "from PIL import Image; Image.open('$images/coffee.png').convert('RGB').resize((4000, 3000), Image.BICUBIC).save('$work/coffee_4000x3000.png')"

echo "== decoder: one 64-prompt batch (bench/decoder_bench.py)"
/usr/bin/python3 bench/decoder_bench.py "$model" --image "$images/coffee.png" --threads "$threads" \
  --checkpoint "$checkpoint"
echo "== sam-amg against the official generator, official defaults (tests/parity/compare_amg.py)"
SAMCLI_PARITY_MODEL="$model" SAMCLI_PARITY_CHECKPOINT="$checkpoint" SAMCLI_BIN_DIR="$bin" \
  /usr/bin/python3 tests/parity/compare_amg.py --configs "" --live-config default --threads "$threads" \
  --images "coffee,coffee_portrait,$work/coffee_4000x3000.png"
echo "== sam-amg stages and peak memory (bench/amg_bench)"
build/bench/amg_bench "$images/coffee.png" "$model" --threads "$threads"
