"""sam-box end to end on the fixture SAM."""
import json
import os
import unittest

from samcli_e2e import SAM_FIXTURE, ToolTestCase, iou, read_mask, run_tool, save_png, two_shape_scene


class SamBoxTest(ToolTestCase):
    def setUp(self):
        super().setUp()
        self.scene, self.truth = two_shape_scene()
        self.image = save_png(self.scene, self.path("scene.png"))

    def run_box(self, *args, check=True):
        return run_tool("sam-box", self.image, "--model", SAM_FIXTURE, "-o", self.path("out"), *args, check=check)

    def test_one_box_gives_the_object_inside(self):
        self.run_box("--box", "110,150,290,330")
        doc = self.load_json("out", "scene", "masks.json")
        self.assertEqual(len(doc["masks"]), 1)
        rec = doc["masks"][0]
        mask = self.check_record_schema(rec, (480, 640))
        self.assertGreater(iou(mask, self.truth["disk"]), 0.95)
        self.assertEqual(rec["box"], [110.0, 150.0, 290.0, 330.0])
        self.assertTrue(os.path.exists(self.path("out", "scene", "overlay.png")))

    def test_many_boxes_one_mask_each_in_order(self):
        proc = self.run_box("--box", "110,150,290,330", "--box", "390,140,570,340", "--json", "-")
        doc = json.loads(proc.stdout)[0]
        self.assertEqual(len(doc["masks"]), 2)
        disk = read_mask(self.path("out", "scene", "0.png"))
        rect = read_mask(self.path("out", "scene", "1.png"))
        self.assertGreater(iou(disk, self.truth["disk"]), 0.95)
        self.assertGreater(iou(rect, self.truth["rect"]), 0.95)

    def test_corner_order_does_not_matter(self):
        self.run_box("--box", "290,330,110,150", "--json", self.path("a.json"))
        rec = json.load(open(self.path("a.json")))[0]["masks"][0]
        self.assertEqual(rec["box"], [110.0, 150.0, 290.0, 330.0])
        self.assertGreater(iou(read_mask(self.path("out", "scene", "0.png")), self.truth["disk"]), 0.95)

    def test_box_with_click(self):
        self.run_box("--box", "110,150,290,330", "--point", "200,240")
        rec = self.load_json("out", "scene", "masks.json")["masks"][0]
        self.assertEqual(rec["point_coords"], [[200.0, 240.0]])
        self.assertGreater(iou(read_mask(self.path("out", "scene", "0.png")), self.truth["disk"]), 0.95)

    def test_box_clips_the_region(self):
        # A box over the left half of the disk: the mask stays inside the box.
        self.run_box("--box", "110,150,200,330")
        mask = read_mask(self.path("out", "scene", "0.png"))
        half = self.truth["disk"].copy()
        half[:, 201:] = False
        self.assertGreater(iou(mask, half), 0.9)

    def test_degenerate_box_is_rejected(self):
        proc = self.run_box("--box", "100,100,100,200", check=False)
        self.assert_one_line_error(proc, "degenerate")
        self.assert_no_partial_outputs(self.path("out"))
        self.assertFalse(os.path.exists(self.path("out", "scene")))

    def test_malformed_box_is_rejected(self):
        proc = self.run_box("--box", "1,2,3", check=False)
        self.assert_one_line_error(proc, "--box", "1,2,3")

    def test_box_outside_image_is_rejected(self):
        proc = self.run_box("--box", "10,10,900,100", check=False)
        self.assert_one_line_error(proc, "outside")


if __name__ == "__main__":
    unittest.main()
