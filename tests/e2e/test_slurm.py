"""docs/scaling.md's Slurm recipe on a real (single-node) Slurm: scripts/slurm/samcli-array.sbatch as
an array of 3 tasks over one dataset, one task cancelled mid-run and resubmitted, the parts merged
by scripts/slurm/samcli-merge.sbatch, and the result compared byte for byte with one process over
the same data. The cluster (munged, MariaDB, slurmdbd, slurmctld, slurmd) is started and stopped
here; run as a script, the module exits 77 (CTest: skipped) with the reason where it cannot start.
"""
import glob
import json
import os
import re
import shutil
import sys
import tempfile
import time
import unittest

import numpy as np

from samcli_e2e import BIN_DIR, SAM_FIXTURE, paint, disk_mask, rect_mask, run_tool, save_png
from slurm_cluster import SlurmCluster, why_not_startable

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ARRAY_SCRIPT = os.path.join(REPO, "scripts", "slurm", "samcli-array.sbatch")
MERGE_SCRIPT = os.path.join(REPO, "scripts", "slurm", "samcli-merge.sbatch")
H, W = 240, 320
IMAGES = 24
# Each sam-amg run: the fast preset on the fixture SAM, about half a second an image on one core,
# so a task of 8 images runs long enough to be cancelled in the middle.
AMG = ["--recursive", "--preset", "fast", "--model", SAM_FIXTURE]


def make_dataset(root):
    """data/{a,b}/img_NNN.png: a disk and a rectangle in varying colours on grey; data/a/broken.png is
    not an image (first in the sorted list, so task 0 of 3 meets it)."""
    for i in range(IMAGES):
        disk = disk_mask(H, W, 100, 120, 50)
        rect = rect_mask(H, W, 200, 40 + i % 40, 280, 120 + i % 40)
        colour = ((60 * i) % 256, 200, (255 - 40 * i) % 256)
        folder = os.path.join(root, "ab"[i % 2])
        os.makedirs(folder, exist_ok=True)
        save_png(paint(H, W, [(disk, colour), (rect, (30, 60, 220))]), os.path.join(folder, "img_%03d.png" % i))
    with open(os.path.join(root, "a", "broken.png"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n not really")


def tree(root, skip=()):
    """{relative path: bytes} of every file below root, except below the top-level names in skip."""
    files = {}
    for folder, dirs, names in os.walk(root):
        if folder == root:
            dirs[:] = [d for d in dirs if d not in skip]
            names = [n for n in names if n not in skip]
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                files[os.path.relpath(path, root)] = f.read()
    return files


class SlurmArrayJobTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="samcli-slurm-")
        cls.started = time.monotonic()
        cls.cluster = SlurmCluster(os.path.join(cls.work, "cluster")).__enter__()
        cls.startup = time.monotonic() - cls.started
        # Jobs inherit the submitter's environment (sbatch --export=ALL): the tools on PATH.
        cls.cluster.env["PATH"] = BIN_DIR + os.pathsep + cls.cluster.env["PATH"]

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()
        shutil.rmtree(cls.work, ignore_errors=True)

    def path(self, *parts):
        return os.path.join(self.work, *parts)

    def log(self, job, task):
        with open(self.path("logs", "%s_%s.log" % (job, task))) as f:
            return f.read()

    def jsonl(self, out, task):
        with open(os.path.join(out, "parts", "part%d.jsonl" % task)) as f:
            return [json.loads(line) for line in f]

    def submit_array(self, array, out, extra_env=None):
        """scripts/slurm/samcli-array.sbatch as docs/scaling.md submits it, one CPU a task."""
        env = dict(self.cluster.env, **(extra_env or {}))
        saved, self.cluster.env = self.cluster.env, env
        try:
            return self.cluster.sbatch("--array=" + array, "--cpus-per-task=1", "--mem=1G",
                                       "--output=" + self.path("logs", "%A_%a.log"), ARRAY_SCRIPT, "sam-amg",
                                       self.path("data"), out, *AMG, "--embedding-cache", os.path.join(out, "cache"),
                                       cwd=self.work)
        finally:
            self.cluster.env = saved

    def test_array_job_with_a_cancelled_task_resubmitted_merges_to_the_single_process_run(self):
        make_dataset(self.path("data"))
        os.makedirs(self.path("logs"))
        out = self.path("out")

        # One process over everything: the reference (broken.png fails, the rest are written).
        single = run_tool("sam-amg", self.path("data"), *AMG, "--threads", "1", "-o", self.path("single"),
                          "--keep-going", "--coco", self.path("single.json"), "-q", check=False)
        self.assertEqual(single.returncode, 1, single.stderr)

        # The array; task 1 is cancelled once it has finished an image.
        started = time.monotonic()
        job = self.submit_array("0-2", out)
        part1 = os.path.join(out, "parts", "part1.jsonl")

        def task1_busy():
            if not os.path.exists(part1):
                return False
            with open(part1) as f:
                return '"status":"ok"' in f.read()
        self.cluster.wait_for(task1_busy, "task 1 to finish an image", 300)
        self.cluster.run("scancel", job + "_1")
        tasks = self.cluster.wait(job)
        array_seconds = time.monotonic() - started

        # What sacct shows: the broken image failed task 0 (exit 1, after the rest of its images),
        # task 1 was cancelled, task 2 completed.
        self.assertEqual(tasks[job + "_0"], ("FAILED", "1:0"), tasks)
        self.assertEqual(tasks[job + "_1"][0], "CANCELLED", tasks)
        self.assertEqual(tasks[job + "_2"], ("COMPLETED", "0:0"), tasks)
        log0 = self.log(job, 0)
        self.assertRegex(log0, r"sam-amg: error: cannot read '[^']*/data/a/broken\.png'")
        self.assertIn("sam-amg: error: 1 of 9 image(s) failed", log0)
        # --shard auto took the place Slurm gave the task; --threads 0 took --cpus-per-task.
        self.assertIn("sam-amg: shard 0/3 (SLURM_ARRAY_TASK_ID=0, SLURM_ARRAY_TASK_COUNT=3, SLURM_ARRAY_TASK_MIN=0, "
                      "_MAX=2): 9 of 25 image(s), 1 CPU thread(s)", log0)
        self.assertIn("shard 2/3 (SLURM_ARRAY_TASK_ID=2, SLURM_ARRAY_TASK_COUNT=3", self.log(job, 2))
        # Finished is what has its folder (the kill may fall between a folder's rename and its line).
        inputs = sorted(glob.glob(self.path("data", "*", "*.png")))
        done_before_cancel = [p for p in inputs[1::3]
                              if os.path.exists(os.path.join(out, os.path.relpath(p, self.path("data"))[:-4],
                                                             "masks.json"))]
        self.assertGreaterEqual(len(done_before_cancel), 1)
        self.assertLess(len(done_before_cancel), 8, "task 1 finished before it was cancelled")
        self.assertFalse(os.path.exists(os.path.join(out, "parts", "part1.json")))

        # Resubmitting task 1 alone: without the count, --shard auto refuses (exit 2, nothing done) ...
        alone = self.submit_array("1", out)
        self.assertEqual(list(self.cluster.wait(alone).values()), [("FAILED", "2:0")])
        self.assertRegex(self.log(alone, 1), r"sam-amg: error: --shard auto: the number of shards is not known "
                                             r"from SLURM_ARRAY_TASK_ID=1, SLURM_ARRAY_TASK_COUNT=1.*--shard auto/N")
        # ... with SAMCLI_SHARDS it finishes the shard, skipping what the cancelled run finished.
        resubmitted = self.submit_array("1", out, {"SAMCLI_SHARDS": "3"})
        self.assertEqual(list(self.cluster.wait(resubmitted).values()), [("COMPLETED", "0:0")])
        rerun = self.jsonl(out, 1)
        self.assertEqual(len(rerun), 8)
        self.assertEqual(sorted(r["image"] for r in rerun if r["status"] == "skipped"), sorted(done_before_cancel))
        self.assertEqual({r["status"] for r in rerun if r["image"] not in done_before_cancel}, {"ok"})

        # The merge step, after the tasks (afterany: task 0 failed but wrote its part).
        merge = self.cluster.sbatch("--dependency=afterany:%s:%s" % (job, resubmitted),
                                    "--output=" + self.path("logs", "merge_%j.log"), MERGE_SCRIPT, out, "3",
                                    cwd=self.work)
        self.assertEqual(list(self.cluster.wait(merge).values()), [("FAILED", "1:0")])  # an image failed: listed, exit 1
        with open(self.path("logs", "merge_%s.log" % merge)) as f:
            merge_log = f.read()
        self.assertIn("merged 3 file(s): 24 image(s)", merge_log)
        self.assertRegex(merge_log, r'"image":"[^"]*/data/a/broken\.png".*"status":"error"')
        self.assertIn("samcli-merge: the images above failed", merge_log)

        # Byte for byte the single process's results: the merged COCO file and every image folder,
        # nothing lost, nothing twice, no temporary folder left.
        with open(os.path.join(out, "all.json"), "rb") as f, open(self.path("single.json"), "rb") as g:
            self.assertEqual(f.read(), g.read())
        ours, reference = tree(out, skip=("parts", "cache", "all.json")), tree(self.path("single"))
        self.assertEqual(sorted(ours), sorted(reference))
        self.assertEqual(len({os.path.dirname(p) for p in reference}), IMAGES)
        for name in reference:
            self.assertEqual(ours[name], reference[name], name)
        self.assertEqual(glob.glob(os.path.join(out, "**", ".*"), recursive=True), [])
        # The tasks shared one embedding cache: one entry per image that could be read.
        self.assertEqual(len(glob.glob(os.path.join(out, "cache", "*.samemb"))), IMAGES)

        print("\nslurm: cluster up in %.1f s; array of 3 with task 1 cancelled after %d of 8 images: %.1f s; "
              "test %.1f s" % (self.startup, len(done_before_cancel), array_seconds,
                               time.monotonic() - self.started), file=sys.stderr)


if __name__ == "__main__":
    reason = why_not_startable()
    if reason:
        print("skipped: Slurm cannot start here: " + reason, file=sys.stderr)
        sys.exit(77)
    unittest.main()
