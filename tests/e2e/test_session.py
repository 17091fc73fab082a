"""--session end to end on the fixture SAM (masks = colour region around the click; a mask input is
added to the logits, so refinement shows): many prompts to one process, image switches, refinement,
saving, bad lines that do not end the session, EOF ending it with exit 0, and answers equal to the
one-shot tools on the same prompts."""
import json
import os
import subprocess
import unittest

import numpy as np

from samcli_e2e import (BIN_DIR, SAM_FIXTURE, ToolTestCase, disk_mask, iou, paint, read_mask, rle_decode, run_tool,
                        save_png, two_shape_scene)

DISK, RECT = [200, 240], [480, 240]  # inside two_shape_scene's disk and rectangle


class SessionTest(ToolTestCase):
    def setUp(self):
        super().setUp()
        scene, self.truth = two_shape_scene()
        self.scene = save_png(scene, self.path("scene.png"))
        self.other_disk = disk_mask(120, 160, 100, 60, 20)
        self.other = save_png(paint(120, 160, [(self.other_disk, (40, 200, 60))]), self.path("other.png"))

    def session(self, lines, tool="sam-point", check=True):
        """Runs `tool --session` with these lines (objects are dumped, strings sent as they are);
        returns (process, the answers)."""
        text = "".join((l if isinstance(l, str) else json.dumps(l)) + "\n" for l in lines)
        proc = subprocess.run([os.path.join(BIN_DIR, tool), "--session", "--model", SAM_FIXTURE, "-o",
                               self.path("out")], input=text, capture_output=True, text=True, timeout=300)
        if check:
            self.assertEqual(proc.returncode, 0, proc.stderr)
        return proc, [json.loads(l) for l in proc.stdout.splitlines()]

    def best(self, answer):
        return rle_decode(answer["masks"][answer["best"]]["segmentation"])

    def test_prompts_image_switch_bad_lines_and_eof(self):
        proc, answers = self.session([
            {"image": self.scene, "points": [DISK]},                       # 1: one click, 3 candidates
            {"points": [RECT], "multimask": False},                        # 2: same image, 1 mask
            "not json",                                                    # 3
            {"points": [[9999, 5]]},                                       # 4: outside the image
            "",                                                            # (blank: skipped)
            {"boxes": [[560, 330, 400, 150]]},                             # 6: a box, any corner order
            {"image": self.other, "points": [[100, 60]], "save": True},   # 7: another image, saved
            {"text": "red"},                                               # 8: not this tool's
            {"points": [[10, 10]], "labels": [1, 1]},                      # 9: one label too many
            {"image": self.path("missing.png"), "points": [[1, 1]]},      # 10
            {"points": [[100, 60]], "refine": "yes"},                      # 11
        ])
        self.assertEqual([a["line"] for a in answers], [1, 2, 3, 4, 6, 7, 8, 9, 10, 11])
        ok = {a["line"]: a for a in answers if "error" not in a}
        errors = {a["line"]: a["error"] for a in answers if "error" in a}
        self.assertEqual(sorted(ok), [1, 2, 6, 7])
        self.assertEqual(len(ok[1]["masks"]), 3)
        self.assertGreater(iou(self.best(ok[1]), self.truth["disk"]), 0.95)
        self.assertEqual(len(ok[2]["masks"]), 1)
        self.assertGreater(iou(self.best(ok[2]), self.truth["rect"]), 0.95)
        self.assertEqual(ok[6]["masks"][0]["box"], [400.0, 150.0, 560.0, 330.0])
        self.assertGreater(iou(self.best(ok[6]), self.truth["rect"]), 0.95)
        self.assertEqual((ok[7]["image"], ok[7]["width"], ok[7]["height"]), (self.other, 160, 120))
        self.assertGreater(iou(self.best(ok[7]), self.other_disk), 0.9)
        self.assertEqual(ok[1]["prompt"], {"image": self.scene, "points": [DISK]})
        for a in ok.values():
            self.assertGreaterEqual(a["seconds"], 0)
            self.assertEqual(a["image"], self.scene if a["line"] < 7 else self.other)
        self.assertIn("standard input: malformed JSON at line 3, column 2", errors[3])
        self.assertIn("outside", errors[4])
        self.assertIn("text-sam", errors[8])
        self.assertIn("label", errors[9])
        self.assertIn("missing.png", errors[10])
        self.assertIn("\"refine\" must be true or false", errors[11])
        # "save": the batch layout, equal to what the answer says.
        self.assertEqual(ok[7]["saved"], self.path("out", "other"))
        saved = self.load_json("out", "other", "masks.json")
        self.assertEqual([m["segmentation"] for m in saved["masks"]], [m["segmentation"] for m in ok[7]["masks"]])
        self.assertTrue(os.path.exists(self.path("out", "other", "overlay.png")))
        self.assertEqual(sorted(os.listdir(self.path("out"))), ["other"])  # nothing else written

    def test_unknown_fields_are_named_with_the_session_fields_and_blank_lines_are_counted(self):
        proc, answers = self.session(["", "   ", {"image": self.scene, "points": [DISK], "multi_mask": False}])
        self.assertEqual(answers, [{"line": 3, "error": 'unknown field "multi_mask" (fields: image, points, labels, '
                                                        'boxes, multimask, refine, save)'}])
        help_text = " ".join(run_tool("sam-point", "--help").stdout.split())
        self.assertIn("a blank line is skipped without an answer (it is counted)", help_text)

    def test_numbers_out_of_range_and_nul_bytes_are_placed(self):
        proc, answers = self.session([
            '{"image": "%s", "points": [[1e309, 1]]}' % self.scene,
            '{"points": [[%s, 1]]}' % ("9" * 1000),
            '{"points": [[1, 1]]}\x00 {"points": [[2, 2]]}'])
        self.assertEqual([a["error"] for a in answers], [
            "standard input: malformed JSON at line 1, column %d: the number 1e309 is out of range (beyond a double's "
            "1.8e308)" % (len('{"image": "%s", "points": [[' % self.scene) + 1),
            "standard input: malformed JSON at line 2, column 14: the number %s... is out of range (beyond a "
            "double's 1.8e308)" % ("9" * 37),
            "standard input: malformed JSON at line 3, column 21: a NUL byte (not text)"])
        with open(self.path("p.json"), "w") as f:
            f.write('[{"image": "%s",\n  "points": [[1e309, 1]]}]' % self.scene)
        proc = run_tool("sam-point", "--prompts", self.path("p.json"), "--model", SAM_FIXTURE, check=False)
        self.assertEqual(proc.returncode, 2)
        self.assert_one_line_error(proc, "prompt file '%s': malformed JSON at line 2, column 15: the number 1e309 is "
                                         "out of range" % self.path("p.json"))

    def test_error_answers_are_one_printable_line_of_sane_length(self):
        huge = self.path("x" * 10000000 + ".png")
        proc, answers = self.session([json.dumps({"image": huge, "points": [DISK]}),
                                      {"image": self.scene, "points": [DISK], "save": "a\u0000b"}])
        self.assertLess(len(answers[0]["error"]), 1100)
        self.assertIn("more bytes)", answers[0]["error"])
        self.assertEqual(answers[1]["error"], "\"save\" must be a folder name without '/' or control characters, "
                                              "got \"a\\u0000b\"")

    def test_save_does_not_replace_a_users_file_of_that_name(self):
        os.makedirs(self.path("out"))
        with open(self.path("out", "notes.txt"), "w") as f:
            f.write("mine\n")
        proc, answers = self.session([{"image": self.scene, "points": [DISK], "save": "notes.txt"},
                                      {"points": [DISK], "save": "kept"}])
        self.assertEqual(answers[0]["error"], "cannot write output folder '%s': a file is in its place (not replaced)"
                         % self.path("out", "notes.txt"))
        with open(self.path("out", "notes.txt")) as f:
            self.assertEqual(f.read(), "mine\n")
        self.assertEqual(answers[1]["saved"], self.path("out", "kept"))
        self.assertEqual(sorted(os.listdir(self.path("out"))), ["kept", "notes.txt"])

    def test_answers_equal_the_one_shot_tools(self):
        _, answers = self.session([{"image": self.scene, "points": [DISK]},
                                   {"points": [DISK, [250, 240]], "labels": [1, 0]}])
        point = run_tool("sam-point", self.scene, "--point", "200,240", "--model", SAM_FIXTURE, "-o",
                         self.path("p"), "--json", "-", "-q")
        self.assertEqual([m["segmentation"] for m in answers[0]["masks"]],
                         [m["segmentation"] for m in json.loads(point.stdout)[0]["masks"]])
        points = run_tool("sam-point", self.scene, "--points", "200,240,1;250,240,0", "--model", SAM_FIXTURE, "-o",
                          self.path("p"), "--json", "-", "-q")
        self.assertEqual([m["segmentation"] for m in answers[1]["masks"]],
                         [m["segmentation"] for m in json.loads(points.stdout)[0]["masks"]])
        _, boxes = self.session([{"image": self.scene, "boxes": [[400, 150, 560, 330], [120, 160, 281, 321]],
                                  "points": [RECT]}], tool="sam-box")
        box = run_tool("sam-box", self.scene, "--box", "400,150,560,330", "--box", "120,160,281,321", "--point",
                       "480,240", "--model", SAM_FIXTURE, "-o", self.path("b"), "--json", "-", "-q")
        self.assertEqual([m["segmentation"] for m in boxes[0]["masks"]],
                         [m["segmentation"] for m in json.loads(box.stdout)[0]["masks"]])

    def test_refine_feeds_back_the_previous_best_logits(self):
        _, answers = self.session([{"image": self.scene, "points": [DISK], "save": "first"},
                                   {"points": [RECT], "multimask": False, "refine": True},
                                   {"points": [RECT], "multimask": False}])
        refined, plain = self.best(answers[1]), self.best(answers[2])
        # The fixture adds the mask input to its logits: the disk's large negative logits outside the
        # disk cancel the rectangle's, so the refined mask is not the plain one.
        self.assertGreater(iou(plain, self.truth["rect"]), 0.95)
        self.assertLess(iou(refined, self.truth["rect"]), 0.5)
        # The same as the one-shot tool given the first answer's best logits.
        cli = run_tool("sam-point", self.scene, "--point", "480,240", "--single", "--mask-input",
                       self.path("out", "first", "best_logits.npy"), "--model", SAM_FIXTURE, "-o", self.path("c"),
                       "--json", "-", "-q")
        self.assertEqual(answers[1]["masks"][0]["segmentation"], json.loads(cli.stdout)[0]["masks"][0]["segmentation"])

    def test_one_process_answers_a_hundred_prompts(self):
        lines = [{"image": self.scene, "points": [DISK if i % 2 else RECT], "multimask": False} for i in range(100)]
        proc, answers = self.session(lines)
        self.assertEqual([a["line"] for a in answers], list(range(1, 101)))
        self.assertTrue(all("error" not in a for a in answers))
        self.assertEqual(proc.stderr.count("error"), 0)

    def test_a_runaway_line_ends_the_session_with_one_error(self):
        proc, answers = self.session([{"image": self.scene, "points": [DISK]}, "x" * (17 << 20)], check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertEqual([a["line"] for a in answers], [1])  # what came before was answered
        errors = [l for l in proc.stderr.splitlines() if ": error: " in l]
        self.assertEqual(len(errors), 1, proc.stderr)
        self.assertIn("standard input line 2 is longer than", errors[0])

    def test_a_line_nested_100000_deep_gets_an_error_answer(self):
        # Read without a depth bound, such a line overflowed the stack (SIGSEGV, exit 139).
        deep = "[" * 100000 + "]" * 100000
        in_field = '{"points": [[200, 240]], "save": %s}' % deep
        for tool in ("sam-point", "sam-box"):
            proc, answers = self.session([deep, {"image": self.scene, "points": [DISK]}, in_field,
                                          {"boxes": [[400, 150, 560, 330]]}], tool=tool)
            self.assertEqual([a["line"] for a in answers], [1, 2, 3, 4], tool)
            self.assertEqual(answers[0]["error"],
                             "standard input: malformed JSON at line 1, column 65: nested deeper than 64 levels")
            self.assertEqual(answers[2]["error"],
                             "standard input: malformed JSON at line 3, column 97: nested deeper than 64 levels")
            self.assertNotIn("error", answers[1])  # the session went on
            self.assertNotIn("error", answers[3])
            self.assertEqual(proc.stderr, "")

    def test_a_reader_that_goes_away_ends_the_session_quietly(self):
        # `sam-point --session ... | head -1`: the second answer meets a closed pipe. As batch
        # `--jsonl | head` does, that is exit 0 without a message, not exit 1.
        proc = subprocess.Popen([os.path.join(BIN_DIR, "sam-point"), "--session", "--model", SAM_FIXTURE, "-o",
                                 self.path("out")], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        line = (json.dumps({"image": self.scene, "points": [DISK]}) + "\n").encode()
        proc.stdin.write(line)
        proc.stdin.flush()
        self.assertEqual(json.loads(proc.stdout.readline())["line"], 1)
        proc.stdout.close()
        proc.stdin.write(line * 3)
        proc.stdin.close()
        self.assertEqual(proc.wait(timeout=300), 0)
        self.assertEqual(proc.stderr.read().decode(), "")
        proc.stderr.close()
        # The same through a shell pipeline, as a user writes it.
        shell = subprocess.run("printf '%%s\\n%%s\\n' '%s' '%s' | '%s' --session --model '%s' -o '%s' | head -1; "
                               "echo \"rc=${PIPESTATUS[1]}\"" % (line.decode().strip(), line.decode().strip(),
                                                                  os.path.join(BIN_DIR, "sam-point"), SAM_FIXTURE,
                                                                  self.path("out")),
                               shell=True, executable="/bin/bash", capture_output=True, text=True, timeout=300)
        self.assertEqual(shell.stdout.splitlines()[-1], "rc=0", shell.stderr)
        self.assertEqual(shell.stderr, "")

    def test_session_excludes_images_and_stdout_outputs(self):
        for extra in ([self.scene], ["--jsonl"], ["--json", "-"], ["--point", "1,1"]):
            proc = run_tool("sam-point", "--session", *extra, "--model", SAM_FIXTURE, check=False)
            self.assertEqual(proc.returncode, 2, extra)
            self.assert_one_line_error(proc, "--session")
        proc = run_tool("sam-box", "--session", "--box", "1,1,5,5", "--model", SAM_FIXTURE, check=False)
        self.assertEqual(proc.returncode, 2)


if __name__ == "__main__":
    unittest.main()
