// OWL-ViT's torch-free half: queries, tokens and detection post-processing. Expectations
// are hand-computed; the post-processing cases were also run through the steps of Hugging Face's
// post_process_object_detection (torch.max over queries, sigmoid, center_to_corners_format, scale by
// (w, h, w, h), score > threshold) in float32, and the NMS case through
// torchvision.ops.batched_nms, under /usr/bin/python3 (torch 1.13, torchvision 0.14).
#include <catch2/catch.hpp>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "samcli/error.hpp"
#include "samcli/model.hpp"
#include "samcli/owlvit.hpp"
#include "support/message_of.hpp"

using namespace samcli;

namespace {

// Logits [P, Q] and boxes [P, 4] from rows of numbers.
cv::Mat floats(const std::vector<std::vector<float>>& rows) {
  cv::Mat m(static_cast<int>(rows.size()), static_cast<int>(rows[0].size()), CV_32FC1);
  for (int r = 0; r < m.rows; ++r) {
    for (int c = 0; c < m.cols; ++c) m.at<float>(r, c) = rows[r][c];
  }
  return m;
}

float logit(double p) { return static_cast<float>(std::log(p / (1 - p))); }

void requireBox(const BoxXyxy& b, double x0, double y0, double x1, double y1) {
  CHECK(b.x0 == Approx(x0).margin(1e-3));
  CHECK(b.y0 == Approx(y0).margin(1e-3));
  CHECK(b.x1 == Approx(x1).margin(1e-3));
  CHECK(b.y1 == Approx(y1).margin(1e-3));
}

const ClipTokenizer& tokenizer() {
  static const ClipTokenizer instance = ClipTokenizer::fromBpeFile(
      SAMCLI_TEST_DATA_DIR "/clip/clip_bpe_simple_vocab_16e6.txt.gz");
  return instance;
}

}  // namespace

TEST_CASE("boxCxcywhToXyxy scales x by the width and y by the height", "[owlvit]") {
  // The detector saw the image squashed to a square: normalised units differ per axis.
  requireBox(boxCxcywhToXyxy({0.5f, 0.5f, 0.2f, 0.4f}, {640, 480}), 256, 144, 384, 336);
  requireBox(boxCxcywhToXyxy({0.25f, 0.75f, 0.5f, 0.5f}, {100, 200}), 0, 100, 50, 200);
  // Boxes reaching past the border stay so until clipped.
  requireBox(boxCxcywhToXyxy({0.05f, 0.5f, 0.2f, 1.2f}, {200, 100}), -10, -10, 30, 110);
}

TEST_CASE("clipBoxToImage clamps every corner into the image", "[owlvit]") {
  requireBox(clipBoxToImage({-10, -10, 30, 110}, {200, 100}), 0, 0, 30, 100);
  requireBox(clipBoxToImage({5, 6, 7, 8}, {200, 100}), 5, 6, 7, 8);
  requireBox(clipBoxToImage({250, 20, 300, 40}, {200, 100}), 200, 20, 200, 40);
}

TEST_CASE("postprocessDetections: score, label and threshold as post_process_object_detection", "[owlvit]") {
  const cv::Mat logits = floats({{logit(0.3), logit(0.9)},     // label 1, 0.9
                                 {logit(0.05), logit(0.08)},   // best 0.08: below 0.1
                                 {logit(0.6), logit(0.2)},     // label 0, 0.6
                                 {0.0f, -5.0f}});              // exactly 0.5
  const cv::Mat boxes = floats({{0.5f, 0.5f, 0.2f, 0.4f}, {0.5f, 0.5f, 0.1f, 0.1f}, {0.25f, 0.25f, 0.1f, 0.1f},
                                {0.75f, 0.75f, 0.1f, 0.1f}});
  const auto found = postprocessDetections(logits, boxes, cv::Size(640, 480), {});
  REQUIRE(found.size() == 3);
  CHECK(found[0].label == 1);
  CHECK(found[0].score == Approx(0.9f));
  requireBox(found[0].box, 256, 144, 384, 336);
  CHECK(found[1].label == 0);
  CHECK(found[1].score == Approx(0.6f));
  requireBox(found[1].box, 128, 96, 192, 144);
  CHECK(found[2].score == Approx(0.5f));

  DetectionOptions strict;
  strict.boxThreshold = 0.5f;  // kept only when strictly above, as `s > threshold`
  const auto above = postprocessDetections(logits, boxes, cv::Size(640, 480), strict);
  REQUIRE(above.size() == 2);
  CHECK(above[1].score == Approx(0.6f));

  DetectionOptions none;
  none.boxThreshold = 0.95f;
  CHECK(postprocessDetections(logits, boxes, cv::Size(640, 480), none).empty());
}

TEST_CASE("postprocessDetections clips boxes and drops those without area in the image", "[owlvit]") {
  const cv::Mat logits = floats({{3.0f}, {3.0f}, {2.0f}});
  const cv::Mat boxes = floats({{0.05f, 0.5f, 0.2f, 1.2f},     // over the left, top and bottom edges
                                {1.2f, 0.5f, 0.2f, 0.2f},      // entirely right of the image
                                {0.5f, 0.5f, 0.004f, 0.5f}});  // 0.8 px wide
  const auto found = postprocessDetections(logits, boxes, cv::Size(200, 100), {});
  REQUIRE(found.size() == 1);
  requireBox(found[0].box, 0, 0, 30, 100);
  requireBox(found[0].detectorBox, -10, -10, 30, 110);  // what the detector said, for the record
}

TEST_CASE("postprocessDetections: per-label NMS, score order and top-k", "[owlvit]") {
  // Boxes 0 and 1 overlap with IoU 0.64 (1 inside 0, 0.8 of its sides); box 2 overlaps 0 as much
  // but has another label; box 3 is apart.
  const cv::Mat logits = floats({{logit(0.7), -9.0f},
                                 {logit(0.9), -9.0f},
                                 {-9.0f, logit(0.5)},
                                 {logit(0.8), -9.0f}});
  const cv::Mat boxes = floats({{0.3f, 0.3f, 0.2f, 0.2f},
                                {0.3f, 0.3f, 0.16f, 0.16f},
                                {0.3f, 0.3f, 0.2f, 0.2f},
                                {0.8f, 0.8f, 0.1f, 0.1f}});
  const cv::Size size(100, 100);

  const auto all = postprocessDetections(logits, boxes, size, {});
  REQUIRE(all.size() == 4);
  CHECK(all[0].score == Approx(0.9f));
  CHECK(all[1].score == Approx(0.8f));
  CHECK(all[2].score == Approx(0.7f));
  CHECK(all[3].label == 1);

  DetectionOptions nms;
  nms.nmsIou = 0.5;
  const auto kept = postprocessDetections(logits, boxes, size, nms);
  REQUIRE(kept.size() == 3);  // box 0 goes: IoU 0.64 with the better box 1 of its label
  CHECK(kept[0].score == Approx(0.9f));
  CHECK(kept[1].score == Approx(0.8f));
  CHECK(kept[2].label == 1);
  nms.nmsIou = 0.7;
  CHECK(postprocessDetections(logits, boxes, size, nms).size() == 4);

  DetectionOptions top;
  top.topK = 2;
  const auto best = postprocessDetections(logits, boxes, size, top);
  REQUIRE(best.size() == 2);
  CHECK(best[0].score == Approx(0.9f));
  CHECK(best[1].score == Approx(0.8f));
  top.nmsIou = 0.5;
  top.topK = 3;
  CHECK(postprocessDetections(logits, boxes, size, top).back().label == 1);  // NMS before top-k
}

TEST_CASE("postprocessDetections: ties keep box order; a column range is one query set", "[owlvit]") {
  const cv::Mat logits = floats({{1.0f, -9.0f, -9.0f}, {-9.0f, 2.0f, 1.0f}, {1.0f, -9.0f, 3.0f}});
  const cv::Mat boxes = floats({{0.2f, 0.2f, 0.1f, 0.1f}, {0.5f, 0.5f, 0.1f, 0.1f}, {0.8f, 0.8f, 0.1f, 0.1f}});
  // Queries 1..2 only: box 0 scores sigmoid(-9) there, box 1 is label 0 (query 1), box 2 label 1.
  const auto second = postprocessDetections(logits.colRange(1, 3), boxes, cv::Size(10, 10), {});
  REQUIRE(second.size() == 2);
  CHECK(second[0].label == 1);
  CHECK(second[0].score == Approx(1 / (1 + std::exp(-3.0))));
  CHECK(second[1].label == 0);
  // Query 0 only: boxes 0 and 2 tie at sigmoid(1); box 0 comes first.
  const auto first = postprocessDetections(logits.colRange(0, 1), boxes, cv::Size(10, 10), {});
  REQUIRE(first.size() == 2);
  CHECK(first[0].box.x0 == Approx(1.5));
  CHECK(first[1].box.x0 == Approx(7.5));
}

TEST_CASE("postprocessDetections rejects mismatched outputs", "[owlvit]") {
  CHECK_THROWS_AS(postprocessDetections(floats({{1.0f}}), floats({{0.5f, 0.5f, 0.1f}}), cv::Size(10, 10), {}), Error);
  CHECK_THROWS_AS(postprocessDetections(floats({{1.0f}, {1.0f}}), floats({{0.5f, 0.5f, 0.1f, 0.1f}}), cv::Size(10, 10), {}),
                  Error);
}

TEST_CASE("splitQueries splits on commas and rejects queries with nothing to look for", "[owlvit]") {
  CHECK(splitQueries("dog, person", "--text") == std::vector<std::string>{"dog", "person"});
  CHECK(splitQueries("  a red car ,, dog ,", "--text") == std::vector<std::string>{"a red car", "dog"});
  CHECK(splitQueries("C++ book", "--text") == std::vector<std::string>{"C++ book"});
  CHECK(splitQueries("\xF0\x9F\x90\xB6", "--text") == std::vector<std::string>{"\xF0\x9F\x90\xB6"});  // an emoji
  CHECK(joinQueries(splitQueries(" dog ,person", "--text")) == "dog, person");

  const std::string empty = test::messageOf<UsageError>([] { splitQueries("", "--text"); });
  CHECK(empty.find("--text '' has no query") != std::string::npos);
  CHECK_THROWS_AS(splitQueries(" , ,", "--text"), UsageError);
  const std::string punctuation = test::messageOf<UsageError>([] { splitQueries("dog, ???", "--text"); });
  CHECK(punctuation == "query '\?\?\?' in --text is only punctuation: nothing to look for");
}

TEST_CASE("splitQueries rejects text that is not UTF-8 before any model runs", "[owlvit]") {
  // Was "internal error: [json.exception.type_error.316]" after both models had run.
  CHECK(test::messageOf<UsageError>([] { splitQueries("\xc3\x28 cat, dog", "--text"); }) ==
        "query '\\xc3( cat' in --text is not valid UTF-8");
  CHECK(test::messageOf<UsageError>([] { splitQueries("dog, \xed\xa0\x80", "--text"); }) ==
        "query '\\xed\\xa0\\x80' in --text is not valid UTF-8");  // a UTF-16 surrogate
  std::istringstream in("dog\ncat \xff\n");
  CHECK(test::messageOf<UsageError>([&] { readQuerySets(in, "query file 'q.txt'"); }) ==
        "query 'cat \\xff' in query file 'q.txt' line 2 is not valid UTF-8");
}

TEST_CASE("readQuerySets bounds its lines (--queries-from /dev/zero)", "[owlvit]") {
  std::istringstream zeros(std::string(100000, '\0'));
  CHECK_THROWS_WITH(readQuerySets(zeros, "query file '/dev/zero'"), "query file '/dev/zero' line 1 is longer than 64 KiB");
}

TEST_CASE("readQuerySets: one set per non-blank line", "[owlvit]") {
  std::istringstream in("dog\n\n  \ncat, bird\r\nred car\n");
  const auto sets = readQuerySets(in, "query file 'q.txt'");
  REQUIRE(sets.size() == 3);
  CHECK(sets[0] == std::vector<std::string>{"dog"});
  CHECK(sets[1] == std::vector<std::string>{"cat", "bird"});
  CHECK(sets[2] == std::vector<std::string>{"red car"});

  std::istringstream blank("\n \n");
  CHECK(test::messageOf<UsageError>([&] { readQuerySets(blank, "query file 'q.txt'"); }).find("query file 'q.txt' has no queries") != std::string::npos);
  std::istringstream bad("dog\n!!\n");
  CHECK(test::messageOf<UsageError>([&] { readQuerySets(bad, "query file 'q.txt'"); }).find("query file 'q.txt' line 2") != std::string::npos);
}

TEST_CASE("tokenizeQueries packs one row per query and reports truncation", "[owlvit]") {
  OwlVitManifest manifest;
  manifest.maxTextLength = 16;
  manifest.bosId = 49406;
  manifest.eosId = 49407;
  manifest.padId = 0;
  const std::string long_query = "a photo of a very small red car parked next to a big blue truck on a street";
  const QueryTokens tokens = tokenizeQueries(tokenizer(), {"red", long_query}, manifest);
  REQUIRE(tokens.count == 2);
  REQUIRE(tokens.length == 16);
  REQUIRE(tokens.inputIds.size() == 32);
  const std::vector<int64_t> red(tokens.inputIds.begin(), tokens.inputIds.begin() + 4);
  CHECK(red == std::vector<int64_t>{49406, 736, 49407, 0});  // 736 = "red</w>"
  CHECK(tokens.attentionMask[2] == 1);
  CHECK(tokens.attentionMask[3] == 0);
  CHECK(tokens.inputIds[31] == 49407);  // a cut query still ends in EOS
  CHECK(tokens.attentionMask[31] == 1);
  CHECK(tokens.truncated == std::vector<std::string>{long_query});

  // Control characters pass splitQueries but tokenize to nothing.
  const std::string message = test::messageOf<UsageError>([&] { tokenizeQueries(tokenizer(), {"\x01"}, manifest); });
  CHECK(message.find("query '\x01'") == 0);
}

TEST_CASE("postprocessDetections maps OWLv2 boxes through the padded square", "[owlvit]") {
  // A 600x400 image padded to 600x600: y scales by 600 like x, and a box in the grey padding below
  // the image has no pixel of it (no prompt for SAM).
  const cv::Mat logits = floats({{logit(0.9)}, {logit(0.8)}});
  const cv::Mat boxes = floats({{0.5f, 0.5f, 0.2f, 0.2f}, {0.5f, 0.9f, 0.2f, 0.1f}});
  const cv::Mat objectness = floats({{0.0f}, {2.0f}});
  const auto found = postprocessDetections(logits, boxes, BoxFrame({600, 600}, {600, 400}), {}, objectness);
  REQUIRE(found.size() == 1);
  requireBox(found[0].box, 240, 240, 360, 360);
  REQUIRE(found[0].objectness);
  CHECK(*found[0].objectness == Approx(0.5));
  CHECK_FALSE(found[0].relativeScore);
}

TEST_CASE("postprocessImageGuided keeps what post_process_image_guided_detection keeps", "[owlvit]") {
  // Box 1 overlaps box 0 by IoU 0.6 (> 0.3): suppressed. Box 2 stands alone; box 3 scores under a
  // tenth of the best. Relative score = (s - 0.1 m) / (0.9 m), m = best + 1e-6.
  const cv::Mat logits = floats({{logit(0.8)}, {logit(0.7)}, {logit(0.4)}, {logit(0.05)}});
  const cv::Mat boxes = floats({{0.2f, 0.2f, 0.2f, 0.2f},
                                {0.25f, 0.2f, 0.2f, 0.2f},
                                {0.7f, 0.7f, 0.2f, 0.2f},
                                {0.7f, 0.2f, 0.1f, 0.1f}});
  const auto found = postprocessImageGuided(logits, boxes, cv::Size(100, 100), {});
  REQUIRE(found.size() == 2);
  CHECK(found[0].score == Approx(0.8));
  CHECK(*found[0].relativeScore == Approx((0.8 - 0.08) / 0.72).epsilon(1e-5));
  CHECK(*found[1].relativeScore == Approx((0.4 - 0.08) / 0.72).epsilon(1e-5));
  requireBox(found[1].box, 60, 60, 80, 80);
  DetectionOptions noNms;
  noNms.nmsIou = 1.0;
  CHECK(postprocessImageGuided(logits, boxes, cv::Size(100, 100), noNms).size() == 3);
  DetectionOptions strict;
  strict.boxThreshold = 0.5f;  // scores under it are zeroed before the relative scores
  const auto kept = postprocessImageGuided(logits, boxes, cv::Size(100, 100), strict);
  REQUIRE(kept.size() == 1);
  CHECK(*kept[0].relativeScore == Approx(1.0).epsilon(1e-5));
}
