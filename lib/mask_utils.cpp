#include "samcli/mask_utils.hpp"

#include <algorithm>
#include <numeric>
#include <string>

#include <opencv2/imgproc.hpp>

#include "samcli/error.hpp"

namespace samcli {
namespace {

void requireMask(const cv::Mat& mask, const char* what) {
  if (mask.type() != CV_8UC1) {
    throw Error(std::string(what) + ": expected an 8-bit single-channel mask, got OpenCV type " +
                std::to_string(mask.type()));
  }
}

}  // namespace

std::array<int, 4> maskBboxXywh(const cv::Mat& mask) {
  requireMask(mask, "mask bounding box");
  int x0 = mask.cols, y0 = mask.rows, x1 = -1, y1 = -1;
  for (int y = 0; y < mask.rows; ++y) {
    const uint8_t* p = mask.ptr<uint8_t>(y);
    int first = 0;
    while (first < mask.cols && p[first] == 0) ++first;
    if (first == mask.cols) continue;
    int last = mask.cols - 1;
    while (p[last] == 0) --last;
    x0 = std::min(x0, first);
    x1 = std::max(x1, last);
    y0 = std::min(y0, y);
    y1 = y;
  }
  if (x1 < 0) return {0, 0, 0, 0};
  return {x0, y0, x1 - x0, y1 - y0};
}

int maskArea(const cv::Mat& mask) {
  requireMask(mask, "mask area");
  return mask.empty() ? 0 : cv::countNonZero(mask);
}

double maskIou(const cv::Mat& a, const cv::Mat& b) {
  requireMask(a, "mask IoU");
  requireMask(b, "mask IoU");
  if (a.size() != b.size()) {
    throw Error("mask IoU: sizes differ (" + std::to_string(a.cols) + "x" + std::to_string(a.rows) +
                " vs " + std::to_string(b.cols) + "x" + std::to_string(b.rows) + ")");
  }
  int64_t inter = 0, uni = 0;
  for (int y = 0; y < a.rows; ++y) {
    const uint8_t* pa = a.ptr<uint8_t>(y);
    const uint8_t* pb = b.ptr<uint8_t>(y);
    for (int x = 0; x < a.cols; ++x) {
      const bool ia = pa[x] != 0, ib = pb[x] != 0;
      inter += ia && ib;
      uni += ia || ib;
    }
  }
  return uni == 0 ? 0.0 : static_cast<double>(inter) / static_cast<double>(uni);
}

std::pair<cv::Mat, bool> removeSmallRegions(const cv::Mat& mask, double areaThresh, SmallRegionMode mode) {
  requireMask(mask, "remove small regions");
  const bool holes = mode == SmallRegionMode::Holes;
  cv::Mat binary = mask != 0;  // 0/255
  if (mask.empty()) return {binary, false};

  // Holes are the components of the background, so they are labelled on the inverted mask; label 0
  // is then the original foreground.
  cv::Mat working;
  if (holes) {
    working = (mask == 0) / 255;
  } else {
    working = binary / 255;
  }
  cv::Mat labels, stats, centroids;
  const int n = cv::connectedComponentsWithStats(working, labels, stats, centroids, 8, CV_32S);

  std::vector<uint8_t> small(n, 0);
  bool anySmall = false;
  for (int i = 1; i < n; ++i) {
    if (stats.at<int>(i, cv::CC_STAT_AREA) < areaThresh) {
      small[i] = 1;
      anySmall = true;
    }
  }
  if (!anySmall) return {binary, false};

  // Value of each label in the result: holes keep label 0 (the foreground) and fill the small
  // holes; islands keep only the large components, or the largest one if none is large.
  std::vector<uint8_t> keep(n, 0);
  if (holes) {
    keep[0] = 255;
    for (int i = 1; i < n; ++i) keep[i] = small[i] ? 255 : 0;
  } else {
    bool anyKept = false;
    for (int i = 1; i < n; ++i) {
      keep[i] = small[i] ? 0 : 255;
      anyKept = anyKept || !small[i];
    }
    if (!anyKept) {
      // First largest, as numpy.argmax picks.
      int best = 1;
      for (int i = 2; i < n; ++i) {
        if (stats.at<int>(i, cv::CC_STAT_AREA) > stats.at<int>(best, cv::CC_STAT_AREA)) best = i;
      }
      keep[best] = 255;
    }
  }

  cv::Mat out(mask.size(), CV_8UC1);
  for (int y = 0; y < out.rows; ++y) {
    const int* l = labels.ptr<int>(y);
    uint8_t* o = out.ptr<uint8_t>(y);
    for (int x = 0; x < out.cols; ++x) o[x] = keep[l[x]];
  }
  return {out, true};
}

std::vector<int> nmsBoxes(const std::vector<BoxXyxy>& boxes, const std::vector<float>& scores, double iouThresh) {
  if (boxes.size() != scores.size()) {
    throw Error("NMS: " + std::to_string(boxes.size()) + " boxes but " + std::to_string(scores.size()) +
                " scores");
  }
  const size_t n = boxes.size();
  // torchvision runs on the float32 boxes SAM produces; single precision here keeps borderline
  // IoUs on the same side of the threshold.
  std::vector<float> x0(n), y0(n), x1(n), y1(n), area(n);
  for (size_t i = 0; i < n; ++i) {
    x0[i] = static_cast<float>(boxes[i].x0);
    y0[i] = static_cast<float>(boxes[i].y0);
    x1[i] = static_cast<float>(boxes[i].x1);
    y1[i] = static_cast<float>(boxes[i].y1);
    area[i] = (x1[i] - x0[i]) * (y1[i] - y0[i]);
  }
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return scores[a] > scores[b]; });

  std::vector<uint8_t> suppressed(n, 0);
  std::vector<int> keep;
  for (size_t oi = 0; oi < n; ++oi) {
    const int i = order[oi];
    if (suppressed[i]) continue;
    keep.push_back(i);
    for (size_t oj = oi + 1; oj < n; ++oj) {
      const int j = order[oj];
      if (suppressed[j]) continue;
      const float w = std::max(0.0f, std::min(x1[i], x1[j]) - std::max(x0[i], x0[j]));
      const float h = std::max(0.0f, std::min(y1[i], y1[j]) - std::max(y0[i], y0[j]));
      const float inter = w * h;
      const float iou = inter / (area[i] + area[j] - inter);
      if (iou > iouThresh) suppressed[j] = 1;
    }
  }
  return keep;
}

}  // namespace samcli
