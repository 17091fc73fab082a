#pragma once
// Per-mask measurements with the official conventions (segment_anything/utils/amg.py), on OpenCV
// masks (CV_8UC1, non-zero = inside, 0/255 when produced by samcli).
#include <array>
#include <vector>

#include <opencv2/core.hpp>

#include "samcli/geometry.hpp"

namespace samcli {

// Tight box of the foreground as XYWH with the official convention w = x_max - x_min (inclusive
// pixel indices, so a single pixel has w = 0). An empty mask gives [0,0,0,0].
std::array<int, 4> maskBboxXywh(const cv::Mat& mask);

// Foreground pixel count.
int maskArea(const cv::Mat& mask);

// IoU of two masks of the same size (0 when both are empty).
double maskIou(const cv::Mat& a, const cv::Mat& b);

// Official remove_small_regions: mode Holes fills background components (8-connected) smaller than
// `areaThresh`, Islands removes small foreground components (keeping the largest when all are
// small). Returns the new mask (0/255) and whether it changed.
enum class SmallRegionMode { Holes, Islands };
std::pair<cv::Mat, bool> removeSmallRegions(const cv::Mat& mask, double areaThresh, SmallRegionMode mode);

// Greedy non-maximum suppression as torchvision.ops.nms: boxes sorted by descending score, a box
// is dropped when its IoU with a kept box exceeds `iouThresh`. Returns kept indices, best first.
std::vector<int> nmsBoxes(const std::vector<BoxXyxy>& boxes, const std::vector<float>& scores, double iouThresh);

}  // namespace samcli
