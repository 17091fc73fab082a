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
