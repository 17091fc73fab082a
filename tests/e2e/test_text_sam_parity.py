"""text-sam against Hugging Face's OWLv2 and OWL-ViT pipelines (tests/data/reference/owl/, made by
tests/data/reference/run_owl_reference.py with transformers' own processors, models and
post-processing) on the seeded stand-in detectors of tests/fixtures/make_owl_standin.py.

Each reference case is one image (square 512x512, wide 600x400, tall 1000x1500: OWLv2 pads the last
two at different sides) and one query kind: text (post_process_object_detection), an example image
file (--query-image) or an example box of the image (--query-box; image_guided_detection and
post_process_image_guided_detection). text-sam must find the same boxes: the same count, scores within
1e-4, boxes within 0.5 px, objectness (OWLv2) and image-guided relative scores within 1e-4. Hugging
Face keeps boxes that lie wholly in OWLv2's grey padding, outside the image; text-sam drops boxes
without a pixel of the image (no box prompt for SAM), so those are left out of the comparison.
"""
import glob
import json
import os
import shutil
import unittest

from samcli_e2e import FIXTURES, SAM_FIXTURE, ToolTestCase, run_tool

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REFERENCE = os.path.join(REPO, "tests", "data", "reference")
IMAGES = os.path.join(REFERENCE, "images")


def cases(standin):
    return sorted(glob.glob(os.path.join(REFERENCE, "owl", standin + "_*.json")))


def inside(box, width, height):
    """Whether the box, clipped to the image, is at least a pixel wide and high (text-sam's rule)."""
    x0, y0, x1, y1 = (min(max(v, 0.0), lim) for v, lim in zip(box, (width, height, width, height)))
    return x1 - x0 >= 1 and y1 - y0 >= 1


class ParityTest(ToolTestCase):
    def run_case(self, path):
        with open(path) as f:
            case = json.load(f)
        detector = os.path.join(FIXTURES, case["standin"])
        with open(os.path.join(detector, "manifest.json")) as f:
            self.assertEqual(json.load(f)["state_dict_sha256"], case["state_dict_sha256"],
                             "the stand-in's weights are not the ones the reference was computed with")
        image = os.path.join(IMAGES, case["image"])
        if case["kind"] == "text":
            query = [a for q in case["queries"] for a in ("--text", q)]
        elif case["kind"] == "image":
            query = ["--query-image", os.path.join(IMAGES, case["query_image"])]
        else:
            query = ["--query-box", ",".join(str(v) for v in case["query_box"])]
        proc = run_tool("text-sam", image, *query, "--detector-model", detector, "--model", SAM_FIXTURE,
                        "--box-threshold", repr(case["threshold"]), "--threads", "2", "--json", "-", "-q",
                        "-o", self.path("out"))
        got = json.loads(proc.stdout)[0]
        width, height = got["width"], got["height"]
        want = [d for d in case["detections"] if inside(d["box"], width, height)]
        records = got["masks"]
        self.assertEqual(len(records), len(want), "%s: %d detections, Hugging Face %d"
                         % (os.path.basename(path), len(records), len(want)))
        for d in want:
            # Nearest record by box: equal scores may come in another order.
            best = min(records, key=lambda r: max(abs(a - b) for a, b in zip(r["detector_box"], d["box"])))
            where = "%s box %s" % (os.path.basename(path), d["box"])
            self.assertLess(max(abs(a - b) for a, b in zip(best["detector_box"], d["box"])), 0.5, where)
            self.assertAlmostEqual(best["detector_score"], d["score"], delta=1e-4, msg=where)
            self.assertEqual(best["label_id"], d["label"], where)
            if "objectness" in d:
                self.assertAlmostEqual(best["objectness"], d["objectness"], delta=1e-4, msg=where)
            else:
                self.assertNotIn("objectness", best, where)
            if "relative_score" in d:
                self.assertAlmostEqual(best["relative_score"], d["relative_score"], delta=1e-4, msg=where)
        return len(want)

    def run_standin(self, standin):
        paths = cases(standin)
        self.assertEqual(len(paths), 9, "reference files of %s" % standin)
        total = sum(self.run_case(p) for p in paths)
        self.assertGreater(total, 9 * 3, "too few detections to compare")

    def test_owlv2_matches_hugging_face_on_square_wide_and_tall_images(self):
        self.run_standin("owlv2_standin")

    def test_owlvit_exported_as_samcli_module_matches_hugging_face(self):
        self.run_standin("owlvit_standin")


class ExampleQueryTest(ToolTestCase):
    """--query-image, --query-box and their prompt-file fields as a user runs them."""

    def run_examples(self, *args, detector="owlv2_standin", check=True):
        return run_tool("text-sam", *args, "--detector-model", os.path.join(FIXTURES, detector), "--model",
                        SAM_FIXTURE, "--box-threshold", "0.47", "--top-k", "3", "-o", self.path("out"), check=check)

    def test_example_box_and_image_write_records_and_figures(self):
        coffee = os.path.join(IMAGES, "coffee.png")
        self.run_examples(coffee, "--query-box", "150,60,460,330", "--query-image", os.path.join(IMAGES, "astronaut.png"))
        doc = self.load_json("out", "coffee", "masks.json")
        self.assertEqual(doc["queries"], ["astronaut.png", "box 150,60,460,330"])
        self.assertEqual(len(doc["masks"]), 3)
        for rec in doc["masks"]:
            self.check_record_schema(rec, (400, 600))
            self.assertIn(rec["label"], doc["queries"])
            self.assertTrue(0 < rec["relative_score"] <= 1, rec)
            self.assertTrue(0 < rec["objectness"] < 1, rec)
        for name in ("detections.png", "overlay.png", "0.png"):
            self.assertTrue(os.path.isfile(self.path("out", "coffee", name)), name)
        # The same examples from a prompt file (paths relative to it) give the same records.
        with open(self.path("prompts.jsonl"), "w") as f:
            f.write(json.dumps({"image": coffee, "query_images": [os.path.join(IMAGES, "astronaut.png")],
                                "query_boxes": [[150, 60, 460, 330]]}) + "\n")
        first = doc["masks"]
        shutil.rmtree(self.path("out"))
        self.run_examples("--prompts", self.path("prompts.jsonl"))
        self.assertEqual(self.load_json("out", "coffee", "masks.json")["masks"], first)

    def test_example_query_errors(self):
        coffee = os.path.join(IMAGES, "coffee.png")
        proc = self.run_examples(coffee, "--query-image", coffee, detector="owlvit_fixture", check=False)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("is of format 1, which takes text only: export it again", proc.stderr)
        proc = self.run_examples(coffee, "--query-image", coffee, "--text", "dog", check=False)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        proc = self.run_examples(coffee, "--query-image", self.path("missing.png"), check=False)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("missing.png", proc.stderr)
        proc = self.run_examples(coffee, "--query-box", "700,10,800,50", check=False)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("query box 700,10,800,50 has no pixels inside the 600x400 image", proc.stderr)
        self.assertFalse(os.path.exists(self.path("out", "coffee")))
        proc = self.run_examples(coffee, "--query-box", "1,2,3", check=False)
        self.assertEqual(proc.returncode, 2, proc.stderr)


if __name__ == "__main__":
    unittest.main()
