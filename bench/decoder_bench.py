#!/usr/bin/python3
"""Benchmark (not a test): the prompt decoder per 64-prompt batch, and the encoder's achieved GFLOP/s
against a plain matrix product's, on this machine.

  /usr/bin/python3 bench/decoder_bench.py MODEL_DIR [--image IMAGE] [--threads 2] [--batch 64] [--repeats 3]

Runs the model directory's TorchScript files (the ones the tools run; LibTorch is the same library
under Python) on one image: the encoder once (FLOPs counted by the profiler), then `--batch` grid
points decoded as sam-amg decodes them (single clicks, 3 candidates each):
  scores    decode() only: every candidate's predicted IoU (what sam-amg needs to filter)
  masks     decode() + upscale() of every prompt: all low-res masks, as a caller keeping everything
  full      masks + postprocess_masks to the image size + threshold, as SamPredictor.predict_torch
With SAM_REFERENCE_DIR (a checkout of facebookresearch/segment-anything) and --checkpoint (the
checkpoint MODEL_DIR was exported from), also times the official SamPredictor.predict_torch on the
same points in the same run and prints the ratios. Format-1 directories run forward() for all three.

Time it on a quiet machine, one benchmark at a time.
"""
import argparse
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

import official

HERE = os.path.dirname(os.path.abspath(__file__))


def best_of(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def matmul_gflops(repeats):
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    torch.mm(a, b)
    seconds = best_of(lambda: torch.mm(a, b), repeats * 3)
    return 2 * 2048 ** 3 / seconds / 1e9


def resized_input(rgb, manifest):
    """Official preprocessing (the tools' resize is PIL-exact; PIL's bilinear here is the same
    resampler), normalised and padded: [1,3,S,S]."""
    size = manifest["image_size"]
    h, w = rgb.shape[:2]
    scale = size / max(h, w)
    nh, nw = int(h * scale + 0.5), int(w * scale + 0.5)
    resized = np.asarray(Image.fromarray(rgb).resize((nw, nh), Image.BILINEAR), dtype=np.float32)
    x = torch.from_numpy(resized).permute(2, 0, 1).unsqueeze(0)
    x = (x - torch.tensor(manifest["pixel_mean"]).view(1, 3, 1, 1)) / torch.tensor(manifest["pixel_std"]).view(1, 3, 1, 1)
    return F.pad(x, (0, size - nw, 0, size - nh)), (nh, nw)


def grid_points(batch, w, h):
    side = int(np.ceil(np.sqrt(batch)))
    offsets = (np.arange(side) + 0.5) / side
    pts = np.array([[x * w, y * h] for y in offsets for x in offsets])[:batch]
    return torch.tensor(pts, dtype=torch.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--image", default=os.path.join(HERE, "..", "tests", "data", "reference", "images", "coffee.png"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    official.add_arguments(ap)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)

    with open(os.path.join(args.model, "manifest.json")) as f:
        manifest = json.load(f)
    encoder = torch.jit.load(os.path.join(args.model, manifest["files"]["image_encoder"]))
    decoder = torch.jit.load(os.path.join(args.model, manifest["files"]["prompt_decoder"]))
    rgb = np.asarray(Image.open(args.image).convert("RGB"))
    h, w = rgb.shape[:2]
    x, input_size = resized_input(rgb, manifest)
    size = manifest["image_size"]

    print("machine: %d threads; plain 2048x2048 matmul %.1f GFLOP/s" % (args.threads, matmul_gflops(args.repeats)))
    with torch.autograd.profiler.profile(with_flops=True) as prof:
        embedding = encoder(x)
    flops = sum(e.flops for e in prof.function_events if e.flops)
    encode = best_of(lambda: encoder(x), 1)
    print("encoder: %.2f s, %.0f GFLOP counted (matrix products and convolutions), %.1f GFLOP/s"
          % (encode, flops / 1e9, flops / 1e9 / encode))

    points = grid_points(args.batch, w, h)
    resized = points * torch.tensor([input_size[1] / w, input_size[0] / h])  # ResizeLongestSide.apply_coords
    coords = torch.cat([resized, torch.zeros(args.batch, 2)], dim=1).reshape(args.batch, 2, 2)
    labels = torch.tensor([[1.0, -1.0]]).expand(args.batch, 2).contiguous()
    low = manifest["low_res_mask_size"]

    def postprocess(masks):
        up = F.interpolate(masks, (size, size), mode="bilinear", align_corners=False)
        up = up[..., :input_size[0], :input_size[1]]
        return F.interpolate(up, (h, w), mode="bilinear", align_corners=False) > manifest["mask_threshold"]

    if manifest["format_version"] >= 2:
        context = decoder.prepare(embedding)
        prepare = best_of(lambda: decoder.prepare(embedding), args.repeats)

        # As SamModel::decode runs it (lib/sam_model.cpp): two prompts at a time, masks right away.
        chunk = 2

        def scores():
            return [decoder.decode(context, coords[i:i + chunk], labels[i:i + chunk], None)[0]
                    for i in range(0, args.batch, chunk)]

        def masks():
            out = []
            for i in range(0, args.batch, chunk):
                iou, hyper, side = decoder.decode(context, coords[i:i + chunk], labels[i:i + chunk], None)
                out.append(decoder.upscale(side, hyper[:, 1:]))
            return torch.cat(out)
        print("prepare (once per image): %.3f s" % prepare)
    else:
        zeros, off = torch.zeros(1, 1, low, low), torch.zeros(1)

        def scores():
            return decoder(embedding, coords, labels, zeros, off)

        def masks():
            return scores()[0][:, 1:]

    results = {}
    for name, fn in (("scores", scores), ("masks", masks), ("full", lambda: postprocess(masks()))):
        results[name] = best_of(fn, args.repeats)
        print("samcli %-6s %d prompts: %.3f s per batch, %.1f ms per prompt"
              % (name, args.batch, results[name], 1000 * results[name] / args.batch))

    predictor = official.predictor(args)
    if predictor is not None:
        predictor.set_image(rgb)
        coords_t = predictor.transform.apply_coords_torch(points, (h, w)).unsqueeze(1)
        ones = torch.ones(args.batch, 1)
        seconds = best_of(lambda: predictor.predict_torch(coords_t, ones, multimask_output=True), args.repeats)
        print("official predict_torch %d prompts: %.3f s per batch, %.1f ms per prompt"
              % (args.batch, seconds, 1000 * seconds / args.batch))
        print("ratios (official / samcli): full %.2fx, masks %.2fx, scores %.2fx"
              % (seconds / results["full"], seconds / results["masks"], seconds / results["scores"]))


if __name__ == "__main__":
    main()
