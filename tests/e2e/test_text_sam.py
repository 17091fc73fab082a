"""text-sam end to end on the fixture detector (tests/fixtures/make_owlvit_fixture.py: a query finds
the region of the colour it names, score 0.95..0.98, plus a shrunk duplicate box scoring 0.076) and
the fixture SAM (masks = the colour region inside the box)."""
import json
import os
import shutil
import unittest

from samcli_e2e import (FIXTURES, SAM_FIXTURE, ToolTestCase, iou, paint, read_mask, rect_mask, run_tool, save_png,
                        two_shape_scene)

OWLVIT_FIXTURE = os.path.join(FIXTURES, "owlvit_fixture")
DISK_BOX = (120, 160, 281, 321)  # pixel-edge bounds of the red disk of two_shape_scene
RECT_BOX = (400, 150, 560, 330)


class TextSamTest(ToolTestCase):
    def setUp(self):
        super().setUp()
        self.scene, self.truth = two_shape_scene()
        self.image = save_png(self.scene, self.path("scene.png"))

    def run_text(self, *args, image=None, check=True, stdin=None, env=None):
        return run_tool("text-sam", image or self.image, "--detector-model", OWLVIT_FIXTURE, "--model", SAM_FIXTURE,
                        "-o", self.path("out"), *args, check=check, stdin=stdin, env=env)

    def assert_box_near(self, box, want, tolerance=3):
        for got, expected in zip(box, want):
            self.assertAlmostEqual(got, expected, delta=tolerance, msg="box %s, expected %s" % (box, want))

    def test_colour_query_segments_that_shape(self):
        proc = self.run_text("--text", "red")
        doc = self.load_json("out", "scene", "masks.json")
        self.assertEqual(doc["queries"], ["red"])
        self.assertEqual(len(doc["masks"]), 1)
        rec = doc["masks"][0]
        mask = self.check_record_schema(rec, (480, 640))
        self.assertEqual(rec["label"], "red")
        self.assertEqual(rec["label_id"], 0)
        self.assertTrue(0.95 < rec["detector_score"] < 0.99, rec["detector_score"])
        self.assert_box_near(rec["box"], DISK_BOX)
        self.assertEqual(rec["detector_box"], rec["box"])  # inside the image: clipping changed nothing
        self.assertGreater(rec["predicted_iou"], 0.8)
        self.assertGreater(iou(mask, self.truth["disk"]), 0.9)
        self.assertGreater(iou(read_mask(self.path("out", "scene", rec["mask_file"])), self.truth["disk"]), 0.9)
        for name in ("detections.png", "overlay.png"):
            self.assertTrue(os.path.exists(self.path("out", "scene", name)), name)
        self.assertFalse(os.path.exists(self.path("out", "scene", "overlay_0.png")))
        self.assertIn("1 detector pass for 1 query set(s)", proc.stderr)

    def test_two_queries_give_two_labelled_detections(self):
        proc = self.run_text("--text", "red", "--text", "a blue box", "--json", "-")
        doc = json.loads(proc.stdout)[0]
        self.assertEqual(doc["queries"], ["red", "a blue box"])
        # Best detector score first: the blue rectangle is the larger region.
        self.assertEqual([r["label"] for r in doc["masks"]], ["a blue box", "red"])
        self.assertEqual([r["label_id"] for r in doc["masks"]], [1, 0])
        self.assert_box_near(doc["masks"][0]["box"], RECT_BOX)
        self.assertGreater(iou(read_mask(self.path("out", "scene", "0.png")), self.truth["rect"]), 0.9)
        self.assertGreater(iou(read_mask(self.path("out", "scene", "1.png")), self.truth["disk"]), 0.9)
        self.assertIn("2 box(es) decoded in one batch", proc.stderr)

        # The same queries comma-separated in one --text.
        comma = json.loads(self.run_text("--text", "red, a blue box", "--json", "-").stdout)[0]
        self.assertEqual(comma["queries"], doc["queries"])
        self.assertEqual([r["box"] for r in comma["masks"]], [r["box"] for r in doc["masks"]])

    def test_queries_from_runs_every_set_on_one_encoding(self):
        with open(self.path("queries.txt"), "w") as f:
            f.write("red\n\nblue, yellow\npurple\n")
        proc = self.run_text("--queries-from", self.path("queries.txt"))
        self.assertEqual(proc.stderr.count("1 detector pass for 3 query set(s), 4 queries"), 1, proc.stderr)
        self.assertEqual(proc.stderr.count("image encoded once, 2 box(es) decoded in one batch"), 1, proc.stderr)
        self.assertIn("scene.png q3: nothing found for 'purple'", proc.stderr)
        doc = self.load_json("out", "scene", "masks.json")
        self.assertEqual(doc["query_sets"], [{"query_set": 1, "folder": "q1", "queries": ["red"]},
                                             {"query_set": 2, "folder": "q2", "queries": ["blue", "yellow"]},
                                             {"query_set": 3, "folder": "q3", "queries": ["purple"]}])
        self.assertEqual([(r["query_set"], r["label"], r["mask_file"]) for r in doc["masks"]],
                         [(1, "red", "q1/0.png"), (2, "blue", "q2/0.png")])
        self.assertGreater(iou(read_mask(self.path("out", "scene", "q1", "0.png")), self.truth["disk"]), 0.9)
        self.assertGreater(iou(read_mask(self.path("out", "scene", "q2", "0.png")), self.truth["rect"]), 0.9)
        for folder in ("q1", "q2", "q3"):
            for name in ("detections.png", "overlay.png"):
                self.assertTrue(os.path.exists(self.path("out", "scene", folder, name)), (folder, name))
        self.assertFalse(os.path.exists(self.path("out", "scene", "q3", "0.png")))

    def test_queries_from_stdin(self):
        proc = self.run_text("--queries-from", "-", "--json", "-", stdin="blue\nred\n")
        doc = json.loads(proc.stdout)[0]
        self.assertEqual([(r["query_set"], r["label"]) for r in doc["masks"]], [(1, "blue"), (2, "red")])

    def test_nothing_found_exits_0_with_an_empty_list(self):
        proc = self.run_text("--text", "dog", "--json", "-")
        self.assertEqual(proc.returncode, 0)
        doc = json.loads(proc.stdout)[0]
        self.assertEqual(doc["masks"], [])
        self.assertIn("text-sam: warning: %s: nothing found for 'dog'" % self.image, proc.stderr)
        self.assertIn("SAM: skipped, no box", proc.stderr)
        self.assertEqual(self.load_json("out", "scene", "masks.json")["masks"], [])
        self.assertTrue(os.path.exists(self.path("out", "scene", "detections.png")))

    def test_threshold_nms_and_top_k(self):
        # A lower threshold also keeps each region's shrunk duplicate (score 0.076, IoU 0.64).
        low = json.loads(self.run_text("--text", "red, blue", "--box-threshold", "0.05", "--json", "-").stdout)[0]
        self.assertEqual(sorted(r["label"] for r in low["masks"]), ["blue", "blue", "red", "red"])
        self.assertTrue(all(0.07 < r["detector_score"] < 0.08 for r in low["masks"][2:]))
        nms = json.loads(self.run_text("--text", "red, blue", "--box-threshold", "0.05", "--nms", "0.5",
                                       "--json", "-").stdout)[0]
        self.assertEqual([r["label"] for r in nms["masks"]], ["blue", "red"])
        loose = json.loads(self.run_text("--text", "red, blue", "--box-threshold", "0.05", "--nms", "0.7",
                                         "--json", "-").stdout)[0]
        self.assertEqual(len(loose["masks"]), 4)
        top = json.loads(self.run_text("--text", "red, blue", "--top-k", "1", "--json", "-").stdout)[0]
        self.assertEqual([r["label"] for r in top["masks"]], ["blue"])

    def test_mask_mode_single_writes_one_overlay_per_detection(self):
        self.run_text("--text", "red, blue", "--mask-mode", "single")
        for name in ("0.png", "1.png", "overlay_0.png", "overlay_1.png", "overlay.png", "detections.png"):
            self.assertTrue(os.path.exists(self.path("out", "scene", name)), name)

    def test_several_images(self):
        h, w = 300, 400
        square = rect_mask(h, w, 100, 80, 300, 260)
        other = save_png(paint(h, w, [(square, (240, 220, 30))]), self.path("yellow.png"))
        proc = run_tool("text-sam", self.image, other, "--text", "yellow, red", "--detector-model", OWLVIT_FIXTURE,
                        "--model", SAM_FIXTURE, "-o", self.path("out"), "--json", "-")
        docs = json.loads(proc.stdout)
        self.assertEqual([[r["label"] for r in d["masks"]] for d in docs], [["red"], ["yellow"]])
        self.assertGreater(iou(read_mask(self.path("out", "yellow", "0.png")), square), 0.9)

    def test_long_query_is_cut_with_a_warning(self):
        query = "red " + " ".join(["thing"] * 20)
        proc = self.run_text("--text", query, "--json", "-")
        self.assertIn("text-sam: warning: query '%s' is longer than the detector's 14 tokens" % query, proc.stderr)
        self.assertEqual([r["label"] for r in json.loads(proc.stdout)[0]["masks"]], [query])

    def test_detector_found_by_name_or_environment(self):
        run_tool("text-sam", self.image, "--text", "red", "--detector-model", "owlvit_fixture", "--model", SAM_FIXTURE,
                 "-o", self.path("name"), env={"SAMCLI_WEIGHTS": FIXTURES})
        self.assertEqual(len(self.load_json("name", "scene", "masks.json")["masks"]), 1)
        run_tool("text-sam", self.image, "--text", "red", "--sam-model", SAM_FIXTURE, "-o", self.path("env"),
                 env={"SAMCLI_DETECTOR": "owlvit_fixture", "SAMCLI_WEIGHTS": FIXTURES})
        self.assertEqual(len(self.load_json("env", "scene", "masks.json")["masks"]), 1)

    # ---- bad input: one-line error, non-zero exit, nothing written
    def assert_rejected(self, proc, *needles, code=None):
        self.assert_one_line_error(proc, *needles)
        if code is not None:
            self.assertEqual(proc.returncode, code, proc.stderr)
        self.assertFalse(os.path.exists(self.path("out", "scene")))
        self.assert_no_partial_outputs(self.path("out"))

    def test_empty_query_is_a_usage_error(self):
        self.assert_rejected(self.run_text("--text", "", check=False), "--text '' has no query", code=2)
        self.assert_rejected(self.run_text("--text", " , ", check=False), "has no query", code=2)

    def test_punctuation_only_query_is_a_usage_error(self):
        proc = self.run_text("--text", "red, ???", check=False)
        self.assert_rejected(proc, "query '???' in --text is only punctuation", code=2)

    def test_queries_are_required_once(self):
        proc = run_tool("text-sam", self.image, "--detector-model", OWLVIT_FIXTURE, "--model", SAM_FIXTURE,
                        "-o", self.path("out"), check=False)
        self.assert_rejected(proc, "nothing to look for", code=2)
        with open(self.path("q.txt"), "w") as f:
            f.write("red\n")
        proc = self.run_text("--text", "red", "--queries-from", self.path("q.txt"), check=False)
        self.assert_rejected(proc, "excludes", code=2)
        with open(self.path("blank.txt"), "w") as f:
            f.write("\n\n")
        self.assert_rejected(self.run_text("--queries-from", self.path("blank.txt"), check=False), "has no queries",
                             code=2)
        self.assert_rejected(self.run_text("--queries-from", self.path("missing.txt"), check=False),
                             "cannot read --queries-from", code=1)

    def test_missing_vocabulary_file_in_the_detector(self):
        broken = self.path("owlvit_broken")
        shutil.copytree(OWLVIT_FIXTURE, broken)
        merges = json.load(open(os.path.join(broken, "manifest.json")))["files"]["bpe_merges"]
        os.remove(os.path.join(broken, merges))
        proc = run_tool("text-sam", self.image, "--text", "red", "--detector-model", broken, "--model", SAM_FIXTURE,
                        "-o", self.path("out"), check=False)
        self.assert_rejected(proc, "lacks '%s'" % merges, code=1)

    def test_wrong_model_directories(self):
        self.assert_rejected(run_tool("text-sam", self.image, "--text", "red", "--detector-model", SAM_FIXTURE,
                                      "--model", SAM_FIXTURE, "-o", self.path("out"), check=False),
                             "is not an OWL-ViT detector", code=1)
        self.assert_rejected(run_tool("text-sam", self.image, "--text", "red", "--detector-model", OWLVIT_FIXTURE,
                                      "--model", OWLVIT_FIXTURE, "-o", self.path("out"), check=False),
                             "is not a SAM model", code=1)
        self.assert_rejected(run_tool("text-sam", self.image, "--text", "red", "--detector-model",
                                      self.path("nowhere"), "--model", SAM_FIXTURE, "-o", self.path("out"),
                                      check=False),
                             "detector model directory", "does not exist", code=1)
        self.assert_rejected(run_tool("text-sam", self.image, "--text", "red", "--model", SAM_FIXTURE,
                                      "-o", self.path("out"), check=False, env={"SAMCLI_DETECTOR": ""}),
                             "no detector model given", code=1)

    def test_unreadable_image(self):
        with open(self.path("bad.png"), "w") as f:
            f.write("not an image")
        proc = self.run_text("--text", "red", image=self.path("bad.png"), check=False)
        self.assert_one_line_error(proc, "bad.png")
        self.assert_no_partial_outputs(self.path("out"))


if __name__ == "__main__":
    unittest.main()
