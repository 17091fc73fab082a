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

from samcli_e2e import BIN_DIR, SAM_FIXTURE, ToolTestCase, disk_mask, iou, paint, read_mask, run_tool, save_png

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
        for doc in ("export_common.py", "sam_image_encoder.py", "sam_prompt_decoder.py", "owl_detector.py",
                    "timm_standin.py", "README.md"):
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

        # Only the documented places are searched: ./weights and the prefix's, not <prefix>/../weights
        # (for /usr/bin/sam-point that would be /weights).
        proc = subprocess.run([os.path.join(prefix, "bin", "sam-point"), "scene.png", "--point", "60,50", "--model",
                               "nothere"], cwd=self.path("elsewhere"), env=tool_env(), capture_output=True, text=True)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("sam-point: error: model 'nothere' not found (looked in weights/sam_nothere, weights/nothere, "
                      "%s/sam_nothere, %s/nothere)" % (weights, weights), proc.stderr)
        # A tool in the build tree looks in the source tree's weights/ instead.
        proc = subprocess.run([os.path.join(BIN_DIR, "sam-point"), "scene.png", "--point", "60,50", "--model",
                               "nothere"], cwd=self.path("elsewhere"), env=tool_env(), capture_output=True, text=True)
        repo_weights = os.path.join(os.path.dirname(os.path.realpath(BUILD_DIR)), "weights")
        self.assertIn("weights/nothere, %s/sam_nothere, %s/nothere)" % (repo_weights, repo_weights), proc.stderr)
        self.assertIn("<prefix>/share/samcli/weights", run_tool("sam-point", "--help").stdout)

        # The export scripts run from there (their --help needs no checkpoint).
        proc = subprocess.run(["/usr/bin/python3", os.path.join(weights, "export_sam.py"), "--help"],
                              capture_output=True, text=True)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("--model-type", proc.stdout)


class DemoModelTest(ToolTestCase):
    def test_the_demo_model_is_found_as_demo_and_the_readme_commands_show_masks_on_the_sample_photo(self):
        """scripts/make-demo-model.sh (what quickstart.sh runs without real weights), then README's two
        demo commands on data/chelsea.png, from a folder holding weights/ as the repository root does."""
        repo = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
        root = self.path("root")
        subprocess.run(["bash", os.path.join(repo, "scripts", "make-demo-model.sh"), os.path.join(root, "weights")],
                       check=True, capture_output=True)
        self.assertEqual(os.listdir(os.path.join(root, "weights")), ["sam_demo"])  # no scratch folder left
        photo = os.path.join(repo, "data", "chelsea.png")
        with open(os.path.join(repo, "README.md")) as f:
            readme = f.read()
        for args in (["sam-point", "--point", "170,112"],
                     ["sam-amg", "--pred-iou-thresh", "0", "--stability-score-thresh", "0"]):
            self.assertIn("build/apps/%s data/chelsea.png %s--model demo%s" % (
                args[0], "--point 170,112 " if args[0] == "sam-point" else "",
                "" if args[0] == "sam-point" else " --pred-iou-thresh 0 --stability-score-thresh 0"), readme)
            proc = subprocess.run([os.path.join(BIN_DIR, args[0]), photo, *args[1:], "--model", "demo", "-o", "out",
                                   "-q"], cwd=root, env=tool_env(), capture_output=True, text=True)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            masks = self.load_json("root", "out", "chelsea", "masks.json")["masks"]
            self.assertGreaterEqual(len(masks), 1, args[0])
            self.assertTrue(os.path.isfile(self.path("root", "out", "chelsea", "overlay.png")))


class HelpTextTest(ToolTestCase):
    def test_preset_help_points_at_a_presets_table_that_is_there(self):
        for tool in ("sam-point", "sam-amg", "sam-semantic"):
            help_text = run_tool(tool, "--help").stdout
            preset_line = next(line for line in help_text.splitlines() if line.strip().startswith("--preset"))
            self.assertIn("(see Presets below)", preset_line, tool)
            table = help_text.find("Presets (explicit options override them):")
            self.assertGreater(table, help_text.find("--point-grids"), tool)  # after the options
            self.assertIn("  fast ", help_text[table:], tool)

    def test_text_sam_help_names_both_boxes_of_a_record(self):
        help_text = " ".join(run_tool("text-sam", "--help").stdout.split())
        self.assertIn("box = the detector's box clipped to the image", help_text)
        self.assertIn("detector_box = the box as the detector predicted it", help_text)


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
