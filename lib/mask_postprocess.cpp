#include "samcli/mask_postprocess.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "samcli/error.hpp"

namespace samcli {
namespace {

// One axis of a bilinear resize from `inputSize` to `outputSize` samples, for the first `count`
// outputs: the two source indices and their weights, as LibTorch computes them for
// align_corners=False: the source position is computed in double from the float scale, clamped at
// 0, and its fraction rounded to float once (second index clamped at the last sample; equal sizes
// copy).
struct AxisWeights {
  std::vector<int> first, second;
  std::vector<float> firstWeight, secondWeight;
};

AxisWeights axisWeights(int inputSize, int outputSize, int count) {
  AxisWeights a;
  a.first.resize(size_t(count));
  a.second.resize(size_t(count));
  a.firstWeight.resize(size_t(count));
  a.secondWeight.resize(size_t(count));
  const float scale = static_cast<float>(inputSize) / static_cast<float>(outputSize);
  for (int o = 0; o < count; ++o) {
    const auto i = size_t(o);
    if (inputSize == outputSize) {
      a.first[i] = a.second[i] = o;
      a.firstWeight[i] = 1.0f;
      a.secondWeight[i] = 0.0f;
      continue;
    }
    const double source = std::max(0.0, double(scale) * (o + 0.5) - 0.5);
    const int index = static_cast<int>(source);
    const auto lambda = static_cast<float>(source - index);
    a.first[i] = index;
    a.second[i] = index < inputSize - 1 ? index + 1 : index;
    a.secondWeight[i] = lambda;
    a.firstWeight[i] = 1.0f - lambda;
  }
  return a;
}

// a * wa + b * wb as LibTorch's kernel rounds it: a fused multiply-add of a * wa onto the rounded
// b * wb. A product of two floats is exact in double, so one double sum rounded to float is the
// fused result (barring double-rounding ties, ~2^-29 of cases), without needing FMA instructions.
inline float blend(float a, float wa, float b, float wb) {
  return static_cast<float>(double(a) * double(wa) + double(b * wb));
}

using RowSource = std::function<const float*(int row)>;

// The rows of a separable bilinear resize, made on demand from the rows of its source: each
// source row is first resampled along x, then two of those are blended along y (LibTorch's order
// of operations). Requests come in ascending order, so the last two x-resampled rows are kept.
class ResizedRows {
 public:
  // Source rows x cols, resized to `full` of which the top-left `kept` is computed.
  ResizedRows(cv::Size source, cv::Size full, cv::Size kept, RowSource sourceRow)
      : vertical_(axisWeights(source.height, full.height, kept.height)),
        horizontal_(axisWeights(source.width, full.width, kept.width)),
        sourceRow_(std::move(sourceRow)),
        width_(size_t(kept.width)),
        row_(width_) {
    for (auto& c : cached_) c = {-1, std::vector<float>(width_)};
  }

  const float* row(int y) {
    const auto i = size_t(y);
    const float* a = resampledSourceRow(vertical_.first[i]);
    const float* b = resampledSourceRow(vertical_.second[i]);
    const float wa = vertical_.firstWeight[i];
    const float wb = vertical_.secondWeight[i];
    for (size_t x = 0; x < width_; ++x) row_[x] = blend(a[x], wa, b[x], wb);
    return row_.data();
  }

 private:
  const float* resampledSourceRow(int r) {
    for (auto& c : cached_) {
      if (c.first == r) return c.second.data();
    }
    auto& slot = cached_[next_];
    next_ ^= 1u;
    slot.first = r;
    const float* in = sourceRow_(r);
    float* out = slot.second.data();
    const AxisWeights& w = horizontal_;
    for (size_t x = 0; x < width_; ++x) {
      out[x] = blend(in[w.first[x]], w.firstWeight[x], in[w.second[x]], w.secondWeight[x]);
    }
    return out;
  }

  AxisWeights vertical_, horizontal_;
  RowSource sourceRow_;
  size_t width_;
  std::array<std::pair<int, std::vector<float>>, 2> cached_;
  unsigned next_ = 0;
  std::vector<float> row_;
};

// Stage 1 (low-res -> padded square, of which only the input rectangle the crop keeps is
// computed) and stage 2 (input rectangle -> output size; skipped when the sizes are equal, where
// the resize is a copy). Calls `consume(y, logits)` for every output row in order.
template <typename Consume>
void forEachUpscaledRow(const cv::Mat& lowRes, const LogitFrame& frame, Consume consume) {
  const cv::Size in = frame.inputSize;
  const cv::Size out = frame.outputSize;
  if (lowRes.type() != CV_32FC1 || lowRes.empty() || lowRes.rows != lowRes.cols || frame.paddedSize <= 0 ||
      in.width <= 0 || in.height <= 0 || in.width > frame.paddedSize || in.height > frame.paddedSize ||
      out.width <= 0 || out.height <= 0) {
    throw Error("mask post-processing: the logits do not fit the frame");
  }
  ResizedRows padded(lowRes.size(), {frame.paddedSize, frame.paddedSize}, in,
                     [&](int r) { return lowRes.ptr<float>(r); });
  std::optional<ResizedRows> resized;
  if (in != out) resized.emplace(in, out, out, [&](int r) { return padded.row(r); });
  for (int y = 0; y < out.height; ++y) consume(y, resized ? resized->row(y) : padded.row(y));
}

}  // namespace

cv::Mat upscaleLogits(const cv::Mat& lowRes, const LogitFrame& frame) {
  cv::Mat logits(frame.outputSize, CV_32FC1);
  forEachUpscaledRow(lowRes, frame, [&](int y, const float* row) {
    std::copy(row, row + logits.cols, logits.ptr<float>(y));
  });
  return logits;
}

ThresholdedMask thresholdUpscaledLogits(const cv::Mat& lowRes, const LogitFrame& frame, float threshold,
                                        float stabilityOffset) {
  const float high = threshold + stabilityOffset;
  const float lowCut = threshold - stabilityOffset;
  ThresholdedMask result{cv::Mat(frame.outputSize, CV_8UC1), std::numeric_limits<float>::quiet_NaN()};
  const int width = frame.outputSize.width;
  int64_t intersections = 0;
  int64_t unions = 0;
  forEachUpscaledRow(lowRes, frame, [&](int y, const float* logits) {
    uint8_t* mask = result.mask.ptr<uint8_t>(y);
    int rowHigh = 0;  // 32-bit per row, so that the loop vectorises
    int rowLow = 0;
    for (int x = 0; x < width; ++x) {
      const float v = logits[x];
      mask[x] = static_cast<uint8_t>(-static_cast<int>(v > threshold));
      rowHigh += v > high;
      rowLow += v > lowCut;
    }
    intersections += rowHigh;
    unions += rowLow;
  });
  // An empty union stays NaN, as the official division gives, so that it never passes a threshold.
  if (unions > 0) result.stabilityScore = static_cast<float>(intersections) / static_cast<float>(unions);
  return result;
}

}  // namespace samcli
