"""Per-image prompt files (--prompts, JSON / JSONL / CSV) for sam-point, sam-box and text-sam, and
sam-point --auto-click (the single-click evaluation protocol) scored by sam-eval, on the fixture
models (SAM: masks are colour regions around the click or inside the box; detector: a query finds the
region of the colour it names)."""
import csv
import json
import os
import unittest

import numpy as np

from samcli_e2e import (BLUE, FIXTURES, RED, SAM_FIXTURE, ToolTestCase, disk_mask, iou, paint, read_mask, rect_mask,
                        run_tool, save_png)

OWLVIT_FIXTURE = os.path.join(FIXTURES, "owlvit_fixture")
GREEN = (30, 170, 50)
H, W = 480, 640


def scene_a():
    """A red disk (centre 200,240, r 80) and a blue rectangle x 400..560, y 150..330."""
    disk = disk_mask(H, W, 200, 240, 80)
    rect = rect_mask(H, W, 400, 150, 560, 330)
    return paint(H, W, [(disk, RED), (rect, BLUE)]), {"disk": disk, "rect": rect}


def scene_b():
    """A blue rectangle x 60..260, y 100..300 and a green disk (centre 470,300, r 90)."""
    rect = rect_mask(H, W, 60, 100, 260, 300)
    disk = disk_mask(H, W, 470, 300, 90)
    return paint(H, W, [(rect, BLUE), (disk, GREEN)]), {"rect": rect, "disk": disk}


def scene_c():
    """A green rectangle x 300..600, y 40..200 and a red rectangle x 40..200, y 260..440."""
    green = rect_mask(H, W, 300, 40, 600, 200)
    red = rect_mask(H, W, 40, 260, 200, 440)
    return paint(H, W, [(green, GREEN), (red, RED)]), {"green": green, "red": red}


# Per image: the prompts of every field, and the shape each prompt should segment.
POINTS = {"a": ([[200, 240]], [1], "disk"),               # one click: 3 candidates, best = the disk
          "b": ([[160, 200], [470, 300]], [1, 0], "rect"),  # a click and a background click: 1 mask
          "c": ([[450, 120]], None, "green")}             # labels omitted: foreground
BOXES = {"a": [[[110, 150, 290, 330], "disk"], [[390, 140, 570, 340], "rect"]],
         "b": [[[50, 90, 270, 310], "rect"]],
         "c": [[[610, 210, 290, 30], "green"]]}           # any corner order
TEXTS = {"a": ("red", ["red"], ["disk"]),
         "b": (["blue", "green"], ["blue", "green"], ["rect", "disk"]),
         "c": ("red, green", ["red", "green"], ["green", "red"])}  # best detector score first: the larger


def write_prompt_file(path, entries):
    """entries: list of dicts with image and optional points, labels, boxes, text; format by extension."""
    if path.endswith(".json"):
        with open(path, "w") as f:
            json.dump(entries, f)
    elif path.endswith(".jsonl"):
        with open(path, "w") as f:
            for e in entries:
                f.write(json.dumps(e) + "\n\n")
    else:
        with open(path, "w", newline="") as f:
            out = csv.writer(f)
            out.writerow(["image", "points", "labels", "boxes", "text"])
            for e in entries:
                text = e.get("text", "")
                out.writerow([e["image"],
                              ";".join("%g,%g" % tuple(p) for p in e.get("points", [])),
                              ";".join(str(l) for l in e.get("labels", [])),
                              ";".join(",".join("%g" % v for v in b) for b in e.get("boxes", [])),
                              text if isinstance(text, str) else ", ".join(text)])
    return path


class PromptsTestCase(ToolTestCase):
    def setUp(self):
        super().setUp()
        os.makedirs(self.path("data", "images"))
        self.truth = {}
        for name, make in (("a", scene_a), ("b", scene_b), ("c", scene_c)):
            img, self.truth[name] = make()
            save_png(img, self.path("data", "images", name + ".png"))

    def best_mask(self, out, name):
        doc = self.load_json(out, name, "masks.json")
        best = max(doc["masks"], key=lambda r: r["predicted_iou"])
        return doc, read_mask(self.path(out, name, best["mask_file"]))


class PromptFileTest(PromptsTestCase):
    def test_sam_point_per_image_clicks_from_json_jsonl_and_csv(self):
        entries = []
        for name, (points, labels, _) in POINTS.items():
            entry = {"image": "images/%s.png" % name, "points": points}
            if labels:
                entry["labels"] = labels
            entries.append(entry)
        for ext in ("json", "jsonl", "csv"):
            with self.subTest(format=ext):
                prompts = write_prompt_file(self.path("data", "clicks." + ext), entries)
                out = "out_" + ext
                proc = run_tool("sam-point", "--prompts", prompts, "--model", SAM_FIXTURE, "-o", self.path(out))
                self.assertEqual(proc.stdout, "")
                for name, (points, labels, shape) in POINTS.items():
                    doc, mask = self.best_mask(out, name)
                    self.assertEqual(doc["image"], self.path("data", "images", name + ".png"))
                    self.assertEqual(len(doc["masks"]), 3 if len(points) == 1 else 1, name)
                    rec = doc["masks"][0]
                    self.assertEqual(rec["point_coords"], [[float(x), float(y)] for x, y in points])
                    self.assertEqual(rec["point_labels"], labels or [1] * len(points))
                    self.assertGreater(iou(mask, self.truth[name][shape]), 0.9, "%s %s" % (ext, name))
                self.assertEqual(sorted(os.listdir(self.path(out))), ["a", "b", "c"])

    def test_single_and_multimask_apply_to_every_entry(self):
        prompts = write_prompt_file(self.path("data", "p.jsonl"),
                                    [{"image": "images/a.png", "points": [[200, 240]]},
                                     {"image": "images/b.png", "points": [[160, 200], [470, 300]], "labels": [1, 0]}])
        run_tool("sam-point", "--prompts", prompts, "--model", SAM_FIXTURE, "-o", self.path("single"), "--single")
        self.assertEqual(len(self.load_json("single", "a", "masks.json")["masks"]), 1)
        run_tool("sam-point", "--prompts", prompts, "--model", SAM_FIXTURE, "-o", self.path("multi"), "--multimask")
        self.assertEqual(len(self.load_json("multi", "b", "masks.json")["masks"]), 3)

    def test_sam_box_per_image_boxes_from_json_jsonl_and_csv(self):
        entries = [{"image": os.path.join("images", name + ".png"), "boxes": [b for b, _ in boxes]}
                   for name, boxes in BOXES.items()]
        entries[1]["points"] = [[160, 200]]  # a click added to the box
        for ext in ("json", "jsonl", "csv"):
            with self.subTest(format=ext):
                prompts = write_prompt_file(self.path("data", "boxes." + ext), entries)
                out = "out_" + ext
                run_tool("sam-box", "--prompts", prompts, "--model", SAM_FIXTURE, "-o", self.path(out))
                for name, boxes in BOXES.items():
                    doc = self.load_json(out, name, "masks.json")
                    self.assertEqual(len(doc["masks"]), len(boxes), name)
                    for rec, (box, shape) in zip(doc["masks"], boxes):
                        x0, x1 = sorted([box[0], box[2]])
                        y0, y1 = sorted([box[1], box[3]])
                        self.assertEqual(rec["box"], [x0, y0, x1, y1])
                        mask = read_mask(self.path(out, name, rec["mask_file"]))
                        self.assertGreater(iou(mask, self.truth[name][shape]), 0.9, "%s %s %s" % (ext, name, shape))
                self.assertEqual(self.load_json(out, "b", "masks.json")["masks"][0]["point_coords"], [[160.0, 200.0]])

    def test_text_sam_per_image_text_from_json_jsonl_and_csv(self):
        entries = [{"image": "images/%s.png" % name, "text": text} for name, (text, _, _) in TEXTS.items()]
        for ext in ("json", "jsonl", "csv"):
            with self.subTest(format=ext):
                prompts = write_prompt_file(self.path("data", "text." + ext), entries)
                out = "out_" + ext
                proc = run_tool("text-sam", "--prompts", prompts, "--detector-model", OWLVIT_FIXTURE, "--model",
                                SAM_FIXTURE, "-o", self.path(out))
                for name, (_, queries, shapes) in TEXTS.items():
                    doc = self.load_json(out, name, "masks.json")
                    self.assertEqual(doc["queries"], queries, name)
                    self.assertEqual(len(doc["masks"]), len(shapes), name)
                    for rec, shape in zip(doc["masks"], shapes):
                        mask = read_mask(self.path(out, name, rec["mask_file"]))
                        self.assertGreater(iou(mask, self.truth[name][shape]), 0.9, "%s %s %s" % (ext, name, shape))
                self.assertIn("c.png: 1 detector pass for 1 query set(s), 2 queries", proc.stderr)

    def test_outputs_mirror_the_tree_below_the_common_folder(self):
        os.makedirs(self.path("data", "images", "x"))
        os.makedirs(self.path("data", "images", "y"))
        os.replace(self.path("data", "images", "a.png"), self.path("data", "images", "x", "same.png"))
        os.replace(self.path("data", "images", "b.png"), self.path("data", "images", "y", "same.png"))
        prompts = write_prompt_file(self.path("data", "p.json"), [
            {"image": "images/x/same.png", "points": [[200, 240]]},
            {"image": self.path("data", "images", "y", "same.png"), "points": [[160, 200]]},  # absolute
            {"image": "./images/c.png", "points": [[450, 120]]}])
        run_tool("sam-point", "--prompts", prompts, "--model", SAM_FIXTURE, "-o", self.path("out"), "--single")
        for name, shape in (("x/same", "disk"), ("y/same", "rect"), ("c", "green")):
            truth = self.truth[{"x/same": "a", "y/same": "b", "c": "c"}[name]][shape]
            self.assertGreater(iou(read_mask(self.path("out", name, "0.png")), truth), 0.9, name)

    def test_shards_skip_existing_jsonl_json_and_coco_work_with_a_prompt_file(self):
        prompts = write_prompt_file(self.path("data", "p.csv"), [
            {"image": "images/%s.png" % n, "points": p} for n, (p, _, _) in POINTS.items()])
        common = ["--prompts", prompts, "--model", SAM_FIXTURE, "-o", self.path("out"), "--jsonl", "-q"]
        seen = []
        for shard in ("0/2", "1/2"):
            proc = run_tool("sam-point", *common, "--shard", shard)
            seen += [json.loads(l)["image"] for l in proc.stdout.splitlines()]
        self.assertEqual(sorted(seen), [self.path("data", "images", n + ".png") for n in ("a", "b", "c")])
        proc = run_tool("sam-point", *common, "--skip-existing", "--coco", self.path("coco.json"),
                        "--json", self.path("all.json"))
        lines = [json.loads(l) for l in proc.stdout.splitlines()]
        self.assertEqual([l["status"] for l in lines], ["skipped"] * 3)
        self.assertEqual(len(self.load_json("coco.json")["images"]), 3)
        self.assertEqual(len(self.load_json("all.json")), 3)

    def test_a_failing_image_is_reported_and_keep_going_goes_on(self):
        prompts = write_prompt_file(self.path("data", "p.jsonl"), [
            {"image": "images/a.png", "points": [[200, 240]]},
            {"image": "images/b.png", "points": [[900, 100]]},  # outside the 640x480 image
            {"image": "images/missing.png", "points": [[1, 1]]},
            {"image": "images/c.png", "points": [[450, 120]]}])
        proc = run_tool("sam-point", "--prompts", prompts, "--model", SAM_FIXTURE, "-o", self.path("out"),
                        "--keep-going", check=False)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        errors = [l for l in proc.stderr.splitlines() if ": error: " in l]
        self.assertEqual(len(errors), 3, proc.stderr)
        self.assertIn("outside", errors[0] + errors[1])
        self.assertIn("b.png", errors[0] + errors[1])
        self.assertIn("missing.png", errors[0] + errors[1])
        self.assertIn("2 of 4 image(s) failed", errors[2])
        self.assertEqual(sorted(os.listdir(self.path("out"))), ["a", "c"])
        # Without --keep-going the first failure stops the run with its one-line error.
        proc = run_tool("sam-point", "--prompts", prompts, "--model", SAM_FIXTURE, "-o", self.path("stop"),
                        check=False)
        self.assert_one_line_error(proc, "b.png", "outside")
        self.assertEqual(proc.returncode, 1)

    def test_help_documents_the_prompt_file(self):
        for tool in ("sam-point", "sam-box", "text-sam"):
            out = run_tool(tool, "--help").stdout
            self.assertIn("--prompts FILE", out, tool)
            self.assertIn("image,points,labels,boxes,text", out, tool)
            self.assertIn(tool + " uses", out, tool)


class BadPromptFileTest(PromptsTestCase):
    def rejected(self, tool, content, name, *needles, extra=()):
        path = self.path("data", name)
        with open(path, "w") as f:
            f.write(content)
        args = ["--prompts", path, "--model", SAM_FIXTURE, "-o", self.path("out"), *extra]
        if tool == "text-sam":
            args += ["--detector-model", OWLVIT_FIXTURE]
        proc = run_tool(tool, *args, check=False)
        self.assert_one_line_error(proc, path, *needles)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertFalse(os.path.exists(self.path("out")))
        return proc

    def test_malformed_files_are_usage_errors_naming_file_and_line(self):
        self.rejected("sam-point", '[{"image": "images/a.png", "points": [[1, 2]]},', "p.json",
                      "malformed JSON at line 1, column 48")
        self.rejected("sam-point", '{"image": "images/a.png", "points": [[1, 2]]}\n{"image": ', "p.jsonl",
                      "malformed JSON at line 2, column 11")
        self.rejected("sam-point", '{"image": "images/a.png", "point": [[1, 2]]}\n', "p.jsonl", "line 1",
                      'unknown field "point"')
        self.rejected("sam-box", "image,boxes\nimages/a.png,1,2,3,4\n", "p.csv", "line 2", "5 cells for 2 columns")
        self.rejected("sam-point", '[{"image": "images/a.png", "points": [[1, 2]], "labels": [1, 1]}]', "p.json",
                      "entry 1", "2 label(s) for 1 point(s)")
        self.rejected("sam-point", "{\"image\": \"images/a.png\"}\n{\"image\": \"images/./a.png\"}\n", "d.jsonl",
                      "line 2", "already listed (line 1)")
        self.rejected("sam-point", '{"image": "a.png"}', "p.txt", "unknown format '.txt'")
        self.rejected("sam-point", "[]", "empty.json", "has no entry")
        self.rejected("sam-point", '[{"image": "images/a.png", "points": [[1, 2]]}, '
                      '{"image": "images/a.jpg", "points": [[1, 2]]}]', "clash.json", "would both write 'a'",
                      extra=["--model", self.path("no-model")])  # found before the model is loaded

    def test_missing_prompt_file(self):
        proc = run_tool("sam-point", "--prompts", self.path("nope.jsonl"), "--model", SAM_FIXTURE, check=False)
        self.assert_one_line_error(proc, "nope.jsonl", "no such file")
        self.assertEqual(proc.returncode, 2)

    def test_entries_without_what_the_tool_needs(self):
        self.rejected("sam-point", '{"image": "images/a.png", "boxes": [[1, 2, 30, 40]]}\n', "p.jsonl", "line 1",
                      'no "points"')
        self.rejected("sam-point", '{"image": "images/a.png", "points": [[1, 2]], "labels": [0]}\n', "p.jsonl",
                      "line 1", "no foreground point")
        self.rejected("sam-box", '{"image": "images/a.png", "points": [[1, 2]]}\n', "p.jsonl", "line 1", 'no "boxes"')
        self.rejected("text-sam", '{"image": "images/a.png", "points": [[1, 2]]}\n', "p.jsonl", "line 1", 'no "text"')
        self.rejected("text-sam", '{"image": "images/a.png", "text": " , "}\n', "p.jsonl", "line 1", "has no query")

    def test_prompts_exclude_images_and_prompt_options(self):
        prompts = write_prompt_file(self.path("data", "p.jsonl"), [{"image": "images/a.png", "points": [[1, 1]]}])
        for tool, args in (("sam-point", [self.path("data", "images", "a.png")]), ("sam-point", ["--point", "1,1"]),
                           ("sam-box", ["--box", "1,1,5,5"]), ("text-sam", ["--text", "red"])):
            proc = run_tool(tool, "--prompts", prompts, *args, "--model", SAM_FIXTURE, check=False)
            self.assertEqual(proc.returncode, 2, proc.stderr)
            self.assertIn("excludes", proc.stderr)
        proc = run_tool("sam-point", "--model", SAM_FIXTURE, check=False)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("IMAGE..., --prompts FILE or --session is required", proc.stderr)
        proc = run_tool("text-sam", "--sam-model", SAM_FIXTURE, check=False)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("IMAGE... or --prompts FILE is required", proc.stderr)


class AutoClickTest(ToolTestCase):
    """Synthetic photographs with one object each and their ground-truth masks, in species folders."""

    # name -> (mask, colour, the expected click: the unique farthest-from-boundary pixel)
    def objects(self):
        return {
            "salmon/s1": (rect_mask(H, W, 200, 100, 321, 221), RED, (260, 160)),       # 121x121 square
            "salmon/s2": (rect_mask(H, W, 0, 0, 161, 161), BLUE, (80, 80)),            # touches the border
            "trout/t1": (rect_mask(H, W, 401, 251, 602, 452), GREEN, (501, 351)),      # 201x201 square
            "trout/t2": (disk_mask(H, W, 330, 250, 100), BLUE, (330, 250)),
        }

    def setUp(self):
        super().setUp()
        self.truth = {}
        for name, (mask, colour, click) in self.objects().items():
            os.makedirs(os.path.dirname(self.path("images", name)), exist_ok=True)
            os.makedirs(os.path.dirname(self.path("gt", name)), exist_ok=True)
            save_png(paint(H, W, [(mask, colour)]), self.path("images", name + ".png"))
            save_png(mask.astype(np.uint8) * 255, self.path("gt", name + ".png"))
            self.truth[name] = (mask, click)

    def check_outputs(self, pred, name_of):
        for name, (mask, click) in self.truth.items():
            out = name_of(name)
            doc = self.load_json(pred, out, "masks.json")
            self.assertEqual(len(doc["masks"]), 1, name)  # only the best of the 3 candidates
            rec = doc["masks"][0]
            self.assertIs(rec["auto_click"], True)
            self.assertEqual(rec["gt_mask"], self.path("gt", name + ".png"))
            self.assertEqual(rec["point_labels"], [1])
            (x, y), = rec["point_coords"]
            self.assertTrue(mask[int(y), int(x)], "%s: click %s outside the ground truth" % (name, (x, y)))
            if name != "trout/t2":
                self.assertEqual((x, y), click, name)
            else:  # a digital disk: the distance transform peaks at (or next to) its centre
                self.assertLessEqual(abs(x - click[0]) + abs(y - click[1]), 2, (name, x, y))
            self.assertEqual(os.listdir(self.path(pred, out)).count("0.png"), 1)
            self.assertFalse(os.path.exists(self.path(pred, out, "1.png")))
            self.assertGreater(iou(read_mask(self.path(pred, out, "0.png")), mask), 0.9, name)

    def evaluate(self, pred):
        proc = run_tool("sam-eval", "--pred", self.path(pred), "--gt", self.path("gt"), "--format", "json")
        report = json.loads(proc.stdout)
        self.assertEqual(report["summary"]["missing"], 0)
        self.assertEqual(report["summary"]["iou"]["count"], 4)
        self.assertGreater(report["summary"]["iou"]["mean"], 0.9)
        self.assertEqual(sorted(g["group"] for g in report["groups"]), ["salmon", "trout"])
        return report

    def test_protocol_end_to_end_on_a_folder(self):
        run_tool("sam-point", self.path("images"), "-r", "--auto-click", self.path("gt"), "--model", SAM_FIXTURE,
                 "-o", self.path("pred"))
        self.check_outputs("pred", lambda name: name)
        self.evaluate("pred")

    def test_flat_outputs_find_their_ground_truth_by_stem(self):
        images = [self.path("images", name + ".png") for name in self.truth]
        run_tool("sam-point", *images, "--auto-click", self.path("gt"), "--model", SAM_FIXTURE, "-o",
                 self.path("pred"), "-q")
        self.check_outputs("pred", lambda name: os.path.basename(name))
        self.evaluate("pred")

    def test_single_mask_file_for_one_image(self):
        run_tool("sam-point", self.path("images", "trout", "t1.png"), "--auto-click",
                 self.path("gt", "trout", "t1.png"), "--model", SAM_FIXTURE, "-o", self.path("pred"))
        rec = self.load_json("pred", "t1", "masks.json")["masks"][0]
        self.assertEqual(rec["point_coords"], [[501.0, 351.0]])
        proc = run_tool("sam-point", self.path("images", "trout"), "--auto-click", self.path("gt", "trout", "t1.png"),
                        "--model", SAM_FIXTURE, "-o", self.path("pred2"), check=False)
        self.assert_one_line_error(proc, "is one mask, for one image, but 2 images are given")
        self.assertEqual(proc.returncode, 2)

    def test_missing_and_empty_ground_truth_fail_their_image(self):
        os.remove(self.path("gt", "salmon", "s2.png"))
        save_png(np.zeros((H, W), np.uint8), self.path("gt", "trout", "t1.png"))
        proc = run_tool("sam-point", self.path("images"), "-r", "--auto-click", self.path("gt"), "--model",
                        SAM_FIXTURE, "-o", self.path("pred"), "--keep-going", check=False)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        errors = [l for l in proc.stderr.splitlines() if ": error: " in l]
        self.assertEqual(len(errors), 3, proc.stderr)
        self.assertIn("no ground truth for '%s': '%s' does not exist" % (
            self.path("images", "salmon", "s2.png"), self.path("gt", "salmon", "s2.png")), errors[0])
        self.assertIn("ground truth '%s' is empty" % self.path("gt", "trout", "t1.png"), errors[1])
        self.assertIn("2 of 4 image(s) failed", errors[2])
        self.assertEqual(sorted(os.listdir(self.path("pred", "salmon"))), ["s1"])
        self.assertEqual(sorted(os.listdir(self.path("pred", "trout"))), ["t2"])
        # Without --keep-going: one line naming the missing file, exit 1.
        proc = run_tool("sam-point", self.path("images"), "-r", "--auto-click", self.path("gt"), "--model",
                        SAM_FIXTURE, "-o", self.path("stop"), check=False)
        self.assert_one_line_error(proc, self.path("gt", "salmon", "s2.png"), "does not exist")
        self.assertEqual(proc.returncode, 1)

    def test_bad_auto_click_options(self):
        image = self.path("images", "salmon", "s1.png")
        proc = run_tool("sam-point", image, "--auto-click", self.path("nogt"), "--model", SAM_FIXTURE, check=False)
        self.assert_one_line_error(proc, "nogt", "no such file or folder")
        self.assertEqual(proc.returncode, 2)
        for option in (["--point", "1,1"], ["--single"], ["--multimask"]):
            proc = run_tool("sam-point", image, "--auto-click", self.path("gt"), *option, "--model", SAM_FIXTURE,
                            check=False)
            self.assertEqual(proc.returncode, 2, option)
            self.assertIn("excludes", proc.stderr)


if __name__ == "__main__":
    unittest.main()
