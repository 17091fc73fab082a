#!/usr/bin/python3
"""Benchmark (not a test): the image encoder on one image, against what it computes, what this
machine can do and what the official code takes.

    /usr/bin/python3 bench/encoder_bench.py IMAGE MODEL_DIR [MODEL_DIR...] [--threads 2] [--repeats 2]
    SAM_REFERENCE_DIR=/path/to/segment-anything /usr/bin/python3 bench/encoder_bench.py IMAGE MODEL_DIR \\
        --checkpoint CHECKPOINT [--model-type vit_b]

For each model directory: the GFLOP its image_encoder.pt computes (counted once in this Python
process from the profiler's operand shapes: matrix products, and convolutions, whose stride the
profiler does not record, as SAM's are: stride = kernel for even kernels (patch embeddings), 'same'
otherwise), then the encoder stage as the tools run it (build/bench/encoder_bench: resize,
normalise, encode; best of --repeats and the first run) with the tools' allocator and with glibc's
malloc (encoder_bench_system_malloc), each with its peak RSS (the process's peak during the
encoder stage, model weights included) and achieved GFLOP/s, and the plain 2048x2048 matrix
product's GFLOP/s on the same threads, measured in the same process. With SAM_REFERENCE_DIR and
--checkpoint: the official SamPredictor.set_image on the same image, once as users run it (this
python3, glibc malloc) and once with tcmalloc preloaded, each in a process of its own.
Time only on a quiet machine, one benchmark at a time (docs/performance.md).
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import official  # noqa: E402

TCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"
BUILD = os.environ.get("SAMCLI_BUILD_DIR", os.path.join(HERE, "..", "build"))


def product_flops(name, shapes):
    """FLOPs of one matrix product or convolution from its operands' shapes, else 0. The profiler
    lists scalar arguments (and, in TorchScript, more) as empty shapes: the operands are the
    tensors, the products' two factors last."""
    tensors = [shape for shape in shapes if shape]
    if name in ("aten::mm", "aten::addmm", "aten::addmm_"):
        (m, k), (_, n) = tensors[-2:]
        return 2 * m * k * n
    if name in ("aten::bmm", "aten::baddbmm", "aten::baddbmm_"):
        (b, m, k), (_, _, n) = tensors[-2:]
        return 2 * b * m * k * n
    if name in ("aten::mkldnn_convolution", "aten::_slow_conv2d_forward"):
        (batch, _, h, w), (out, per_group, kh, kw) = tensors[:2]
        if kh % 2 == 0:
            h, w = h // kh, w // kw
        return 2 * batch * out * h * w * per_group * kh * kw
    return 0


def count_gflop(model_dir, image_size):
    import torch
    encoder = torch.jit.load(os.path.join(model_dir, "image_encoder.pt")).eval()
    x = torch.zeros(1, 3, image_size, image_size)
    with torch.no_grad(), torch.jit.optimized_execution(False), \
            torch.profiler.profile(record_shapes=True) as prof:
        encoder(x)
    return sum(product_flops(e.name, e.input_shapes) for e in prof.events()) / 1e9


def run_samcli(binary, image, model_dir, args):
    proc = subprocess.run([binary, image, model_dir, "--threads", str(args.threads), "--repeats", str(args.repeats)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit("%s failed: %s" % (binary, proc.stderr.strip()))
    return json.loads(proc.stdout.strip().splitlines()[-1])


OFFICIAL_SCRIPT = r"""
import json, resource, sys, time
sys.path.insert(0, %(bench)r)
import argparse, official, numpy as np, torch
from PIL import Image
torch.set_num_threads(%(threads)d)
predictor = official.predictor(argparse.Namespace(checkpoint=%(checkpoint)r, model_type=%(model_type)r))
image = np.array(Image.open(%(image)r).convert("RGB"))
runs = []
for _ in range(%(repeats)d):
    start = time.time()
    predictor.set_image(image)
    runs.append(time.time() - start)
print(json.dumps({"encoder_s": runs, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_official(args, preload):
    env = dict(os.environ)
    if preload:
        env["LD_PRELOAD"] = TCMALLOC
    script = OFFICIAL_SCRIPT % {"bench": HERE, "threads": args.threads, "checkpoint": args.checkpoint,
                                "model_type": args.model_type, "image": args.image, "repeats": args.repeats}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        sys.exit("official set_image failed: %s" % proc.stderr.strip()[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("image")
    ap.add_argument("models", nargs="+", metavar="MODEL_DIR")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    official.add_arguments(ap)
    args = ap.parse_args()

    rows = []  # (what, best s, first s, GFLOP or None, peak RSS MiB)
    matmul = None
    for model_dir in args.models:
        with open(os.path.join(model_dir, "manifest.json")) as f:
            manifest = json.load(f)
        gflop = count_gflop(model_dir, manifest["image_size"])
        graph = manifest.get("image_encoder_graph", "traced")
        for binary, allocator in (("encoder_bench", "tcmalloc"), ("encoder_bench_system_malloc", "glibc malloc")):
            result = run_samcli(os.path.join(BUILD, "bench", binary), args.image, model_dir, args)
            matmul = matmul or result["matmul_gflops"]
            rows.append(("samcli %s, %s graph, %s" % (os.path.basename(os.path.normpath(model_dir)), graph, allocator),
                         min(result["encoder_s"]), result["encoder_s"][0], gflop, result["peak_rss_mib"]))
            image = result["image"]
    compare = official.requested(args)
    if compare:
        for preload, allocator in ((False, "glibc malloc (as users run it)"), (True, "tcmalloc preloaded")):
            result = run_official(args, preload)
            rows.append(("official SamPredictor.set_image, %s" % allocator, min(result["encoder_s"]),
                         result["encoder_s"][0], None, result["peak_rss_mib"]))
    reference = rows[-2][1] if compare else None

    print("image %dx%d, %d threads, plain 2048x2048 matmul %.1f GFLOP/s, %s"
          % (image[0], image[1], args.threads, matmul, time.strftime("%Y-%m-%d %H:%M")))
    print("| encoder stage | best s | first s | GFLOP | GFLOP/s | of matmul | peak RSS MiB |%s"
          % (" official / this |" if reference else ""))
    print("| --- | --- | --- | --- | --- | --- | --- |%s" % (" --- |" if reference else ""))
    for what, best, first, gflop, rss in rows:
        rate = "%.1f | %.0f %%" % (gflop / best, 100 * gflop / best / matmul) if gflop else "| "
        ratio = " %.2fx |" % (reference / best) if reference else ""
        print("| %s | %.2f | %.2f | %s | %s | %.0f |%s" % (what, best, first, "%.0f" % gflop if gflop else "",
                                                          rate, rss, ratio))


if __name__ == "__main__":
    main()
