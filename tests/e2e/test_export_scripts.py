"""The export scripts in weights/: a missing Python package is one line naming it and how to install
it (exit 1), never a traceback, and nothing is written; and export_sam.py run end to end on the
stand-in segment_anything package of standins/ (plain SAM prompt encoder and mask decoder, small),
whose export the tools then run, compared with that package's own answers."""
import json
import os
import shutil
import subprocess
import sys
import unittest

import numpy as np
import torch
import torch.nn.functional as F

from samcli_e2e import ToolTestCase, iou, read_mask, rle_decode, run_tool, save_png

HERE = os.path.dirname(os.path.abspath(__file__))
WEIGHTS = os.path.join(HERE, "..", "..", "weights")
STANDINS = os.path.join(HERE, "standins")


class MissingPackageTest(ToolTestCase):
    def test_transformers_without_tokenizers_is_one_line(self):
        # A transformers that imports but lacks its tokenizers back-end, as a partial pip install leaves
        # it: the failure surfaces only when the processor is built.
        os.makedirs(self.path("site", "transformers"))
        with open(self.path("site", "transformers", "__init__.py"), "w") as f:
            f.write("def __getattr__(name):\n"
                    "    raise ModuleNotFoundError(\"No module named 'tokenizers'\", name='tokenizers')\n")
        env = dict(os.environ, PYTHONPATH=self.path("site"))
        proc = subprocess.run(["/usr/bin/python3", os.path.join(WEIGHTS, "export_owlvit.py"), "--out",
                               self.path("owlvit")], capture_output=True, text=True, env=env)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertNotIn("Traceback", proc.stderr)
        errors = [l for l in proc.stderr.splitlines() if ": error: " in l]
        self.assertEqual(errors, ["export_owlvit: error: the Python package 'tokenizers' is missing (No module named "
                                  "'tokenizers'); install it with `pip install tokenizers`"])
        self.assertEqual(proc.stdout, "")
        self.assertEqual(os.listdir(self.tmp), ["site"])

    def test_missing_sam_package_names_it(self):
        env = {k: v for k, v in os.environ.items() if k != "SAM_REPO"}
        env["PYTHONPATH"] = self.tmp  # nothing named segment_anything there
        with open(self.path("ckpt.pth"), "wb") as f:
            f.write(b"not used")
        proc = subprocess.run(["/usr/bin/python3", os.path.join(WEIGHTS, "export_sam.py"), "--model-type", "vit_b",
                               "--checkpoint", self.path("ckpt.pth"), "--out", self.path("sam")],
                              capture_output=True, text=True, env=env)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertNotIn("Traceback", proc.stderr)
        self.assertIn("export_sam: error: cannot import segment_anything", proc.stderr)
        self.assertFalse(os.path.exists(self.path("sam")))


class SamExportTest(ToolTestCase):
    """export_sam.py on the stand-in package: a format-2 directory whose fast decoder the exporter
    checked against the plain modules; sam-point's scores and masks equal the plain modules'; format 1
    (forward() of the same file) and format 2 (prepare/decode/upscale, masks only for the prompts
    kept) give byte-identical sam-amg and session outputs."""

    def setUp(self):
        super().setUp()
        sys.path.insert(0, STANDINS)
        import segment_anything
        self.standin = segment_anything
        sys.path.remove(STANDINS)
        checkpoint = self.path("standin.pth")
        segment_anything.random_checkpoint(checkpoint)
        self.model = self.path("model")
        self.export = subprocess.run(["/usr/bin/python3", os.path.join(WEIGHTS, "export_sam.py"), "--model-type", "vit_b",
                                      "--checkpoint", checkpoint, "--out", self.model, "--threads", "1"],
                                     capture_output=True, text=True, env=dict(os.environ, SAM_REPO=STANDINS))
        self.assertEqual(self.export.returncode, 0, self.export.stderr)
        self.sam = segment_anything.sam_model_registry["vit_b"](checkpoint).eval()
        rng = np.random.default_rng(0)
        img = np.zeros((64, 64, 3), np.uint8)
        img[:] = (40, 90, 200)
        img[10:40, 12:44] = (220, 40, 40)
        img[45:60, 5:30] = (30, 200, 60)
        self.rgb = (img.astype(int) + rng.integers(-10, 10, img.shape)).clip(0, 255).astype(np.uint8)
        self.image = save_png(self.rgb, self.path("scene.png"))

    def format_1_copy(self):
        old = self.path("model_v1")
        shutil.copytree(self.model, old)
        with open(os.path.join(old, "manifest.json")) as f:
            manifest = json.load(f)
        manifest["format_version"] = 1
        with open(os.path.join(old, "manifest.json"), "w") as f:
            json.dump(manifest, f)
        return old

    def test_export_writes_format_2_checked_against_the_plain_modules(self):
        manifest = self.load_json("model", "manifest.json")
        self.assertEqual((manifest["format_version"], manifest["embedding_shape"], manifest["low_res_mask_size"]),
                         (2, [32, 16, 16], 64))
        checked = [l for l in self.export.stderr.splitlines() if "prompt_decoder ok: max |diff|" in l]
        self.assertEqual(len(checked), 1, self.export.stderr)
        self.assertLess(float(checked[0].split("|diff| ")[1].split()[0]), 1e-5)

    def test_sam_point_gives_the_plain_modules_scores_and_masks(self):
        run_tool("sam-point", self.image, "--point", "20,30", "--model", self.model, "-o", self.path("out"), "-q")
        records = self.load_json("out", "scene", "masks.json")["masks"]
        sam = self.sam
        with torch.no_grad():
            # 64x64 is the model's input size: no resize, no padding.
            x = (torch.tensor(self.rgb, dtype=torch.float32).permute(2, 0, 1) - sam.pixel_mean) / sam.pixel_std
            embedding = sam.image_encoder(x.unsqueeze(0))
            sparse, dense = sam.prompt_encoder(points=(torch.tensor([[[20.0, 30.0]]]), torch.tensor([[1.0]])),
                                               boxes=None, masks=None)
            low, iou = sam.mask_decoder.predict_masks(embedding, sam.prompt_encoder.get_dense_pe(), sparse, dense)
            masks = F.interpolate(low[:, 1:], (64, 64), mode="bilinear", align_corners=False)[0] > 0
        self.assertEqual(len(records), 3)
        for k, rec in enumerate(records):
            self.assertAlmostEqual(rec["predicted_iou"], iou[0, 1 + k].item(), delta=1e-4)
            mine = read_mask(self.path("out", "scene", "%d.png" % k))
            want = masks[k].numpy()
            self.assertGreater(want.sum(), 0)
            self.assertGreaterEqual((mine & want).sum() / (mine | want).sum(), 0.99)

    def test_format_1_and_format_2_give_the_same_outputs(self):
        old = self.format_1_copy()
        # 64 points: with this threshold some candidates are kept and some dropped before any mask is
        # computed, so format 2 upscales only part of each batch.
        amg = ["--points-per-side", "8", "--pred-iou-thresh", "0.3", "--stability-score-thresh", "0",
               "--box-nms-thresh", "1", "-q"]
        run_tool("sam-amg", self.image, "--model", self.model, "-o", self.path("amg2"), *amg)
        run_tool("sam-amg", self.image, "--model", old, "-o", self.path("amg1"), *amg)
        kept = self.load_json("amg2", "scene", "masks.json")["masks"]
        self.assertTrue(0 < len(kept) < 64 * 3, len(kept))
        # Equal up to float rounding: format 2 decodes a few prompts at a time, format 1 all 64 at once.
        self.assert_same_records(self.load_json("amg1", "scene", "masks.json")["masks"], kept)
        # A session refining with the previous logits: the mask-input path of both formats.
        lines = ('{"image": "%s", "points": [[20, 30]]}\n'
                 '{"points": [[20, 30], [50, 10]], "labels": [1, 0], "refine": true}\n' % self.image)
        outputs = []
        for model in (self.model, old):
            proc = run_tool("sam-point", "--session", "--model", model, stdin=lines)
            outputs.append([json.loads(l) for l in proc.stdout.splitlines()])
        self.assertEqual([len(answer["masks"]) for answer in outputs[0]], [3, 1])
        for mine, theirs in zip(*outputs):
            self.assert_same_records(theirs["masks"], mine["masks"])

    def assert_same_records(self, expected, actual):
        self.assertEqual(len(actual), len(expected))
        for want, got in zip(expected, actual):
            for key in ("predicted_iou", "stability_score"):
                self.assertAlmostEqual(got[key], want[key], delta=1e-5)
            self.assertGreaterEqual(iou(rle_decode(got["segmentation"]), rle_decode(want["segmentation"])), 0.99)


if __name__ == "__main__":
    unittest.main()
