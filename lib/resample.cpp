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

// Throws Error unless src is a non-empty 1- or 3-channel image of `depth` and size is positive.
void checkResizable(const cv::Mat& src, cv::Size size, int depth, const char* kind) {
  if (src.empty()) throw Error("cannot resize an empty image");
  if (src.depth() != depth || (src.channels() != 1 && src.channels() != 3)) {
    throw Error("cannot resize an image of OpenCV type " + std::to_string(src.type()) + ": only " + kind +
                " images with 1 or 3 channels are supported");
  }
  if (size.width <= 0 || size.height <= 0) {
    throw Error("cannot resize to " + std::to_string(size.width) + "x" + std::to_string(size.height) +
                ": the target size must be positive");
  }
}

}  // namespace

cv::Mat resizePil(const cv::Mat& src, cv::Size size, ResampleFilter filter) {
  checkResizable(src, size, CV_8U, "8-bit");

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

namespace {

// SciPy's "mirror" boundary: the line reflected about its first and last samples (d c b | a b c d | c b a).
int mirrorIndex(int i, int n) {
  if (n == 1) return 0;
  const int period = 2 * (n - 1);
  i %= period;
  if (i < 0) i += period;
  return i < n ? i : period - i;
}

double mirrorCoordinate(double c, int n) {
  if (n == 1) return 0;
  const double period = 2.0 * (n - 1);
  c = std::fmod(c, period);
  if (c < 0) c += period;
  return c <= n - 1 ? c : period - c;
}

// scipy.ndimage.gaussian_filter1d's kernel: exp(-x^2 / (2 sigma^2)) for |x| <= int(4 sigma + 0.5), normalised.
std::vector<double> gaussianKernel(double sigma) {
  const int radius = static_cast<int>(4.0 * sigma + 0.5);
  std::vector<double> w(2 * radius + 1);
  double sum = 0;
  for (int x = -radius; x <= radius; ++x) sum += w[x + radius] = std::exp(-0.5 / (sigma * sigma) * (double(x) * x));
  for (double& v : w) v /= sum;
  return w;
}

// One Gaussian pass down the columns (vertical) or along the rows, float32 in and out. The sum is
// SciPy's correlate1d order for a symmetric kernel: centre, then the pairs from the farthest in.
cv::Mat gaussianPass(const cv::Mat& src, double sigma, bool vertical) {
  const std::vector<double> w = gaussianKernel(sigma);
  const int radius = static_cast<int>(w.size() / 2);
  const int channels = src.channels();
  const int width = src.cols * channels;
  cv::Mat out(src.size(), src.type());
  if (vertical) {
    std::vector<double> acc(width);
    for (int y = 0; y < src.rows; ++y) {
      const float* centre = src.ptr<float>(y);
      for (int x = 0; x < width; ++x) acc[x] = w[radius] * centre[x];
      for (int j = radius; j >= 1; --j) {
        const float* above = src.ptr<float>(mirrorIndex(y - j, src.rows));
        const float* below = src.ptr<float>(mirrorIndex(y + j, src.rows));
        for (int x = 0; x < width; ++x) acc[x] += (static_cast<double>(above[x]) + below[x]) * w[radius + j];
      }
      float* o = out.ptr<float>(y);
      for (int x = 0; x < width; ++x) o[x] = static_cast<float>(acc[x]);
    }
    return out;
  }
  const int n = src.cols;
  std::vector<double> line(n + 2 * radius);
  for (int y = 0; y < src.rows; ++y) {
    const float* row = src.ptr<float>(y);
    float* o = out.ptr<float>(y);
    for (int c = 0; c < channels; ++c) {
      for (int i = -radius; i < n + radius; ++i) line[i + radius] = row[mirrorIndex(i, n) * channels + c];
      for (int i = 0; i < n; ++i) {
        const double* p = &line[i + radius];
        double acc = w[radius] * p[0];
        for (int j = radius; j >= 1; --j) acc += (p[-j] + p[j]) * w[radius + j];
        o[i * channels + c] = static_cast<float>(acc);
      }
    }
  }
  return out;
}

struct LinearTap {
  int i0, i1;
  double w0, w1;
};

// Bilinear taps of output samples 0..out-1 at pixel centres of an axis of `in` samples (scipy zoom, grid_mode).
std::vector<LinearTap> linearTaps(int in, int out) {
  const double zoom = static_cast<double>(in) / out;
  std::vector<LinearTap> taps(out);
  for (int o = 0; o < out; ++o) {
    const double c = mirrorCoordinate((o + 0.5) * zoom - 0.5, in);
    const int start = static_cast<int>(std::floor(c));
    const double t = c - start;
    taps[o] = {mirrorIndex(start, in), mirrorIndex(start + 1, in), 1.0 - t, t};
  }
  return taps;
}

}  // namespace

cv::Mat resizeAntialiasedLinear(const cv::Mat& src, cv::Size size) {
  checkResizable(src, size, CV_32F, "float");
  const double sigmaY = std::max(0.0, (static_cast<double>(src.rows) / size.height - 1) / 2);
  const double sigmaX = std::max(0.0, (static_cast<double>(src.cols) / size.width - 1) / 2);
  cv::Mat filtered = src;
  if (sigmaY > 1e-15) filtered = gaussianPass(filtered, sigmaY, true);
  if (sigmaX > 1e-15) filtered = gaussianPass(filtered, sigmaX, false);

  const std::vector<LinearTap> ys = linearTaps(src.rows, size.height);
  const std::vector<LinearTap> xs = linearTaps(src.cols, size.width);
  double lo = 0;
  double hi = 0;
  cv::minMaxLoc(src.reshape(1), &lo, &hi);
  const int channels = src.channels();
  cv::Mat out(size, src.type());
  for (int y = 0; y < size.height; ++y) {
    const LinearTap& ty = ys[y];
    const float* r0 = filtered.ptr<float>(ty.i0);
    const float* r1 = filtered.ptr<float>(ty.i1);
    float* o = out.ptr<float>(y);
    for (int x = 0; x < size.width; ++x) {
      const LinearTap& tx = xs[x];
      for (int c = 0; c < channels; ++c) {
        const double v = ty.w0 * tx.w0 * r0[tx.i0 * channels + c] + ty.w0 * tx.w1 * r0[tx.i1 * channels + c] +
                         ty.w1 * tx.w0 * r1[tx.i0 * channels + c] + ty.w1 * tx.w1 * r1[tx.i1 * channels + c];
        o[x * channels + c] = static_cast<float>(std::clamp(v, lo, hi));
      }
    }
  }
  return out;
}

}  // namespace samcli
