"""The export scripts in weights/: a missing Python package is one line naming it and how to install
it (exit 1), never a traceback, and nothing is written; and export_sam.py run end to end on the
stand-in segment_anything package of standins/ (plain SAM prompt encoder and mask decoder, small),
whose export the tools then run, compared with that package's own answers; --model-type vit_t
(MobileSAM) with a stand-in mobile_sam package and the timm stand-in."""
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

# What MobileSAM's mobile_sam/modeling/tiny_vit_sam.py imports from timm, word for word, in a package
# that otherwise only has a registry: the exporter must find it by --model-type vit_t alone.
FAKE_MOBILE_SAM = """
from timm.models.layers import DropPath as TimmDropPath, to_2tuple, trunc_normal_
from timm.models.registry import register_model
import torch


class DropPath(TimmDropPath):
    pass


class TinySam(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.tiny_vit_weight = torch.nn.Parameter(trunc_normal_(torch.empty(to_2tuple(2)), std=0.02))


sam_model_registry = {"vit_t": register_model(lambda checkpoint=None: TinySam())}
"""


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

    def test_export_writes_samcli_image_encoder_checked_against_the_plain_vit(self):
        self.assertEqual(self.load_json("model", "manifest.json")["image_encoder_graph"], "samcli")
        checked = [l for l in self.export.stderr.splitlines() if "image_encoder ok: max |diff|" in l]
        self.assertEqual(len(checked), 1, self.export.stderr)
        self.assertLess(float(checked[0].split("relative ")[1].split()[0]), 1e-5)
        # The scripted module, run as samcli runs it, against the plain encoder on another image.
        x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(1)) * 2
        with torch.no_grad(), torch.jit.optimized_execution(False):
            got = torch.jit.load(self.path("model", "image_encoder.pt"))(x)
            want = self.sam.image_encoder(x)
        self.assertLess((got - want).abs().max().item() / want.abs().max().item(), 1e-5)

    def test_traced_image_encoder_gives_the_same_masks(self):
        traced = self.path("model_traced")
        proc = subprocess.run(["/usr/bin/python3", os.path.join(WEIGHTS, "export_sam.py"), "--model-type", "vit_b",
                               "--checkpoint", self.path("standin.pth"), "--out", traced, "--threads", "1",
                               "--image-encoder", "traced"],
                              capture_output=True, text=True, env=dict(os.environ, SAM_REPO=STANDINS))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(self.load_json("model_traced", "manifest.json")["image_encoder_graph"], "traced")
        outputs = []
        for model, out in ((self.model, "samcli"), (traced, "traced")):
            run_tool("sam-point", self.image, "--point", "20,30", "--model", model, "-o", self.path(out), "-q")
            outputs.append(self.load_json(out, "scene", "masks.json")["masks"])
        self.assert_same_records(*outputs)

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


class MobileSamExportTest(ToolTestCase):
    """--model-type vit_t without the official MobileSAM code: a stand-in mobile_sam package with
    TinyViT's timm imports shows which package, which checkout and which timm the exporter uses."""

    def export(self, *extra, env_update=None):
        with open(self.path("ckpt.pth"), "wb") as f:
            f.write(b"not a state_dict")
        env = {k: v for k, v in os.environ.items() if k not in ("SAM_REPO", "MOBILE_SAM_REPO", "PYTHONPATH")}
        env.update(env_update or {})
        return subprocess.run(["/usr/bin/python3", os.path.join(WEIGHTS, "export_sam.py"), "--model-type", "vit_t",
                               "--checkpoint", self.path("ckpt.pth"), "--out", self.path("sam"), *extra],
                              capture_output=True, text=True, env=env)

    def fake_checkout(self, *parts):
        os.makedirs(self.path(*parts, "mobile_sam"))
        with open(self.path(*parts, "mobile_sam", "__init__.py"), "w") as f:
            f.write(FAKE_MOBILE_SAM)
        return self.path(*parts)

    def test_vit_t_imports_mobile_sam_from_its_checkout_with_the_timm_standin(self):
        # SAM_REPO names a segment-anything checkout (no mobile_sam/): MOBILE_SAM_REPO wins for vit_t.
        os.makedirs(self.path("segment-anything", "segment_anything"))
        proc = self.export(env_update={"MOBILE_SAM_REPO": self.fake_checkout("MobileSAM"),
                                       "SAM_REPO": self.path("segment-anything")})
        # The package was imported (timm's names resolved) and asked for vit_t: what remains is the
        # checkpoint, which is not a state_dict.
        self.assert_one_line_error(proc, "cannot read checkpoint")
        self.assertIn("timm is not installed: using weights/timm_standin.py", proc.stderr)
        self.assertFalse(os.path.exists(self.path("sam")))

    def test_sam_repo_without_mobile_sam_names_the_variable_to_set(self):
        os.makedirs(self.path("segment-anything", "segment_anything"))
        proc = self.export(env_update={"SAM_REPO": self.path("segment-anything")})
        self.assert_one_line_error(proc, "SAM_REPO=%s has no mobile_sam/ folder; point MOBILE_SAM_REPO at a checkout"
                                   % self.path("segment-anything"))

    def test_vit_t_is_not_a_segment_anything_model(self):
        proc = self.export("--package", "segment_anything",
                           env_update={"MOBILE_SAM_REPO": self.fake_checkout("MobileSAM")})
        self.assert_one_line_error(proc, "--model-type vit_t is built by the mobile_sam package, not segment_anything")

    def test_an_installed_timm_is_preferred_to_the_standin(self):
        # A timm lacking the helpers: if the exporter used it (as it must), importing mobile_sam fails.
        os.makedirs(self.path("site", "timm"))
        open(self.path("site", "timm", "__init__.py"), "w").close()
        proc = self.export(env_update={"MOBILE_SAM_REPO": self.fake_checkout("MobileSAM"),
                                       "PYTHONPATH": self.path("site")})
        self.assert_one_line_error(proc, "cannot import mobile_sam (No module named 'timm.models')")
        self.assertNotIn("timm_standin", proc.stderr)


class AttentionBiasCacheTest(unittest.TestCase):
    """TinyViT's eval-mode cache of its attention biases must hold the loaded biases."""

    def test_a_stale_cache_fails_the_export(self):
        sys.path.insert(0, WEIGHTS)
        import torch
        import export_sam

        class Attention(torch.nn.Module):  # TinyViT's attention, reduced to its bias cache
            def __init__(self):
                super().__init__()
                self.attention_biases = torch.nn.Parameter(torch.zeros(2, 3))
                self.register_buffer("attention_bias_idxs", torch.tensor([[0, 1], [1, 2]]))
                self.register_buffer("ab", self.attention_biases[:, self.attention_bias_idxs].detach().clone())

        sam = torch.nn.Sequential(Attention())
        export_sam.check_attention_bias_caches(torch, sam)  # cache made from the current biases
        with torch.no_grad():
            sam[0].attention_biases.add_(1.0)  # e.g. a checkpoint loaded after eval()
        with self.assertRaisesRegex(export_sam.ExportError, "^0: the cached attention biases"):
            export_sam.check_attention_bias_caches(torch, sam)


class VitEncoderConfigTest(unittest.TestCase):
    """Which encoders the exporter replaces by samcli's own: segment_anything's ImageEncoderViT, read
    off the module; anything else (MobileSAM's TinyViT) is traced."""

    def test_the_plain_vit_is_recognised_and_other_encoders_are_not(self):
        sys.path.insert(0, WEIGHTS)
        sys.path.insert(0, STANDINS)
        import export_sam
        import segment_anything
        sys.path.remove(STANDINS)
        encoder = segment_anything.sam_model_registry["vit_b"]().image_encoder
        self.assertEqual(export_sam.vit_encoder_config(encoder), (4, [5, 0, 5], 1e-6))
        self.assertIsNone(export_sam.vit_encoder_config(torch.nn.Conv2d(3, 8, 4)))
        tiny_vit_like = torch.nn.Module()
        tiny_vit_like.layers = torch.nn.ModuleList([torch.nn.Linear(2, 2)])
        self.assertIsNone(export_sam.vit_encoder_config(tiny_vit_like))


class TimmStandinTest(unittest.TestCase):
    """weights/timm_standin.py: the four helpers TinyViT takes from timm, with timm's meaning."""

    @classmethod
    def setUpClass(cls):
        sys.path.insert(0, WEIGHTS)
        import timm_standin
        cls.t = timm_standin

    def test_drop_path_is_the_identity_in_eval_mode(self):
        import torch
        x = torch.randn(4, 3, 5)
        dp = self.t.DropPath(0.9).eval()
        self.assertIs(dp(x), x)
        dropped = self.t.DropPath(1.0).train()(x)  # training mode drops whole samples
        self.assertTrue(torch.equal(dropped, torch.zeros_like(x)))

    def test_to_2tuple_trunc_normal_and_register_model(self):
        import torch
        self.assertEqual(self.t.to_2tuple(7), (7, 7))
        self.assertEqual(self.t.to_2tuple([3, 4]), (3, 4))
        self.assertEqual(self.t.to_2tuple("ab"), ("ab", "ab"))
        w = self.t.trunc_normal_(torch.empty(1000), std=1.0, a=-0.5, b=0.5)
        self.assertLessEqual(float(w.abs().max()), 0.5)
        fn = lambda: None  # noqa: E731
        self.assertIs(self.t.register_model(fn), fn)


if __name__ == "__main__":
    unittest.main()
