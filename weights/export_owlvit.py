#!/usr/bin/python3
"""Export a Hugging Face OWL-ViT or OWLv2 checkpoint to a samcli detector directory (for text-sam).

    /usr/bin/python3 weights/export_owlvit.py                  # google/owlvit-base-patch32
    /usr/bin/python3 weights/export_owlvit.py --model google/owlvit-base-patch16
    /usr/bin/python3 weights/export_owlvit.py --model google/owlvit-large-patch14   # 840 px input
    /usr/bin/python3 weights/export_owlvit.py --model google/owlv2-base-patch16-ensemble  # 960 px, padded

The directory follows docs/model-format.md (section "OWL-ViT and OWLv2 detectors"):

  manifest.json   format "samcli-owlvit" v2: input size, preprocessing ("stretch" for OWL-ViT,
                  "pad_square" for OWLv2), objectness, normalisation and tokenizer ids, all read
                  from the Hugging Face processor and config
  detector.pt     TorchScript of samcli's OWL module (owl_detector.py) with the checkpoint's weights:
                  image_features, boxes, objectness, embed_text, embed_query_image, classify
  merges.txt      the tokenizer's BPE merges, as Hugging Face saves them

The model comes from Hugging Face `transformers` (OwlViTForObjectDetection / Owlv2ForObjectDetection
and their processors): imported, never copied; samcli's module reads its parameters by name.
--model takes a hub name or a local directory saved with save_pretrained(); without network
access, point it at such a directory. Export with the PyTorch whose LibTorch runs the files
(Debian: python3-torch with libtorch-dev, both 1.13) and a transformers release that supports it.

The saved file is loaded again and compared with the eager Hugging Face model on random images:
text detection for two query counts (logits, boxes, OWLv2's objectness) and image_guided_detection
(the example embedding it chooses, scored on the image). The tokenizer vocabulary rebuilt from the
written merges the way CLIP's simple_tokenizer builds it must equal the Hugging Face vocabulary, id
for id: that is what samcli's C++ tokenizer reads.

Importing this file needs neither torch nor transformers: the test fixtures reuse its manifest,
directory and interface-check helpers, so they keep the contract.
"""
import argparse
import gzip
import os
import sys
import time

from export_common import ExportError, logger, run_main, write_manifest, write_model_dir

FORMAT = "samcli-owlvit"
FORMAT_VERSION = 2
DEFAULT_MODEL = "google/owlvit-base-patch32"
DETECTOR_FILE = "detector.pt"
MERGES_FILE = "merges.txt"
MERGE_COUNT = 49152 - 256 - 2  # simple_tokenizer reads merge lines 1..48894
PIL_BICUBIC = 3
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
                   merges_file=MERGES_FILE, format_version=FORMAT_VERSION, preprocessing="stretch", objectness=False,
                   **provenance):
    """The manifest; format 1 (a forward() detector, the test fixture's) has no preprocessing or
    objectness fields."""
    manifest = {
        "format": FORMAT,
        "format_version": format_version,
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
    if format_version >= 2:
        manifest["preprocessing"] = preprocessing
        manifest["objectness"] = bool(objectness)
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


def load_detector(transformers, name):
    """(processor, model, is_owlv2) of an OWL-ViT or OWLv2 checkpoint, told apart by its config."""
    try:
        kind = transformers.AutoConfig.from_pretrained(name).model_type
        if kind not in ("owlvit", "owlv2"):
            raise ExportError("%r is a %s checkpoint, not OWL-ViT or OWLv2" % (name, kind))
        prefix = "Owlv2" if kind == "owlv2" else "OwlViT"
        processor = getattr(transformers, prefix + "Processor").from_pretrained(name)
        model = getattr(transformers, prefix + "ForObjectDetection").from_pretrained(name)
    except (OSError, ValueError) as e:
        raise ExportError("cannot load OWL-ViT/OWLv2 %r: %s" % (name, str(e).strip().splitlines()[0]))
    return processor, model.eval(), kind == "owlv2"


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


def preprocessing(processor, config, owlv2):
    """(image_size, image_mean, image_std, kind) of the image processor, checked to be a pipeline
    samcli implements: OwlViTImageProcessor's PIL bicubic resize to SxS (aspect not kept, "stretch")
    or Owlv2ImageProcessor's padding to a square and anti-aliased resize ("pad_square"); then x/255,
    (x - mean) / std."""
    ip = getattr(processor, "image_processor", None) or processor.feature_extractor
    if not getattr(ip, "do_resize", True):
        raise ExportError("the processor does not resize; samcli always resizes to the model's input size")
    side = square_side(ip.size, "size")
    if owlv2:
        if not getattr(ip, "do_pad", True):
            raise ExportError("the OWLv2 processor does not pad to a square; samcli implements the padded pipeline")
    else:
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
    return side, list(ip.image_mean), list(ip.image_std), "pad_square" if owlv2 else "stretch"


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


def build_detector(torch, model, owlv2):
    """samcli's OWL module (owl_detector.py) with the checkpoint's weights, scripted."""
    import owl_detector
    try:
        config = owl_detector.Config.from_hf(model.config, objectness=owlv2)
        module = owl_detector.OwlDetector(config)
        owl_detector.load_hf_state_dict(module, model.state_dict(), "owlv2." if owlv2 else "owlvit.")
    except (KeyError, ValueError) as e:
        raise ExportError("cannot build samcli's detector from this checkpoint: %s" % e)
    return torch.jit.script(module.eval())


def check_against_eager(torch, saved, model, tokenizer, processor, length, owlv2):
    """Max |diff| of the saved module against the eager Hugging Face model: text detection for two
    query counts (logits, boxes and OWLv2's objectness) and image-guided detection (logits of the
    chosen example embedding, target boxes), on random images."""
    worst = {"logits": 0.0, "boxes": 0.0, "objectness": 0.0, "guided": 0.0}
    pixels = image_inputs(processor, seed=1)
    with torch.no_grad():
        feats = saved.image_features(pixels)
        boxes = saved.boxes(feats)
        for queries in CHECK_QUERIES:
            ids, mask = text_inputs(tokenizer, queries, length)
            logits = saved.classify(feats, saved.embed_text(ids, mask))
            want = model(input_ids=ids, pixel_values=pixels, attention_mask=mask, return_dict=True)
            if logits.shape != want.logits.shape or boxes.shape != want.pred_boxes.shape:
                raise ExportError("detector returned %s/%s for Q=%d, eager %s/%s"
                                  % (tuple(logits.shape), tuple(boxes.shape), len(queries),
                                     tuple(want.logits.shape), tuple(want.pred_boxes.shape)))
            worst["logits"] = max(worst["logits"], (logits - want.logits).abs().max().item())
            worst["boxes"] = max(worst["boxes"], (boxes - want.pred_boxes).abs().max().item())
            if owlv2:
                worst["objectness"] = max(worst["objectness"],
                                          (saved.objectness(feats) - want.objectness_logits).abs().max().item())
        query = image_inputs(processor, seed=2)
        embedding, _, _ = saved.embed_query_image(query)
        want = model.image_guided_detection(pixel_values=pixels, query_pixel_values=query, return_dict=True)
        worst["guided"] = (saved.classify(feats, embedding) - want.logits).abs().max().item()
        worst["boxes"] = max(worst["boxes"], (boxes - want.target_pred_boxes).abs().max().item())
    if max(worst["logits"], worst["objectness"], worst["guided"]) > CHECK_ATOL_LOGITS or worst["boxes"] > CHECK_ATOL_BOXES:
        raise ExportError("samcli's detector disagrees with the eager model (max |diff| logits %.3g, boxes %.3g, "
                          "objectness %.3g, image-guided logits %.3g)"
                          % (worst["logits"], worst["boxes"], worst["objectness"], worst["guided"]))
    return worst


def default_out(model):
    base = os.path.basename(os.path.normpath(model))
    return os.path.join("weights", base if base.startswith(("owlvit", "owlv2")) else "owlvit-" + base)


def export(args):
    torch, transformers = import_modules()
    torch.set_num_threads(args.threads if args.threads > 0 else (os.cpu_count() or 1))
    out = args.out or default_out(args.model)
    # write_model_dir checks this too, but only after minutes of loading and tracing.
    if os.path.exists(out) and not args.force:
        raise ExportError("%s already exists (use --force to replace it)" % os.path.abspath(out))

    t0 = time.time()
    log("loading %s" % args.model)
    processor, model, owlv2 = load_detector(transformers, args.model)
    config = model.config
    tokenizer = processor.tokenizer
    image_size, image_mean, image_std, kind = preprocessing(processor, config, owlv2)
    length = int(config.text_config.max_position_embeddings)
    manifest = build_manifest(
        os.path.basename(os.path.normpath(args.model)), image_size, image_mean, image_std, length,
        tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id, preprocessing=kind, objectness=owlv2,
        source_model=args.model, transformers_version=transformers.__version__, torch_version=torch.__version__,
        exported_by="samcli weights/export_owlvit.py")
    log("%s: input %dx%d (%s), mean %s, std %s, text length %d, bos/eos/pad %d/%d/%d"
        % ("OWLv2" if owlv2 else "OWL-ViT", image_size, image_size, kind, image_mean, image_std, length,
           manifest["bos_id"], manifest["eos_id"], manifest["pad_id"]))

    def populate(tmp):
        export_merges(tokenizer, tmp)
        log("wrote %s (vocabulary matches the tokenizer's, %d entries)" % (MERGES_FILE, len(tokenizer.get_vocab())))
        t = time.time()
        path = os.path.join(tmp, DETECTOR_FILE)
        torch.jit.save(build_detector(torch, model, owlv2), path)
        log("scripted samcli's detector into %s in %.1f s" % (DETECTOR_FILE, time.time() - t))
        # Check the file as saved, i.e. what LibTorch will load.
        t = time.time()
        diff = check_against_eager(torch, torch.jit.load(path), model, tokenizer, processor, length, owlv2)
        log("%s ok: max |diff| to eager: logits %.3g, boxes %.3g, objectness %.3g, image-guided logits %.3g (%.1f s)"
            % (DETECTOR_FILE, diff["logits"], diff["boxes"], diff["objectness"], diff["guided"], time.time() - t))
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
