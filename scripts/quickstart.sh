#!/usr/bin/env bash
# From a fresh Debian/Ubuntu machine to masks on a sample photograph: installs the dependencies,
# builds samcli, obtains a SAM model and runs sam-point on data/chelsea.png.
#
# The model, in order of preference: $SAMCLI_MODEL; an existing weights/sam_vit_b; the official
# vit_b checkpoint downloaded and exported (needs network access and the segment_anything package);
# otherwise the small demo model the test-suite generates, whose masks are colour regions around
# the click — it shows the tool working, not SAM's quality, and this script says so.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
CKPT_URL=https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth
CKPT_SHA256=ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912

bash scripts/setup-debian.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"

official_vit_b() {
  [ -d weights/sam_vit_b ] && return 0
  "$PY" -c "import segment_anything" 2>/dev/null || return 1
  command -v curl >/dev/null || return 1
  local ckpt=weights/sam_vit_b_01ec64.pth
  if [ ! -f "$ckpt" ]; then
    echo "quickstart: downloading the official vit_b checkpoint (375 MB)" >&2
    curl -fL --connect-timeout 10 -o "$ckpt.part" "$CKPT_URL" || { rm -f "$ckpt.part"; return 1; }
    echo "$CKPT_SHA256  $ckpt.part" | sha256sum -c --quiet - || { rm -f "$ckpt.part"; return 1; }
    mv "$ckpt.part" "$ckpt"
  fi
  "$PY" weights/export_sam.py --model-type vit_b --checkpoint "$ckpt" --out weights/sam_vit_b
}

model="${SAMCLI_MODEL:-}"
if [ -z "$model" ]; then
  if official_vit_b; then
    model=weights/sam_vit_b
  else
    bash scripts/make-demo-model.sh
    model=demo
    echo "quickstart: NOTE: no official SAM checkpoint could be downloaded and exported here (no network or" >&2
    echo "quickstart: no segment_anything package), so this run uses samcli's small DEMO model (weights/sam_demo," >&2
    echo "quickstart: --model demo): its masks are colour regions around the click, not SAM's. See" >&2
    echo "quickstart: weights/README.md for real weights." >&2
  fi
fi

build/apps/sam-point data/chelsea.png --point 170,112 --model "$model" -o out/quickstart
echo "quickstart: done — masks (0.png..2.png), masks.json and overlay.png are in out/quickstart/chelsea/" >&2
