"""Batch runs end to end on the fixture SAM: many inputs in one process (folders, --recursive, globs,
@lists, stdin), the mirrored output tree, failures (--keep-going or stop), resuming with
--skip-existing after a failed or killed run, --shard I/N merged with sam-coco-merge and scored with
sam-eval, --jsonl, progress on stderr and the embedding cache."""
import glob
import hashlib
import json
import os
import pty
import shutil
import signal
import subprocess
import time
import unittest

import numpy as np

from samcli_e2e import (BIN_DIR, SAM_FIXTURE, ToolTestCase, bbox_xywh, disk_mask, iou, paint, read_mask,
                        rect_mask, rle_decode, run_tool, save_png)

H, W = 120, 160
CLICK = "50,60"  # the centre of every image's disk
COLOURS = [(230, 30, 30), (30, 60, 220), (40, 200, 60), (220, 200, 40), (200, 40, 200), (40, 200, 200)]
NAMES = ["a/img%02d" % i for i in range(6)] + ["b/img%02d" % i for i in range(6, 12)]


def make_dataset(root):
    """12 images of 160x120 in root/a (img00..img05) and root/b (img06..img11): a disk (centre 50,60,
    radius 25) and a rectangle, in varying colours, on grey; root/a/notes.txt is not an image.
    Returns {name without extension: the disk's mask}."""
    truth = {}
    for i, name in enumerate(NAMES):
        disk = disk_mask(H, W, 50, 60, 25)
        rect = rect_mask(H, W, 95 + 5 * (i % 3), 20 + 3 * i, 135 + 5 * (i % 3), 60 + 3 * i)
        os.makedirs(os.path.join(root, os.path.dirname(name)), exist_ok=True)
        save_png(paint(H, W, [(disk, COLOURS[i % 6]), (rect, COLOURS[(i + 2) % 6])]), os.path.join(root, name + ".png"))
        truth[name] = disk
    with open(os.path.join(root, "a", "notes.txt"), "w") as f:
        f.write("not an image\n")
    return truth


def dead_pid():
    """The id of a process that has exited (what a killed run leaves in its temporary names)."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


class BatchTestCase(ToolTestCase):
    def setUp(self):
        super().setUp()
        self.data = self.path("data")
        self.truth = make_dataset(self.data)

    def image(self, name):
        return os.path.join(self.data, name + ".png")

    def run_point(self, *args, check=True, stdin=None):
        """sam-point with the click on the disk; inputs and options in args."""
        return run_tool("sam-point", *args, "--point", CLICK, "--model", SAM_FIXTURE, check=check, stdin=stdin)

    def run_amg(self, *args, check=True):
        """sam-amg, as fast as it goes: the fast preset with a 4x4 grid (enough for two shapes and grey)."""
        return run_tool("sam-amg", *args, "--preset", "fast", "--points-per-side", "4", "--model", SAM_FIXTURE,
                        check=check)

    def results(self, out):
        """Names (relative paths, '/') of the finished image folders under out (not the temporary ones)."""
        found = set()
        for root, dirs, files in os.walk(out):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            if "masks.json" in files:
                found.add(os.path.relpath(root, out).replace(os.sep, "/"))
        return found

    def jsonl(self, proc):
        lines = [json.loads(line) for line in proc.stdout.splitlines()]
        for line in lines:
            for key in ("image", "status", "masks", "seconds"):
                self.assertIn(key, line)
            self.assertIn(line["status"], ("ok", "skipped", "error"))
        return lines

    def assert_complete_folder(self, folder, image_hw=(H, W)):
        """A finished result: masks.json for this image size, every mask file it names present."""
        with open(os.path.join(folder, "masks.json")) as f:
            doc = json.load(f)
        self.assertEqual((doc["height"], doc["width"]), image_hw)
        for rec in doc["masks"]:
            mask = read_mask(os.path.join(folder, rec["mask_file"]))
            self.assertTrue(np.array_equal(mask, rle_decode(rec["segmentation"])), folder)
        return doc

    def best_mask(self, folder):
        with open(os.path.join(folder, "masks.json")) as f:
            doc = json.load(f)
        best = max(doc["masks"], key=lambda r: r["predicted_iou"])
        return rle_decode(best["segmentation"])

    def stamps(self, out, names):
        """What a rewrite would change: the folder's inode and masks.json's mtime."""
        return {n: (os.stat(os.path.join(out, n)).st_ino, os.stat(os.path.join(out, n, "masks.json")).st_mtime_ns)
                for n in names}


class InputsTest(BatchTestCase):
    def test_directory_recursive_mirrors_the_input_tree_in_one_process(self):
        proc = self.run_point(self.data, "--recursive", "-o", self.path("out"), "--jsonl")
        self.assertEqual(self.results(self.path("out")), set(NAMES))  # notes.txt ignored
        for name in NAMES:
            doc = self.assert_complete_folder(self.path("out", name))
            self.assertEqual(doc["image"], self.image(name))
            self.assertGreater(iou(self.best_mask(self.path("out", name)), self.truth[name]), 0.9, name)
        # One model load, sorted order, one line per image.
        lines = self.jsonl(proc)
        self.assertEqual([l["image"] for l in lines], [self.image(n) for n in NAMES])
        self.assertEqual([l["status"] for l in lines], ["ok"] * 12)
        self.assertEqual([l["masks"] for l in lines], [3] * 12)
        self.assertEqual(lines[4]["output"], os.path.join(self.path("out"), "a", "img04"))
        self.assert_no_partial_outputs(self.path("out"))

    def test_directory_without_recursive_takes_its_own_images_only(self):
        self.run_point(os.path.join(self.data, "a"), "-o", self.path("out"))
        self.assertEqual(self.results(self.path("out")), {"img%02d" % i for i in range(6)})
        # The top folder holds only subfolders: nothing to do, said on stderr, not an error.
        proc = self.run_point(self.data, "-o", self.path("top"))
        self.assertIn("warning: no input image", proc.stderr)
        self.assertFalse(os.path.exists(self.path("top")))

    def test_glob_patterns_are_expanded_by_the_tool(self):
        pattern = os.path.join(self.data, "*", "img0[4-7].png")
        proc = self.run_point(pattern, "-o", self.path("out"), "--jsonl")
        self.assertEqual(self.results(self.path("out")), {"img04", "img05", "img06", "img07"})
        self.assertEqual([l["image"] for l in self.jsonl(proc)],
                         [self.image(n) for n in ("a/img04", "a/img05", "b/img06", "b/img07")])
        bad = run_tool("sam-point", os.path.join(self.data, "*.webp"), "--point", CLICK, "--model", SAM_FIXTURE,
                       check=False)
        self.assertEqual(bad.returncode, 2)
        self.assert_one_line_error(bad, "*.webp", "matches no file")

    def test_list_file_and_stdin(self):
        listing = self.path("todo.txt")
        with open(listing, "w") as f:
            f.write("# images to redo\n\n%s\n  %s  \n# %s\n" % (self.image("b/img09"), self.image("a/img01"),
                                                              self.image("a/img02")))
        self.run_point("@" + listing, "-o", self.path("from_list"))
        self.assertEqual(self.results(self.path("from_list")), {"img01", "img09"})
        stdin = "%s\n%s\n" % (self.image("b/img11"), self.image("a/img00"))
        proc = self.run_point("-", "-o", self.path("from_stdin"), "--jsonl", stdin=stdin)
        self.assertEqual(self.results(self.path("from_stdin")), {"img00", "img11"})
        self.assertEqual([l["image"] for l in self.jsonl(proc)], [self.image("a/img00"), self.image("b/img11")])

    def test_two_inputs_for_one_output_folder_is_a_usage_error(self):
        shutil.copy(self.image("a/img00"), self.path("data", "b", "img00.png"))
        proc = self.run_point(self.image("a/img00"), self.path("data", "b", "img00.png"), "-o", self.path("out"),
                              check=False)
        self.assertEqual(proc.returncode, 2)
        self.assert_one_line_error(proc, self.image("a/img00"), self.path("data", "b", "img00.png"), "'img00'")
        self.assertFalse(os.path.exists(self.path("out")))
        # Their common folder mirrors the tree: no collision.
        self.run_point(self.data, "-r", "-o", self.path("out"))
        self.assertIn("b/img00", self.results(self.path("out")))

    def test_json_to_stdout_and_jsonl_together_are_a_usage_error(self):
        proc = self.run_point(self.data, "-r", "-o", self.path("out"), "--json", "-", "--jsonl", check=False)
        self.assertEqual(proc.returncode, 2)
        self.assert_one_line_error(proc, "--json - and --jsonl would both write to stdout")
        self.assertEqual(proc.stdout, "")
        self.assertFalse(os.path.exists(self.path("out")))
        proc = self.run_point(self.image("a/img00"), "-o", self.path("out"), "--json", self.path("all.json"),
                              "--jsonl")
        self.assertEqual(len(self.jsonl(proc)), 1)
        self.assertEqual(len(self.load_json("all.json")), 1)

    def test_progress_lines_when_not_a_terminal_and_quiet_silences_them(self):
        proc = self.run_point(self.path("data", "a"), "-o", self.path("out"))
        lines = proc.stderr.splitlines()
        self.assertEqual(len(lines), 6, proc.stderr)
        for i, line in enumerate(lines):
            self.assertIn("[%d/6] %s: 3 mask(s)" % (i + 1, self.image("a/img%02d" % i)), line)
        self.assertEqual(proc.stdout, "")
        quiet = self.run_point(self.path("data", "a"), "-o", self.path("out2"), "--quiet", "--jsonl")
        self.assertEqual(quiet.stderr, "")
        self.assertEqual(len(self.jsonl(quiet)), 6)  # --quiet silences progress, not data

    def test_progress_is_a_redrawn_bar_on_a_terminal(self):
        master, slave = pty.openpty()
        cmd = [os.path.join(BIN_DIR, "sam-point"), self.path("data", "a"), "--point", CLICK, "--model", SAM_FIXTURE,
               "-o", self.path("out")]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=slave, timeout=600)
        os.close(slave)
        chunks = []
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the terminal is drained
                break
            if not chunk:
                break
            chunks.append(chunk)
        os.close(master)
        stderr = b"".join(chunks).decode()
        self.assertEqual(proc.returncode, 0, stderr)
        self.assertIn("\r[", stderr)
        self.assertIn("] 6/6", stderr)
        self.assertIn("img/s", stderr)
        self.assertNotIn("[1/6]", stderr)  # no per-image lines
        self.assertTrue(stderr.rstrip(" ").endswith("\n"), repr(stderr[-80:]))  # the final bar ends its line


class FailuresAndResumeTest(BatchTestCase):
    def add_broken_image(self):
        """A corrupt file sorted between a/img03 and a/img04."""
        path = self.path("data", "a", "img03_broken.png")
        with open(path, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n not really")
        return path

    def test_keep_going_reports_the_failure_and_finishes_the_rest(self):
        broken = self.add_broken_image()
        proc = self.run_amg(self.data, "-r", "-o", self.path("out"), "--keep-going", "--jsonl", "--coco",
                            self.path("run.json"), check=False)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertEqual(self.results(self.path("out")), set(NAMES))
        errors = [l for l in proc.stderr.splitlines() if ": error: " in l]
        self.assertEqual(len(errors), 2, proc.stderr)
        self.assertIn("cannot read '%s'" % broken, errors[0])
        self.assertIn("1 of 13 image(s) failed", errors[1])
        self.assertIn("[5/13] %s: failed" % broken, proc.stderr)
        lines = self.jsonl(proc)
        self.assertEqual(len(lines), 13)
        self.assertEqual(lines[4]["image"], broken)
        self.assertEqual(lines[4]["status"], "error")
        self.assertIn("cannot read", lines[4]["error"])
        self.assertEqual(lines[4]["masks"], 0)
        self.assertEqual([l["status"] for l in lines[:4] + lines[5:]], ["ok"] * 12)
        coco = self.load_json("run.json")
        self.assertEqual(sorted(i["file_name"] for i in coco["images"]), [n + ".png" for n in NAMES])
        self.assert_no_partial_outputs(self.path("out"))

    def test_without_keep_going_stops_at_the_first_failure_then_resumes(self):
        broken = self.add_broken_image()
        out = self.path("out")
        proc = self.run_point(self.data, "-r", "-o", out, check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("[4/13]", proc.stderr)
        self.assertNotIn("[5/13]", proc.stderr)
        self.assert_one_line_error(proc, "cannot read '%s'" % broken)
        done = NAMES[:4]
        self.assertEqual(self.results(out), set(done))
        before = self.stamps(out, done)
        # What a killed run leaves: the temporary folder of a process that no longer exists.
        leftover = os.path.join(out, "a", ".img04.tmp-%d" % dead_pid())
        os.makedirs(leftover)
        save_png(np.zeros((H, W), np.uint8), os.path.join(leftover, "0.png"))

        os.remove(broken)
        time.sleep(0.01)  # a rewrite would now show in the mtimes
        proc = self.run_point(self.data, "-r", "-o", out, "--skip-existing", "--jsonl", "--coco",
                              self.path("run.json"))
        lines = self.jsonl(proc)
        self.assertEqual([l["image"] for l in lines], [self.image(n) for n in NAMES])  # input order kept
        self.assertEqual([l["status"] for l in lines], ["skipped"] * 4 + ["ok"] * 8)
        self.assertEqual([l["masks"] for l in lines], [3] * 12)  # skipped: read back from masks.json
        self.assertIn("[1/12] %s: skipped, output exists" % self.image("a/img00"), proc.stderr)
        self.assertEqual(self.stamps(out, done), before)
        self.assertEqual(self.results(out), set(NAMES))
        for name in NAMES:
            self.assert_complete_folder(os.path.join(out, name))
        self.assert_no_partial_outputs(out)
        coco = self.load_json("run.json")  # the whole run, resumed images included
        self.assertEqual([i["file_name"] for i in coco["images"]], [n + ".png" for n in NAMES])
        self.assertEqual(len(coco["annotations"]), 36)

    def test_killed_run_leaves_only_complete_folders_and_resumes(self):
        out = self.path("out")
        cmd = [os.path.join(BIN_DIR, "sam-amg"), self.data, "-r", "-o", out, "--preset", "fast",
               "--points-per-side", "4", "--model", SAM_FIXTURE, "-q"]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while not self.results(out) and proc.poll() is None and time.time() < deadline:
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        done = sorted(self.results(out))
        for name in done:  # an interrupted run never leaves a half-written result
            self.assert_complete_folder(os.path.join(out, name))
        before = self.stamps(out, done)
        time.sleep(0.01)
        proc = self.run_amg(self.data, "-r", "-o", out, "--skip-existing", "--jsonl")
        self.assertEqual([l["status"] for l in self.jsonl(proc)],
                         ["skipped" if n in done else "ok" for n in NAMES])
        self.assertEqual(self.stamps(out, done), before)
        self.assertEqual(self.results(out), set(NAMES))
        self.assert_no_partial_outputs(out)


class ShardTest(BatchTestCase):
    def check_coco(self, coco):
        """Valid COCO: ids 1..n, every annotation's RLE decodes to its image's size, area and bbox agree."""
        self.assertEqual([i["id"] for i in coco["images"]], list(range(1, len(coco["images"]) + 1)))
        self.assertEqual([a["id"] for a in coco["annotations"]], list(range(1, len(coco["annotations"]) + 1)))
        images = {i["id"]: i for i in coco["images"]}
        categories = {c["id"] for c in coco["categories"]}
        by_file = {}
        for a in coco["annotations"]:
            image = images[a["image_id"]]
            self.assertIn(a["category_id"], categories)
            self.assertEqual(a["segmentation"]["size"], [image["height"], image["width"]])
            mask = rle_decode(a["segmentation"])
            self.assertEqual(mask.shape, (image["height"], image["width"]))
            self.assertEqual(int(mask.sum()), a["area"])
            if a["area"]:
                x, y, w, h = bbox_xywh(mask)
                self.assertEqual(a["bbox"], [x, y, w + 1, h + 1])  # COCO counts pixels
            by_file.setdefault(image["file_name"], []).append(
                (a["segmentation"]["counts"], a["area"], a["score"], tuple(a["bbox"])))
        return {f: sorted(v) for f, v in by_file.items()}

    def test_three_shards_cover_every_image_once_and_merge_to_the_whole_run(self):
        self.run_point(self.data, "-r", "-o", self.path("whole"), "--coco", self.path("whole.json"), "-q")
        shards = []
        for i in range(3):
            self.run_point(self.data, "-r", "--shard", "%d/3" % i, "-o", self.path("out"), "--coco",
                           self.path("part%d.json" % i), "-q")
            shards.append({im["file_name"][:-4] for im in self.load_json("part%d.json" % i)["images"]})
        self.assertEqual([len(s) for s in shards], [4, 4, 4])
        self.assertEqual(shards[0] | shards[1] | shards[2], set(NAMES))
        self.assertEqual(len(shards[0] & shards[1]) + len(shards[1] & shards[2]) + len(shards[0] & shards[2]), 0)
        self.assertEqual(shards[1], {NAMES[i] for i in (1, 4, 7, 10)})  # round-robin over the sorted list
        self.assertEqual(self.results(self.path("out")), set(NAMES))  # one shared output tree

        proc = run_tool("sam-coco-merge", *[self.path("part%d.json" % i) for i in range(3)], "-o",
                        self.path("all.json"))
        self.assertIn("merged 3 file(s): 12 image(s), 36 annotation(s), 1 category", proc.stderr)
        self.assertEqual(proc.stdout, "")
        merged, whole = self.load_json("all.json"), self.load_json("whole.json")
        self.assertEqual(len(merged["images"]), len(whole["images"]))
        self.assertEqual(len(merged["annotations"]), len(whole["annotations"]))
        self.assertEqual(merged["categories"], whole["categories"])
        self.assertEqual(sorted((i["file_name"], i["width"], i["height"]) for i in merged["images"]),
                         sorted((i["file_name"], i["width"], i["height"]) for i in whole["images"]))
        self.assertEqual(self.check_coco(merged), self.check_coco(whole))
        # Byte for byte the single run's file, in whatever order the parts are given.
        run_tool("sam-coco-merge", *[self.path("part%d.json" % i) for i in (2, 0, 1)], "-o", self.path("any.json"), "-q")
        for merged_file in ("all.json", "any.json"):
            with open(self.path(merged_file), "rb") as f, open(self.path("whole.json"), "rb") as g:
                self.assertEqual(f.read(), g.read(), merged_file)

        # Scored with sam-eval against a ground-truth folder laid out like the input tree.
        for name, disk in self.truth.items():
            os.makedirs(os.path.dirname(self.path("gt", name)), exist_ok=True)
            save_png(disk.astype(np.uint8) * 255, self.path("gt", name + ".png"))
        reports = []
        for pred in (self.path("all.json"), self.path("out")):
            proc = run_tool("sam-eval", "--pred", pred, "--gt", self.path("gt"), "--format", "json", "--min-miou",
                            "0.9", "-q")
            reports.append(json.loads(proc.stdout)["summary"])
        self.assertEqual(reports[0]["images"], 12)
        self.assertEqual(reports[0]["missing"], 0)
        self.assertEqual(reports[0]["iou"], reports[1]["iou"])

    def test_gnu_parallel_shards_merge_to_the_single_process_result(self):
        """docs/scaling.md's GNU parallel recipe, as written there, against one process over the same tree."""
        self.run_point(self.data, "-r", "-o", self.path("whole"), "--coco", self.path("whole.json"), "-q")
        tool = os.path.join(BIN_DIR, "sam-point")
        subprocess.run(["parallel", "--will-cite", "--halt", "now,fail=1", tool, self.data, "--recursive", "--shard",
                        "{}/3", "--threads", "1", "--point", CLICK, "--model", SAM_FIXTURE, "-o", self.path("out"),
                        "--skip-existing", "--keep-going", "-q", "--coco", self.path("part{}.json"), ":::", "0", "1",
                        "2"], check=True, capture_output=True, timeout=600)
        parts = sorted(glob.glob(self.path("part*.json")))
        self.assertEqual(len(parts), 3)
        run_tool("sam-coco-merge", *parts, "-o", self.path("all.json"), "-q")
        merged, whole = self.load_json("all.json"), self.load_json("whole.json")
        self.assertEqual(sorted(i["file_name"] for i in merged["images"]), sorted(n + ".png" for n in NAMES))
        self.assertEqual(self.check_coco(merged), self.check_coco(whole))
        self.assertEqual(self.results(self.path("out")), set(NAMES))
        for name in NAMES:  # the per-image folders too: the same masks as the single process wrote
            with open(self.path("out", name, "masks.json")) as f, open(self.path("whole", name, "masks.json")) as g:
                ours, single = json.load(f), json.load(g)
            self.assertEqual([r["segmentation"] for r in ours["masks"]], [r["segmentation"] for r in single["masks"]])

    def test_shard_auto_takes_the_place_slurm_or_kubernetes_gives_the_task(self):
        """--shard auto / auto/N with the variables an array task gets (the real Slurm run: test_slurm.py)."""
        slurm = {"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_ARRAY_TASK_MIN": "0",
                 "SLURM_ARRAY_TASK_MAX": "2", "SLURM_ARRAY_TASK_STEP": "1", "SLURM_CPUS_PER_TASK": "1"}
        proc = run_tool("sam-point", self.data, "-r", "--shard", "auto", "--point", CLICK, "--model", SAM_FIXTURE,
                        "-o", self.path("slurm"), env=slurm)
        self.assertIn("sam-point: shard 1/3 (SLURM_ARRAY_TASK_ID=1, SLURM_ARRAY_TASK_COUNT=3, "
                      "SLURM_ARRAY_TASK_MIN=0, _MAX=2): 4 of 12 image(s), 1 CPU thread(s)", proc.stderr)
        self.assertEqual(self.results(self.path("slurm")), {NAMES[i] for i in (1, 4, 7, 10)})
        run_tool("sam-point", self.data, "-r", "--shard", "auto/4", "--point", CLICK, "--model", SAM_FIXTURE,
                 "-o", self.path("pod"), "-q", env={"JOB_COMPLETION_INDEX": "3"})
        self.assertEqual(self.results(self.path("pod")), {NAMES[i] for i in (3, 7, 11)})

        clean = dict({k: "" for k in slurm}, JOB_COMPLETION_INDEX="")
        for shard, env, needle in (
                ("auto", clean, "not a Slurm array task (SLURM_ARRAY_TASK_ID) nor a Kubernetes indexed Job"),
                ("auto", dict(slurm, SLURM_ARRAY_TASK_COUNT="1", SLURM_ARRAY_TASK_MIN="1", SLURM_ARRAY_TASK_MAX="1"),
                 "give it: --shard auto/N"),
                ("auto", dict(clean, JOB_COMPLETION_INDEX="2"), "JOB_COMPLETION_INDEX=2"),
                ("auto/2", dict(clean, JOB_COMPLETION_INDEX="2"), "not below the shard count 2"),
                ("auto", dict(slurm, SLURM_ARRAY_TASK_ID="x"), "SLURM_ARRAY_TASK_ID='x' is not a task number")):
            proc = run_tool("sam-point", self.data, "-r", "--shard", shard, "--point", CLICK, "--model", SAM_FIXTURE,
                            "-o", self.path("refused"), check=False, env=env)
            self.assertEqual(proc.returncode, 2, proc.stderr)
            self.assert_one_line_error(proc, needle)
            self.assertNotIn("----", proc.stderr)
        self.assertFalse(os.path.exists(self.path("refused")))

    def test_scaling_doc_shows_the_shipped_job_scripts_as_they_are(self):
        """docs/scaling.md shows scripts/slurm/ (the scripts test_slurm.py submits) and the Kubernetes
        manifest verbatim, so what users copy from the page is what was run."""
        repo = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
        with open(os.path.join(repo, "docs", "scaling.md")) as f:
            doc = f.read()
        for script in ("slurm/samcli-array.sbatch", "slurm/samcli-merge.sbatch", "kubernetes/samcli-indexed-job.yaml"):
            with open(os.path.join(repo, "scripts", script)) as f:
                self.assertIn("\n" + f.read() + "```", doc, script)

    def test_merge_to_stdout_and_errors_naming_the_file(self):
        self.run_point(self.data, "-r", "-o", self.path("out"), "--shard", "0/2", "--coco", self.path("p0.json"), "-q")
        proc = run_tool("sam-coco-merge", self.path("p0.json"), "-o", "-")
        self.assertEqual(len(json.loads(proc.stdout)["images"]), 6)
        twice = run_tool("sam-coco-merge", self.path("p0.json"), self.path("p0.json"), "-o", "-", "-q")
        self.assertIn("warning: 6 image(s) are in more than one input", twice.stderr)
        with open(self.path("broken.json"), "w") as f:
            f.write('{"images": [')
        with open(self.path("results.json"), "w") as f:
            json.dump([{"image_id": 1, "score": 1.0}], f)
        binary = save_png(np.zeros((4, 4, 3), np.uint8), self.path("binary.png"))  # a PNG given as COCO
        proc = run_tool("sam-coco-merge", self.path("p0.json"), binary, "-o", self.path("all.json"), check=False)
        self.assert_one_line_error(proc, "'%s': malformed JSON at line 1, column 1" % binary, "\\x89")
        self.assertTrue(all(32 <= ord(c) < 127 or c == "\n" for c in proc.stderr), repr(proc.stderr))  # escaped
        for bad, needle in ((self.path("missing.json"), "no such file"), (self.path("broken.json"), "malformed JSON at line 1, column 13"),
                            (self.path("results.json"), "not a COCO file")):
            proc = run_tool("sam-coco-merge", self.path("p0.json"), bad, "-o", self.path("all.json"), check=False)
            self.assertEqual(proc.returncode, 1)
            self.assert_one_line_error(proc, "'%s'" % bad, needle)
            self.assertFalse(os.path.exists(self.path("all.json")))
        proc = run_tool("sam-coco-merge", self.path("p0.json"), "-o", self.path("p0.json"), check=False)
        self.assertEqual(proc.returncode, 2)
        self.assert_one_line_error(proc, "also an input")
        self.assertIn("sam-coco-merge out/part*.json -o out/all.json", run_tool("sam-coco-merge", "--help").stdout)


class EmbeddingCacheTest(BatchTestCase):
    def run_cached(self, out):
        proc = self.run_point(self.image("a/img00"), "-o", self.path(out), "--embedding-cache", self.path("cache"))
        with open(self.path(out, "img00", "masks.json")) as f:
            return proc, [r["segmentation"] for r in json.load(f)["masks"]]

    def entry(self):
        entries = glob.glob(self.path("cache", "*.samemb"))
        self.assertEqual(len(entries), 1, entries)
        return entries[0]

    @staticmethod
    def split_entry(path):
        with open(path, "rb") as f:
            blob = f.read()
        newline = blob.index(b"\n")
        return json.loads(blob[:newline]), blob[newline + 1:]

    @staticmethod
    def digest(header, data):
        """The entry checksum: the header without "sha256" (compact, keys sorted), a newline, the data."""
        rest = {k: v for k, v in header.items() if k != "sha256"}
        text = json.dumps(rest, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(text + b"\n" + data).hexdigest()

    def assert_valid_entry(self, path):
        header, data = self.split_entry(path)
        self.assertEqual(header["format"], "samcli-embedding")
        self.assertEqual(len(data), 4 * np.prod(header["shape"]))
        self.assertEqual(self.digest(header, data), header["sha256"])

    def test_second_run_reads_the_embedding_instead_of_encoding(self):
        _, first = self.run_cached("first")  # miss: encoded and stored
        entry = self.entry()
        self.assert_valid_entry(entry)
        stamp = os.stat(entry).st_mtime_ns
        time.sleep(0.01)
        proc, second = self.run_cached("second")  # hit: read, not rewritten, same masks
        self.assertEqual(second, first)
        self.assertEqual(os.stat(entry).st_mtime_ns, stamp)
        self.assertNotIn("warning", proc.stderr)
        # Proof that the encoder is skipped: a valid entry holding a different embedding (all zeros:
        # one colour everywhere for the fixture) changes the result -- the click then selects the
        # whole image instead of the disk.
        header, data = self.split_entry(entry)
        zeros = bytes(len(data))
        header["sha256"] = self.digest(header, zeros)
        with open(entry, "wb") as f:
            f.write(json.dumps(header).encode() + b"\n" + zeros)
        proc, doctored = self.run_cached("doctored")
        self.assertNotIn("warning", proc.stderr)
        self.assertEqual(int(self.best_mask(self.path("doctored", "img00")).sum()), H * W)
        self.assertGreater(iou(self.best_mask(self.path("first", "img00")), self.truth["a/img00"]), 0.9)
        # Another image misses and gets its own entry.
        self.run_point(self.image("a/img01"), "-o", self.path("other"), "--embedding-cache", self.path("cache"))
        self.assertEqual(len(glob.glob(self.path("cache", "*.samemb"))), 2)

    def test_corrupt_or_truncated_entries_are_rebuilt_with_a_warning(self):
        _, first = self.run_cached("first")
        entry = self.entry()
        with open(entry, "rb") as f:
            original = f.read()
        flipped = bytearray(original)
        for i in range(len(flipped) - 4000, len(flipped) - 3990):
            flipped[i] ^= 0xFF
        for damaged, why in ((bytes(flipped), "checksum mismatch"), (original[:len(original) // 2], "truncated"),
                             (b"\x00garbage", "unreadable header")):
            with open(entry, "wb") as f:
                f.write(damaged)
            proc, again = self.run_cached("again")
            warnings = [l for l in proc.stderr.splitlines() if "warning:" in l]
            self.assertEqual(len(warnings), 1, proc.stderr)
            self.assertIn("'%s' is stale or corrupt (%s" % (entry, why), warnings[0])
            self.assertEqual(again, first)  # encoded afresh
            self.assert_valid_entry(entry)  # and stored again
            self.assertEqual(self.split_entry(entry)[0], json.loads(original[:original.index(b"\n")]))
        self.assertEqual(os.listdir(self.path("cache")), [os.path.basename(entry)])  # no temporary files left

    def test_an_edited_header_is_caught_by_the_checksum(self):
        _, first = self.run_cached("first")
        entry = self.entry()
        header, data = self.split_entry(entry)
        for field, value in (("input_size", [header["input_size"][0] // 2, header["input_size"][1]]),
                             ("version", 1)):
            edited = dict(header, **{field: value})
            with open(entry, "wb") as f:
                f.write(json.dumps(edited).encode() + b"\n" + data)
            proc, again = self.run_cached("again")
            warnings = [l for l in proc.stderr.splitlines() if "warning:" in l]
            self.assertEqual(len(warnings), 1, proc.stderr)
            self.assertIn("'%s' is stale or corrupt" % entry, warnings[0])
            self.assertEqual(again, first)  # the edit changed nothing: the entry was rebuilt
            self.assertEqual(self.split_entry(entry)[0], header)


def tree_digest(*roots):
    """{path relative to its root (files also given directly by name): sha256 of the bytes}."""
    digest = {}
    for root in roots:
        if os.path.isfile(root):
            with open(root, "rb") as f:
                digest[os.path.basename(root)] = hashlib.sha256(f.read()).hexdigest()
            continue
        for folder, _, files in os.walk(root):
            for name in files:
                path = os.path.join(folder, name)
                with open(path, "rb") as f:
                    digest[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return digest


class DeterminismTest(BatchTestCase):
    def test_same_input_gives_byte_identical_outputs_across_runs_and_thread_counts(self):
        for tool, run in (("sam-point", self.run_point), ("sam-amg", self.run_amg)):
            digests = []
            for k, threads in enumerate((1, 2, 2)):  # --threads 1, --threads 2, and --threads 2 again
                out = self.path("%s-%d" % (tool, k))
                run(self.data, "-r", "--shard", "0/2", "-o", out, "--threads", threads, "-q", "--json",
                    out + "-all.json", "--coco", out + "-coco.json")
                digest = tree_digest(out, out + "-all.json", out + "-coco.json")
                digests.append({name.replace("%s-%d" % (tool, k), "run"): h for name, h in digest.items()})
            # masks, overlays, masks.json; metadata.csv and labels.png (sam-amg); best_logits.npy (sam-point)
            extra = ["best_logits.npy"] if tool == "sam-point" else ["metadata.csv", "labels.png"]
            for name in NAMES[::2]:  # shard 0/2: both folders
                for file in ["masks.json", "overlay.png", "0.png"] + extra:
                    self.assertIn(os.path.join(name, file), digests[0])
            self.assertIn("run-coco.json", digests[0])
            for other in digests[1:]:
                differing = sorted(n for n in set(digests[0]) | set(other) if digests[0].get(n) != other.get(n))
                self.assertEqual(differing, [], tool)


class ConcurrentRunsTest(BatchTestCase):
    def test_two_processes_sharing_out_and_cache_write_every_result_once_and_whole(self):
        many = self.path("many")
        os.makedirs(many)
        names = ["img%02d" % i for i in range(20)]
        for i, name in enumerate(names):  # every image different, so a result on the wrong image shows
            disk = disk_mask(H, W, 30 + 4 * i, 60, 20)
            rect = rect_mask(H, W, 100, 10 + 3 * i, 150, 40 + 3 * i)
            save_png(paint(H, W, [(disk, COLOURS[i % 6]), (rect, COLOURS[(i + 3) % 6])]), os.path.join(many, name + ".png"))
        self.run_amg(many, "-o", self.path("reference"), "-q")  # one process, alone
        out, cache = self.path("out"), self.path("cache")
        cmd = [os.path.join(BIN_DIR, "sam-amg"), many, "-o", out, "--skip-existing", "--embedding-cache", cache,
               "--jsonl", "-q", "--preset", "fast", "--points-per-side", "4", "--model", SAM_FIXTURE]
        procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        results = [p.communicate(timeout=300) for p in procs]
        written = {name: 0 for name in names}
        for proc, (stdout, stderr) in zip(procs, results):
            self.assertEqual(proc.returncode, 0, stderr)
            self.assertNotIn("error", stderr)
            lines = [json.loads(line) for line in stdout.splitlines()]
            self.assertEqual(len(lines), 20)
            for line in lines:
                self.assertIn(line["status"], ("ok", "skipped"))
                if line["status"] == "ok":
                    written[os.path.basename(line["output"])] += 1
        self.assertEqual(written, {name: 1 for name in names})  # each folder committed by exactly one process
        self.assert_no_partial_outputs(out)
        # Every result whole and of its own image: byte for byte what one process alone writes.
        self.assertEqual(tree_digest(out), tree_digest(self.path("reference")))
        for name in names:
            self.assert_complete_folder(os.path.join(out, name))
        for entry in glob.glob(os.path.join(cache, "*")):
            self.assertTrue(entry.endswith(".samemb"), entry)  # no temporary file left
            with open(entry, "rb") as f:
                blob = f.read()
            header = json.loads(blob[:blob.index(b"\n")])
            self.assertEqual(EmbeddingCacheTest.digest(header, blob[blob.index(b"\n") + 1:]), header["sha256"])
        self.assertEqual(len(glob.glob(os.path.join(cache, "*.samemb"))), 20)


if __name__ == "__main__":
    unittest.main()
