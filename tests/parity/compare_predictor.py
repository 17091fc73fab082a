#!/usr/bin/python3
"""Parity of sam-point / sam-box with the official SamPredictor.

Runs the built tools on the reference photographs with the prompts recorded in
tests/data/reference/out/<image>/predictor.json (made by the official code, see that folder's
README) and checks every mask (IoU >= 0.99) and score (|diff| <= 1e-3).

  SAMCLI_PARITY_MODEL=<model dir exported from the stand-in checkpoint by weights/export_sam.py> \
  SAMCLI_BIN_DIR=build/apps /usr/bin/python3 tests/parity/compare_predictor.py [--reference-set SET] [image ...]

SET is sam (segment-anything's vit_b stand-in) or mobile_sam (MobileSAM's vit_t stand-in); by default
the one matching the model's model_type (reference_sets.py).

Exits 77 (CTest's "skipped") when SAMCLI_PARITY_MODEL or the reference folder is missing.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from samcli_e2e import iou, rle_decode  # noqa: E402
import reference_sets  # noqa: E402

from reference_sets import REFERENCE, SKIP


def tool_args(prompt):
    inp = prompt["input"]
    pts, labels, box = inp["point_coords"], inp["point_labels"], inp["box_xyxy"]
    if box is None:
        spec = ";".join("%g,%g,%d" % (x, y, l) for (x, y), l in zip(pts, labels))
        return ["sam-point", "--points", spec, "--multimask" if inp["multimask_output"] else "--single"]
    args = ["sam-box", "--box", ",".join("%g" % v for v in box)]
    for (x, y), l in zip(pts or [], labels or []):
        args += ["--point" if l == 1 else "--neg", "%g,%g" % (x, y)]
    return args + (["--multimask"] if inp["multimask_output"] else [])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("images", nargs="*")
    reference_sets.add_argument(ap)
    args = ap.parse_args()
    run = reference_sets.start(args)
    if run is None:
        return SKIP
    model, ref_set, bin_dir = run.model, run.reference_set, run.bin_dir
    images = args.images or sorted(d for d in os.listdir(os.path.join(REFERENCE, "out"))
                                   if os.path.exists(os.path.join(ref_set.directory(REFERENCE, d), "predictor.json")))
    worst_iou, worst_score, failures = 1.0, 0.0, 0
    for name in images:
        ref = json.load(open(os.path.join(ref_set.directory(REFERENCE, name), "predictor.json")))
        image = os.path.join(REFERENCE, "images", name + ".png")
        for prompt in ref["prompts"]:
            with tempfile.TemporaryDirectory() as tmp:
                tool, *args = tool_args(prompt)
                proc = subprocess.run([os.path.join(bin_dir, tool), image, "--model", model, "-o", tmp, "--json", "-",
                                       "--quiet", *args], capture_output=True, text=True)
                if proc.returncode != 0:
                    print("FAIL %s/%s: %s" % (name, prompt["name"], proc.stderr.strip()))
                    failures += 1
                    continue
                ours = json.loads(proc.stdout)[0]["masks"]
            if len(ours) != len(prompt["masks"]):
                print("FAIL %s/%s: %d masks, official %d" % (name, prompt["name"], len(ours), len(prompt["masks"])))
                failures += 1
                continue
            for i, (mine, theirs) in enumerate(zip(ours, prompt["masks"])):
                m_iou = iou(rle_decode(mine["segmentation"]), rle_decode(theirs["rle"]))
                d_score = abs(mine["predicted_iou"] - prompt["scores"][i])
                worst_iou, worst_score = min(worst_iou, m_iou), max(worst_score, d_score)
                ok = m_iou >= 0.99 and d_score <= 1e-3
                failures += not ok
                print("%s %s/%s mask %d: IoU %.6f, score diff %.2e, area %d vs %d" % (
                    "ok  " if ok else "FAIL", name, prompt["name"], i, m_iou, d_score, mine["area"], theirs["area"]))
    print("worst mask IoU %.6f, worst score diff %.2e, %d failure(s)" % (worst_iou, worst_score, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
