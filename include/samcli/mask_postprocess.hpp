#pragma once
// From the decoder's low-resolution logits to a mask at image size, with the official steps
// (segment_anything: Sam.postprocess_masks, then `> mask_threshold` and calculate_stability_score),
// in one pass over the output pixels and without torch: the full-size float logits are never
// stored, and only the rows and columns the crop keeps are up-scaled.
#include <opencv2/core.hpp>

namespace samcli {

// Where the low-res logits sit: they cover the padded square `paddedSize` (the model's input
// size) whose top-left `inputSize` is the resized image, which maps back to `outputSize` (the
// original image, or an automatic-generation crop).
struct LogitFrame {
  int paddedSize = 0;
  cv::Size inputSize;
  cv::Size outputSize;
};

struct ThresholdedMask {
  cv::Mat mask;          // CV_8UC1 0/255 at outputSize: logit > threshold
  float stabilityScore;  // #(logit > threshold + offset) / #(logit > threshold - offset); NaN if none
};

// Official postprocess_masks for one mask: bilinear (align_corners=False, as
// torch.nn.functional.interpolate) up-scaling of `lowRes` (CV_32FC1, square) to the padded frame,
// cropped to inputSize, then resized to outputSize. The arithmetic is that of LibTorch's CPU kernel
// for [B, 3, L, L] batches (the official 3-candidate output), so the float logits (CV_32FC1) are
// the official ones bit for bit; single-candidate batches take another LibTorch kernel, within 2e-6.
cv::Mat upscaleLogits(const cv::Mat& lowRes, const LogitFrame& frame);

// upscaleLogits, then the mask `logits > threshold` and calculate_stability_score, computed row by
// row as the logits are made: what the tools keep, without storing a float image.
ThresholdedMask thresholdUpscaledLogits(const cv::Mat& lowRes, const LogitFrame& frame, float threshold,
                                        float stabilityOffset);

}  // namespace samcli
