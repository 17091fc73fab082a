"""sam-eval end to end on synthetic masks whose scores are counted by hand.

The scene: 40x40 masks; the ground-truth object is the 10x10 square x, y in 10..19. A prediction
shifted 5 px right overlaps 50 of 150 pixels: IoU 1/3, Dice 1/2. Its DAVIS boundary (the 40-px
outline, rows and columns 9..19, shifted) matches the ground truth's within 2 px on 20 of 40
pixels each way (top and bottom rows 8 each, the near side 4, the far side 0): boundary F 1/2; with
tolerance 0 only the 6 + 6 shared row pixels match: 12/40 = 0.3.
"""
import csv
import io
import json
import os
import unittest

import numpy as np
from PIL import Image

from samcli_e2e import ToolTestCase, rect_mask, rle_encode, run_tool

SIZE = 40
SQUARE = rect_mask(SIZE, SIZE, 10, 10, 20, 20)
SHIFTED = rect_mask(SIZE, SIZE, 15, 10, 25, 20)
EMPTY = np.zeros((SIZE, SIZE), bool)


class SamEvalTest(ToolTestCase):
    def write_mask(self, mask, *parts):
        path = self.path(*parts)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        Image.fromarray(mask.astype(np.uint8) * 255).save(path)
        return path

    def write_json(self, doc, *parts):
        path = self.path(*parts)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            json.dump(doc, f)
        return path

    def fish_study(self):
        """gt/<species>/<image>.png; salmon/a predicted shifted, salmon/b exact, trout/c missing."""
        for name in ("salmon/a", "salmon/b", "trout/c"):
            self.write_mask(SQUARE, "gt", name + ".png")
        self.write_mask(SHIFTED, "pred", "salmon", "a.png")
        self.write_mask(SQUARE, "pred", "salmon", "b.png")

    def run_eval(self, *args, pred="pred", gt="gt", check=True):
        return run_tool("sam-eval", "--pred", self.path(pred), "--gt", self.path(gt), *args, check=check)

    def eval_json(self, *args, **kwargs):
        return json.loads(self.run_eval("--format", "json", *args, **kwargs).stdout)

    def by_image(self, report):
        return {e["image"]: e for e in report["images"]}

    def by_group(self, report):
        return {g["group"]: g for g in report["groups"]}

    def test_per_image_scores_means_and_groups(self):
        self.fish_study()
        proc = self.run_eval("--format", "json")
        report = json.loads(proc.stdout)
        images = self.by_image(report)
        self.assertEqual(list(images), ["salmon/a", "salmon/b", "trout/c"])
        a = images["salmon/a"]
        self.assertAlmostEqual(a["iou"], 50 / 150, places=12)
        self.assertAlmostEqual(a["dice"], 0.5, places=12)
        self.assertAlmostEqual(a["boundary_f"], 0.5, places=12)
        self.assertEqual((a["gt_area"], a["pred_area"], a["status"], a["group"]), (100, 100, "scored", "salmon"))
        self.assertEqual([images["salmon/b"][k] for k in ("iou", "dice", "boundary_f")], [1, 1, 1])
        c = images["trout/c"]
        self.assertEqual((c["status"], c["iou"], c["dice"], c["boundary_f"], c["pred_area"]), ("missing", 0, 0, 0, None))

        iou = report["summary"]["iou"]
        self.assertEqual(iou["count"], 3)
        self.assertAlmostEqual(iou["mean"], (1 / 3 + 1 + 0) / 3, places=12)
        self.assertAlmostEqual(iou["median"], 1 / 3, places=12)
        self.assertEqual((iou["min"], iou["max"]), (0, 1))
        self.assertAlmostEqual(report["summary"]["dice"]["mean"], 0.5, places=12)
        self.assertEqual(report["summary"]["missing"], 1)
        groups = self.by_group(report)
        self.assertEqual(list(groups), ["salmon", "trout"])
        self.assertAlmostEqual(groups["salmon"]["iou"]["mean"], 2 / 3, places=12)
        self.assertEqual(groups["salmon"]["iou"]["count"], 2)
        self.assertEqual(groups["trout"]["iou"]["mean"], 0)
        # The missing prediction is reported on stderr too, by name.
        self.assertIn("warning", proc.stderr)
        self.assertIn("trout/c", proc.stderr)

    def test_skip_missing_leaves_the_image_out(self):
        self.fish_study()
        report = self.eval_json("--skip-missing")
        self.assertEqual(report["summary"]["iou"]["count"], 2)
        self.assertAlmostEqual(report["summary"]["iou"]["mean"], 2 / 3, places=12)
        self.assertEqual(report["summary"]["skipped"], 1)
        c = self.by_image(report)["trout/c"]
        self.assertEqual((c["status"], c["iou"]), ("skipped", None))
        trout = self.by_group(report)["trout"]
        self.assertEqual((trout["iou"]["count"], trout["iou"]["mean"]), (0, None))

    def test_boundary_tolerance(self):
        self.fish_study()
        a = self.by_image(self.eval_json("--boundary-tolerance", "0"))["salmon/a"]
        self.assertAlmostEqual(a["boundary_f"], 0.3, places=12)
        self.assertAlmostEqual(a["iou"], 1 / 3, places=12)

    def test_empty_ground_truth(self):
        self.write_mask(EMPTY, "gt", "none_found.png")
        self.write_mask(EMPTY, "gt", "false_alarm.png")
        self.write_mask(EMPTY, "pred", "none_found.png")
        self.write_mask(SQUARE, "pred", "false_alarm.png")
        images = self.by_image(self.eval_json())
        self.assertEqual([images["none_found"][k] for k in ("iou", "dice", "boundary_f")], [1, 1, 1])
        self.assertEqual([images["false_alarm"][k] for k in ("iou", "dice", "boundary_f")], [0, 0, 0])

    def test_text_table(self):
        self.fish_study()
        out = self.run_eval().stdout
        lines = out.splitlines()
        row = next(l for l in lines if l.startswith("salmon/a"))
        self.assertEqual(row.split(), ["salmon/a", "salmon", "0.3333", "0.5000", "0.5000"])
        self.assertIn("no prediction, scored 0", next(l for l in lines if l.startswith("trout/c")))
        iou_row = next(l for l in lines if l.startswith("IoU"))
        self.assertEqual(iou_row.split()[1:], ["3", "0.4444", "0.3333", "0.0000", "1.0000"])
        salmon_group = next(l for l in lines if l.startswith("salmon ") and "0.6667" in l)
        self.assertEqual(salmon_group.split()[1], "2")

    def test_csv_parses(self):
        self.fish_study()
        rows = list(csv.DictReader(io.StringIO(self.run_eval("--format", "csv").stdout)))
        images = {r["image"]: r for r in rows if r["level"] == "image"}
        self.assertAlmostEqual(float(images["salmon/a"]["iou"]), 1 / 3, places=12)
        self.assertEqual(images["trout/c"]["status"], "missing")
        self.assertEqual(images["trout/c"]["pred_area"], "")
        groups = {r["group"]: r for r in rows if r["level"] == "group"}
        self.assertAlmostEqual(float(groups["salmon"]["iou"]), 2 / 3, places=12)
        self.assertEqual(groups["trout"]["count"], "1")
        overall = [r for r in rows if r["level"] == "all"]
        self.assertEqual(len(overall), 1)
        self.assertAlmostEqual(float(overall[0]["iou"]), 4 / 9, places=12)

    def test_markdown_tables(self):
        self.fish_study()
        out = self.run_eval("--format", "markdown").stdout
        for heading in ("### Summary", "### Per group", "### Per image"):
            self.assertIn(heading, out)
        self.assertIn("| IoU | 3 | 0.4444 | 0.3333 | 0.0000 | 1.0000 |", out)
        self.assertIn("| salmon | 2 | 0.6667 | 0.7500 | 0.7500 |", out)
        self.assertIn("| salmon/a | salmon | 0.3333 | 0.5000 | 0.5000 |  |", out)
        self.assertIn("| trout/c | trout | 0.0000 | 0.0000 | 0.0000 | no prediction, scored 0 |", out)

    def test_output_file(self):
        self.fish_study()
        proc = self.run_eval("--format", "json", "-o", self.path("reports", "eval.json"))
        self.assertEqual(proc.stdout, "")
        self.assertAlmostEqual(self.load_json("reports", "eval.json")["summary"]["iou"]["mean"], 4 / 9, places=12)
        self.assertEqual(os.listdir(self.path("reports")), ["eval.json"])

    def test_min_miou_gate(self):
        self.fish_study()
        self.run_eval("--min-miou", "0.44")  # mean 0.4444: passes
        proc = self.run_eval("--min-miou", "0.45", check=False)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        gate = [l for l in proc.stderr.splitlines() if "quality gate failed" in l]
        self.assertEqual(len(gate), 1, proc.stderr)
        self.assertIn("mean IoU 0.444444 is below --min-miou 0.45", gate[0])
        self.assertIn("salmon/a", proc.stdout)  # the report is still written

    def test_regression_gate_overall_and_per_group(self):
        # Baseline: salmon/a shifted, the rest exact -> salmon 2/3, trout 1, overall 7/9.
        for name in ("salmon/a", "salmon/b", "trout/c"):
            self.write_mask(SQUARE, "gt", name + ".png")
        self.write_mask(SHIFTED, "base", "salmon", "a.png")
        self.write_mask(SQUARE, "base", "salmon", "b.png")
        self.write_mask(SQUARE, "base", "trout", "c.png")
        self.run_eval("--format", "json", "-o", self.path("baseline.json"), pred="base")
        baseline = self.path("baseline.json")

        # Same overall mean, but trout dropped from 1 to 1/3 while salmon rose to 1.
        self.write_mask(SQUARE, "pred", "salmon", "a.png")
        self.write_mask(SQUARE, "pred", "salmon", "b.png")
        self.write_mask(SHIFTED, "pred", "trout", "c.png")
        self.run_eval("--baseline", baseline, "--max-regression", "0.7")
        proc = self.run_eval("--baseline", baseline, "--max-regression", "0.1", check=False)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        gate = [l for l in proc.stderr.splitlines() if "quality gate failed" in l]
        self.assertEqual(len(gate), 1, proc.stderr)
        self.assertIn("group 'trout'", gate[0])
        self.assertIn("dropped 0.666667 from the baseline's 1", gate[0])

        # An overall drop: everything shifted (mean 1/3, 0.444 below the baseline).
        self.write_mask(SHIFTED, "pred", "salmon", "b.png")
        self.write_mask(SHIFTED, "pred", "salmon", "a.png")
        proc = self.run_eval("--baseline", baseline, "--max-regression", "0.4", check=False)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("quality gate failed: mean IoU 0.333333 dropped 0.444444 from the baseline's 0.777778",
                      proc.stderr)
        self.run_eval("--baseline", baseline, "--max-regression", "0.7")

    def test_samcli_output_folders_and_pick(self):
        # gt/salmon/a.png; pred/a/masks.json as sam-point writes it (flat <stem>/ folder).
        self.write_mask(SQUARE, "gt", "salmon", "a.png")
        candidates = [(SHIFTED, 0.9), (SQUARE, 0.95), (rect_mask(SIZE, SIZE, 0, 0, 5, 5), 0.2)]
        doc = {"image": "a.jpg", "width": SIZE, "height": SIZE,
               "masks": [{"area": int(m.sum()), "predicted_iou": s, "mask_file": "%d.png" % i,
                          "segmentation": rle_encode(m)} for i, (m, s) in enumerate(candidates)]}
        self.write_json(doc, "pred", "a", "masks.json")
        self.write_mask(SHIFTED, "pred", "a", "0.png")
        iou = lambda *args: self.eval_json(*args)["images"][0]["iou"]
        self.assertEqual(iou(), 1)  # best: predicted_iou 0.95
        self.assertAlmostEqual(iou("--pick", "first"), 1 / 3, places=12)
        self.assertAlmostEqual(iou("--pick", "union"), 100 / (150 + 25), places=12)

    def coco_gt(self, polygon=False):
        square = rle_encode(SQUARE)
        corner = rle_encode(rect_mask(SIZE, SIZE, 30, 30, 40, 40), compressed=False)
        return {
            "images": [{"id": 1, "file_name": "fish/a.jpg", "width": SIZE, "height": SIZE},
                       {"id": 2, "file_name": "fish/b.jpg", "width": SIZE, "height": SIZE}],
            "categories": [{"id": 7, "name": "salmon"}, {"id": 8, "name": "rock"}],
            "annotations": [
                {"id": 1, "image_id": 1, "category_id": 7, "segmentation": square},
                {"id": 2, "image_id": 1, "category_id": 8,
                 "segmentation": [[30, 30, 40, 30, 40, 40, 30, 40]] if polygon else corner},
                {"id": 3, "image_id": 2, "category_id": 7, "segmentation": square},
            ],
        }

    def test_coco_ground_truth_and_predictions(self):
        self.write_json(self.coco_gt(), "gt.json")
        # Image a: the salmon shifted (0.8) and a worse guess (0.1); the rock predicted exactly.
        # Image b: no annotation, i.e. an empty prediction.
        pred = {
            "images": [{"id": 10, "file_name": "fish/a.png"}, {"id": 11, "file_name": "fish/b.png"}],
            "categories": [{"id": 1, "name": "salmon"}, {"id": 2, "name": "rock"}],
            "annotations": [
                {"image_id": 10, "category_id": 1, "score": 0.8, "segmentation": rle_encode(SHIFTED)},
                {"image_id": 10, "category_id": 1, "score": 0.1, "segmentation": rle_encode(EMPTY)},
                {"image_id": 10, "category_id": 2, "score": 0.9,
                 "segmentation": rle_encode(rect_mask(SIZE, SIZE, 30, 30, 40, 40))},
            ],
        }
        self.write_json(pred, "pred.json")

        # Per image: ground truth = square + corner (200 px); union of predictions = shifted + corner.
        images = self.by_image(self.eval_json("--pick", "union", pred="pred.json", gt="gt.json"))
        self.assertAlmostEqual(images["fish/a"]["iou"], (50 + 100) / (150 + 100), places=12)
        self.assertEqual(images["fish/a"]["gt_area"], 200)
        self.assertEqual((images["fish/b"]["iou"], images["fish/b"]["pred_area"]), (0, 0))

        # Per category, matched by name: salmon best = shifted (1/3), rock exact, b's salmon empty.
        report = self.eval_json("--per-category", pred="pred.json", gt="gt.json")
        images = self.by_image(report)
        self.assertEqual(list(images), ["fish/a/rock", "fish/a/salmon", "fish/b/salmon"])
        self.assertAlmostEqual(images["fish/a/salmon"]["iou"], 1 / 3, places=12)
        self.assertEqual(images["fish/a/rock"]["iou"], 1)
        self.assertEqual(images["fish/b/salmon"]["iou"], 0)
        groups = self.by_group(report)
        self.assertAlmostEqual(groups["salmon"]["iou"]["mean"], 1 / 6, places=12)
        self.assertEqual(groups["rock"]["iou"]["mean"], 1)

    def test_coco_ground_truth_with_folder_predictions(self):
        self.write_json(self.coco_gt(), "gt.json")
        self.write_mask(SQUARE, "pred", "fish", "a.png")
        self.write_mask(SQUARE, "pred", "fish", "b.png")
        images = self.by_image(self.eval_json(gt="gt.json"))
        self.assertAlmostEqual(images["fish/a"]["iou"], 0.5, places=12)
        self.assertEqual(images["fish/b"]["iou"], 1)

    def test_polygons_are_rejected(self):
        self.write_json(self.coco_gt(polygon=True), "gt.json")
        self.write_mask(SQUARE, "pred", "fish", "a.png")
        proc = self.run_eval(gt="gt.json", check=False)
        self.assertEqual(proc.returncode, 1)
        self.assert_one_line_error(proc, "gt.json", "annotation id 2", "polygon")

    def test_bad_inputs_name_the_file(self):
        self.fish_study()
        proc = self.run_eval(gt="nowhere", check=False)
        self.assertEqual(proc.returncode, 1)
        self.assert_one_line_error(proc, "nowhere")

        with open(self.path("pred", "salmon", "b.png"), "wb") as f:
            f.write(b"not a png")
        proc = self.run_eval(check=False)
        self.assertEqual(proc.returncode, 1)
        self.assert_one_line_error(proc, os.path.join("pred", "salmon", "b.png"))

        self.write_mask(np.zeros((20, 40), bool), "pred", "salmon", "b.png")
        proc = self.run_eval(check=False)
        self.assertEqual(proc.returncode, 1)
        self.assert_one_line_error(proc, "size mismatch", "salmon/b", "40x20", "40x40")

        with open(self.path("pred.json"), "w") as f:
            f.write("{\"images\": [")
        proc = self.run_eval(pred="pred.json", check=False)
        self.assertEqual(proc.returncode, 1)
        self.assert_one_line_error(proc, "pred.json")

        with open(self.path("baseline.json"), "w") as f:
            json.dump({"images": []}, f)
        proc = self.run_eval("--baseline", self.path("baseline.json"), "--max-regression", "0.1", check=False)
        self.assertEqual(proc.returncode, 1)
        self.assert_one_line_error(proc, "baseline.json", "--format json")

    def test_bad_option_values_are_usage_errors(self):
        self.fish_study()
        for args in (["--min-miou", "1.5"], ["--format", "xml"], ["--pick", "largest"],
                     ["--boundary-tolerance", "-1"], ["--baseline", self.path("b.json")],
                     ["--per-category"]):
            proc = self.run_eval(*args, check=False)
            self.assertEqual(proc.returncode, 2, (args, proc.stderr))
            self.assert_one_line_error(proc)

    def test_help_has_examples(self):
        out = run_tool("sam-eval", "--help").stdout
        self.assertIn("--min-miou", out)
        self.assertIn("--max-regression", out)
        self.assertIn("Examples:", out)


if __name__ == "__main__":
    unittest.main()
