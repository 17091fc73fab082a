// Tensor-level steps shared by the predictor and the generator (lib/sam_model.hpp).
#include <cmath>

#include "sam_model.hpp"
// LibTorch's glog headers define CHECK; Catch2's must win in this file.
#undef CHECK
#include <catch2/catch.hpp>

using namespace samcli;

TEST_CASE("stability score is the IoU of the masks at threshold +- offset", "[sam_model]") {
  // One row of logits: 2 pixels above +1, 1 between 0 and 1, 1 between -1 and 0, 2 below -1.
  const torch::Tensor logits = torch::tensor({3.0f, 1.5f, 0.5f, -0.5f, -2.0f, -3.0f}).view({1, 1, 6});
  const torch::Tensor s = stabilityScore(logits, 0.0f, 1.0f);
  CHECK(s.item<float>() == Approx(2.0 / 4.0));
  // A threshold equal to a logit does not count it (strict >), as the official comparison.
  CHECK(stabilityScore(logits, 0.5f, 1.0f).item<float>() == Approx(1.0 / 3.0));
  // An empty union is NaN, so it can never pass a threshold.
  CHECK(std::isnan(stabilityScore(torch::full({1, 2, 2}, -5.0f), 0.0f, 1.0f).item<float>()));
}

TEST_CASE("prompt sequences follow the official prompt encoder", "[sam_model]") {
  std::vector<float> coords;
  std::vector<float> codes;
  appendPromptSequence({{10, 20}, {30, 40}}, {1, 0}, std::nullopt, coords, codes);
  CHECK(coords == std::vector<float>{10, 20, 30, 40, 0, 0});
  CHECK(codes == std::vector<float>{1, 0, -1});  // padding point when there is no box
  coords.clear();
  codes.clear();
  appendPromptSequence({{5, 6}}, {1}, BoxXyxy{1, 2, 3, 4}, coords, codes);
  CHECK(coords == std::vector<float>{5, 6, 1, 2, 3, 4});
  CHECK(codes == std::vector<float>{1, 2, 3});  // box corners instead of the padding point
}

TEST_CASE("tensorToMask gives a 0/255 OpenCV mask", "[sam_model]") {
  const torch::Tensor t = torch::tensor({0, 1, 1, 0}, torch::kBool).view({2, 2});
  const cv::Mat m = tensorToMask(t);
  REQUIRE(m.type() == CV_8UC1);
  CHECK(m.at<uint8_t>(0, 0) == 0);
  CHECK(m.at<uint8_t>(0, 1) == 255);
  CHECK(m.at<uint8_t>(1, 0) == 255);
}
