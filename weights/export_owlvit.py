#!/usr/bin/python3
"""Export a Hugging Face OWL-ViT checkpoint to a samcli detector directory (for text-sam).

    /usr/bin/python3 weights/export_owlvit.py                  # google/owlvit-base-patch32
    /usr/bin/python3 weights/export_owlvit.py --model google/owlvit-base-patch16
    /usr/bin/python3 weights/export_owlvit.py --model google/owlvit-large-patch14   # 840 px input

The directory follows docs/model-format.md (section "OWL-ViT detector"):

  manifest.json   format "samcli-owlvit" v1: input size, normalisation and tokenizer ids, all read
                  from the Hugging Face processor and config
  detector.pt     TorchScript: (input_ids int64 [Q,L], attention_mask int64 [Q,L],
                  pixel_values float32 [1,3,S,S]) -> (logits float32 [1,P,Q],
                  pred_boxes float32 [1,P,4], (cx, cy, w, h) normalised to 0..1)
  merges.txt      the tokenizer's BPE merges, as Hugging Face saves them

(L = 16; S = 768 for the base models, 840 for large-patch14; P = (S / patch)^2.)

The model comes from Hugging Face `transformers` (OwlViTForObjectDetection, OwlViTProcessor):
imported, never copied. --model takes a hub name or a local directory saved with
save_pretrained(); without network access, point it at such a directory. Export with the PyTorch
whose LibTorch runs the files (Debian: python3-torch with libtorch-dev, both 1.13) and a
transformers release that supports that PyTorch.

After tracing (with Q = 2 queries), the saved file is run again for other query counts and another
image and compared with the eager model, so a trace that froze Q fails the export rather than
samcli. The tokenizer vocabulary rebuilt from the written merges the way CLIP's simple_tokenizer
builds it must equal the Hugging Face vocabulary, id for id: that is what samcli's C++ tokenizer
reads.

Importing this file needs neither torch nor transformers: tests/fixtures/make_owlvit_fixture.py
reuses its manifest, directory and interface-check helpers, so the fixture keeps the contract.
"""
import argparse
import gzip
import os
import sys
import time
import warnings

from export_common import ExportError, logger, run_main, write_manifest, write_model_dir

FORMAT = "samcli-owlvit"
FORMAT_VERSION = 1
DEFAULT_MODEL = "google/owlvit-base-patch32"
DETECTOR_FILE = "detector.pt"
MERGES_FILE = "merges.txt"
MERGE_COUNT = 49152 - 256 - 2  # simple_tokenizer reads merge lines 1..48894
PIL_BICUBIC = 3
TRACE_QUERIES = ["a photo of a cat", "a photo of a dog"]
CHECK_QUERIES = (["a red car"], ["a person", "a bicycle", "a traffic light", "a dog on a sofa"])
CHECK_ATOL_LOGITS = 1e-3  # logits span about -20..+10; a different graph is off by far more
CHECK_ATOL_BOXES = 1e-4


log = logger("export_owlvit")


# ------------------------------------------------------------------ helpers shared with the fixture
def read_merges(path):
    """The merge pairs simple_tokenizer uses from a merges file (CLIP's .txt.gz or a plain .txt):
    the header line is skipped, then MERGE_COUNT lines."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        lines = f.read().decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1:MERGE_COUNT + 1]]
    if len(merges) != MERGE_COUNT or any(len(m) != 2 for m in merges):
        raise ExportError("%s is not a CLIP BPE merges file (%d merge lines, expected %d)"
                          % (path, len(merges), MERGE_COUNT))
    return merges


def byte_characters():
    """CLIP's bytes_to_unicode table, in its order: printable Latin-1 bytes map to themselves, the
    others to U+0100 onwards."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1))
                 + list(range(ord("\u00ae"), ord("\u00ff") + 1)))
    chars = [chr(b) for b in printable]
    extra = 0
    for b in range(256):
        if b not in printable:
            chars.append(chr(256 + extra))
            extra += 1
    return chars


def clip_vocabulary(merges):
    """token -> id, built as simple_tokenizer builds it (and samcli's ClipTokenizer::fromBpeFile):
    byte characters, the same with '</w>', one entry per merge, then the two special tokens."""
    chars = byte_characters()
    vocab = chars + [c + "</w>" for c in chars] + ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    return {token: i for i, token in enumerate(vocab)}


def build_manifest(model_type, image_size, image_mean, image_std, max_text_length, bos_id, eos_id, pad_id,
                   merges_file=MERGES_FILE, **provenance):
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_type": model_type,
        "image_size": int(image_size),
        "image_mean": [float(v) for v in image_mean],
        "image_std": [float(v) for v in image_std],
        "max_text_length": int(max_text_length),
        "bos_id": int(bos_id),
        "eos_id": int(eos_id),
        "pad_id": int(pad_id),
        "files": {"detector": DETECTOR_FILE, "bpe_merges": merges_file},
    }
    manifest.update(provenance)
    return manifest




def interface_inputs(torch, manifest, queries):
    """Inputs of the documented interface for `queries` rows of arbitrary ids: [bos, id, eos, pad...]."""
    length = manifest["max_text_length"]
    ids = torch.full((queries, length), manifest["pad_id"], dtype=torch.int64)
    mask = torch.zeros((queries, length), dtype=torch.int64)
    for q in range(queries):
        ids[q, :3] = torch.tensor([manifest["bos_id"], 320 + q, manifest["eos_id"]])
        mask[q, :3] = 1
    size = manifest["image_size"]
    return ids, mask, torch.zeros(1, 3, size, size)


def check_interface(torch, detector, manifest, query_counts=(1, 3)):
    """Runs a loaded detector.pt with several query counts and checks the documented output shapes,
    dtypes and ranges. Returns P (boxes per image)."""
    patches = None
    for q in query_counts:
        with torch.no_grad():
            out = detector(*interface_inputs(torch, manifest, q))
        if not isinstance(out, tuple) or len(out) != 2:
            raise ExportError("detector returned %s, expected (logits, pred_boxes)" % type(out).__name__)
        logits, boxes = out
        p = boxes.shape[1] if boxes.dim() == 3 else -1
        if (logits.dtype != torch.float32 or boxes.dtype != torch.float32 or tuple(logits.shape) != (1, p, q)
                or tuple(boxes.shape) != (1, p, 4) or (patches is not None and p != patches)):
            raise ExportError("detector returned logits %s %s and pred_boxes %s %s for Q=%d; expected float32 "
                              "[1,P,%d] and [1,P,4]" % (tuple(logits.shape), logits.dtype, tuple(boxes.shape),
                                                        boxes.dtype, q, q))
        if not bool(torch.isfinite(logits).all()) or not bool(((boxes >= 0) & (boxes <= 1)).all()):
            raise ExportError("detector returned non-finite logits or boxes outside 0..1 for Q=%d" % q)
        patches = p
    return patches


# ------------------------------------------------------------------ Hugging Face export
def import_modules():
    try:
        import torch
    except ImportError as e:
        raise ExportError("cannot import torch (%s); on Debian run this script with /usr/bin/python3 "
                          "after `apt-get install python3-torch`" % e)
    try:
        import transformers
    except ImportError as e:
        raise ExportError("cannot import transformers (%s); install it with `pip install transformers` "
                          "(a release that supports torch %s)" % (e, torch.__version__))
    return torch, transformers


def load_owlvit(transformers, name):
    try:
        processor = transformers.OwlViTProcessor.from_pretrained(name)
        model = transformers.OwlViTForObjectDetection.from_pretrained(name)
    except (OSError, ValueError) as e:
        raise ExportError("cannot load OWL-ViT %r: %s" % (name, str(e).strip().splitlines()[0]))
    return processor, model.eval()


def square_side(size, what):
    """The side of a square size setting (an int, {"height","width"} or (h, w)); other forms are
    not a fixed square resize and cannot be reproduced by samcli."""
    if isinstance(size, int):
        return size
    if isinstance(size, dict) and "height" in size and "width" in size:
        h, w = size["height"], size["width"]
    elif isinstance(size, (list, tuple)) and len(size) == 2:
        h, w = size
    else:
        raise ExportError("processor %s %r is not a fixed square size" % (what, size))
    if h != w:
        raise ExportError("processor %s is %dx%d; samcli expects a square input" % (what, w, h))
    return int(h)


def preprocessing(processor, config):
    """(image_size, image_mean, image_std) of OwlViTImageProcessor, checked to be the pipeline
    samcli implements: PIL bicubic resize to SxS (aspect not kept), x/255, (x - mean) / std."""
    ip = getattr(processor, "image_processor", None) or processor.feature_extractor
    if not getattr(ip, "do_resize", True):
        raise ExportError("the processor does not resize; samcli always resizes to the model's input size")
    side = square_side(ip.size, "size")
    if getattr(ip, "do_center_crop", False) and square_side(ip.crop_size, "crop_size") != side:
        raise ExportError("the processor center-crops to a size other than its resize; not supported")
    if int(getattr(ip, "resample", PIL_BICUBIC)) != PIL_BICUBIC:
        raise ExportError("the processor resamples with PIL filter %s; samcli implements bicubic (3)" % ip.resample)
    if getattr(ip, "do_rescale", True) and abs(getattr(ip, "rescale_factor", 1 / 255) - 1 / 255) > 1e-12:
        raise ExportError("the processor rescales by %r; samcli implements 1/255" % ip.rescale_factor)
    if not getattr(ip, "do_rescale", True) or not getattr(ip, "do_normalize", True):
        raise ExportError("the processor skips rescaling or normalisation; samcli always applies both")
    if config.vision_config.image_size != side:
        raise ExportError("the processor resizes to %d but the vision model expects %d"
                          % (side, config.vision_config.image_size))
    return side, list(ip.image_mean), list(ip.image_std)


def export_merges(tokenizer, tmp):
    """Writes merges.txt into tmp and checks that the CLIP vocabulary rebuilt from it is the
    tokenizer's vocabulary id for id."""
    saved = tokenizer.save_vocabulary(tmp)
    merges_path = next((p for p in saved if os.path.basename(p) == MERGES_FILE), None)
    if merges_path is None:
        raise ExportError("the tokenizer saved %s but no %s" % ([os.path.basename(p) for p in saved], MERGES_FILE))
    for p in saved:
        if p != merges_path:
            os.remove(p)
    rebuilt = clip_vocabulary(read_merges(merges_path))
    hf = tokenizer.get_vocab()
    if rebuilt != hf:
        differ = sorted(set(rebuilt.items()) ^ set(hf.items()), key=lambda kv: kv[1])[:3]
        raise ExportError("the tokenizer's vocabulary (%d entries) is not CLIP's BPE vocabulary rebuilt from its "
                          "merges (%d entries; first differences %s): samcli would tokenize differently"
                          % (len(hf), len(rebuilt), differ))


def text_inputs(tokenizer, queries, length):
    enc = tokenizer(queries, padding="max_length", max_length=length, truncation=True, return_tensors="pt")
    return enc["input_ids"], enc["attention_mask"]


def image_inputs(processor, seed):
    import numpy as np
    from PIL import Image
    rgb = np.random.default_rng(seed).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    return processor(images=Image.fromarray(rgb), return_tensors="pt")["pixel_values"]


def make_detector_class(torch):
    """Defined inside a function so that importing this file does not need torch."""

    class Detector(torch.nn.Module):
        """OwlViTForObjectDetection behind the documented tensor interface."""

        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, pixel_values):
            out = self.model(input_ids=input_ids, pixel_values=pixel_values, attention_mask=attention_mask,
                             return_dict=True)
            return out.logits, out.pred_boxes

    return Detector


def check_against_eager(torch, traced, model, tokenizer, processor, length):
    """Max |diff| of the saved trace against the eager model, for query counts other than the
    traced one and another image."""
    worst = (0.0, 0.0)
    pixels = image_inputs(processor, seed=1)
    for queries in CHECK_QUERIES:
        ids, mask = text_inputs(tokenizer, queries, length)
        with torch.no_grad():
            got_logits, got_boxes = traced(ids, mask, pixels)
            want = model(input_ids=ids, pixel_values=pixels, attention_mask=mask, return_dict=True)
        if got_logits.shape != want.logits.shape or got_boxes.shape != want.pred_boxes.shape:
            raise ExportError("traced detector returned %s/%s for Q=%d, eager %s/%s: the trace froze a shape"
                              % (tuple(got_logits.shape), tuple(got_boxes.shape), len(queries),
                                 tuple(want.logits.shape), tuple(want.pred_boxes.shape)))
        diff = ((got_logits - want.logits).abs().max().item(), (got_boxes - want.pred_boxes).abs().max().item())
        if diff[0] > CHECK_ATOL_LOGITS or diff[1] > CHECK_ATOL_BOXES:
            raise ExportError("traced detector disagrees with the eager model for Q=%d (max |diff| logits %.3g, "
                              "boxes %.3g)" % (len(queries), diff[0], diff[1]))
        worst = (max(worst[0], diff[0]), max(worst[1], diff[1]))
    return worst


def default_out(model):
    base = os.path.basename(os.path.normpath(model))
    return os.path.join("weights", base if base.startswith("owlvit") else "owlvit-" + base)


def export(args):
    torch, transformers = import_modules()
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
    torch.set_num_threads(args.threads if args.threads > 0 else (os.cpu_count() or 1))
    out = args.out or default_out(args.model)
    # write_model_dir checks this too, but only after minutes of loading and tracing.
    if os.path.exists(out) and not args.force:
        raise ExportError("%s already exists (use --force to replace it)" % os.path.abspath(out))

    t0 = time.time()
    log("loading %s" % args.model)
    processor, model = load_owlvit(transformers, args.model)
    config = model.config
    tokenizer = processor.tokenizer
    image_size, image_mean, image_std = preprocessing(processor, config)
    length = int(config.text_config.max_position_embeddings)
    manifest = build_manifest(
        os.path.basename(os.path.normpath(args.model)), image_size, image_mean, image_std, length,
        tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id,
        source_model=args.model, transformers_version=transformers.__version__, torch_version=torch.__version__,
        exported_by="samcli weights/export_owlvit.py")
    log("input %dx%d, mean %s, std %s, text length %d, bos/eos/pad %d/%d/%d"
        % (image_size, image_size, image_mean, image_std, length, manifest["bos_id"], manifest["eos_id"],
           manifest["pad_id"]))

    def populate(tmp):
        export_merges(tokenizer, tmp)
        log("wrote %s (vocabulary matches the tokenizer's, %d entries)" % (MERGES_FILE, len(tokenizer.get_vocab())))
        t = time.time()
        ids, mask = text_inputs(tokenizer, TRACE_QUERIES, length)
        with torch.no_grad():
            traced = torch.jit.trace(make_detector_class(torch)(model).eval(),
                                     (ids, mask, image_inputs(processor, seed=0)), check_trace=False)
        path = os.path.join(tmp, DETECTOR_FILE)
        torch.jit.save(traced, path)
        log("traced %s in %.1f s" % (DETECTOR_FILE, time.time() - t))
        # Check the file as saved, i.e. what LibTorch will load.
        t = time.time()
        saved = torch.jit.load(path)
        diff = check_against_eager(torch, saved, model, tokenizer, processor, length)
        patches = check_interface(torch, saved, manifest)
        log("%s ok: %d boxes per image; max |diff| to eager: logits %.3g, boxes %.3g (%.1f s)"
            % (DETECTOR_FILE, patches, diff[0], diff[1], time.time() - t))
        write_manifest(os.path.join(tmp, "manifest.json"), manifest)

    path = write_model_dir(out, populate, force=args.force)
    log("wrote %s in %.1f s" % (path, time.time() - t0))
    return path


def parse_args(argv):
    ap = argparse.ArgumentParser(description="Export a Hugging Face OWL-ViT checkpoint to a samcli detector "
                                             "directory for text-sam (docs/model-format.md).")
    ap.add_argument("--model", default=DEFAULT_MODEL,
                    help="hub name or local save_pretrained() directory (default %s; also "
                         "google/owlvit-base-patch16, google/owlvit-large-patch14)" % DEFAULT_MODEL)
    ap.add_argument("--out", help="directory to create (default weights/owlvit-<name>, e.g. "
                                  "weights/owlvit-base-patch32, which text-sam finds as --detector-model base-patch32)")
    ap.add_argument("--force", action="store_true", help="replace --out if it exists")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads for PyTorch (default: all cores)")
    return ap.parse_args(argv)


def main(argv=None):
    return run_main("export_owlvit", parse_args, export, argv)


if __name__ == "__main__":
    sys.exit(main())
