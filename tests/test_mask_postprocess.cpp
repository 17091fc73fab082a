// From low-resolution logits to a thresholded mask and its stability score (lib/mask_postprocess.cpp).
#include <cmath>

#include <catch2/catch.hpp>

#include "samcli/error.hpp"
#include "samcli/mask_postprocess.hpp"

using namespace samcli;

TEST_CASE("equal sizes keep the logits: the mask and stability come straight from them", "[mask_postprocess]") {
  // One row of logits: 2 above +1, 1 in (0, 1], 1 in (-1, 0], 2 below -1.
  const cv::Mat low = (cv::Mat_<float>(1, 6) << 3.0f, 1.5f, 0.5f, -0.5f, -2.0f, -3.0f);
  const cv::Mat square = cv::repeat(low, 6, 1);
  const LogitFrame frame{6, {6, 6}, {6, 6}};
  const ThresholdedMask m = thresholdUpscaledLogits(square, frame, 0.0f, 1.0f);
  CHECK(cv::countNonZero(m.mask.row(0)) == 3);
  CHECK(m.mask.at<uint8_t>(0, 2) == 255);
  CHECK(m.mask.at<uint8_t>(0, 3) == 0);
  CHECK(m.stabilityScore == Approx(2.0 / 4.0));
  // A threshold equal to a logit does not count it (strict >), as the official comparison.
  CHECK(thresholdUpscaledLogits(square, frame, 0.5f, 1.0f).stabilityScore == Approx(1.0 / 3.0));
}

TEST_CASE("an empty union gives a NaN stability score, which no threshold passes", "[mask_postprocess]") {
  const cv::Mat low(4, 4, CV_32FC1, cv::Scalar(-5.0f));
  const ThresholdedMask m = thresholdUpscaledLogits(low, {8, {8, 4}, {16, 8}}, 0.0f, 1.0f);
  CHECK(std::isnan(m.stabilityScore));
  CHECK(cv::countNonZero(m.mask) == 0);
}

TEST_CASE("bilinear up-scaling by 2 interpolates between the samples", "[mask_postprocess]") {
  // Logits -1 | +1 in two columns: output columns sit at source positions -0.25 (clamped to 0),
  // 0.25, 0.75, 1.25 (second index clamped): values -1, -0.5, 0.5, 1.
  const cv::Mat low = (cv::Mat_<float>(2, 2) << -1.0f, 1.0f, -1.0f, 1.0f);
  const ThresholdedMask m = thresholdUpscaledLogits(low, {4, {4, 4}, {4, 4}}, 0.0f, 0.6f);
  CHECK(m.mask.at<uint8_t>(0, 1) == 0);
  CHECK(m.mask.at<uint8_t>(0, 2) == 255);
  // > 0.6: the last column; > -0.6: the last three.
  CHECK(m.stabilityScore == Approx(1.0 / 3.0));
}

TEST_CASE("only the input rectangle of the padded frame reaches the output", "[mask_postprocess]") {
  // Positive logits only in the padding (right half): the cropped mask is empty.
  cv::Mat low(8, 8, CV_32FC1, cv::Scalar(-4.0f));
  low.colRange(5, 8).setTo(4.0f);
  const ThresholdedMask m = thresholdUpscaledLogits(low, {16, {8, 16}, {8, 16}}, 0.0f, 1.0f);
  CHECK(m.mask.size() == cv::Size(8, 16));
  CHECK(cv::countNonZero(m.mask) == 0);
}

TEST_CASE("logits that do not fit the frame are refused", "[mask_postprocess]") {
  const cv::Mat low(4, 4, CV_32FC1, cv::Scalar(0.0f));
  CHECK_THROWS_AS(thresholdUpscaledLogits(low, {8, {9, 8}, {9, 8}}, 0.0f, 1.0f), Error);
  CHECK_THROWS_AS(thresholdUpscaledLogits(low, {8, {8, 8}, {0, 8}}, 0.0f, 1.0f), Error);
  CHECK_THROWS_AS(thresholdUpscaledLogits(cv::Mat(4, 4, CV_8UC1), {8, {8, 8}, {8, 8}}, 0.0f, 1.0f), Error);
}
