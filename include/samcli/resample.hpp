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

}  // namespace samcli
