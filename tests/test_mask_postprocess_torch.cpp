// lib/mask_postprocess.cpp against the official post-processing written with LibTorch's own
// operators: Sam.postprocess_masks, `> mask_threshold` and calculate_stability_score.
#include <cmath>

#include <torch/torch.h>

#include "samcli/mask_postprocess.hpp"
// LibTorch's glog headers define CHECK; Catch2's must win in this file.
#undef CHECK
#include <catch2/catch.hpp>

using namespace samcli;
namespace F = torch::nn::functional;

namespace {

torch::Tensor bilinear(const torch::Tensor& x, int64_t h, int64_t w) {
  return F::interpolate(x, F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{h, w})
                               .mode(torch::kBilinear)
                               .align_corners(false));
}

// Sam.postprocess_masks on a [1, C, L, L] batch: logits [C, H, W].
torch::Tensor officialLogits(const torch::Tensor& lowRes, const LogitFrame& f) {
  using torch::indexing::Slice;
  torch::Tensor x = bilinear(lowRes, f.paddedSize, f.paddedSize);
  x = x.index({"...", Slice(0, f.inputSize.height), Slice(0, f.inputSize.width)});
  return bilinear(x, f.outputSize.height, f.outputSize.width)[0].contiguous();
}

cv::Mat matOf(const torch::Tensor& t, int type) {
  return cv::Mat(int(t.size(0)), int(t.size(1)), type, t.data_ptr());
}

}  // namespace

TEST_CASE("up-scaled logits, masks and stability scores equal the official ones", "[mask_postprocess]") {
  // SAM's own frame (256 -> 1024, a 4:3 photo at its input size and at 4000x3000), then square,
  // portrait and odd sizes; outputs larger and smaller than the input rectangle, and equal.
  const std::vector<std::pair<int, LogitFrame>> cases = {
      {256, {1024, {1024, 768}, {1024, 768}}}, {256, {1024, {1024, 768}, {4000, 3000}}},
      {16, {64, {64, 48}, {200, 150}}},        {16, {64, {36, 64}, {27, 48}}},
      {16, {64, {64, 64}, {97, 97}}},          {16, {64, {41, 64}, {641, 1000}}},
      {16, {32, {32, 5}, {300, 47}}}};
  torch::manual_seed(7);
  for (const auto& [low, f] : cases) {
    // Three candidates: the LibTorch kernel the official [B, 3, L, L] masks take.
    const torch::Tensor lowRes = torch::randn({1, 3, low, low}) * 4;
    const torch::Tensor logits = officialLogits(lowRes, f);
    for (int64_t c = 0; c < 3; ++c) {
      CAPTURE(f.inputSize, f.outputSize, c);
      const torch::Tensor channel = lowRes[0][c].contiguous();
      const cv::Mat lowMat = matOf(channel, CV_32FC1);
      const torch::Tensor official = logits[c];
      const cv::Mat ours = upscaleLogits(lowMat, f);
      REQUIRE(ours.size() == f.outputSize);
      CHECK(cv::norm(ours, matOf(official, CV_32FC1), cv::NORM_INF) == 0.0);

      const ThresholdedMask got = thresholdUpscaledLogits(lowMat, f, 0.0f, 1.0f);
      const torch::Tensor mask = (official > 0).to(torch::kUInt8).mul(255).contiguous();
      CHECK(cv::countNonZero(got.mask != matOf(mask, CV_8UC1)) == 0);
      const float stability = (official > 1.0f).sum().item<float>() / (official > -1.0f).sum().item<float>();
      CHECK(got.stabilityScore == stability);
    }
  }
}
