"""The official segment_anything beside samcli in the benchmarks: a checkout named by
SAM_REFERENCE_DIR and the checkpoint the measured model directory was exported from. Never
committed or downloaded; without both the benchmarks report samcli's figures alone."""
import os
import sys


def add_arguments(ap):
    ap.add_argument("--checkpoint", help="the checkpoint MODEL_DIR was exported from (with SAM_REFERENCE_DIR: "
                    "the official code is timed in the same run)")
    ap.add_argument("--model-type", default="vit_b")


def requested(args):
    """Whether the official code is to be run: SAM_REFERENCE_DIR and --checkpoint both given (saying
    why not when only one of the two is)."""
    reference = os.environ.get("SAM_REFERENCE_DIR")
    if reference and args.checkpoint:
        return True
    if reference or args.checkpoint:
        print("official comparison needs both SAM_REFERENCE_DIR and --checkpoint", file=sys.stderr)
    return False


def predictor(args):
    """The official SamPredictor for --checkpoint, or None without both SAM_REFERENCE_DIR and
    --checkpoint."""
    if not requested(args):
        return None
    reference = os.environ["SAM_REFERENCE_DIR"]
    import torch
    sys.path.insert(0, reference)
    from segment_anything import SamPredictor, sam_model_registry
    sam = sam_model_registry[args.model_type]()
    sam.load_state_dict(torch.load(args.checkpoint, map_location="cpu"))
    return SamPredictor(sam.eval())
