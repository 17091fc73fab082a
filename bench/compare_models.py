#!/usr/bin/python3
"""Benchmark (not a test): SAM-family model directories side by side on the same images and threads,
e.g. MobileSAM (vit_t) against SAM vit_b, for the table in docs/performance.md.

  /usr/bin/python3 bench/compare_models.py --models weights/sam_vit_t,weights/sam_vit_b \\
      IMAGE [IMAGE ...] [--threads 2] [--prompts 20] [--points-per-side 32]

For every image and model, one measurement at a time:
  encoder     the encoder stage of `amg_bench IMAGE DIR --points-per-side 1` (resize, normalise, pad,
              image encoder forward), seconds
  prompt      median per-prompt seconds of one `sam-point --session` (bench/session_latency.py) over
              --prompts single clicks, one mask each, on the image encoded once
  sam-amg     wall time of the tool `sam-amg IMAGE --model DIR --points-per-side N` (model load,
              encoder, generation, writing the masks), seconds
and prints a Markdown table. Time it on a quiet machine, nothing else running: with OpenMP on all
threads, any other job holding a core makes every figure several times larger.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from session_latency import DEFAULT_BIN, measure  # noqa: E402


def encoder_seconds(image, model, threads, bench_bin):
    out = subprocess.run([os.path.join(bench_bin, "amg_bench"), image, model, "--points-per-side", "1",
                          "--threads", str(threads)], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if line.startswith("encoder "):
            return float(line.split()[1])
    raise SystemExit("compare_models: no encoder time in amg_bench's output:\n" + out)


def amg_seconds(image, model, threads, points_per_side, bin_dir):
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run([os.path.join(bin_dir, "sam-amg"), image, "--model", model, "--points-per-side",
                        str(points_per_side), "--threads", str(threads), "-o", tmp, "-q"], check=True)
        return time.perf_counter() - start


def model_label(model):
    import json
    try:
        with open(os.path.join(model, "manifest.json")) as f:
            return json.load(f).get("model_type", "?")
    except (OSError, ValueError):
        return "?"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("images", nargs="+")
    ap.add_argument("--models", required=True, help="model directories, comma-separated")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompts", type=int, default=20)
    ap.add_argument("--points-per-side", type=int, default=32)
    ap.add_argument("--bin", default=DEFAULT_BIN, help="folder of the tools (default build/apps)")
    ap.add_argument("--bench-bin", default=os.path.join(HERE, "..", "build", "bench"),
                    help="folder of amg_bench (default build/bench)")
    args = ap.parse_args()
    models = [m for m in args.models.split(",") if m]
    print("| image | model | encoder (s) | one prompt (ms, median of %d) | sam-amg %d points per side (s) |"
          % (args.prompts, args.points_per_side))
    print("| --- | --- | --- | --- | --- |")
    for image in args.images:
        for model in models:
            enc = encoder_seconds(image, model, args.threads, args.bench_bin)
            session = measure(image, model, args.prompts, args.threads, False, args.bin)
            amg = amg_seconds(image, model, args.threads, args.points_per_side, args.bin)
            print("| %s (%dx%d) | %s (%s) | %.2f | %.1f | %.1f |" % (
                os.path.basename(image), session["width"], session["height"], model_label(model),
                os.path.basename(os.path.normpath(model)), enc, statistics.median(session["prompt_ms"]), amg),
                flush=True)
    print("\n%d thread(s); %s" % (args.threads, " ".join(sys.argv)))


if __name__ == "__main__":
    main()
