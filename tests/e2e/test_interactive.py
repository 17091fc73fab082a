"""sam-point --interactive as a person uses it: a real window under Xvfb driven by xdotool (clicks,
a drag, keys), the saved result compared with the one-shot tools given the same prompts.
Needs the Debian packages xvfb and xdotool (scripts/setup-debian.sh installs them)."""
import json
import os
import shutil
import subprocess
import time
import unittest

from samcli_e2e import BIN_DIR, SAM_FIXTURE, ToolTestCase, run_tool, save_png, two_shape_scene


class Display:
    """An Xvfb server on a display number it picks itself."""

    def __init__(self):
        read, write = os.pipe()
        self.proc = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x1024x24", "-nolisten",
                                      "tcp"], pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(write)
        with os.fdopen(read) as f:
            self.name = ":" + f.readline().strip()

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


class InteractiveTest(ToolTestCase):
    def setUp(self):
        super().setUp()
        self.image = save_png(two_shape_scene()[0], self.path("scene.png"))
        self.display = Display()
        self.addCleanup(self.display.close)
        self.env = dict(os.environ, DISPLAY=self.display.name)
        self.env.pop("WAYLAND_DISPLAY", None)

    def open(self, *args):
        """Starts the window; returns its X id once it is mapped."""
        self.log = open(self.path("stderr.txt"), "w")
        self.proc = subprocess.Popen([os.path.join(BIN_DIR, "sam-point"), self.image, "--interactive", "--model",
                                      SAM_FIXTURE, "-o", self.path("out"), *args], env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=self.log)
        self.addCleanup(self.log.close)
        self.addCleanup(lambda: self.proc.poll() is None and self.proc.kill())
        found = self.xdotool("search", "--sync", "--onlyvisible", "--name", "sam-point: scene.png")
        self.window = found.split()[0]
        return self.window

    def xdotool(self, *args):
        return subprocess.run(["xdotool", *args], env=self.env, check=True, capture_output=True, text=True,
                              timeout=60).stdout

    def click(self, x, y, button=1):
        self.xdotool("mousemove", "--window", self.window, str(x), str(y), "click", str(button))

    def drag(self, x0, y0, x1, y1):
        self.xdotool("mousemove", "--window", self.window, str(x0), str(y0), "mousedown", "1")
        self.xdotool("mousemove", "--window", self.window, str((x0 + x1) // 2), str((y0 + y1) // 2))
        self.xdotool("mousemove", "--window", self.window, str(x1), str(y1), "mouseup", "1")

    def key(self, name):
        self.xdotool("key", "--window", self.window, name)

    def save(self):
        """Presses s and waits for the result folder to be (re)written; returns its masks.json."""
        doc = self.path("out", "scene", "masks.json")
        before = os.stat(doc).st_mtime_ns if os.path.exists(doc) else None
        self.key("s")
        deadline = time.time() + 120
        while time.time() < deadline:
            if os.path.exists(doc) and os.stat(doc).st_mtime_ns != before:
                with open(doc) as f:
                    return json.load(f)
            time.sleep(0.1)
        with open(self.path("stderr.txt")) as f:
            self.fail("s wrote nothing; stderr: " + f.read())

    def quit(self):
        self.key("q")
        self.assertEqual(self.proc.wait(timeout=60), 0)

    def one_shot(self, tool, *args):
        proc = run_tool(tool, self.image, *args, "--model", SAM_FIXTURE, "-o", self.path("cli"), "--json", "-", "-q")
        return [m["segmentation"] for m in json.loads(proc.stdout)[0]["masks"]]

    def test_click_tab_save_quit_equals_sam_point(self):
        self.open()
        self.click(200, 240)
        self.key("Tab")
        saved = self.save()
        self.assertEqual([m["segmentation"] for m in saved["masks"]], self.one_shot("sam-point", "--point", "200,240"))
        self.assertEqual(saved["masks"][0]["point_coords"], [[200.0, 240.0]])
        self.quit()

    def test_drag_draws_a_box_equal_to_sam_box(self):
        self.open()
        self.drag(560, 330, 400, 150)  # corners in any order
        saved = self.save()
        self.assertEqual(saved["masks"][0]["box"], [400.0, 150.0, 560.0, 330.0])
        self.assertEqual([m["segmentation"] for m in saved["masks"]], self.one_shot("sam-box", "--box", "400,150,560,330"))
        self.quit()

    def test_further_clicks_refine_with_the_best_logits_and_undo_goes_back(self):
        self.open()
        self.click(200, 240)
        first = self.save()
        shutil.copytree(self.path("out", "scene"), self.path("first"))
        self.click(480, 240, button=3)  # a background click on the rectangle
        refined = self.save()
        self.assertEqual(len(refined["masks"]), 1)
        self.assertEqual(refined["masks"][0]["point_labels"], [1, 0])
        self.assertEqual([m["segmentation"] for m in refined["masks"]],
                         self.one_shot("sam-point", "--points", "200,240,1;480,240,0", "--single", "--mask-input",
                                       self.path("first", "best_logits.npy")))
        self.key("u")
        self.assertEqual(self.save()["masks"], first["masks"])
        self.key("r")
        self.click(480, 240)
        self.assertEqual([m["segmentation"] for m in self.save()["masks"]],
                         self.one_shot("sam-point", "--point", "480,240"))
        self.quit()

    def test_no_refine_decodes_every_click_afresh(self):
        self.open("--no-refine")
        self.click(200, 240)
        self.click(480, 240, button=3)
        saved = self.save()
        self.assertEqual([m["segmentation"] for m in saved["masks"]],
                         self.one_shot("sam-point", "--points", "200,240,1;480,240,0", "--single"))
        self.quit()

    def title(self, needle):
        """Waits for the window title (which repeats the status strip) to contain needle."""
        deadline = time.time() + 120
        while time.time() < deadline:
            name = self.xdotool("getwindowname", self.window)
            if needle in name:
                return name
            time.sleep(0.2)
        self.fail("the title never said %r (last: %r)" % (needle, name))

    def test_a_shows_the_automatic_masks_of_sam_amg(self):
        amg = run_tool("sam-amg", self.image, "--preset", "fast", "--model", SAM_FIXTURE, "-o", self.path("amg"),
                       "--json", "-", "-q")
        count = len(json.loads(amg.stdout)[0]["masks"])
        self.assertGreater(count, 0)
        self.open("--preset", "fast")
        self.click(200, 240)
        self.title("Mask 2, Score: 0.940")
        self.key("a")
        self.title("%d automatic masks in" % count)
        self.key("1")  # any key goes back to the prompt's masks; 1 picks the first candidate
        self.title("Mask 1, Score: 0.860   the prompt's masks")
        self.quit()

    def test_without_a_display_one_line_and_exit_2(self):
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        proc = subprocess.run([os.path.join(BIN_DIR, "sam-point"), self.image, "--interactive", "--model",
                               SAM_FIXTURE], env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 2)
        self.assert_one_line_error(proc, "needs a display")


if __name__ == "__main__":
    unittest.main()
