#pragma once
// Pillow-compatible resampling. The official SAM transform resizes with torchvision on a PIL image,
// and OWL-ViT's processor with PIL bicubic: both anti-alias when shrinking (the filter support grows
// with the scale) and use Pillow's 8-bit fixed-point arithmetic. cv::resize does neither, so it
// cannot reproduce the model inputs; this does, bit for bit.
#include <opencv2/core.hpp>

namespace samcli {

enum class ResampleFilter { Bilinear, Bicubic };

// Resizes an 8-bit image (CV_8UC1 or CV_8UC3) to `size` exactly as PIL's Image.resize(size, filter).
// Throws Error for an empty image, another type, or a non-positive size.
cv::Mat resizePil(const cv::Mat& src, cv::Size size, ResampleFilter filter);

// Resizes a float image (CV_32FC1 or CV_32FC3) to `size` as Owlv2ImageProcessor.resize does it with
// SciPy (the big_vision / skimage.transform.resize recipe OWLv2 was trained with): per axis that
// shrinks by a factor f > 1, a Gaussian of sigma (f - 1) / 2 (truncated at 4 sigma, mirrored edges;
// rows first, each pass rounded to float32), then bilinear interpolation at pixel centres
// ((o + 0.5) * in / out - 0.5, mirrored edges), then a clip to the input's value range. Arithmetic
// in double, stored as float32, as SciPy's. Throws Error for an empty image, another type, or a
// non-positive size.
cv::Mat resizeAntialiasedLinear(const cv::Mat& src, cv::Size size);

}  // namespace samcli
