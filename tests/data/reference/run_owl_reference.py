#!/usr/bin/python3
"""Makes tests/data/reference/owl/*.json: Hugging Face's own OWLv2 / OWL-ViT pipeline on the
stand-in detectors of tests/fixtures/make_owl_standin.py, for tests/e2e/test_text_sam_parity.py.

    TRANSFORMERS_SRC=/path/to/transformers/src /usr/bin/python3 tests/data/reference/run_owl_reference.py

TRANSFORMERS_SRC is the `src` folder of a Hugging Face transformers checkout (v4.40.2 here), imported
through tests/parity/hf_transformers.py (stubs for the hub and tokenizer packages detection does not
use). Needs python3-scipy (Owlv2ImageProcessor's resize). Without TRANSFORMERS_SRC it says so and
exits 77 (skipped).

Per stand-in and image (astronaut 512x512, coffee 600x400 wide, coffee_portrait 1000x1500 tall): the
processor (Owlv2ImageProcessor / OwlViTImageProcessor with the stand-in's input size), the model with
the stand-in's weights, and
  text   model(input_ids, attention_mask, pixel_values) + post_process_object_detection; token rows
         from tests/data/clip/clip_token_cases.json (openai/CLIP's tokenizer, as the processor's);
         target size (H, W) for OWL-ViT, (max, max) for OWLv2 (boxes are relative to the padded square)
  image  image_guided_detection with another image file as the example + post_process_image_guided_detection
  box    the same with a box of the image itself cut out as the example
Thresholds are put midway between two neighbouring scores near rank 12, so rounding cannot move a box
across them. Each file records the boxes (XYXY pixels, unclipped), sigmoid scores, labels,
objectness (OWLv2) and the image-guided relative scores.
"""
import json
import os
import sys

import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(REPO, "tests", "fixtures"))
sys.path.insert(0, os.path.join(REPO, "tests", "parity"))
import make_owl_standin as standins  # noqa: E402

IMAGES = ["astronaut", "coffee", "coffee_portrait"]
EXAMPLE_IMAGE = {"astronaut": "coffee", "coffee": "astronaut", "coffee_portrait": "astronaut"}
QUERY_BOX = {"astronaut": [160, 40, 330, 250], "coffee": [150, 60, 460, 330], "coffee_portrait": [300, 350, 760, 1150]}
TEXTS = ["dog", "pepperoni pizza slice", "person wearing a hat"]
RANK = 12


def token_rows():
    with open(os.path.join(REPO, "tests", "data", "clip", "clip_token_cases.json")) as f:
        cases = {c["text"]: c for c in json.load(f)["cases"]}
    ids = torch.tensor([cases[t]["input_ids"] for t in TEXTS], dtype=torch.int64)
    mask = torch.tensor([cases[t]["attention_mask"] for t in TEXTS], dtype=torch.int64)
    return ids, mask


def hf_model(transformers, name, state):
    prefix, c, _ = standins.STANDINS[name]
    kind = "Owlv2" if prefix == "owlv2." else "OwlViT"
    text = dict(vocab_size=c.vocab_size, hidden_size=c.text_width, intermediate_size=c.text_mlp,
                num_hidden_layers=c.text_layers, num_attention_heads=c.text_heads,
                max_position_embeddings=c.max_text_length, layer_norm_eps=c.text_eps)
    vision = dict(hidden_size=c.vision_width, intermediate_size=c.vision_mlp, num_hidden_layers=c.vision_layers,
                  num_attention_heads=c.vision_heads, image_size=c.image_size, patch_size=c.patch_size,
                  layer_norm_eps=c.vision_eps)
    config = getattr(transformers, kind + "Config")(text_config=text, vision_config=vision,
                                                     projection_dim=c.projection_dim)
    model = getattr(transformers, kind + "ForObjectDetection")(config).eval()
    missing, unexpected = model.load_state_dict(state, strict=False)
    unused = {prefix + "visual_projection.weight", prefix + "logit_scale"}
    if set(missing) - unused or unexpected:
        raise SystemExit("stand-in weights do not fit %s: missing %s, unexpected %s" % (kind, missing, unexpected))
    if kind == "Owlv2":
        processor = transformers.Owlv2ImageProcessor(size={"height": c.image_size, "width": c.image_size})
    else:
        processor = transformers.OwlViTImageProcessor(size={"height": c.image_size, "width": c.image_size},
                                                      crop_size={"height": c.image_size, "width": c.image_size})
    return model, processor, kind == "Owlv2"


def load(name):
    return Image.open(os.path.join(HERE, "images", name + ".png")).convert("RGB")


def midway_threshold(scores):
    ranked = sorted(scores, reverse=True)
    for k in range(RANK, len(ranked) - 1):
        if ranked[k - 1] - ranked[k] > 1e-4:
            return float((ranked[k - 1] + ranked[k]) / 2)
    raise SystemExit("no score gap for a threshold")


def records(boxes, scores, labels, objectness, relative=None):
    out = []
    for i in range(len(scores)):
        r = {"box": [float(v) for v in boxes[i]], "score": float(scores[i]), "label": int(labels[i])}
        if objectness is not None:
            r["objectness"] = float(objectness[i])
        if relative is not None:
            r["relative_score"] = float(relative[i])
        out.append(r)
    return out


def text_case(model, processor, padded, image, ids, mask):
    pixels = processor(images=image, return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        outputs = model(input_ids=ids, attention_mask=mask, pixel_values=pixels)
    w, h = image.size
    target = torch.tensor([[max(w, h), max(w, h)]] if padded else [[h, w]])
    all_scores = torch.sigmoid(outputs.logits[0].max(dim=-1).values)
    threshold = midway_threshold(all_scores.tolist())
    result = processor.post_process_object_detection(outputs, threshold=threshold, target_sizes=target)[0]
    keep = all_scores > threshold
    objectness = torch.sigmoid(outputs.objectness_logits[0][keep]) if padded else None
    return threshold, records(result["boxes"], result["scores"], result["labels"], objectness)


def guided_case(model, processor, padded, image, example):
    # What Owlv2Processor / OwlViTProcessor(images=..., query_images=...) give: both through the image processor.
    pixels = processor(images=image, return_tensors="pt")["pixel_values"]
    query = processor(images=example, return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        outputs = model.image_guided_detection(pixel_values=pixels, query_pixel_values=query)
        objectness_logits = model.objectness_predictor(outputs.image_embeds.reshape(1, -1, outputs.image_embeds.shape[-1])) \
            if padded else None
    w, h = image.size
    target = torch.tensor([[max(w, h), max(w, h)]] if padded else [[h, w]])
    scores = torch.sigmoid(outputs.logits[0].max(dim=-1).values)
    # The threshold: midway in the scores NMS keeps (HF's own loop, on a copy).
    kept = scores.clone()
    boxes = outputs.target_pred_boxes[0]
    corners = torch.cat([boxes[:, :2] - boxes[:, 2:] / 2, boxes[:, :2] + boxes[:, 2:] / 2], dim=-1)
    for i in torch.argsort(-kept):
        if not kept[i]:
            continue
        lt = torch.max(corners[i, :2], corners[:, :2])
        rb = torch.min(corners[i, 2:], corners[:, 2:])
        inter = (rb - lt).clamp(min=0).prod(dim=-1)
        area = (corners[:, 2:] - corners[:, :2]).prod(dim=-1)
        iou = inter / (area[i] + area - inter)
        iou[i] = -1.0
        kept[iou > 0.3] = 0.0
    threshold = midway_threshold([s for s in kept.tolist() if s > 0])
    result = processor.post_process_image_guided_detection(outputs, threshold=threshold, nms_threshold=0.3,
                                                           target_sizes=target)[0]
    scale = target[0].flip(0).repeat(2).to(torch.float32)
    all_boxes = torch.cat([boxes[:, :2] - boxes[:, 2:] / 2, boxes[:, :2] + boxes[:, 2:] / 2], dim=-1) * scale
    index = [int(torch.nonzero((all_boxes == b).all(dim=-1))[0]) for b in result["boxes"]]
    objectness = torch.sigmoid(objectness_logits[0][index]) if padded else None
    return threshold, records(result["boxes"], scores[index], [0] * len(index), objectness, result["scores"])


def main():
    src = os.environ.get("TRANSFORMERS_SRC")
    if not src:
        print("run_owl_reference: set TRANSFORMERS_SRC to a transformers checkout's src folder; skipped", file=sys.stderr)
        return 77
    from hf_transformers import import_transformers
    transformers = import_transformers(src)
    torch.set_num_threads(2)
    out_dir = os.path.join(HERE, "owl")
    os.makedirs(out_dir, exist_ok=True)
    ids, mask = token_rows()
    for name in standins.STANDINS:
        _, state, _, _, _ = standins.build(name)
        model, processor, padded = hf_model(transformers, name, state)
        for image_name in IMAGES:
            image = load(image_name)
            base = {"standin": name, "recipe": standins.RECIPE, "state_dict_sha256": standins.state_digest(state),
                    "transformers_version": transformers.__version__, "torch_version": torch.__version__,
                    "image": image_name + ".png"}
            cases = {}
            threshold, found = text_case(model, processor, padded, image, ids, mask)
            cases["text"] = dict(base, kind="text", queries=TEXTS, threshold=threshold, detections=found)
            example = EXAMPLE_IMAGE[image_name] + ".png"
            threshold, found = guided_case(model, processor, padded, image, load(EXAMPLE_IMAGE[image_name]))
            cases["image"] = dict(base, kind="image", query_image=example, threshold=threshold, detections=found)
            x0, y0, x1, y1 = QUERY_BOX[image_name]
            threshold, found = guided_case(model, processor, padded, image, image.crop((x0, y0, x1, y1)))
            cases["box"] = dict(base, kind="box", query_box=[x0, y0, x1, y1], threshold=threshold, detections=found)
            for kind, case in cases.items():
                path = os.path.join(out_dir, "%s_%s_%s.json" % (name, image_name, kind))
                with open(path, "w") as f:
                    json.dump(case, f, indent=1)
                print("run_owl_reference: %s: %d detections above %.6f" % (os.path.relpath(path, REPO),
                                                                          len(case["detections"]), case["threshold"]),
                      file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
