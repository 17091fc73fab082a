"""The export scripts in weights/ as a user meets them without a checkpoint: a missing Python package
is one line naming it and how to install it (exit 1), never a traceback, and nothing is written."""
import os
import subprocess
import sys
import unittest

from samcli_e2e import ToolTestCase

WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "weights")

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
