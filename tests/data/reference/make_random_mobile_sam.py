#!/usr/bin/python3
"""Build a random-weight MobileSAM (vit_t) with the official MobileSAM code and save it.

The MobileSAM counterpart of make_random_sam.py: a seeded random initialisation of the *same
architecture* as mobile_sam.pt (TinyViT image encoder, SAM's prompt encoder and mask decoder),
adjusted so that every code path carries non-trivial values. Everything is deterministic.

Recipe (version "mobile-seed0-v1"):
  1. torch.manual_seed(0); sam = sam_model_registry['vit_t'](checkpoint=None)
     (the official constructor's own init; timm's trunc_normal_ or its stand-in, same draws).
  2. Coverage perturbation, torch.Generator seeded 1, in this order:
       a. for (name, param) in sam.named_parameters() order:
            *.attention_biases <- N(0, 0.3^2)   (official init is all zeros; TinyViT gathers them
                                                 per head through attention_bias_idxs)
       b. every nn.LayerNorm and LayerNorm2d (both classes: mobile_sam.modeling.common's and
          tiny_vit_sam's) in sam.named_modules() order: weight <- 1 + 0.1*N(0,1); bias <- 0.1*N(0,1)
       c. every nn.BatchNorm2d in sam.named_modules() order (TinyViT's Conv2d_BN; eval mode uses
          the running statistics): weight <- 1 + 0.1*N, bias <- 0.1*N, running_mean <- 0.1*N,
          running_var <- exp(0.2*N)   (init 1 / 0 / 0 / 1; MBConv's last BN even starts at weight 0,
          which would switch the whole residual branch off)
  3. The mask decoder's de-degeneration of make_random_sam.py, unchanged (no random draws).
  4. sam.eval() only now: TinyViT's Attention caches attention_biases[:, idxs] as the buffer `ab`
     when switched to eval mode, so eval() must follow the perturbation (as loading a checkpoint
     and then calling eval(), the official usage, does).

Outputs (under .cache/ next to this script, git-ignored):
  mobile_sam_seed0.pth    state_dict used by every MobileSAM reference output
  mobile_sam_seed0.json   recipe, tensor list, per-tensor sha256, totals

Usage:  MOBILE_SAM_REPO=/tmp/MobileSAM /usr/bin/python3 tests/data/reference/make_random_mobile_sam.py
Without timm, weights/timm_standin.py (this repository) provides the four helpers TinyViT imports.
"""
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_random_sam import CACHE, perturb_layer_norms, undegenerate_mask_decoder  # noqa: E402
import state_dict_digest  # noqa: E402

RECIPE = "mobile-seed0-v1"
CHECKPOINT = os.path.join(CACHE, "mobile_sam_seed0.pth")
WEIGHTS_DIR = os.path.join(HERE, "..", "..", "..", "weights")


def import_mobile_sam():
    repo = os.environ.get("MOBILE_SAM_REPO", "/tmp/MobileSAM")
    if repo not in sys.path:
        sys.path.insert(0, repo)
    sys.path.insert(0, os.path.abspath(WEIGHTS_DIR))
    import timm_standin
    timm_standin.install()  # only acts when timm is not importable
    import mobile_sam  # noqa: F401
    return mobile_sam


def build_raw():
    ms = import_mobile_sam()
    torch.manual_seed(0)
    return ms.sam_model_registry["vit_t"](checkpoint=None)


@torch.no_grad()
def apply_recipe(sam):
    from mobile_sam.modeling.common import LayerNorm2d
    from mobile_sam.modeling.tiny_vit_sam import LayerNorm2d as TinyLayerNorm2d

    g = torch.Generator().manual_seed(1)
    for name, p in sam.named_parameters():  # 2a
        if name.endswith("attention_biases"):
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    perturb_layer_norms(sam, g, (torch.nn.LayerNorm, LayerNorm2d, TinyLayerNorm2d))  # 2b
    for _, m in sam.image_encoder.named_modules():  # 2c
        if isinstance(m, torch.nn.Linear):
            m.weight.mul_(4.0)
    norms = [m for _, m in sam.named_modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in norms:  # 2d
        m.weight.copy_(1.0 + 0.1 * torch.randn(m.weight.shape, generator=g))
        m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
    # 2e. running statistics of a smooth random batch, as training would leave them
    images = torch.nn.functional.interpolate(
        torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(2)), size=(1024, 1024),
        mode="bilinear", align_corners=False)
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average: one batch -> exactly its statistics
    sam.image_encoder.train()
    sam.image_encoder(images)
    for m in norms:
        m.momentum = 0.1
        m.num_batches_tracked.zero_()
    undegenerate_mask_decoder(sam.mask_decoder)  # 3
    return sam.eval()  # 4


def build_model():
    """The model every MobileSAM reference output uses (raw seed-0 init + recipe)."""
    return apply_recipe(build_raw())


def load_model(path=None):
    ms = import_mobile_sam()
    sam = ms.sam_model_registry["vit_t"](checkpoint=path or CHECKPOINT)
    return sam.eval()


def main():
    os.makedirs(CACHE, exist_ok=True)
    sam = build_model()
    sd = sam.state_dict()
    torch.save(sd, CHECKPOINT)

    # reload through the official checkpoint path: same tensors, same encoder output
    sam2 = load_model(CHECKPOINT)
    for k, v in sam2.state_dict().items():
        assert torch.equal(v, sd[k]), k
    x = torch.randn(1, 3, 1024, 1024, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        emb = sam.image_encoder(x)
        assert torch.equal(emb, sam2.image_encoder(x)), "reloaded encoder differs"

    state_dict_sha256, tensors = state_dict_digest.digest(sd)
    meta = {
        "recipe": RECIPE,
        "torch": torch.__version__,
        "timm": "stand-in (weights/timm_standin.py)" if getattr(sys.modules.get("timm"), "__samcli_standin__", False)
        else getattr(sys.modules.get("timm"), "__version__", "?"),
        "num_tensors": len(sd),
        "num_params": int(sum(p.numel() for p in sam.parameters())),
        "state_dict_sha256": state_dict_sha256,
        "note": state_dict_digest.NOTE,
        "encoder_output_on_randn_seed2": {"mean": float(emb.mean()), "std": float(emb.std())},
        "tensors": tensors,
    }
    with open(os.path.join(CACHE, "mobile_sam_seed0.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print("saved", CHECKPOINT, "params", meta["num_params"], "sha256", meta["state_dict_sha256"])


if __name__ == "__main__":
    main()
