// Prompts and their answers, shared by sam-point, sam-box, text-sam and the session (lib/prompted.cpp).
#include <catch2/catch.hpp>

#include "samcli/error.hpp"
#include "samcli/prompted.hpp"

using namespace samcli;

namespace {

std::vector<MaskPrediction> scored(const std::vector<float>& ious) {
  std::vector<MaskPrediction> predictions(ious.size());
  for (size_t i = 0; i < ious.size(); ++i) predictions[i].predictedIou = ious[i];
  return predictions;
}

}  // namespace

TEST_CASE("bestPrediction: the highest predicted IoU, the first of equals", "[prompted]") {
  CHECK(bestPrediction(scored({0.2f, 0.9f, 0.5f})) == 1);
  CHECK(bestPrediction(scored({0.7f, 0.3f, 0.7f})) == 0);
  // Random or poor weights predict negative IoUs; the best is still one of them.
  CHECK(bestPrediction(scored({-3.0f, -1.5f, -2.0f})) == 1);
  CHECK(bestPrediction(scored({0.4f})) == 0);
  CHECK_THROWS_AS(bestPrediction({}), Error);
}

TEST_CASE("checkPromptInside names the image and its size", "[prompted]") {
  Prompt p{{{10, 10}}, {1}, std::nullopt, cv::Mat()};
  CHECK_NOTHROW(checkPromptInside(p, {20, 20}, "a.png"));
  p.points = {{21, 5}};
  CHECK_THROWS_WITH(checkPromptInside(p, {20, 20}, "a.png"), "point 21,5 is outside 'a.png' (20x20)");
  p.points.clear();
  p.box = BoxXyxy{2, 2, 2.5, 9};
  CHECK_THROWS_WITH(checkPromptInside(p, {20, 20}, "a.png"), Catch::Contains("is degenerate"));
}

TEST_CASE("RecordCollector keeps RLE masks and the best mask's logits only", "[prompted]") {
  const auto prediction = [](float iou, float logit) {
    MaskPrediction p;
    p.mask = cv::Mat::zeros(4, 5, CV_8UC1);
    p.mask.at<uint8_t>(1, 2) = 255;
    p.predictedIou = iou;
    p.lowResLogits = cv::Mat(8, 8, CV_32FC1, cv::Scalar(logit));
    return p;
  };
  RecordCollector collected({5, 4});
  // Negative predicted IoUs occur: the first prompt's best counts even so.
  std::vector<MaskPrediction> first = {prediction(-2.0f, 1.0f), prediction(-1.0f, 2.0f)};
  collected.add(Prompt{{{1, 1}}, {1}, std::nullopt, cv::Mat()}, first);
  CHECK(collected.best == 1);
  CHECK(collected.bestLowResLogits.at<float>(0, 0) == 2.0f);
  std::vector<MaskPrediction> second = {prediction(0.5f, 3.0f), prediction(0.9f, 4.0f), prediction(0.9f, 5.0f)};
  collected.add(Prompt{{{2, 2}}, {1}, std::nullopt, cv::Mat()}, second);
  CHECK(collected.best == 3);  // the first of equals
  CHECK(collected.bestLowResLogits.at<float>(0, 0) == 4.0f);
  REQUIRE(collected.records.size() == 5);
  for (const MaskRecord& r : collected.records) {
    CHECK(r.mask.empty());  // released: written from the RLE
    CHECK(r.area == 1);
    CHECK(maskOf(r).at<uint8_t>(1, 2) == 255);
  }
  CHECK(collected.records[3].pointCoords.front().x == 2);
}
