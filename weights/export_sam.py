#!/usr/bin/python3
"""Export an official Segment Anything checkpoint to a samcli model directory.

    /usr/bin/python3 weights/export_sam.py --model-type vit_b \\
        --checkpoint sam_vit_b_01ec64.pth --out weights/sam_vit_b

The directory follows docs/model-format.md:

  manifest.json       format "samcli-sam" v2, preprocessing constants read from the model
  image_encoder.pt    TorchScript: x [1,3,S,S] normalised + zero-padded -> embedding [1,C,H,W];
                      for vit_b/l/h samcli's own encoder (scripted sam_image_encoder.SamImageEncoder,
                      the official function with less waste), for other encoders (MobileSAM's
                      TinyViT) the official module traced
  prompt_decoder.pt   TorchScript (scripted sam_prompt_decoder.SamPromptDecoder): prepare(embedding),
                      decode(context, point_coords [B,N,2], point_labels [B,N], mask_input or None)
                      -> (iou_predictions [B,4], hypernetwork weights, image side), upscale(...)
                      -> low_res_masks; and the version-1 forward(), all four outputs

(S=1024, C=256, H=W=64, M=256 for every official SAM.)

The model is built with Meta's `segment_anything` package (sam_model_registry); it is imported,
never copied. Set SAM_REPO to a checkout of facebookresearch/segment-anything to use it without
installing it. MobileSAM (--model-type vit_t, checkpoint mobile_sam.pt) is built with the official
`mobile_sam` package of ChaoningZhang/MobileSAM, which that model type implies; MOBILE_SAM_REPO
(else SAM_REPO) may point at a checkout of it. Its TinyViT imports four helpers from timm; without
timm, weights/timm_standin.py stands in for them. Other packages that copy segment_anything's API
(same sam_model_registry, same Sam class with image_encoder / prompt_encoder / mask_decoder) are
exported with --package NAME (docs/model-format.md). Export with the PyTorch version whose LibTorch
will run the files (Debian: python3-torch and libtorch-dev, both 1.13): TorchScript archives are not
reliably readable by an older LibTorch.

After export, both files are loaded again and compared with the eager official modules
(prompt decoder: several batch sizes B and point counts N, with and without a box and a mask input;
image encoder: one random image, within 1e-4 of the embedding's largest magnitude), so a trace
that baked in a shape, or a module that computes anything else, fails the export instead of
failing later in samcli.
Use --skip-encoder-check to save the extra encoder passes (~20 s each for vit_b on 2 CPU cores,
several minutes for vit_h).
"""
import argparse
import hashlib
import os
import sys
import time
import warnings

from export_common import ExportError, logger, run_main, write_manifest, write_model_dir

FORMAT = "samcli-sam"
FORMAT_VERSION = 2
MODEL_TYPES = ("vit_b", "vit_l", "vit_h", "vit_t")
DEFAULT_PACKAGE = "segment_anything"
# Model types that only another package's registry builds: vit_t is MobileSAM's TinyViT encoder in
# front of SAM's prompt encoder and mask decoder (segment_anything has no vit_t).
PACKAGE_OF_MODEL_TYPE = {"vit_t": "mobile_sam"}
# The variable naming a checkout of each package; SAM_REPO is the fallback for every package.
REPO_VARIABLES = {"segment_anything": "SAM_REPO", "mobile_sam": "MOBILE_SAM_REPO"}

# sha256 of Meta's released checkpoints (dl.fbaipublicfiles.com/segment_anything/), to catch a
# checkpoint given with the wrong --model-type before minutes of loading and tracing.
OFFICIAL_CHECKPOINTS = {
    "a7bf3b02f3ebf1267aba913ff637d9a2d5c33d3173bb679e46d9f338c26f262e": ("vit_h", "sam_vit_h_4b8939.pth"),
    "3adcc4315b642a4d2101128f611684e8734c41232a17c648ed1693702a49a622": ("vit_l", "sam_vit_l_0b3195.pth"),
    "ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912": ("vit_b", "sam_vit_b_01ec64.pth"),
}

# Decoder check: batch sizes and point counts. N counts every row of the point sequence, including
# the padding point or the two box corners, as the C++ side sends it. B=64 (the automatic mask
# generator's batch) also matches exactly but takes minutes on a small CPU: --check-batches 1,3,64.
CHECK_BATCHES = (1, 3, 8)
CHECK_POINTS = (2, 3, 4)
CHECK_ATOL = 1e-4  # observed differences are ~1e-6; anything near 1e-4 means a different graph
# Image encoder check: max |diff| relative to the embedding's largest magnitude. Reassociated sums in
# 12-32 blocks give ~2e-6 (vit_b); a wrong term gives far more.
ENCODER_CHECK_RTOL = 1e-4


log = logger("export_sam")


# ---------------------------------------------------------------------------------- imports
def import_torch():
    try:
        import torch  # noqa: F401
    except ImportError as e:
        raise ExportError("cannot import torch (%s); on Debian run this script with /usr/bin/python3 "
                          "after `apt-get install python3-torch python3-torchvision`" % e)
    return torch


INSTALL_HINTS = {
    "segment_anything": "pip install git+https://github.com/facebookresearch/segment-anything.git",
    "mobile_sam": "pip install git+https://github.com/ChaoningZhang/MobileSAM.git",
}


def package_for(model_type, package=None):
    """The package whose sam_model_registry builds `model_type`: --package when given, else the one
    the model type implies (vit_t -> mobile_sam), else segment_anything."""
    implied = PACKAGE_OF_MODEL_TYPE.get(model_type)
    if package is None:
        return implied or DEFAULT_PACKAGE
    if implied and package == DEFAULT_PACKAGE:
        raise ExportError("--model-type %s is built by the %s package, not %s (drop --package)"
                          % (model_type, implied, package))
    return package


def repo_variable(name):
    """(variable, checkout) naming where to import package `name` from, or (None, None) for an
    installed copy: the package's own variable (MOBILE_SAM_REPO for mobile_sam), else SAM_REPO."""
    for variable in (REPO_VARIABLES.get(name), "SAM_REPO"):
        if variable and os.environ.get(variable):
            return variable, os.environ[variable]
    return None, None


def import_sam_package(name):
    """Imports the package that provides sam_model_registry; a checkout named by repo_variable()
    takes precedence over an installed copy. timm's stand-in is installed first when timm is absent
    (MobileSAM's TinyViT imports it at module level)."""
    import importlib
    variable, repo = repo_variable(name)
    own = REPO_VARIABLES.get(name, "SAM_REPO")
    if repo:
        if not os.path.isdir(os.path.join(repo, name)):
            raise ExportError("%s=%s has no %s/ folder; point %s at a checkout of the repository "
                              "that contains the package" % (variable, repo, name, own))
        sys.path.insert(0, os.path.abspath(repo))
    import timm_standin
    if timm_standin.install():
        log("timm is not installed: using weights/timm_standin.py for the helpers %s imports" % name)
    try:
        package = importlib.import_module(name)
    except ImportError as e:
        hint = INSTALL_HINTS.get(name, "pip install the package")
        raise ExportError("cannot import %s (%s); install it with `%s` or set %s to a checkout "
                          "of its repository" % (name, e, hint, own))
    if not hasattr(package, "sam_model_registry"):
        raise ExportError("package %s has no sam_model_registry" % name)
    return package


# ---------------------------------------------------------------------------------- modules
def build_prompt_decoder(torch, sam):
    """samcli's prompt decoder (sam_prompt_decoder.py) with the weights of the official modules,
    scripted (its decode() takes an optional mask input, which tracing cannot express)."""
    from sam_prompt_decoder import SamPromptDecoder
    pe = sam.prompt_encoder
    module = SamPromptDecoder(sam.state_dict(), num_heads=sam.mask_decoder.transformer.num_heads,
                              input_image_size=tuple(int(s) for s in pe.input_image_size),
                              embedding_size=tuple(int(s) for s in pe.image_embedding_size),
                              depth=len(sam.mask_decoder.transformer.layers)).eval()
    return torch.jit.script(module)


def vit_encoder_config(encoder):
    """(num_heads, window sizes per block (0 = global), LayerNorm eps) when `encoder` is
    segment_anything's ImageEncoderViT (vit_b/l/h), which sam_image_encoder computes; None for
    any other encoder."""
    try:
        blocks = list(encoder.blocks)
        attention = blocks[0].attn
        if not (hasattr(encoder, "neck") and hasattr(encoder, "patch_embed") and encoder.pos_embed is not None
                and all(b.attn.use_rel_pos for b in blocks)):
            return None
        return int(attention.num_heads), [int(b.window_size) for b in blocks], float(blocks[0].norm1.eps)
    except (AttributeError, IndexError, TypeError):
        return None


def build_image_encoder(torch, sam, example, kind):
    """(module, kind): samcli's encoder (sam_image_encoder.py) scripted with the official weights, or
    the official module traced where `kind` asks for it or the architecture is not ImageEncoderViT."""
    config = vit_encoder_config(sam.image_encoder) if kind == "samcli" else None
    if config is None:
        if kind == "samcli":
            log("%s is not segment_anything's ImageEncoderViT: tracing the official module"
                % type(sam.image_encoder).__name__)
        return torch.jit.trace(sam.image_encoder, example, check_trace=False), "traced"
    from sam_image_encoder import SamImageEncoder
    heads, windows, eps = config
    return torch.jit.script(SamImageEncoder(sam.state_dict(), heads, windows, eps).eval()), "samcli"


def check_image_encoder(torch, sam, encoder, example, embedding_shape):
    """(max |diff|, max |diff| / max |official|) of `encoder` (as saved) against the official module
    on `example`; raises ExportError past ENCODER_CHECK_RTOL, on another shape than the official one
    or on an embedding the decoder does not take ([C, H, W] = embedding_shape)."""
    # Unoptimised, as samcli runs it: the optimising executor would unroll the scripted encoder's
    # loops and spend minutes on its first call.
    with torch.jit.optimized_execution(False):
        got = encoder(example)
    want = sam.image_encoder(example)
    if got.shape != want.shape:
        raise ExportError("exported image_encoder returned %s, official %s" % (tuple(got.shape), tuple(want.shape)))
    if tuple(got.shape[1:]) != tuple(embedding_shape):
        raise ExportError("image_encoder output %s does not match the decoder's %s"
                          % (tuple(got.shape), tuple(embedding_shape)))
    diff = (got - want).abs().max().item()
    relative = diff / max(want.abs().max().item(), 1e-30)
    if not relative <= ENCODER_CHECK_RTOL:
        raise ExportError("exported image_encoder disagrees with the official module (max |diff| %.3g, "
                          "%.3g of the embedding's scale)" % (diff, relative))
    return diff, relative


# ---------------------------------------------------------------------------------- helpers
def sha256_file(path, chunk=1 << 22):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def f32_list(t):
    """Float32 tensor -> shortest decimals that read back as the same float32 (123.675, not
    123.67500305175781): the C++ side parses them into floats."""
    import numpy as np
    return [float(repr(np.float32(v))) for v in t.detach().cpu().flatten().tolist()]


def load_sam(sa, torch, model_type, checkpoint):
    """Builds the official architecture and loads the checkpoint onto the CPU, in eval mode.

    map_location is why this does not pass checkpoint= to the registry: the official builder calls
    torch.load without it, which fails on machines without CUDA for GPU-saved checkpoints."""
    sam = sa.sam_model_registry[model_type](checkpoint=None)
    try:
        state = torch.load(checkpoint, map_location="cpu")
    except Exception as e:
        raise ExportError("cannot read checkpoint %s: %s" % (checkpoint, str(e).splitlines()[0]))
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]  # training-loop checkpoints wrap the weights
    if not isinstance(state, dict):
        raise ExportError("checkpoint %s holds a %s, not a state_dict" % (checkpoint, type(state).__name__))
    expected = sam.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    resized = [k for k in expected if k in state and tuple(getattr(state[k], "shape", ())) != tuple(expected[k].shape)]
    if missing or unexpected or resized:
        parts = ["%d %s (e.g. %s)" % (len(keys), what, keys[0])
                 for what, keys in (("missing", missing), ("unexpected", unexpected), ("differently shaped", resized))
                 if keys]
        raise ExportError("checkpoint %s does not fit the %s architecture (wrong --model-type?): %s tensors"
                          % (checkpoint, model_type, ", ".join(parts)))
    sam.load_state_dict(state, strict=True)
    return sam.eval()


def check_attention_bias_caches(torch, sam):
    """MobileSAM's TinyViT attention caches attention_biases[:, attention_bias_idxs] in the buffer `ab`
    when it is switched to eval mode, and uses the cache in eval mode; the trace records `ab`. A cache
    made before the checkpoint was loaded would export the initial biases, and the encoder check
    would not see it (the eager model uses the same cache), so compare every cache with its biases."""
    for name, m in sam.named_modules():
        if all(hasattr(m, a) for a in ("ab", "attention_biases", "attention_bias_idxs")):
            if not torch.equal(m.ab, m.attention_biases[:, m.attention_bias_idxs]):
                raise ExportError("%s: the cached attention biases (ab) are not the checkpoint's attention_biases; "
                                  "the model must be switched to eval mode after loading" % name)


def random_prompts(torch, gen, batch, npoints, with_box, with_mask, size, low_res):
    """Random prompts in the resized frame, as official arguments and as the samcli point sequence.

    Returns (official_kwargs, coords [B,N,2], labels [B,N], mask_input [B,1,L,L], has_mask [1]) with
    L = low_res."""
    nreal = npoints - (2 if with_box else 1)
    pts = torch.rand(batch, nreal, 2, generator=gen) * size
    lbl = (torch.rand(batch, nreal, generator=gen) < 0.6).float()  # mix of fg (1) and bg (0)
    mask = torch.randn(batch, 1, low_res, low_res, generator=gen) * 5.0
    if with_box:
        xy0 = torch.rand(batch, 2, generator=gen) * size * 0.6
        xy1 = xy0 + 16 + torch.rand(batch, 2, generator=gen) * size * 0.4
        box = torch.cat([xy0, xy1], dim=1)
        coords = torch.cat([pts, box.reshape(batch, 2, 2)], dim=1)
        labels = torch.cat([lbl, torch.tensor([[2.0, 3.0]]).expand(batch, 2)], dim=1)
    else:
        box = None
        coords = torch.cat([pts, torch.zeros(batch, 1, 2)], dim=1)
        labels = torch.cat([lbl, -torch.ones(batch, 1)], dim=1)
    official = {"points": (pts, lbl) if nreal > 0 else None, "boxes": box,
                "masks": mask if with_mask else None}
    has = torch.tensor([1.0 if with_mask else 0.0])
    return official, coords, labels, mask if with_mask else torch.zeros_like(mask), has


def check_prompt_decoder(torch, sam, decoder, batches=CHECK_BATCHES, npoints=CHECK_POINTS, seed=0):
    """Compares `decoder` (as saved) with the eager official prompt_encoder + mask_decoder for every
    (B, N), with and without box / mask input, on random embeddings and prompts. The reference is
    MaskDecoder.predict_masks, i.e. all four planes, of which MaskDecoder.forward returns [1:4]
    (multimask) or [0:1] (single). forward() runs the decoder's prepare, decode and upscale methods.
    Returns the largest absolute difference over masks and IoU predictions; raises ExportError above
    CHECK_ATOL or on a shape mismatch."""
    gen = torch.Generator().manual_seed(seed)
    dense_pe = sam.prompt_encoder.get_dense_pe()
    emb_shape = (1,) + tuple(dense_pe.shape[1:])
    size = float(sam.prompt_encoder.input_image_size[0])
    worst = 0.0
    for b in batches:
        for n in npoints:
            for with_box in (False, True):
                for with_mask in (False, True):
                    if with_mask and b > 3:
                        continue  # mask_downscaling is batch-independent; keep the check quick
                    emb = torch.randn(*emb_shape, generator=gen)
                    official, coords, labels, mask, has = random_prompts(
                        torch, gen, b, n, with_box, with_mask, size, 4 * emb_shape[2])
                    masks, iou = decoder(emb, coords, labels, mask, has)
                    sparse, dense = sam.prompt_encoder(**official)
                    ref_m, ref_i = sam.mask_decoder.predict_masks(emb, dense_pe, sparse, dense)
                    if masks.shape != ref_m.shape or iou.shape != ref_i.shape:
                        raise ExportError("exported prompt decoder returned %s/%s for B=%d N=%d, official %s/%s"
                                          % (tuple(masks.shape), tuple(iou.shape), b, n,
                                             tuple(ref_m.shape), tuple(ref_i.shape)))
                    diff = max((masks - ref_m).abs().max().item(), (iou - ref_i).abs().max().item())
                    worst = max(worst, diff)
                    if diff > CHECK_ATOL:
                        raise ExportError("exported prompt decoder disagrees with the official modules for B=%d "
                                          "N=%d box=%s mask=%s (max |diff| %.3g)" % (b, n, with_box, with_mask, diff))
    return worst


# ---------------------------------------------------------------------------------- export
def export(args):
    args.package = package_for(args.model_type, args.package)
    official = args.package == DEFAULT_PACKAGE
    if official and args.model_type not in MODEL_TYPES:
        raise ExportError("unknown --model-type %r (expected one of %s)" % (args.model_type, ", ".join(MODEL_TYPES)))
    if not os.path.isfile(args.checkpoint):
        raise ExportError("checkpoint not found: %s (download links: weights/README.md)" % args.checkpoint)
    out = os.path.abspath(args.out)
    if os.path.exists(out) and not args.force:
        raise ExportError("%s already exists (use --force to replace it)" % out)

    torch = import_torch()
    sa = import_sam_package(args.package)
    if not official and args.model_type not in sa.sam_model_registry:
        raise ExportError("unknown --model-type %r for %s (its registry has %s)"
                          % (args.model_type, args.package, ", ".join(sorted(sa.sam_model_registry))))
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
    torch.set_num_threads(args.threads if args.threads > 0 else (os.cpu_count() or 1))

    t0 = time.time()
    log("hashing %s" % args.checkpoint)
    digest = sha256_file(args.checkpoint)
    known = OFFICIAL_CHECKPOINTS.get(digest)
    if known and known[0] != args.model_type:
        raise ExportError("%s is the official %s checkpoint (%s), not %s"
                          % (args.checkpoint, known[0], known[1], args.model_type))
    log("sha256 %s (%s)" % (digest, "official " + known[1] if known else "not an official release"))

    log("loading %s weights" % args.model_type)
    sam = load_sam(sa, torch, args.model_type, args.checkpoint)
    check_attention_bias_caches(torch, sam)
    image_size = int(sam.prompt_encoder.input_image_size[0])  # the padded square the encoder takes

    def populate(tmp):
        with torch.no_grad():
            gen = torch.Generator().manual_seed(0)
            x = torch.randn(1, 3, image_size, image_size, generator=gen)

            t = time.time()
            encoder, encoder_kind = build_image_encoder(torch, sam, x, args.image_encoder)
            encoder_file = os.path.join(tmp, "image_encoder.pt")
            torch.jit.save(encoder, encoder_file)
            log("image_encoder (%s) written in %.1f s" % (encoder_kind, time.time() - t))

            t = time.time()
            emb_shape = tuple(int(v) for v in sam.prompt_encoder.get_dense_pe().shape[1:])  # (C, H, W)
            low_res = 4 * emb_shape[1]
            log("scripting prompt_decoder")
            decoder_file = os.path.join(tmp, "prompt_decoder.pt")
            torch.jit.save(build_prompt_decoder(torch, sam), decoder_file)
            log("prompt_decoder scripted in %.1f s" % (time.time() - t))

            # Check the file as saved, i.e. what LibTorch will load.
            t = time.time()
            decoder = torch.jit.load(decoder_file)
            log("checking prompt_decoder against the official modules (B in %s, N in %s)"
                % (list(args.check_batches), list(CHECK_POINTS)))
            worst = check_prompt_decoder(torch, sam, decoder, batches=args.check_batches)
            log("prompt_decoder ok: max |diff| %.3g (%.1f s)" % (worst, time.time() - t))

            if not args.skip_encoder_check:
                t = time.time()
                log("checking image_encoder against the official module (two forward passes)")
                diff, relative = check_image_encoder(torch, sam, torch.jit.load(encoder_file), x, emb_shape)
                log("image_encoder ok: max |diff| %.3g, relative %.3g (%.1f s)" % (diff, relative, time.time() - t))

        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "model_type": args.model_type,
            "image_size": image_size,
            "pixel_mean": f32_list(sam.pixel_mean),
            "pixel_std": f32_list(sam.pixel_std),
            "mask_threshold": float(sam.mask_threshold),
            "embedding_shape": list(emb_shape),
            "low_res_mask_size": low_res,
            "files": {"image_encoder": "image_encoder.pt", "prompt_decoder": "prompt_decoder.pt"},
            "image_encoder_graph": encoder_kind,
            "source_checkpoint": os.path.basename(args.checkpoint),
            "checkpoint_sha256": digest,
            "torch_version": torch.__version__,
            "exported_by": "samcli weights/export_sam.py",
        }
        write_manifest(os.path.join(tmp, "manifest.json"), manifest)

    write_model_dir(out, populate, force=args.force)
    log("wrote %s in %.1f s" % (out, time.time() - t0))
    return out


def batch_list(text):
    """'1,3,16' -> (1, 3, 16), for argparse."""
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        values = ()
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("expected positive integers separated by commas, got %r" % text)
    return values




def parse_args(argv):
    ap = argparse.ArgumentParser(description="Export an official SAM checkpoint to a samcli model directory "
                                             "(docs/model-format.md).")
    ap.add_argument("--model-type", required=True, help="vit_b, vit_l, vit_h or vit_t (MobileSAM; must match the "
                    "checkpoint); with --package, a key of that package's sam_model_registry")
    ap.add_argument("--checkpoint", required=True, help="official .pth file, e.g. sam_vit_b_01ec64.pth or "
                    "mobile_sam.pt")
    ap.add_argument("--out", required=True, help="model directory to create, e.g. weights/sam_vit_b")
    ap.add_argument("--package", default=None,
                    help="Python package providing sam_model_registry (default: mobile_sam for vit_t, "
                    "segment_anything otherwise)")
    ap.add_argument("--force", action="store_true", help="replace --out if it exists")
    ap.add_argument("--skip-encoder-check", action="store_true",
                    help="do not re-run the exported image encoder against the official one")
    ap.add_argument("--image-encoder", choices=("samcli", "traced"), default="samcli",
                    help="samcli: samcli's own encoder for vit_b/l/h (about 2x faster, same embedding to "
                    "~1e-6), other encoders traced; traced: the official module traced as it is (default: samcli)")
    ap.add_argument("--check-batches", type=batch_list, default=CHECK_BATCHES, metavar="B1,B2,...",
                    help="batch sizes for the prompt decoder check (default: %s)"
                    % ",".join(map(str, CHECK_BATCHES)))
    ap.add_argument("--threads", type=int, default=0, help="CPU threads for PyTorch (default: all cores)")
    return ap.parse_args(argv)


def main(argv=None):
    return run_main("export_sam", parse_args, export, argv)


if __name__ == "__main__":
    sys.exit(main())
