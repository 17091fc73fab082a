"""sam-point end to end on the fixture SAM (masks = colour region around the click)."""
import json
import os
import unittest

import numpy as np
from PIL import Image

from samcli_e2e import (SAM_FIXTURE, ToolTestCase, bbox_xywh, iou, read_mask, run_tool, save_png,
                        two_shape_scene)


class SamPointTest(ToolTestCase):
    def setUp(self):
        super().setUp()
        self.scene, self.truth = two_shape_scene()
        self.image = save_png(self.scene, self.path("scene.png"))

    def run_point(self, *args, check=True):
        return run_tool("sam-point", self.image, "--model", SAM_FIXTURE, "-o", self.path("out"), *args, check=check)

    def test_single_click_gives_three_scored_candidates_matching_the_disk(self):
        proc = self.run_point("--point", "200,240")
        doc = self.load_json("out", "scene", "masks.json")
        self.assertEqual((doc["width"], doc["height"]), (640, 480))
        self.assertEqual(len(doc["masks"]), 3)
        for i, rec in enumerate(doc["masks"]):
            mask = self.check_record_schema(rec, (480, 640))
            self.assertTrue(np.array_equal(mask, read_mask(self.path("out", "scene", rec["mask_file"]))))
            self.assertEqual(rec["mask_file"], "%d.png" % i)
            self.assertEqual(rec["point_coords"], [[200.0, 240.0]])
            self.assertEqual(rec["crop_box"], [0, 0, 640, 480])
        best = max(doc["masks"], key=lambda r: r["predicted_iou"])
        best_mask = read_mask(self.path("out", "scene", best["mask_file"]))
        self.assertGreater(iou(best_mask, self.truth["disk"]), 0.95)
        expected = bbox_xywh(self.truth["disk"])
        for got, want in zip(best["bbox"], expected):
            self.assertLessEqual(abs(got - want), 5)  # the fixture works on 4x4-pixel cells of the 1024 frame
        self.assertGreater(best["stability_score"], 0.9)
        # Overlay: three panels side by side, a little wider than three images.
        overlay = Image.open(self.path("out", "scene", "overlay.png"))
        self.assertGreaterEqual(overlay.width, 3 * 640)
        self.assertTrue(os.path.exists(self.path("out", "scene", "best_logits.npy")))
        self.assertIn("scene.png: 3 mask(s)", proc.stderr)
        self.assertEqual(proc.stdout, "")

    def test_click_on_rectangle_selects_rectangle_not_disk(self):
        self.run_point("--point", "480,240", "--single")
        doc = self.load_json("out", "scene", "masks.json")
        self.assertEqual(len(doc["masks"]), 1)
        mask = read_mask(self.path("out", "scene", "0.png"))
        self.assertGreater(iou(mask, self.truth["rect"]), 0.95)
        self.assertLess(iou(mask, self.truth["disk"]), 0.01)

    def test_json_to_stdout_is_parseable_and_quiet_silences_progress(self):
        proc = self.run_point("--point", "200,240", "--json", "-", "--quiet")
        data = json.loads(proc.stdout)
        self.assertEqual(len(data), 1)
        self.assertEqual(data[0]["image"], self.image)
        self.assertEqual(len(data[0]["masks"]), 3)
        self.assertEqual(proc.stderr, "")

    def test_labelled_points_with_background_click_single_mask(self):
        self.run_point("--points", "200,240,1;480,240,0", "--json", self.path("all.json"))
        data = json.load(open(self.path("all.json")))
        rec = data[0]["masks"][0]
        self.assertEqual(len(data[0]["masks"]), 1)  # several clicks default to one mask
        self.assertEqual(rec["point_labels"], [1, 0])
        mask = read_mask(self.path("out", "scene", "0.png"))
        self.assertGreater(iou(mask, self.truth["disk"]), 0.95)

    def test_mask_input_refinement_round_trip(self):
        self.run_point("--point", "200,240")
        logits = self.path("out", "scene", "best_logits.npy")
        arr = np.load(logits)
        self.assertEqual(arr.shape, (256, 256))
        self.assertEqual(arr.dtype, np.float32)
        self.run_point("--point", "200,240", "--mask-input", logits, "--single", "-o", self.path("refined"))
        mask = read_mask(self.path("refined", "scene", "0.png"))
        self.assertGreater(iou(mask, self.truth["disk"]), 0.95)

    def test_several_images_in_one_process(self):
        second = save_png(np.ascontiguousarray(self.scene[:, ::-1]), self.path("mirrored.png"))
        proc = self.run_point("--point", "440,240", second, "--single", check=False)
        # 440,240 is inside the mirrored disk (centre 439) and inside the original rectangle.
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertTrue(os.path.exists(self.path("out", "scene", "0.png")))
        self.assertTrue(os.path.exists(self.path("out", "mirrored", "0.png")))

    def test_grayscale_rgba_and_16bit_images_are_accepted(self):
        gray = save_png(self.scene.mean(axis=2).astype(np.uint8), self.path("gray.png"))
        rgba = np.dstack([self.scene, np.full(self.scene.shape[:2], 255, np.uint8)])
        Image.fromarray(rgba, "RGBA").save(self.path("rgba.png"))
        Image.fromarray((self.scene[:, :, 0].astype(np.uint16) * 257), "I;16").save(self.path("g16.png"))
        for name in ("gray", "rgba", "g16"):
            proc = run_tool("sam-point", self.path(name + ".png"), "--model", SAM_FIXTURE, "-o", self.path("o"),
                            "--point", "200,240", "--single", check=False)
            self.assertEqual(proc.returncode, 0, name + ": " + proc.stderr)
            mask = read_mask(self.path("o", name, "0.png"))
            self.assertEqual(mask.shape, (480, 640))
        rgba_mask = read_mask(self.path("o", "rgba", "0.png"))
        self.assertGreater(iou(rgba_mask, self.truth["disk"]), 0.95)

    def test_exif_orientation_is_applied(self):
        exif = Image.Exif()
        exif[0x0112] = 6  # rotate 90 degrees clockwise when displayed
        Image.fromarray(self.scene).save(self.path("rotated.jpg"), exif=exif, quality=95)
        proc = run_tool("sam-point", self.path("rotated.jpg"), "--model", SAM_FIXTURE, "-o", self.path("o"),
                        "--point", "240,200", "--single", "--json", "-")
        doc = json.loads(proc.stdout)[0]
        self.assertEqual((doc["width"], doc["height"]), (480, 640))
        # Displayed upright, the disk centre (200,240) moves to (480-1-240, 200) = (239, 200).
        mask = read_mask(self.path("o", "rotated", "0.png"))
        upright_disk = np.rot90(self.truth["disk"], k=-1)
        self.assertGreater(iou(mask, upright_disk), 0.9)


class SamPointBadInputTest(ToolTestCase):
    def setUp(self):
        super().setUp()
        scene, _ = two_shape_scene()
        self.image = save_png(scene, self.path("scene.png"))
        self.out = self.path("out")

    def run_bad(self, *args):
        return run_tool("sam-point", "--model", SAM_FIXTURE, "-o", self.out, *args, check=False)

    def test_missing_image(self):
        proc = self.run_bad(self.path("nope.png"), "--point", "1,1")
        self.assert_one_line_error(proc, "nope.png", "no such file")
        self.assertFalse(os.path.exists(self.path("out", "nope")))

    def test_corrupt_image(self):
        with open(self.path("corrupt.png"), "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
        proc = self.run_bad(self.path("corrupt.png"), "--point", "1,1")
        self.assert_one_line_error(proc, "corrupt.png")
        self.assert_no_partial_outputs(self.out)

    def test_empty_image(self):
        open(self.path("empty.png"), "wb").close()
        proc = self.run_bad(self.path("empty.png"), "--point", "1,1")
        self.assert_one_line_error(proc, "empty.png", "empty")

    def test_point_outside_image(self):
        proc = self.run_bad(self.image, "--point", "700,20")
        self.assert_one_line_error(proc, "outside", "scene.png")
        self.assertFalse(os.path.exists(self.path("out", "scene")))

    def test_malformed_point(self):
        proc = self.run_bad(self.image, "--point", "12;x")
        self.assert_one_line_error(proc, "--point", "12;x")
        self.assertEqual(proc.returncode, 2)

    def test_no_point(self):
        proc = self.run_bad(self.image)
        self.assert_one_line_error(proc, "--point")

    def test_missing_model_directory(self):
        proc = run_tool("sam-point", self.image, "--point", "5,5", "--model", self.path("no", "model"), check=False)
        self.assert_one_line_error(proc, "no/model")

    def test_directory_that_is_not_a_model(self):
        os.makedirs(self.path("notamodel"))
        proc = run_tool("sam-point", self.image, "--point", "5,5", "--model", self.path("notamodel"), check=False)
        self.assert_one_line_error(proc, "manifest.json")

    def test_model_name_not_found(self):
        proc = run_tool("sam-point", self.image, "--point", "5,5", "--model", "vit_q", check=False,
                        env={"SAMCLI_WEIGHTS": self.path("weights")})
        self.assert_one_line_error(proc, "vit_q", "not found")

    def test_model_from_environment(self):
        proc = run_tool("sam-point", self.image, "--point", "200,240", "-o", self.out, "--single", check=False,
                        env={"SAMCLI_MODEL": SAM_FIXTURE})
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def test_unwritable_output(self):
        open(self.path("file"), "w").close()
        proc = self.run_bad(self.image, "--point", "200,240", "-o", self.path("file", "sub"))
        self.assert_one_line_error(proc, "file/sub")

    def test_inputs_are_checked_before_the_model_loads(self):
        # The model path is wrong too: the input pattern must be the error reported.
        proc = run_tool("sam-point", self.path("nothing*.png"), "--point", "5,5", "--model", self.path("no-model"),
                        check=False)
        self.assert_one_line_error(proc, "nothing*.png", "matches no file")
        self.assertEqual(proc.returncode, 2)

    def test_bad_device_and_threads_are_usage_errors(self):
        proc = self.run_bad(self.image, "--point", "200,240", "--device", "tpu")
        self.assert_one_line_error(proc, "--device", "tpu")
        self.assertEqual(proc.returncode, 2)
        proc = self.run_bad(self.image, "--point", "200,240", "--threads", "-1")
        self.assert_one_line_error(proc, "--threads", "not in range 0 to 4096")
        self.assertEqual(proc.returncode, 2)

    def test_unknown_option_is_a_usage_error(self):
        proc = self.run_bad(self.image, "--pointz", "1,1")
        self.assertEqual(proc.returncode, 2)
        self.assertIn("error", proc.stderr)

    def test_help_teaches(self):
        proc = run_tool("sam-point", "--help")
        self.assertIn("--point", proc.stdout)
        self.assertIn("Examples", proc.stdout)


if __name__ == "__main__":
    unittest.main()
