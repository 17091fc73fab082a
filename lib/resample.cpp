#include "samcli/resample.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "samcli/error.hpp"

namespace samcli {
namespace {

// Pillow's 8-bit fixed point: weights are scaled by 2^22, which leaves room for 255 * (sum of
// |weights|) plus the rounding term in an int32 accumulator.
constexpr int kPrecisionBits = 32 - 8 - 2;
constexpr int32_t kRoundingHalf = 1 << (kPrecisionBits - 1);

double bilinearFilter(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

// Keys cubic with a = -0.5, written as Pillow writes it (the evaluation order matters for the last
// bit of some weights).
double bicubicFilter(double x) {
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

struct Filter {
  double (*fn)(double);
  double support;
};

Filter filterFor(ResampleFilter f) {
  switch (f) {
    case ResampleFilter::Bilinear:
      return {bilinearFilter, 1.0};
    case ResampleFilter::Bicubic:
      return {bicubicFilter, 2.0};
  }
  throw Error("unknown resampling filter");
}

// For every output sample along one axis: the first input sample it reads, how many it reads, and
// their fixed-point weights (ksize slots per output sample, unused slots zero).
struct AxisCoeffs {
  int ksize = 0;
  std::vector<int> first;
  std::vector<int> count;
  std::vector<int32_t> weights;
};

AxisCoeffs precomputeCoeffs(int inSize, int outSize, const Filter& filter) {
  // Pillow takes the source box as floats (0, inSize); the difference is exact for any image size.
  const double scale = static_cast<double>(static_cast<float>(inSize)) / outSize;
  // When shrinking, the filter is stretched over `scale` input samples: this is the anti-aliasing.
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = filter.support * filterscale;

  AxisCoeffs c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(outSize);
  c.count.resize(outSize);
  c.weights.assign(static_cast<size_t>(outSize) * c.ksize, 0);

  std::vector<double> w(c.ksize);
  const double ss = 1.0 / filterscale;
  for (int xx = 0; xx < outSize; ++xx) {
    const double center = (xx + 0.5) * scale;
    // C casts truncate toward zero; Pillow relies on that (then clamps), not on floor.
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    const int n = xmax - xmin;

    double ww = 0.0;
    for (int x = 0; x < n; ++x) {
      w[x] = filter.fn((x + xmin - center + 0.5) * ss);
      ww += w[x];
    }
    int32_t* k = &c.weights[static_cast<size_t>(xx) * c.ksize];
    for (int x = 0; x < n; ++x) {
      const double v = ww != 0.0 ? w[x] / ww : w[x];
      const double scaled = v * (1 << kPrecisionBits);
      k[x] = static_cast<int32_t>(v < 0 ? scaled - 0.5 : scaled + 0.5);
    }
    c.first[xx] = xmin;
    c.count[xx] = n;
  }
  return c;
}

inline uint8_t clip8(int32_t acc) {
  if (acc >= (1 << kPrecisionBits << 8)) return 255;
  if (acc <= 0) return 0;
  return static_cast<uint8_t>(acc >> kPrecisionBits);
}

// Resamples along x the source rows [rowOffset, rowOffset + dst.rows).
template <int CN>
void resampleHorizontal(const cv::Mat& src, cv::Mat& dst, int rowOffset, const AxisCoeffs& c) {
  cv::parallel_for_(cv::Range(0, dst.rows), [&](const cv::Range& rows) {
    for (int y = rows.start; y < rows.end; ++y) {
      const uint8_t* in = src.ptr<uint8_t>(y + rowOffset);
      uint8_t* out = dst.ptr<uint8_t>(y);
      for (int xx = 0; xx < dst.cols; ++xx) {
        const int32_t* k = &c.weights[static_cast<size_t>(xx) * c.ksize];
        const uint8_t* p = in + static_cast<size_t>(c.first[xx]) * CN;
        const int n = c.count[xx];
        int32_t acc[CN];
        for (int ch = 0; ch < CN; ++ch) acc[ch] = kRoundingHalf;
        for (int x = 0; x < n; ++x) {
          for (int ch = 0; ch < CN; ++ch) acc[ch] += p[x * CN + ch] * k[x];
        }
        for (int ch = 0; ch < CN; ++ch) out[xx * CN + ch] = clip8(acc[ch]);
      }
    }
  });
}

// Resamples along y; rows of `src` are addressed relative to c.first minus rowOffset. Whole rows
// are accumulated at once so the inner loop is a contiguous multiply-add the compiler vectorises;
// integer sums make the order of accumulation irrelevant to the result.
void resampleVertical(const cv::Mat& src, cv::Mat& dst, int rowOffset, const AxisCoeffs& c) {
  const int rowLen = dst.cols * dst.channels();
  cv::parallel_for_(cv::Range(0, dst.rows), [&](const cv::Range& rows) {
    std::vector<int32_t> acc(rowLen);
    for (int yy = rows.start; yy < rows.end; ++yy) {
      const int32_t* k = &c.weights[static_cast<size_t>(yy) * c.ksize];
      const int ymin = c.first[yy] - rowOffset;
      std::fill(acc.begin(), acc.end(), kRoundingHalf);
      int32_t* a = acc.data();
      for (int y = 0; y < c.count[yy]; ++y) {
        const uint8_t* in = src.ptr<uint8_t>(ymin + y);
        const int32_t w = k[y];
        for (int i = 0; i < rowLen; ++i) a[i] += in[i] * w;
      }
      uint8_t* out = dst.ptr<uint8_t>(yy);
      for (int i = 0; i < rowLen; ++i) out[i] = clip8(a[i]);
    }
  });
}

}  // namespace

cv::Mat resizePil(const cv::Mat& src, cv::Size size, ResampleFilter filter) {
  if (src.empty()) throw Error("cannot resize an empty image");
  if (src.type() != CV_8UC1 && src.type() != CV_8UC3) {
    throw Error("cannot resize an image of OpenCV type " + std::to_string(src.type()) +
                ": only 8-bit images with 1 or 3 channels are supported");
  }
  if (size.width <= 0 || size.height <= 0) {
    throw Error("cannot resize to " + std::to_string(size.width) + "x" + std::to_string(size.height) +
                ": the target size must be positive");
  }

  const Filter f = filterFor(filter);
  const bool needHorizontal = size.width != src.cols;
  const bool needVertical = size.height != src.rows;
  if (!needHorizontal && !needVertical) return src.clone();

  const AxisCoeffs vert = precomputeCoeffs(src.rows, size.height, f);
  cv::Mat cur = src;
  int rowOffset = 0;
  if (needHorizontal) {
    const AxisCoeffs horiz = precomputeCoeffs(src.cols, size.width, f);
    // Only the source rows the vertical pass will read are resampled horizontally.
    const int firstRow = vert.first.front();
    const int lastRow = vert.first.back() + vert.count.back();
    cv::Mat tmp(lastRow - firstRow, size.width, src.type());
    if (src.channels() == 3) {
      resampleHorizontal<3>(src, tmp, firstRow, horiz);
    } else {
      resampleHorizontal<1>(src, tmp, firstRow, horiz);
    }
    cur = tmp;
    rowOffset = firstRow;
  }
  if (!needVertical) return cur;

  cv::Mat out(size, src.type());
  resampleVertical(cur, out, rowOffset, vert);
  return out;
}

}  // namespace samcli
