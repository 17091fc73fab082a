"""Nothing a tool reads may make it write, delete or read where it should not, and no output is
lost silently: symlinks and odd names in input trees, prompt files and COCO files stay inside --out;
model manifests name files inside their model directory; --json/--coco/-o write THROUGH devices,
FIFOs, pipes and symlinks instead of replacing them; a full disk or stdout is an error (exit 1), a
closed stdout (`| head`) ends the run quietly (exit 0).

Never run as root against a tool that replaces its output file: that is why the devices here are
reached through symlinks and /dev/fd in the test's own folder, never named directly."""
import json
import os
import shutil
import subprocess
import threading
import unittest

from PIL import Image

from samcli_e2e import BIN_DIR, SAM_FIXTURE, ToolTestCase, disk_mask, paint, rect_mask, rle_encode, run_tool

H, W = 120, 160
CLICK = "50,60"


def scene(i=0):
    return paint(H, W, [(disk_mask(H, W, 50, 60, 25), (230, 30, 30)),
                        (rect_mask(H, W, 95, 20 + 5 * i, 135, 60 + 5 * i), (30, 60, 220))])


def tree(root):
    """Every file and folder below root (relative paths, symlinks not followed)."""
    found = set()
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            found.add(os.path.relpath(os.path.join(folder, name), root))
    return found


class SafetyTestCase(ToolTestCase):
    def setUp(self):
        super().setUp()
        self.out = self.path("out")

    def image(self, *parts, i=0):
        path = self.path(*parts)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        Image.fromarray(scene(i)).save(path, format="PNG")  # also "..png", whose extension PIL cannot tell
        return path

    def point(self, *args, check=True):
        return run_tool("sam-point", *args, "--point", CLICK, "--model", SAM_FIXTURE, "-q", check=check)

    def victim(self):
        """elsewhere/victim/keep.txt: what a write outside --out would damage."""
        os.makedirs(self.path("elsewhere", "victim"))
        with open(self.path("elsewhere", "victim", "keep.txt"), "w") as f:
            f.write("keep me\n")
        return tree(self.path("elsewhere"))

    def assert_untouched(self, before):
        self.assertEqual(tree(self.path("elsewhere")), before)
        with open(self.path("elsewhere", "victim", "keep.txt")) as f:
            self.assertEqual(f.read(), "keep me\n")

    def coco_files(self):
        """A one-image COCO dataset (pred.json) and a ground truth (gt.json) for sam-eval/sam-coco-merge."""
        mask = disk_mask(40, 40, 20, 20, 8)
        doc = {"images": [{"id": 1, "file_name": "a.png", "width": 40, "height": 40}],
               "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "segmentation": rle_encode(mask),
                                "area": int(mask.sum()), "bbox": [12, 12, 17, 17], "iscrowd": 0, "score": 0.9}],
               "categories": [{"id": 1, "name": "object"}]}
        for name in ("pred.json", "gt.json"):
            with open(self.path(name), "w") as f:
                json.dump(doc, f)
        return self.path("pred.json"), self.path("gt.json")

    def writers(self):
        """(name, argv writing its output file to FILE) for every output-file option."""
        pred, gt = self.coco_files()
        img = self.image("data", "a.png")
        tool = lambda name: os.path.join(BIN_DIR, name)
        point = [tool("sam-point"), img, "--point", CLICK, "--model", SAM_FIXTURE, "-q", "-o", self.out]
        return [("sam-point --json", lambda f: point + ["--json", f]),
                ("sam-point --coco", lambda f: point + ["--coco", f]),
                ("sam-eval -o", lambda f: [tool("sam-eval"), "--pred", pred, "--gt", gt, "-q", "-o", f]),
                ("sam-coco-merge -o", lambda f: [tool("sam-coco-merge"), pred, "-q", "-o", f])]

    def stdout_writers(self):
        """(name, argv writing data to stdout) for every stdout writer."""
        pred, gt = self.coco_files()
        img = self.image("data", "a.png")
        tool = lambda name: os.path.join(BIN_DIR, name)
        point = [tool("sam-point"), img, "--point", CLICK, "--model", SAM_FIXTURE, "-q", "-o", self.out]
        return [("--json -", point + ["--json", "-"]),
                ("--jsonl", point + ["--jsonl"]),
                ("sam-eval", [tool("sam-eval"), "--pred", pred, "--gt", gt, "-q"]),
                ("sam-coco-merge -o -", [tool("sam-coco-merge"), pred, "-q", "-o", "-"])]


class WritesStayInsideOutTest(SafetyTestCase):
    def test_symlink_in_the_input_tree_is_named_by_its_place_in_the_tree(self):
        self.victim()
        self.image("elsewhere", "victim.png")
        before = tree(self.path("elsewhere"))
        self.image("data", "a.png")
        os.makedirs(self.path("data", "sub"))
        os.symlink("../../elsewhere/victim.png", self.path("data", "sub", "link.png"))
        self.point(self.path("data"), "-r", "-o", self.out)
        self.assert_untouched(before)
        self.assertTrue(os.path.isfile(os.path.join(self.out, "sub", "link", "masks.json")))
        self.assertTrue(os.path.isfile(os.path.join(self.out, "a", "masks.json")))
        self.assertEqual({p for p in tree(self.out) if os.sep not in p}, {"a", "sub"})

    def test_dot_names_never_address_the_output_folder_itself(self):
        # "..png" has the stem ".": its results once went to <out>/. and replaced the whole folder.
        self.image("data", "keep.png")
        self.point(self.path("data"), "-o", self.out)
        os.rename(self.path("data", "keep.png"), self.path("data", "..png"))
        self.image("data", "...png")
        self.point(self.path("data"), "-o", self.out)
        for name in ("keep", "..png", "...png"):
            self.assertTrue(os.path.isfile(os.path.join(self.out, name, "masks.json")), name)
        self.assert_no_partial_outputs(self.out)

    def test_prompt_file_entries_stay_inside_out(self):
        self.victim()
        self.image("elsewhere", "victim.png")
        before = tree(self.path("elsewhere"))
        self.image("data", "a.png")
        self.image("data", "x", "..png")
        prompts = self.path("data", "p.jsonl")
        with open(prompts, "w") as f:
            for image in ("a.png", "../elsewhere/victim.png", "x/..png"):
                f.write(json.dumps({"image": image, "points": [[50, 60]]}) + "\n")
        run_tool("sam-point", "--prompts", prompts, "--model", SAM_FIXTURE, "-o", self.out, "-q")
        self.assert_untouched(before)
        self.assertEqual({p for p in tree(self.out) if p.endswith("masks.json")},
                         {os.path.join("data", "a", "masks.json"), os.path.join("elsewhere", "victim", "masks.json"),
                          os.path.join("data", "x", "..png", "masks.json")})

    def test_a_symlinked_folder_inside_out_is_not_followed_for_writes(self):
        before = self.victim()
        self.image("data", "victim", "img.png")
        os.makedirs(self.out)
        os.symlink(os.path.abspath(self.path("elsewhere")), os.path.join(self.out, "victim"))
        proc = self.point(self.path("data"), "-r", "-o", self.out, check=False)
        self.assertEqual(proc.returncode, 1)
        self.assert_one_line_error(proc, "victim/img", "outside the output folder")
        self.assert_untouched(before)

    def test_coco_file_names_never_lead_outside(self):
        # sam-eval and sam-coco-merge read file_names only as names: a hostile one writes nothing anywhere.
        before = self.victim()
        mask = disk_mask(40, 40, 20, 20, 8)
        doc = {"images": [{"id": 1, "file_name": "../elsewhere/victim", "width": 40, "height": 40},
                          {"id": 2, "file_name": "/tmp/../etc/passwd", "width": 40, "height": 40}],
               "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "segmentation": rle_encode(mask),
                                "area": int(mask.sum()), "bbox": [12, 12, 17, 17], "iscrowd": 0, "score": 0.9}],
               "categories": [{"id": 1, "name": "object"}]}
        with open(self.path("c.json"), "w") as f:
            json.dump(doc, f)
        files_before = tree(self.tmp)
        run_tool("sam-eval", "--pred", self.path("c.json"), "--gt", self.path("c.json"), "-q")
        run_tool("sam-coco-merge", self.path("c.json"), "-o", "-", "-q")
        self.assertEqual(tree(self.tmp), files_before)
        self.assert_untouched(before)

    def test_manifest_files_outside_the_model_directory_are_refused(self):
        self.image("data", "a.png")
        model = self.path("model")
        shutil.copytree(SAM_FIXTURE, model)
        with open(os.path.join(model, "manifest.json")) as f:
            manifest = json.load(f)
        outside = os.path.abspath(os.path.join(SAM_FIXTURE, manifest["files"]["image_encoder"]))
        for field, value in (("image_encoder", outside), ("image_encoder", "../../etc/hostname"),
                             ("prompt_decoder", "sub/../../" + manifest["files"]["prompt_decoder"])):
            bad = dict(manifest, files=dict(manifest["files"], **{field: value}))
            with open(os.path.join(model, "manifest.json"), "w") as f:
                json.dump(bad, f)
            proc = run_tool("sam-point", self.path("data", "a.png"), "--point", CLICK, "--model", model,
                            "-o", self.out, check=False)
            self.assertEqual(proc.returncode, 1, value)
            self.assert_one_line_error(proc, os.path.join(model, "manifest.json"), "files.%s '%s'" % (field, value))
        self.assertFalse(os.path.exists(self.out))


class OutputFilesTest(SafetyTestCase):
    def run_with_reader(self, argv, fifo):
        reader = subprocess.Popen(["cat", fifo], stdout=subprocess.PIPE)
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        try:
            data, _ = reader.communicate(timeout=20)
        except subprocess.TimeoutExpired:  # the FIFO was replaced: cat still waits for a writer
            reader.kill()
            reader.communicate()
            data = None
        return proc, data

    def test_a_fifo_is_written_through(self):
        for name, argv in self.writers():
            fifo = self.path("fifo")
            os.mkfifo(fifo)
            proc, data = self.run_with_reader(argv(fifo), fifo)
            self.assertEqual(proc.returncode, 0, name + proc.stderr)
            self.assertIsNotNone(data, name)
            self.assertGreater(len(data), 10, name)
            if name != "sam-eval -o":
                json.loads(data)
            self.assertTrue(os.path.exists(fifo) and not os.path.isfile(fifo), name)  # still a FIFO
            os.remove(fifo)

    def test_a_pipe_given_as_dev_fd_is_written_through(self):
        for name, argv in self.writers():
            r, w = os.pipe()
            chunks = []
            reader = threading.Thread(target=lambda: chunks.append(os.fdopen(r, "rb").read()))
            reader.start()
            proc = subprocess.run(argv("/dev/fd/%d" % w), capture_output=True, text=True, pass_fds=(w,), timeout=300)
            os.close(w)
            reader.join(20)
            self.assertEqual(proc.returncode, 0, name + proc.stderr)
            self.assertGreater(len(chunks[0]), 10, name)

    def test_a_symlink_to_a_device_is_written_through_and_a_full_device_is_an_error(self):
        for name, argv in self.writers():
            link = self.path("full.json")
            os.symlink("/dev/full", link)
            proc = subprocess.run(argv(link), capture_output=True, text=True, timeout=300)
            self.assertEqual(proc.returncode, 1, name)
            self.assert_one_line_error(proc, "'%s'" % link, "No space left on device")
            self.assertEqual(os.readlink(link), "/dev/full", name)
            os.remove(link)
            null = self.path("null.json")
            os.symlink("/dev/null", null)
            proc = subprocess.run(argv(null), capture_output=True, text=True, timeout=300)
            self.assertEqual(proc.returncode, 0, name + proc.stderr)
            self.assertEqual(os.readlink(null), "/dev/null", name)
            os.remove(null)

    def test_a_symlink_to_a_file_stays_a_link_and_its_target_is_replaced_atomically(self):
        os.makedirs(self.path("real"))
        for name, argv in self.writers():
            target = self.path("real", "result.json")
            with open(target, "w") as f:
                f.write("old")
            link = self.path("link.json")
            os.symlink("real/result.json", link)
            subprocess.run(argv(link), check=True, capture_output=True, timeout=300)
            self.assertTrue(os.path.islink(link), name)
            with open(target) as f:
                self.assertNotEqual(f.read(), "old", name)
            self.assertEqual(sorted(os.listdir(self.path("real"))), ["result.json"], name)  # no temp file left
            os.remove(link)
            # A dangling link creates its target.
            os.remove(target)
            os.symlink("real/result.json", link)
            subprocess.run(argv(link), check=True, capture_output=True, timeout=300)
            self.assertTrue(os.path.islink(link) and os.path.isfile(target), name)
            os.remove(link)
            os.remove(target)

    def test_an_empty_output_name_is_a_usage_error(self):
        """--json "" (an unset shell variable) used to be taken as no --json and write nothing."""
        img = self.image("data", "a.png")
        for option in ("--json", "--coco", "--out", "--embedding-cache"):
            proc = self.point(img, option, "", check=False)
            self.assertEqual(proc.returncode, 2, option)
            self.assert_one_line_error(proc, "%s: an empty name" % option)

    def test_an_image_folder_that_cannot_be_written_is_named_as_the_user_sees_it(self):
        """Not by the temporary name it is written under (out/.img.tmp-<pid>)."""
        img = self.image("data", "sub", "img.png")
        os.makedirs(self.out)
        with open(os.path.join(self.out, "sub"), "w") as f:
            f.write("a file where the mirrored folder goes\n")
        proc = self.point(self.path("data"), "-r", "-o", self.out, check=False)
        self.assertEqual(proc.returncode, 1)
        self.assert_one_line_error(proc, "cannot create output folder '%s'" % os.path.join(self.out, "sub", "img"))
        self.assertNotIn(".tmp-", proc.stderr)

    def test_a_folder_as_output_file_is_one_error_line(self):
        os.makedirs(self.path("folder"))
        for name, argv in self.writers():
            proc = subprocess.run(argv(self.path("folder")), capture_output=True, text=True, timeout=300)
            self.assertEqual(proc.returncode, 1, name)
            self.assert_one_line_error(proc, "'%s'" % self.path("folder"))
            self.assertEqual(os.listdir(self.path("folder")), [], name)


class StdoutTest(SafetyTestCase):
    def test_a_full_stdout_is_an_error(self):
        for name, argv in self.stdout_writers():
            with open("/dev/full", "w") as full:
                proc = subprocess.run(argv, stdout=full, stderr=subprocess.PIPE, text=True, timeout=300)
            self.assertEqual(proc.returncode, 1, name)
            errors = [l for l in proc.stderr.splitlines() if ": error: " in l]
            self.assertEqual(len(errors), 1, name + proc.stderr)
            self.assertIn("cannot write to standard output: No space left on device", errors[0], name)

    def test_a_closed_stdout_ends_the_run_quietly(self):
        for name, argv in self.stdout_writers():
            r, w = os.pipe()
            os.close(r)  # as `| head -c1` after its byte
            proc = subprocess.run(argv, stdout=w, stderr=subprocess.PIPE, text=True, timeout=300)
            os.close(w)
            self.assertEqual(proc.returncode, 0, name + proc.stderr)
            self.assertEqual(proc.stderr, "", name)
            self.assert_no_partial_outputs(self.out)


if __name__ == "__main__":
    unittest.main()
