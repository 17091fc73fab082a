#!/usr/bin/python3
"""Benchmark (not a test): what each text-sam detector costs on this machine, for the "which detector"
table of the README, docs/performance.md and text-sam --help.

    /usr/bin/python3 bench/detector_speed.py [--bin build/apps] [--threads 2] [--repeats 3] [--keep DIR]

Builds samcli's OWL module (weights/owl_detector.py) at the released architectures -- OWL-ViT
base-patch32 and base-patch16 (768 px), OWLv2 base-patch16 (960 px, padded square) -- with random
weights (the cost of a forward pass does not depend on the values), writes each as a detector
directory as export_owlvit.py would, and runs text-sam on data/chelsea.png (451x300) with two text
queries and with one example image, SAM being the small test fixture so that the detector dominates.
Reports the detector stage text-sam logs ("1 detector pass ... X s") and the process wall time, best
of --repeats, and the example-image query's extra cost.

Time it on a quiet machine, one benchmark at a time.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(REPO, "weights"))
sys.path.insert(0, os.path.join(REPO, "tests", "fixtures"))
import export_owlvit as exporter  # noqa: E402
import owl_detector  # noqa: E402

BPE = os.path.join(REPO, "tests", "data", "clip", "clip_bpe_simple_vocab_16e6.txt.gz")
TEXT = dict(text_width=512, text_layers=12, text_heads=8, text_mlp=2048, vocab_size=49408, max_text_length=16,
            projection_dim=512)
VISION = dict(vision_width=768, vision_layers=12, vision_heads=12, vision_mlp=3072)
DETECTORS = [
    ("owlvit-base-patch32", dict(image_size=768, patch_size=32, objectness=False), "stretch"),
    ("owlvit-base-patch16", dict(image_size=768, patch_size=16, objectness=False), "stretch"),
    ("owlv2-base-patch16", dict(image_size=960, patch_size=16, objectness=True), "pad_square"),
]


def write_detector(root, name, geometry, preprocessing):
    config = owl_detector.Config(**VISION, **TEXT, **geometry)
    torch.manual_seed(0)
    module = owl_detector.OwlDetector(config)
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0, 0.02)
    vocab = exporter.clip_vocabulary(exporter.read_merges(BPE))
    info = exporter.build_manifest(name, config.image_size, [0.48145466, 0.4578275, 0.40821073],
                                   [0.26862954, 0.26130258, 0.27577711], 16, vocab["<|startoftext|>"],
                                   vocab["<|endoftext|>"], vocab["!"], merges_file=os.path.basename(BPE),
                                   preprocessing=preprocessing, objectness=config.objectness,
                                   exported_by="samcli bench/detector_speed.py (random weights)")

    def populate(tmp):
        torch.jit.save(torch.jit.script(module.eval()), os.path.join(tmp, exporter.DETECTOR_FILE))
        shutil.copyfile(BPE, os.path.join(tmp, os.path.basename(BPE)))
        exporter.write_manifest(os.path.join(tmp, "manifest.json"), info)

    return exporter.write_model_dir(os.path.join(root, name), populate, force=True)


def run(args, detector, sam, query, out):
    cmd = [os.path.join(args.bin, "text-sam"), os.path.join(REPO, "data", "chelsea.png"), *query, "--detector-model",
           detector, "--model", sam, "--threads", str(args.threads), "--box-threshold", "0.99", "-o", out]
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit("detector_speed: %s failed: %s" % (" ".join(cmd), proc.stderr.strip()))
    stage = float(re.search(r"1 detector pass for .*?, ([0-9.]+) s;", proc.stderr).group(1))
    return stage, wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(REPO, "build", "apps"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sam", default=os.path.join(REPO, "build", "tests", "fixtures", "sam_fixture"))
    ap.add_argument("--keep", help="write the detectors here and keep them (default: a temporary folder)")
    args = ap.parse_args()
    root = args.keep or tempfile.mkdtemp(prefix="samcli-detectors-")
    os.makedirs(root, exist_ok=True)
    example = os.path.join(root, "example.png")
    from PIL import Image
    Image.open(os.path.join(REPO, "data", "chelsea.png")).crop((120, 60, 260, 200)).save(example)
    rows = []
    try:
        for name, geometry, preprocessing in DETECTORS:
            path = write_detector(root, name, geometry, preprocessing)
            text = [run(args, path, args.sam, ["--text", "a cat, a dog"], os.path.join(root, "out"))
                    for _ in range(args.repeats)]
            image = [run(args, path, args.sam, ["--query-image", example], os.path.join(root, "out"))
                     for _ in range(args.repeats)]
            rows.append((name, min(s for s, _ in text), min(w for _, w in text), min(s for s, _ in image),
                         min(w for _, w in image)))
            print("detector_speed: %s done" % name, file=sys.stderr)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print("| detector | text: detector stage s | text: wall s | example image: detector stage s | "
          "example image: wall s | stage vs owlvit-base-patch32 |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, ts, tw, is_, iw in rows:
        print("| %s | %.2f | %.2f | %.2f | %.2f | %.2fx |" % (name, ts, tw, is_, iw, ts / rows[0][1]))


if __name__ == "__main__":
    main()
