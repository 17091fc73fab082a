#!/usr/bin/python3
"""Benchmark (not a test): per-prompt latency of `sam-point --session` on one encoded image.

Sends one image line (which encodes the image), then N single-click prompts at spread-out points,
one process, and reports the session's own per-line `seconds` (decode + post-processing + the JSON
answer, from reading the line to writing its answer) and the wall time per prompt seen by the caller.

  /usr/bin/python3 bench/session_latency.py IMAGE MODEL_DIR [--prompts 50] [--threads 2] [--bin build/apps]
      [--multimask] [--checkpoint CKPT [--model-type vit_b]]

With SAM_REFERENCE_DIR (a checkout of facebookresearch/segment-anything) and --checkpoint (the
checkpoint MODEL_DIR was exported from), also times the official SamPredictor.predict on the same
clicks, after the session, in the same run (predict alone: no RLE, no JSON), and prints the ratio.

Time it on a quiet machine, one benchmark at a time.
"""
import argparse
import json
import os
import statistics
import subprocess
import time

from PIL import Image

import official

DEFAULT_BIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "apps")


def clicks(width, height, prompts):
    """`prompts` single clicks spread over the image, the same every run."""
    return [(round((i * 97 % 89 + 5) / 100 * width, 1), round((i * 61 % 83 + 8) / 100 * height, 1))
            for i in range(prompts)]


def measure(image, model, prompts=50, threads=2, multimask=False, bin_dir=DEFAULT_BIN):
    """Runs one session: returns the image size, the first line's seconds (image read + encoder +
    decode) and, per prompt, the session's seconds and the caller's wall time (both in ms)."""
    width, height = Image.open(image).size
    lines = [{"image": os.path.abspath(image), "points": [[width / 2, height / 2]], "multimask": multimask}]
    for x, y in clicks(width, height, prompts):
        lines.append({"points": [[x, y]], "multimask": multimask})
    proc = subprocess.Popen([os.path.join(bin_dir, "sam-point"), "--session", "--model", model, "--threads",
                             str(threads), "-q"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    answers, walls = [], []
    for line in lines:
        start = time.perf_counter()
        proc.stdin.write(json.dumps(line) + "\n")
        proc.stdin.flush()
        answers.append(json.loads(proc.stdout.readline()))
        walls.append(time.perf_counter() - start)
    proc.stdin.close()
    proc.wait()
    errors = [a for a in answers if "error" in a]
    if errors:
        raise SystemExit("session_latency: %s" % errors[0]["error"])
    return {"width": width, "height": height, "first_s": answers[0]["seconds"],
            "prompt_ms": [a["seconds"] * 1000 for a in answers[1:]], "wall_ms": [w * 1000 for w in walls[1:]]}


def measure_official(predictor, image, prompts, threads, multimask):
    """Per-click milliseconds of the official SamPredictor.predict on the image, encoded once."""
    import numpy as np
    import torch
    torch.set_num_threads(threads)
    rgb = np.array(Image.open(image).convert("RGB"))
    predictor.set_image(rgb)
    times = []
    for x, y in clicks(rgb.shape[1], rgb.shape[0], prompts):
        start = time.perf_counter()
        predictor.predict(point_coords=np.array([[x, y]]), point_labels=np.array([1]), multimask_output=multimask)
        times.append((time.perf_counter() - start) * 1000)
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("image")
    ap.add_argument("model")
    ap.add_argument("--prompts", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--multimask", action="store_true", help="3 candidates per click instead of 1")
    ap.add_argument("--bin", default=DEFAULT_BIN)
    official.add_arguments(ap)
    args = ap.parse_args()
    r = measure(args.image, args.model, args.prompts, args.threads, args.multimask, args.bin)
    per, wall = r["prompt_ms"], r["wall_ms"]
    print("image %s (%dx%d), %d prompt(s), %s, %d thread(s)" % (os.path.basename(args.image), r["width"], r["height"],
          len(per), "3 candidates each" if args.multimask else "1 mask each", args.threads))
    print("first line (image read + encoder + decode): %.2f s" % r["first_s"])
    print("per prompt, session seconds: median %.1f ms, mean %.1f ms, min %.1f ms, max %.1f ms" % (
        statistics.median(per), statistics.mean(per), min(per), max(per)))
    print("per prompt, caller's wall time: median %.1f ms" % statistics.median(wall))
    predictor = official.predictor(args)
    if predictor is not None:
        times = measure_official(predictor, args.image, args.prompts, args.threads, args.multimask)
        print("official SamPredictor.predict per prompt: median %.1f ms, min %.1f ms, max %.1f ms" % (
            statistics.median(times), min(times), max(times)))
        print("ratio (official predict / samcli session line, medians): %.2fx"
              % (statistics.median(times) / statistics.median(per)))


if __name__ == "__main__":
    main()
