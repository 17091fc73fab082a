"""The export scripts in weights/ as a user meets them without a checkpoint: a missing Python package
is one line naming it and how to install it (exit 1), never a traceback, and nothing is written."""
import os
import subprocess
import unittest

from samcli_e2e import ToolTestCase

WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "weights")


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


if __name__ == "__main__":
    unittest.main()
