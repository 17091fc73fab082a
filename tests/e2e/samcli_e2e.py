"""Shared helpers for the end-to-end tests: run a built tool, make synthetic scenes with known
shapes, read the outputs back (PNG masks, JSON, COCO RLE) and measure them.

Environment (set by CTest): SAMCLI_BIN_DIR (built tools), SAMCLI_FIXTURES (generated fixture models).
"""
import json
import os
import subprocess
import tempfile
import unittest

import numpy as np
from PIL import Image

BIN_DIR = os.environ.get("SAMCLI_BIN_DIR", "")
FIXTURES = os.environ.get("SAMCLI_FIXTURES", "")
SAM_FIXTURE = os.path.join(FIXTURES, "sam_fixture")

GREY = (128, 128, 128)
RED = (230, 30, 30)
BLUE = (30, 60, 220)


def run_tool(tool, *args, check=True, stdin=None, env=None):
    """Runs a built tool; returns CompletedProcess (text mode). check=True asserts exit code 0."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run([os.path.join(BIN_DIR, tool), *map(str, args)], capture_output=True, text=True,
                          input=stdin, env=full_env, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError("%s exited %d\nstdout: %s\nstderr: %s" % (tool, proc.returncode, proc.stdout, proc.stderr))
    return proc


def disk_mask(h, w, cx, cy, r):
    yy, xx = np.mgrid[0:h, 0:w]
    return (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r


def rect_mask(h, w, x0, y0, x1, y1):
    """Inclusive-exclusive pixel rectangle [x0,x1) x [y0,y1)."""
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m


def paint(h, w, shapes, background=GREY):
    """shapes: list of (bool mask, rgb). Returns HxWx3 uint8."""
    img = np.zeros((h, w, 3), np.uint8)
    img[:] = background
    for mask, colour in shapes:
        img[mask] = colour
    return img


def two_shape_scene():
    """640x480: a red disk (centre 200,240, r 80) and a blue rectangle x 400..560, y 150..330."""
    h, w = 480, 640
    disk = disk_mask(h, w, 200, 240, 80)
    rect = rect_mask(h, w, 400, 150, 560, 330)
    return paint(h, w, [(disk, RED), (rect, BLUE)]), {"disk": disk, "rect": rect}


def save_png(img, path):
    Image.fromarray(img).save(path)
    return path


def read_mask(path):
    return np.array(Image.open(path)) > 0


def iou(a, b):
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else np.logical_and(a, b).sum() / union


def rle_counts_from_string(s):
    """pycocotools' rleFrString: the compressed COCO counts string -> run lengths."""
    counts, p = [], 0
    while p < len(s):
        x, k, more = 0, 0, True
        while more:
            c = ord(s[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def rle_decode(segmentation):
    """COCO RLE (compressed string or list counts) -> HxW bool, column-major as pycocotools."""
    h, w = segmentation["size"]
    counts = segmentation["counts"]
    if isinstance(counts, str):
        counts = rle_counts_from_string(counts)
    flat = np.zeros(h * w, bool)
    pos, value = 0, False
    for c in counts:
        flat[pos:pos + c] = value
        pos += c
        value = not value
    assert pos == h * w, "RLE covers %d of %d pixels" % (pos, h * w)
    return flat.reshape(w, h).T


def rle_counts_to_string(counts):
    """pycocotools' rleToString: run lengths -> the compressed COCO counts string."""
    chars = []
    for i, x in enumerate(counts):
        if i > 2:
            x -= counts[i - 2]
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = x != -1 if c & 0x10 else x != 0
            if more:
                c |= 0x20
            chars.append(chr(c + 48))
    return "".join(chars)


def rle_encode(mask, compressed=True):
    """HxW bool -> COCO RLE {"size", "counts"}, column-major as pycocotools."""
    h, w = mask.shape
    flat = mask.T.reshape(-1).astype(np.int8)
    changes = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        counts.insert(0, 0)
    return {"size": [h, w], "counts": rle_counts_to_string(counts) if compressed else counts}


def bbox_xywh(mask):
    """Official convention: [x_min, y_min, x_max - x_min, y_max - y_min]."""
    ys, xs = np.nonzero(mask)
    return [int(xs.min()), int(ys.min()), int(xs.max() - xs.min()), int(ys.max() - ys.min())]


class ToolTestCase(unittest.TestCase):
    """A test case with a fresh temporary directory in self.tmp."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="samcli-e2e-")
        self.tmp = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def load_json(self, *parts):
        with open(self.path(*parts)) as f:
            return json.load(f)

    def assert_one_line_error(self, proc, *needles):
        """Non-zero exit, one error line on stderr naming what is wrong, nothing on stdout."""
        self.assertNotEqual(proc.returncode, 0, proc.stderr)
        lines = [l for l in proc.stderr.splitlines() if l.strip()]
        errors = [l for l in lines if ": error: " in l]
        self.assertEqual(len(errors), 1, proc.stderr)
        self.assertNotIn("terminate called", proc.stderr)
        self.assertNotIn("Traceback", proc.stderr)
        for needle in needles:
            self.assertIn(needle, errors[0])
        self.assertEqual(proc.stdout, "")

    def assert_no_partial_outputs(self, out_dir):
        """Nothing left behind but complete per-image folders (no temp files or folders)."""
        if not os.path.exists(out_dir):
            return
        for root, dirs, files in os.walk(out_dir):
            for name in dirs + files:
                self.assertNotIn(".tmp-", name, os.path.join(root, name))

    def check_record_schema(self, rec, image_hw):
        for key in ("area", "bbox", "predicted_iou", "stability_score", "point_coords", "box", "crop_box",
                    "segmentation"):
            self.assertIn(key, rec)
        self.assertEqual(rec["segmentation"]["size"], list(image_hw))
        mask = rle_decode(rec["segmentation"])
        self.assertEqual(int(mask.sum()), rec["area"])
        if rec["area"]:
            self.assertEqual(bbox_xywh(mask), rec["bbox"])
        return mask
