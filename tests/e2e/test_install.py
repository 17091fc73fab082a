"""The installed tree and the Debian package: `cmake --install` lays out the tools, the export
scripts and the documentation as docs/model-format.md and weights/README.md describe, a tool run
from the install prefix finds a model by name under <prefix>/share/samcli/weights, and
`cpack -G DEB` builds a package that declares its Debian dependencies and whose tools run.

Environment (set by CTest): SAMCLI_BUILD_DIR (the configured build tree), plus the usual ones."""
import os
import re
import shutil
import subprocess
import unittest

import numpy as np

from samcli_e2e import BIN_DIR, SAM_FIXTURE, ToolTestCase, disk_mask, iou, paint, read_mask, save_png

BUILD_DIR = os.environ.get("SAMCLI_BUILD_DIR", "")
TOOLS = ["sam-point", "sam-box", "sam-amg", "text-sam", "sam-semantic", "sam-eval", "sam-coco-merge"]


def tool_env():
    """The environment a fresh shell has: no model variables pointing into the build tree."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMCLI_")}
    return env


class InstallTest(ToolTestCase):
    def test_installed_tools_find_a_named_model_under_the_prefix(self):
        prefix = self.path("prefix")
        subprocess.run(["cmake", "--install", BUILD_DIR, "--prefix", prefix], check=True, capture_output=True)
        for tool in TOOLS:
            self.assertTrue(os.access(os.path.join(prefix, "bin", tool), os.X_OK), tool)
        weights = os.path.join(prefix, "share", "samcli", "weights")
        for script in ("export_sam.py", "export_owlvit.py"):
            self.assertTrue(os.access(os.path.join(weights, script), os.X_OK), script)
        for doc in ("export_common.py", "sam_image_encoder.py", "sam_prompt_decoder.py", "timm_standin.py", "README.md"):
            self.assertTrue(os.path.isfile(os.path.join(weights, doc)), doc)
        self.assertTrue(os.path.isfile(os.path.join(prefix, "share", "doc", "samcli", "model-format.md")))

        # A model exported into the prefix's weights folder is found by name from any directory.
        shutil.copytree(SAM_FIXTURE, os.path.join(weights, "sam_fixture"))
        os.makedirs(self.path("elsewhere"))
        disk = disk_mask(120, 160, 60, 50, 30)
        save_png(paint(120, 160, [(disk, (230, 30, 30))]), self.path("elsewhere", "scene.png"))
        proc = subprocess.run([os.path.join(prefix, "bin", "sam-point"), "scene.png", "--point", "60,50", "--model",
                               "fixture", "-o", "out", "-q"], cwd=self.path("elsewhere"), env=tool_env(),
                              capture_output=True, text=True)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        best = max(self.load_json("elsewhere", "out", "scene", "masks.json")["masks"], key=lambda r: r["predicted_iou"])
        self.assertGreater(iou(read_mask(self.path("elsewhere", "out", "scene", best["mask_file"])), disk), 0.95)

        # The export scripts run from there (their --help needs no checkpoint).
        proc = subprocess.run(["/usr/bin/python3", os.path.join(weights, "export_sam.py"), "--help"],
                              capture_output=True, text=True)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("--model-type", proc.stdout)


class VersionTest(ToolTestCase):
    def test_every_tool_prints_the_project_version(self):
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "CMakeLists.txt")) as f:
            version = re.search(r"project\(samcli VERSION (\d+\.\d+\.\d+)", f.read()).group(1)
        for tool in TOOLS:
            proc = subprocess.run([os.path.join(BIN_DIR, tool), "--version"], capture_output=True, text=True)
            self.assertEqual((proc.returncode, proc.stdout, proc.stderr), (0, "%s %s\n" % (tool, version), ""))


class PackageTest(ToolTestCase):
    def test_debian_package_declares_its_dependencies_and_its_tools_run(self):
        subprocess.run(["cpack", "-G", "DEB", "-B", self.tmp], cwd=BUILD_DIR, check=True, capture_output=True,
                       timeout=900)
        debs = [f for f in os.listdir(self.tmp) if f.endswith(".deb")]
        self.assertEqual(len(debs), 1, debs)
        deb = self.path(debs[0])
        self.assertRegex(debs[0], r"^samcli_\d+\.\d+\.\d+_[a-z0-9]+\.deb$")
        fields = {f: subprocess.run(["dpkg-deb", "-f", deb, f], check=True, capture_output=True,
                                    text=True).stdout.strip() for f in ("Package", "Depends", "Recommends")}
        self.assertEqual(fields["Package"], "samcli")
        # libtcmalloc-minimal4: the allocator the tools link (CMakeLists.txt), found by dpkg-shlibdeps.
        for dependency in ("libopenblas0-openmp", "libtcmalloc-minimal4", "libtorch", "libopencv-imgcodecs", "libopencv-core"):
            self.assertIn(dependency, fields["Depends"])
        self.assertIn("python3-torch", fields["Recommends"])

        root = self.path("root")
        subprocess.run(["dpkg-deb", "-x", deb, root], check=True)
        for tool in TOOLS:
            proc = subprocess.run([os.path.join(root, "usr", "bin", tool), "--help"], capture_output=True, text=True)
            self.assertEqual(proc.returncode, 0, tool + ": " + proc.stderr)
            self.assertIn("Usage", proc.stdout)
        self.assertTrue(os.path.isfile(os.path.join(root, "usr", "share", "samcli", "weights", "export_sam.py")))


if __name__ == "__main__":
    unittest.main()
