#!/usr/bin/python3
"""Benchmark (not a test): per-prompt latency of `sam-point --session` on one encoded image.

Sends one image line (which encodes the image), then N single-click prompts at spread-out points,
one process, and reports the session's own per-line `seconds` (decode + post-processing + the JSON
answer, from reading the line to writing its answer) and the wall time per prompt seen by the caller.

  /usr/bin/python3 bench/session_latency.py IMAGE MODEL_DIR [--prompts 50] [--threads 2] [--bin build/apps]
      [--multimask]

Time it on a quiet machine, one benchmark at a time.
"""
import argparse
import json
import os
import statistics
import subprocess
import time

from PIL import Image

DEFAULT_BIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "apps")


def measure(image, model, prompts=50, threads=2, multimask=False, bin_dir=DEFAULT_BIN):
    """Runs one session: returns the image size, the first line's seconds (image read + encoder +
    decode) and, per prompt, the session's seconds and the caller's wall time (both in ms)."""
    width, height = Image.open(image).size
    lines = [{"image": os.path.abspath(image), "points": [[width / 2, height / 2]], "multimask": multimask}]
    for i in range(prompts):
        x = (i * 97 % 89 + 5) / 100 * width  # spread over the image, deterministic
        y = (i * 61 % 83 + 8) / 100 * height
        lines.append({"points": [[round(x, 1), round(y, 1)]], "multimask": multimask})
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("image")
    ap.add_argument("model")
    ap.add_argument("--prompts", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--multimask", action="store_true", help="3 candidates per click instead of 1")
    ap.add_argument("--bin", default=DEFAULT_BIN)
    args = ap.parse_args()
    r = measure(args.image, args.model, args.prompts, args.threads, args.multimask, args.bin)
    per, wall = r["prompt_ms"], r["wall_ms"]
    print("image %s (%dx%d), %d prompt(s), %s, %d thread(s)" % (os.path.basename(args.image), r["width"], r["height"],
          len(per), "3 candidates each" if args.multimask else "1 mask each", args.threads))
    print("first line (image read + encoder + decode): %.2f s" % r["first_s"])
    print("per prompt, session seconds: median %.1f ms, mean %.1f ms, min %.1f ms, max %.1f ms" % (
        statistics.median(per), statistics.mean(per), min(per), max(per)))
    print("per prompt, caller's wall time: median %.1f ms" % statistics.median(wall))


if __name__ == "__main__":
    main()
