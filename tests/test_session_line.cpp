// Lines of the --session protocol, read without a model (lib/session_line.cpp).
#include <catch2/catch.hpp>

#include "samcli/error.hpp"
#include "samcli/session_line.hpp"
#include "support/message_of.hpp"

using namespace samcli;

namespace {

std::string errorOf(const std::string& line, const std::string& current = "") {
  return test::messageOf<Error>([&] { (void)parseSessionLine(line, 3, current); });
}

}  // namespace

TEST_CASE("parseSessionLine: clicks, boxes, the session's own fields and the echo", "[session_line]") {
  const SessionRequest click = parseSessionLine(R"({"image": "a.png", "points": [[4, 5]]})", 1, "");
  CHECK(click.image == "a.png");
  REQUIRE(click.prompts.size() == 1);
  CHECK(click.prompts[0].labels == std::vector<int>{1});
  CHECK(!click.prompts[0].box);
  CHECK(!click.multimask);
  CHECK(!click.refine);
  CHECK(!click.save);
  CHECK(click.prompt.dump() == R"({"image":"a.png","points":[[4,5]]})");

  const SessionRequest boxes = parseSessionLine(
      R"({"boxes": [[9, 8, 1, 2], [0, 0, 3, 3]], "points": [[2, 2]], "multimask": false, "refine": true, "save": "b"})", 2,
      "open.png");
  CHECK(boxes.image == "open.png");  // no "image": the current one
  REQUIRE(boxes.prompts.size() == 2);
  CHECK(boxes.prompts[0].box->x0 == 1);
  CHECK(boxes.prompts[1].points.size() == 1);
  CHECK(boxes.multimask == false);
  CHECK(boxes.refine);
  CHECK(boxes.save);
  CHECK(boxes.saveName == "b");
  CHECK(boxes.prompt.contains("save"));  // echoed as given
}

TEST_CASE("parseSessionLine refuses what the session cannot serve", "[session_line]") {
  CHECK(errorOf(R"({"points": [[1, 1]]})") == "no \"image\" given yet");
  CHECK(errorOf(R"({"image": "a.png"})") == "nothing to decode: give \"points\" or \"boxes\"");
  CHECK(errorOf(R"({"image": "a.png", "text": "dog"})") == "\"text\" needs text-sam; this session takes points and boxes");
  CHECK(errorOf(R"({"points": [[1, 1]], "refine": "yes"})", "a.png") == "\"refine\" must be true or false, got \"yes\"");
  CHECK(errorOf(R"({"points": [[1, 1]], "save": "../x"})", "a.png") ==
        "\"save\" must be a folder name without '/' or control characters, got \"../x\"");
  CHECK(errorOf(R"({"points": [[1, 1]], "save": "a\u0000b"})", "a.png") ==
        "\"save\" must be a folder name without '/' or control characters, got \"a\\u0000b\"");
  CHECK(errorOf(R"({"points": [[1, 1]], "labels": [1, 0]})", "a.png") ==
        "line 3: 2 label(s) for 1 point(s): give one label per point, or none (all foreground)");
  CHECK(errorOf(R"({"points": [[1, 1]], "multi_mask": true})", "a.png") ==
        "unknown field \"multi_mask\" (fields: image, points, labels, boxes, multimask, refine, save)");
  CHECK(errorOf("[1, 2]") == "expected an object {\"image\": ..., \"points\": ...}, got [1,2]");
  CHECK(errorOf("not json") == "standard input: malformed JSON at line 3, column 2: invalid literal; last read: 'no'");
}

TEST_CASE("parseSessionLine bounds nesting with the one JSON reader", "[session_line]") {
  // 100,000 levels, a whole line or inside a field, killed the session (SIGSEGV).
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  CHECK(errorOf(deep) == "standard input: malformed JSON at line 3, column 65: nested deeper than 64 levels");
  CHECK(errorOf(R"({"points": [[1, 2]], "save": )" + deep + "}", "a.png") ==
        "standard input: malformed JSON at line 3, column 93: nested deeper than 64 levels");
}
