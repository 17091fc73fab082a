"""sam-semantic end to end on the fixture SAM, whose encoder embeds colours: objects of one kind
(similar colours) must form one class, other kinds other classes."""
import json
import os
import unittest

import numpy as np
from PIL import Image

from samcli_e2e import SAM_FIXTURE, ToolTestCase, disk_mask, iou, paint, read_mask, rect_mask, run_tool, save_png

# Two kinds, two instances each. Within a kind the colours differ enough (> the fixture's 0.5
# colour tolerance) that the generator returns one mask per instance, while their embeddings
# stay within cosine distance 0.06.
RED_A, RED_B = (230, 30, 30), (190, 50, 40)
BLUE_A, BLUE_B = (30, 60, 220), (40, 90, 190)


def two_kind_scene():
    h, w = 240, 320
    objects = {
        "red_a": disk_mask(h, w, 60, 60, 32),
        "red_b": disk_mask(h, w, 240, 180, 32),
        "blue_a": rect_mask(h, w, 180, 20, 290, 100),
        "blue_b": rect_mask(h, w, 20, 140, 130, 220),
    }
    colours = {"red_a": RED_A, "red_b": RED_B, "blue_a": BLUE_A, "blue_b": BLUE_B}
    image = paint(h, w, [(objects[k], colours[k]) for k in objects])
    gt = np.zeros((h, w), np.uint8)
    gt[objects["red_a"] | objects["red_b"]] = 1
    gt[objects["blue_a"] | objects["blue_b"]] = 2
    return image, objects, gt


class SamSemanticTest(ToolTestCase):
    def setUp(self):
        super().setUp()
        self.scene, self.objects, self.gt = two_kind_scene()
        self.image = save_png(self.scene, self.path("scene.png"))
        os.makedirs(self.path("gt"))
        Image.fromarray(self.gt).save(self.path("gt", "scene.png"))
        self.reds = self.objects["red_a"] | self.objects["red_b"]
        self.blues = self.objects["blue_a"] | self.objects["blue_b"]

    def run_semantic(self, *args, check=True):
        return run_tool("sam-semantic", self.image, "--model", SAM_FIXTURE, "-o", self.path("out"),
                        "--preset", "fast", *args, check=check)

    def test_each_kind_is_its_own_class(self):
        proc = self.run_semantic("--gt-dir", self.path("gt"), "--save-embeddings")
        doc = self.load_json("out", "scene", "masks.json")
        self.assertEqual(len(doc["classes"]), 2)
        labels = np.array(Image.open(self.path("out", "scene", "classes.png")))
        self.assertEqual(labels.shape, (240, 320))
        for cls in doc["classes"]:
            self.assertEqual(len(cls["members"]), 2)
            class_mask = read_mask(self.path("out", "scene", "class_%d.png" % cls["id"]))
            self.assertTrue(np.array_equal(class_mask, labels == cls["id"]))
            self.assertGreaterEqual(max(iou(class_mask, self.reds), iou(class_mask, self.blues)), 0.9)
            self.assertEqual(cls["area"], int((labels == cls["id"]).sum()))
        # The two instances of a kind share a class; kinds differ.
        member_class = {m: c["id"] for c in doc["classes"] for m in c["members"]}
        for i, rec in enumerate(doc["masks"]):
            self.assertEqual(rec["class"], member_class.get(i, 0))
            self.assertGreater(rec["embedding_norm"], 0)
        ev = doc["evaluation"]
        self.assertGreaterEqual(ev["matched_miou"], 0.9)
        self.assertEqual(len(ev["per_class"]), 2)
        for entry in ev["per_class"]:
            self.assertGreaterEqual(entry["iou"], 0.9)
        self.assertIn("matched mIoU", proc.stderr)
        emb = np.load(self.path("out", "scene", "embeddings.npy"))
        self.assertEqual(emb.shape, (len(doc["masks"]), 256))
        self.assertTrue(np.all(np.isfinite(emb)))
        vis = Image.open(self.path("out", "scene", "classes_vis.png"))
        self.assertEqual(vis.width, 320)
        self.assertGreater(vis.height, 240)  # the legend strip

    def test_like_selects_exactly_the_clicked_kind(self):
        self.run_semantic("--like", "60,60")
        doc = self.load_json("out", "scene", "masks.json")
        self.assertEqual(len(doc["classes"]), 1)
        self.assertEqual(len(doc["classes"][0]["members"]), 2)
        selected = read_mask(self.path("out", "scene", "class_1.png"))
        self.assertGreaterEqual(iou(selected, self.reds), 0.9)
        self.assertEqual(int(np.logical_and(selected, self.blues).sum()), 0)

    def test_like_box_selects_the_boxed_kind(self):
        self.run_semantic("--like-box", "180,20,290,100")
        selected = read_mask(self.path("out", "scene", "class_1.png"))
        self.assertGreaterEqual(iou(selected, self.blues), 0.9)

    def test_kmeans_is_deterministic(self):
        self.run_semantic("--clusters", "3", "-o", self.path("a"))
        self.run_semantic("--clusters", "3", "-o", self.path("b"))
        a = self.load_json("a", "scene", "masks.json")
        b = self.load_json("b", "scene", "masks.json")
        self.assertEqual([r["class"] for r in a["masks"]], [r["class"] for r in b["masks"]])
        self.assertEqual(len(a["classes"]), 3)  # red kind, blue kind, background
        labels = np.array(Image.open(self.path("a", "scene", "classes.png")))
        red_class = np.bincount(labels[self.reds]).argmax()
        self.assertGreaterEqual(iou(labels == red_class, self.reds), 0.9)

    def test_bad_options_and_inputs(self):
        proc = self.run_semantic("--eps", "0", check=False)
        self.assert_one_line_error(proc, "--eps")
        self.assertEqual(proc.returncode, 2)
        proc = self.run_semantic("--clusters", "0", check=False)
        self.assert_one_line_error(proc, "--clusters")
        self.assertEqual(proc.returncode, 2)
        proc = self.run_semantic("--like", "400,20", check=False)
        self.assert_one_line_error(proc, "outside", "scene.png")
        self.assertEqual(proc.returncode, 1)
        with open(self.path("grid.json"), "w") as f:
            json.dump([[[60 / 320, 60 / 240]]], f)  # one grid point: only the red_a mask exists
        proc = self.run_semantic("--point-grids", self.path("grid.json"), "--like", "240,60", check=False)
        self.assert_one_line_error(proc, "no mask under")
        self.assertFalse(os.path.exists(self.path("out", "scene")))


if __name__ == "__main__":
    unittest.main()
