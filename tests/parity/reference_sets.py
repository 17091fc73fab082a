"""The reference sets of tests/data/reference/out/: which official code and stand-in made them, and
where their files are. compare_predictor.py and compare_amg.py pick one with --reference-set, or from
the model_type in the manifest of the model they test (a vit_t export is compared with MobileSAM's).

  sam         facebookresearch/segment-anything, vit_b stand-in (make_random_sam.py):
              out/<image>/*.json
  mobile_sam  ChaoningZhang/MobileSAM, vit_t stand-in (make_random_mobile_sam.py):
              out/<image>/mobile_sam/*.json
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.environ.get("SAMCLI_REFERENCE_DATA", os.path.join(HERE, "..", "data", "reference"))
SKIP = 77  # CTest's and automake's "skipped" exit code


class ReferenceSet:
    def __init__(self, name, subfolder, package, model_type):
        self.name = name
        self.subfolder = subfolder    # below out/<image>/
        self.package = package        # the official Python package (live runs)
        self.model_type = model_type  # its sam_model_registry key

    def directory(self, reference, image):
        return os.path.join(reference, "out", image, self.subfolder)


SETS = {s.name: s for s in (ReferenceSet("sam", "", "segment_anything", "vit_b"),
                            ReferenceSet("mobile_sam", "mobile_sam", "mobile_sam", "vit_t"))}


def for_model(model_dir):
    """The set made by the official code of the model's type: mobile_sam for vit_t, else sam."""
    try:
        with open(os.path.join(model_dir, "manifest.json")) as f:
            model_type = json.load(f).get("model_type")
    except (OSError, ValueError):
        model_type = None
    return SETS["mobile_sam"] if model_type == "vit_t" else SETS["sam"]


def choose(name, model_dir):
    """--reference-set NAME, or the model's set when NAME is empty."""
    return SETS[name] if name else for_model(model_dir)


def add_argument(ap):
    ap.add_argument("--reference-set", choices=sorted(SETS), default="",
                    help="reference outputs to compare with (default: from the model's model_type; "
                    "vit_t -> mobile_sam, else sam)")


class Run:
    """What a comparison runs: the model under test, the reference set and the tools' folder."""

    def __init__(self, model, reference_set, bin_dir):
        self.model = model
        self.reference_set = reference_set
        self.bin_dir = bin_dir


def start(args):
    """The run from SAMCLI_PARITY_MODEL, --reference-set and SAMCLI_BIN_DIR, announced on stdout;
    None (after saying why) when no model is given, so the caller exits with SKIP."""
    model = os.environ.get("SAMCLI_PARITY_MODEL")
    if not model or not os.path.isdir(REFERENCE):
        print("skipped: set SAMCLI_PARITY_MODEL to a stand-in export (tests/data/README.md says how to make one)")
        return None
    ref_set = choose(args.reference_set, model)
    print("reference set %s (official %s %s)" % (ref_set.name, ref_set.package, ref_set.model_type))
    bin_dir = os.environ.get("SAMCLI_BIN_DIR", os.path.join(HERE, "..", "..", "build", "apps"))
    return Run(model, ref_set, bin_dir)
