// The per-mask record every tool emits: measuring a mask, getting it back after its pixels were
// released, the painting order, and the JSON form (fixed key order, shortest round-trip floats).
#include <catch2/catch.hpp>

#include <array>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "samcli/records.hpp"
#include "support/mask_literals.hpp"

using namespace samcli;
using Counts = std::vector<uint32_t>;

namespace {

// 4 rows x 5 columns: x 1..3, y 1..2, five pixels. Column-major runs: 5 background, 2, 2, 2, 3, 1, 5.
cv::Mat handMadeMask() {
  return test::maskFromRows({{0, 0, 0, 0, 0},  //
                             {0, 1, 1, 0, 0},
                             {0, 1, 1, 1, 0},
                             {0, 0, 0, 0, 0}});
}

MaskRecord recordWithArea(int64_t area) {
  MaskRecord r;
  r.area = area;
  return r;
}

std::vector<std::string> keysOf(const nlohmann::ordered_json& j) {
  std::vector<std::string> keys;
  for (const auto& item : j.items()) keys.push_back(item.key());
  return keys;
}

}  // namespace

TEST_CASE("measureMask fills the RLE, the area and the official XYWH box", "[records]") {
  MaskRecord r;
  r.mask = handMadeMask();
  measureMask(r);
  CHECK(r.rle.height == 4);
  CHECK(r.rle.width == 5);
  CHECK(r.rle.counts == Counts{5, 2, 2, 2, 3, 1, 5});
  CHECK(r.area == 5);
  // x 1..3, y 1..2: w = x_max - x_min, h = y_max - y_min (the official convention, not +1).
  CHECK(r.bbox == std::array<int, 4>{1, 1, 2, 1});

  MaskRecord pixel;
  pixel.mask = cv::Mat::zeros(6, 7, CV_8UC1);
  pixel.mask.at<uint8_t>(4, 5) = 255;
  measureMask(pixel);
  CHECK(pixel.area == 1);
  CHECK(pixel.bbox == std::array<int, 4>{5, 4, 0, 0});

  MaskRecord empty;
  empty.mask = cv::Mat::zeros(3, 2, CV_8UC1);
  measureMask(empty);
  CHECK(empty.area == 0);
  CHECK(empty.bbox == std::array<int, 4>{0, 0, 0, 0});
  CHECK(empty.rle.counts == Counts{6});
}

TEST_CASE("maskOf: the mask itself, or decoded from the RLE once released", "[records]") {
  MaskRecord r;
  r.mask = handMadeMask();
  measureMask(r);
  CHECK(maskOf(r).data == r.mask.data);  // no copy while the mask is held

  const cv::Mat original = r.mask.clone();
  r.mask.release();
  const cv::Mat decoded = maskOf(r);
  CHECK(test::sameMask(decoded, original));
}

TEST_CASE("largestFirst: indices by decreasing area, ties in record order", "[records]") {
  const std::vector<MaskRecord> records = {recordWithArea(5), recordWithArea(9), recordWithArea(5),
                                           recordWithArea(1), recordWithArea(9)};
  CHECK(largestFirst(records) == std::vector<size_t>{1, 4, 0, 2, 3});
  CHECK(largestFirst({}).empty());
}

TEST_CASE("recordToJson: every key in the documented order, extra fields last", "[records]") {
  MaskRecord r;
  r.mask = handMadeMask();
  measureMask(r);
  r.predictedIou = 0.1;
  r.stabilityScore = 0.1 + 0.2;
  r.pointCoords = {{70, 80.5}, {1.25, 2}};
  r.pointLabels = {1, 0};
  r.box = BoxXyxy{1, 2, 30, 40.5};
  r.cropBox = {0, 0, 5, 4};
  r.maskFile = "0.png";
  r.extra["label"] = "dog";
  r.extra["score"] = 0.5;

  const nlohmann::ordered_json j = recordToJson(r);
  CHECK(keysOf(j) == std::vector<std::string>{"area", "bbox", "predicted_iou", "stability_score", "point_coords",
                                              "point_labels", "box", "crop_box", "mask_file", "segmentation",
                                              "label", "score"});
  CHECK(keysOf(j["segmentation"]) == std::vector<std::string>{"size", "counts"});
  // Floats in shortest round-trip form: 0.1 stays 0.1, 0.1 + 0.2 keeps all its digits, whole
  // coordinates keep their ".0".
  CHECK(j.dump() ==
        R"({"area":5,"bbox":[1,1,2,1],"predicted_iou":0.1,"stability_score":0.30000000000000004,)"
        R"("point_coords":[[70.0,80.5],[1.25,2.0]],"point_labels":[1,0],"box":[1.0,2.0,30.0,40.5],)"
        R"("crop_box":[0,0,5,4],"mask_file":"0.png","segmentation":{"size":[4,5],"counts":"52201O2"},)"
        R"("label":"dog","score":0.5})");
}

TEST_CASE("recordToJson: no box is null; no labels and no mask file are left out", "[records]") {
  MaskRecord r;
  r.mask = handMadeMask();
  measureMask(r);
  r.predictedIou = 0.875;
  r.stabilityScore = 1;
  r.cropBox = {0, 0, 5, 4};
  CHECK(recordToJson(r).dump() ==
        R"({"area":5,"bbox":[1,1,2,1],"predicted_iou":0.875,"stability_score":1.0,"point_coords":[],)"
        R"("box":null,"crop_box":[0,0,5,4],"segmentation":{"size":[4,5],"counts":"52201O2"}})");
  // The JSON is made from the RLE, so it is the same once the pixels are released.
  const std::string before = recordToJson(r).dump();
  r.mask.release();
  CHECK(recordToJson(r).dump() == before);
}

TEST_CASE("dumpJson: key order kept, indent 2 when pretty, always a trailing newline", "[records]") {
  nlohmann::ordered_json j;
  j["z"] = 1;
  j["a"] = {0.1, 2};
  j["m"] = nlohmann::ordered_json::object();
  CHECK(dumpJson(j) == "{\n  \"z\": 1,\n  \"a\": [\n    0.1,\n    2\n  ],\n  \"m\": {}\n}\n");
  CHECK(dumpJson(j, false) == "{\"z\":1,\"a\":[0.1,2],\"m\":{}}\n");
  CHECK(dumpJson(nlohmann::ordered_json::array(), false) == "[]\n");
}
