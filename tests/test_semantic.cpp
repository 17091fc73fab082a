// Mask -> encoder-grid pooling and the class bookkeeping of sam-semantic.
#include <catch2/catch.hpp>

#include "samcli/error.hpp"
#include "samcli/semantic.hpp"

using namespace samcli;

namespace {

// A 64x64 grid over the padded 1024 square, as SAM's encoder; `channels` values per cell.
ImageEmbedding grid(cv::Size inputSize, int channels = 2) {
  ImageEmbedding e;
  e.channels = channels;
  e.height = 64;
  e.width = 64;
  e.inputSize = inputSize;
  e.paddedSize = 1024;
  e.data.assign(size_t(channels) * 64 * 64, 0.0f);
  return e;
}

MaskRecord recordOf(const cv::Mat& mask, double iou = 0.9) {
  MaskRecord r;
  r.mask = mask;
  measureMask(r);
  r.predictedIou = iou;
  return r;
}

}  // namespace

TEST_CASE("a mask is pooled where the encoder saw it: resized, then padded bottom/right", "[semantic]") {
  // Landscape 640x480 -> 1024x768 inside the square; rows 48..63 of the grid are padding.
  cv::Mat leftHalf = cv::Mat::zeros(480, 640, CV_8UC1);
  leftHalf(cv::Rect(0, 0, 320, 480)).setTo(255);
  const cv::Mat w = maskGridWeights(leftHalf, grid({1024, 768}), {});
  REQUIRE(w.size() == cv::Size(64, 64));
  CHECK(w.at<float>(10, 10) == Approx(1.0));
  // The bilinear resize blends the edge over one pixel of the 1.6x larger frame: 3/255 of a patch.
  CHECK(w.at<float>(47, 31) == Approx(1.0).margin(0.02));
  CHECK(w.at<float>(10, 32) == Approx(0.0).margin(0.02));
  CHECK(w.at<float>(10, 33) == 0.0f);
  CHECK(w.at<float>(48, 10) == Approx(0.0));  // padding below the image
  CHECK(cv::sum(w)[0] == Approx(32 * 48));

  // Portrait 480x640 -> 768x1024: the padding is on the right.
  cv::Mat all = cv::Mat(640, 480, CV_8UC1, cv::Scalar(255));
  const cv::Mat p = maskGridWeights(all, grid({768, 1024}), {});
  CHECK(p.at<float>(63, 47) == Approx(1.0));
  CHECK(p.at<float>(0, 48) == Approx(0.0));
  CHECK(cv::sum(p)[0] == Approx(48 * 64));
}

TEST_CASE("coverage weights are the covered fraction of each 16x16 patch", "[semantic]") {
  // A 1024x1024 image is not resized, so patch coverage is exact.
  cv::Mat mask = cv::Mat::zeros(1024, 1024, CV_8UC1);
  mask(cv::Rect(5 * 16, 7 * 16, 8, 8)).setTo(255);  // a quarter of patch (row 7, col 5)
  mask(cv::Rect(20 * 16, 3 * 16, 16, 16)).setTo(255);  // all of patch (3, 20)
  const ImageEmbedding e = grid({1024, 1024});
  const cv::Mat w = maskGridWeights(mask, e, {});
  CHECK(w.at<float>(7, 5) == Approx(0.25));
  CHECK(w.at<float>(3, 20) == Approx(1.0));
  CHECK(cv::sum(w)[0] == Approx(1.25));
  const cv::Mat strict = maskGridWeights(mask, e, {PoolingMode::Coverage, 0.3});
  CHECK(strict.at<float>(7, 5) == 0.0f);
  CHECK(strict.at<float>(3, 20) == Approx(1.0));
}

TEST_CASE("notebook pooling keeps patches with at least 2 mask pixels, weight 1", "[semantic]") {
  cv::Mat mask = cv::Mat::zeros(1024, 1024, CV_8UC1);
  mask.at<uint8_t>(0, 0) = 255;  // patch (0,0): 1 pixel
  mask.at<uint8_t>(0, 16) = 255;  // patch (0,1): 2 pixels
  mask.at<uint8_t>(1, 17) = 255;
  mask(cv::Rect(32, 32, 16, 16)).setTo(255);  // patch (2,2): full
  const cv::Mat w = maskGridWeights(mask, grid({1024, 1024}), {PoolingMode::Notebook, 0.0});
  CHECK(w.at<float>(0, 0) == 0.0f);
  CHECK(w.at<float>(0, 1) == 1.0f);
  CHECK(w.at<float>(2, 2) == 1.0f);
  CHECK(cv::sum(w)[0] == Approx(2.0));
}

TEST_CASE("pooling is the weighted mean of the covered cells' vectors", "[semantic]") {
  ImageEmbedding e = grid({1024, 1024}, 2);
  for (int i = 0; i < 64 * 64; ++i) {
    e.data[size_t(i)] = float(i);          // channel 0: the cell index
    e.data[size_t(64 * 64 + i)] = 1.0f;    // channel 1: constant
  }
  cv::Mat w = cv::Mat::zeros(64, 64, CV_32FC1);
  w.at<float>(0, 1) = 1.0f;   // cell 1
  w.at<float>(0, 3) = 3.0f;   // cell 3
  const auto v = poolEmbedding(e, w);
  REQUIRE(v.size() == 2);
  CHECK(v[0] == Approx((1.0 * 1 + 3.0 * 3) / 4.0));
  CHECK(v[1] == Approx(1.0));
  CHECK(poolEmbedding(e, cv::Mat::zeros(64, 64, CV_32FC1)).empty());  // never NaN
}

TEST_CASE("masks with similar vectors form classes; noise and empty masks stay unlabelled", "[semantic]") {
  // Vector (1,0) on the left quarter of the grid, (0,1) on the right quarter, (1,1) in between.
  ImageEmbedding e = grid({1024, 1024}, 2);
  for (int y = 0; y < 64; ++y) {
    for (int x = 0; x < 64; ++x) {
      const bool left = x < 16;
      const bool right = x >= 48;
      e.data[size_t(y * 64 + x)] = (left || !right) ? 1.0f : 0.0f;
      e.data[size_t(64 * 64 + y * 64 + x)] = (right || !left) ? 1.0f : 0.0f;
    }
  }
  const auto box = [](int x, int y, int w, int h) {
    cv::Mat m = cv::Mat::zeros(1024, 1024, CV_8UC1);
    m(cv::Rect(x, y, w, h)).setTo(255);
    return m;
  };
  std::vector<MaskRecord> records = {
      recordOf(box(0, 0, 100, 100), 0.8),     // left kind
      recordOf(box(0, 500, 200, 100), 0.9),   // left kind
      recordOf(box(900, 0, 100, 100)),        // right kind
      recordOf(box(900, 600, 100, 300)),      // right kind
      recordOf(box(500, 500, 64, 64)),        // the middle kind: alone, so noise
      recordOf(cv::Mat::zeros(1024, 1024, CV_8UC1)),  // covers nothing
  };
  const SemanticResult r = classifyMasks(records, e, {1024, 1024}, SemanticOptions{});
  CHECK(r.classIds == std::vector<int>{1, 1, 2, 2, 0, 0});
  REQUIRE(r.classes.size() == 2);
  CHECK(r.classes[0].members == std::vector<size_t>{0, 1});
  CHECK(r.classes[0].area == 100 * 100 + 200 * 100);
  CHECK(r.classes[0].meanPredictedIou == Approx(0.85));
  CHECK(r.embeddings[5].empty());
  CHECK(r.labelMap.at<uint8_t>(550, 100) == 1);
  CHECK(r.labelMap.at<uint8_t>(700, 950) == 2);
  CHECK(r.labelMap.at<uint8_t>(520, 520) == 0);

  SemanticOptions km;
  km.method = ClusterMethod::Kmeans;
  km.clusters = 3;
  const SemanticResult k1 = classifyMasks(records, e, {1024, 1024}, km);
  const SemanticResult k2 = classifyMasks(records, e, {1024, 1024}, km);
  CHECK(k1.classIds == k2.classIds);  // seeded: deterministic
  CHECK(k1.classIds[0] == k1.classIds[1]);
  CHECK(k1.classIds[2] == k1.classIds[3]);
  CHECK(k1.classIds[0] != k1.classIds[2]);

  const SemanticResult like = selectSimilar(records, e, {1024, 1024}, 2, 0.94, {});
  CHECK(like.classIds == std::vector<int>{0, 0, 1, 1, 0, 0});
  CHECK(maskAtPoint(records, {950, 50}) == std::optional<size_t>(2));
  CHECK_FALSE(maskAtPoint(records, {700, 100}).has_value());
  CHECK(maskForBox(records, {0, 500, 200, 600}) == std::optional<size_t>(1));
}

TEST_CASE("semantic options are validated", "[semantic]") {
  SemanticOptions o;
  o.eps = 0.0;
  CHECK_THROWS_AS(validateSemanticOptions(o), UsageError);
  o = SemanticOptions{};
  o.minSamples = 0;
  CHECK_THROWS_AS(validateSemanticOptions(o), UsageError);
  o = SemanticOptions{};
  o.method = ClusterMethod::Kmeans;
  o.clusters = 0;
  CHECK_THROWS_AS(validateSemanticOptions(o), UsageError);
  o.clusters = 2;
  CHECK_NOTHROW(validateSemanticOptions(o));
}
