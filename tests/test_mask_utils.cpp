// Hand-drawn masks and boxes with hand-computed expectations; the NMS expectations were also
// confirmed with torchvision.ops.nms 0.14 (CPU) under /usr/bin/python3. The reference-run records
// carry bbox/area computed by the official code (amg_*.json: box_xyxy_to_xywh(batched_mask_to_box),
// area_from_rle).
#include <catch2/catch.hpp>

#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "samcli/error.hpp"
#include "samcli/mask_utils.hpp"
#include "samcli/rle.hpp"
#include "support/mask_literals.hpp"

using namespace samcli;
using Bbox = std::array<int, 4>;

namespace {

cv::Mat mask(const std::vector<std::vector<int>>& rows) { return test::maskFromRows(rows); }

void requireSameMask(const cv::Mat& actual, const cv::Mat& expected) {
  REQUIRE(actual.type() == CV_8UC1);
  REQUIRE(actual.size() == expected.size());
  REQUIRE(cv::countNonZero(actual != expected) == 0);
}

}  // namespace

TEST_CASE("maskBboxXywh uses inclusive pixel indices (w = x_max - x_min)", "[mask_utils]") {
  cv::Mat m = cv::Mat::zeros(10, 12, CV_8UC1);
  CHECK(maskBboxXywh(m) == Bbox{0, 0, 0, 0});
  m.at<uint8_t>(4, 7) = 255;
  CHECK(maskBboxXywh(m) == Bbox{7, 4, 0, 0});
  m.at<uint8_t>(2, 9) = 1;
  m.at<uint8_t>(8, 3) = 255;
  CHECK(maskBboxXywh(m) == Bbox{3, 2, 6, 6});
  CHECK(maskBboxXywh(cv::Mat(5, 6, CV_8UC1, cv::Scalar(255))) == Bbox{0, 0, 5, 4});
  CHECK(maskBboxXywh(mask({{0, 0, 0}, {0, 0, 1}, {0, 1, 0}})) == Bbox{1, 1, 1, 1});
  CHECK(maskBboxXywh(m(cv::Rect(4, 3, 8, 6))) == Bbox{3, 1, 0, 0});
  CHECK_THROWS_AS(maskBboxXywh(cv::Mat(2, 2, CV_32FC1)), Error);
}

TEST_CASE("maskArea and maskIou", "[mask_utils]") {
  const cv::Mat a = mask({{1, 1, 0, 0}, {1, 1, 0, 0}, {0, 0, 0, 0}});
  const cv::Mat b = mask({{0, 1, 1, 0}, {0, 1, 1, 0}, {0, 0, 0, 0}});
  const cv::Mat none = cv::Mat::zeros(3, 4, CV_8UC1);
  CHECK(maskArea(a) == 4);
  CHECK(maskArea(none) == 0);
  CHECK(maskIou(a, b) == Approx(2.0 / 6.0).epsilon(1e-12));
  CHECK(maskIou(a, a) == 1.0);
  CHECK(maskIou(a, none) == 0.0);
  CHECK(maskIou(none, none) == 0.0);
  CHECK_THROWS_AS(maskIou(a, cv::Mat::zeros(4, 3, CV_8UC1)), Error);
}

TEST_CASE("bbox and area agree with the official code on reference masks", "[mask_utils]") {
  int checked = 0;
  for (const char* image : {"astronaut", "coffee"}) {
    for (const char* config : {"A", "B", "C"}) {
      const std::string path = std::string(SAMCLI_TEST_DATA_DIR "/reference/out/") + image + "/amg_" +
                               config + ".json";
      std::ifstream in(path);
      REQUIRE(in.good());
      const nlohmann::json j = nlohmann::json::parse(in);
      for (const auto& r : j.at("records")) {
        if (r.at("segmentation").is_null()) continue;
        INFO(image << " amg_" << config << " record " << checked);
        const auto& seg = r.at("segmentation");
        const Rle rle{seg.at("size")[0].get<int>(), seg.at("size")[1].get<int>(),
                      seg.at("counts").get<std::vector<uint32_t>>()};
        const cv::Mat m = decodeRle(rle);
        const auto box = r.at("bbox").get<std::vector<double>>();
        CHECK(maskBboxXywh(m) == Bbox{int(box[0]), int(box[1]), int(box[2]), int(box[3])});
        CHECK(maskArea(m) == r.at("area").get<int>());
        ++checked;
      }
    }
  }
  CHECK(checked >= 10);
}

TEST_CASE("removeSmallRegions fills small holes", "[mask_utils]") {
  // 28 foreground pixels; background components (8-connected): a 1-pixel hole, a 6-pixel hole and
  // the 14-pixel strip at the bottom.
  const cv::Mat m = mask({{1, 1, 1, 1, 1, 1, 1},
                          {1, 0, 1, 1, 1, 1, 1},
                          {1, 1, 1, 0, 0, 0, 1},
                          {1, 1, 1, 0, 0, 0, 1},
                          {1, 1, 1, 1, 1, 1, 1},
                          {0, 0, 0, 0, 0, 0, 0},
                          {0, 0, 0, 0, 0, 0, 0}});
  SECTION("only the hole below the threshold") {
    const auto [out, changed] = removeSmallRegions(m, 5, SmallRegionMode::Holes);
    CHECK(changed);
    requireSameMask(out, mask({{1, 1, 1, 1, 1, 1, 1},
                               {1, 1, 1, 1, 1, 1, 1},
                               {1, 1, 1, 0, 0, 0, 1},
                               {1, 1, 1, 0, 0, 0, 1},
                               {1, 1, 1, 1, 1, 1, 1},
                               {0, 0, 0, 0, 0, 0, 0},
                               {0, 0, 0, 0, 0, 0, 0}}));
  }
  SECTION("the comparison is strict: a 6-pixel hole survives threshold 6, not 6.5") {
    CHECK(cv::countNonZero(removeSmallRegions(m, 6, SmallRegionMode::Holes).first) == 28 + 1);
    CHECK(cv::countNonZero(removeSmallRegions(m, 6.5, SmallRegionMode::Holes).first) == 28 + 1 + 6);
  }
  SECTION("a large threshold fills the outer background as well") {
    const auto [out, changed] = removeSmallRegions(m, 100, SmallRegionMode::Holes);
    CHECK(changed);
    CHECK(cv::countNonZero(out) == 49);
  }
  SECTION("nothing small: unchanged, returned as 0/255") {
    const auto [out, changed] = removeSmallRegions(m / 255, 1, SmallRegionMode::Holes);
    CHECK_FALSE(changed);
    requireSameMask(out, m);
  }
}

TEST_CASE("removeSmallRegions removes small islands", "[mask_utils]") {
  // Foreground components (8-connected): a 2x2 block (4), a diagonal pair (2: one component only
  // with 8-connectivity) and a 2x3 block (6).
  const cv::Mat m = mask({{1, 1, 0, 0, 0, 0, 0},
                          {1, 1, 0, 0, 0, 1, 0},
                          {0, 0, 0, 0, 0, 0, 1},
                          {0, 0, 0, 0, 0, 0, 0},
                          {0, 0, 1, 1, 1, 0, 0},
                          {0, 0, 1, 1, 1, 0, 0},
                          {0, 0, 0, 0, 0, 0, 0}});
  SECTION("the diagonal pair counts as one region of 2") {
    const auto [out, changed] = removeSmallRegions(m, 2, SmallRegionMode::Islands);
    CHECK_FALSE(changed);
    requireSameMask(out, m);
  }
  SECTION("threshold 3 removes the pair") {
    const auto [out, changed] = removeSmallRegions(m, 3, SmallRegionMode::Islands);
    CHECK(changed);
    requireSameMask(out, mask({{1, 1, 0, 0, 0, 0, 0},
                               {1, 1, 0, 0, 0, 0, 0},
                               {0, 0, 0, 0, 0, 0, 0},
                               {0, 0, 0, 0, 0, 0, 0},
                               {0, 0, 1, 1, 1, 0, 0},
                               {0, 0, 1, 1, 1, 0, 0},
                               {0, 0, 0, 0, 0, 0, 0}}));
  }
  SECTION("threshold 5 keeps only the 2x3 block") {
    const auto [out, changed] = removeSmallRegions(m, 5, SmallRegionMode::Islands);
    CHECK(changed);
    CHECK(cv::countNonZero(out) == 6);
    CHECK(maskBboxXywh(out) == Bbox{2, 4, 2, 1});
  }
  SECTION("when every region is small the largest one is kept") {
    const auto [out, changed] = removeSmallRegions(m, 100, SmallRegionMode::Islands);
    CHECK(changed);
    CHECK(cv::countNonZero(out) == 6);
    CHECK(maskBboxXywh(out) == Bbox{2, 4, 2, 1});
  }
  SECTION("an empty mask has no islands") {
    const auto [out, changed] = removeSmallRegions(cv::Mat::zeros(4, 4, CV_8UC1), 10, SmallRegionMode::Islands);
    CHECK_FALSE(changed);
    CHECK(cv::countNonZero(out) == 0);
  }
}

TEST_CASE("nmsBoxes follows torchvision.ops.nms", "[mask_utils]") {
  // IoU(0,1) = 81/119 = 0.68; IoU(3,0) = 50/100 = 0.5; IoU(3,1) = 36/114 = 0.32; box 2 is disjoint.
  const std::vector<BoxXyxy> boxes = {{0, 0, 10, 10}, {1, 1, 11, 11}, {20, 20, 30, 30}, {0, 0, 10, 5}};
  const std::vector<float> scores = {0.9f, 0.8f, 0.85f, 0.95f};
  CHECK(nmsBoxes(boxes, scores, 0.7) == std::vector<int>{3, 0, 2, 1});
  // IoU exactly at the threshold is kept (strict comparison).
  CHECK(nmsBoxes(boxes, scores, 0.5) == std::vector<int>{3, 0, 2});
  // Box 0 is suppressed by box 3, so it no longer suppresses box 1.
  CHECK(nmsBoxes(boxes, scores, 0.49) == std::vector<int>{3, 2, 1});

  SECTION("equal scores keep input order (stable sort)") {
    const std::vector<BoxXyxy> b = {{0, 0, 1, 1}, {5, 5, 6, 6}, {0, 0, 1, 1}};
    CHECK(nmsBoxes(b, {0.5f, 0.5f, 0.5f}, 0.7) == std::vector<int>{0, 1});
  }
  SECTION("zero-area boxes never suppress each other (0/0 is NaN)") {
    const std::vector<BoxXyxy> b = {{2, 2, 2, 2}, {2, 2, 2, 2}, {0, 0, 0, 0}};
    CHECK(nmsBoxes(b, {0.5f, 0.6f, 0.7f}, 0.7) == std::vector<int>{2, 1, 0});
  }
  SECTION("IoU is computed in single precision like torchvision on float boxes") {
    // 18/30 is 0.6000000238f in float, above the double threshold 0.6.
    CHECK(nmsBoxes({{4, 33, 13, 35}, {1, 33, 16, 35}}, {1.0f, 0.5f}, 0.6) == std::vector<int>{0});
  }
  CHECK(nmsBoxes({}, {}, 0.7).empty());
  CHECK_THROWS_AS(nmsBoxes(boxes, {0.5f}, 0.7), Error);
}
