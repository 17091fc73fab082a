#pragma once
// Geometry of SAM's input frame: the longest image side is resized to `longSide` (1024), the other
// scaled by the same factor and rounded, and the result padded bottom/right to a square. Prompts
// given in original-image pixels are mapped into that frame with the per-axis scale factors, as
// segment_anything.utils.transforms.ResizeLongestSide does (in double precision).
#include <array>
#include <vector>

#include <opencv2/core.hpp>

namespace samcli {

struct PointXY {
  double x = 0;
  double y = 0;
};

// Axis-aligned box, corners (x0,y0) top-left and (x1,y1) bottom-right, in pixels.
struct BoxXyxy {
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
};

// The resized size (width, height) of an image of `original` size: ResizeLongestSide's
// get_preprocess_shape (scale = longSide / max(h, w), each side int(side * scale + 0.5)).
cv::Size preprocessShape(cv::Size original, int longSide);

// Resizes an RGB image so its longest side is `longSide`, with the official interpolation
// (PIL bilinear, anti-aliased when shrinking).
cv::Mat resizeLongestSide(const cv::Mat& rgb, int longSide);

// Maps points/boxes from original-image pixels into the resized frame.
PointXY applyCoords(PointXY p, cv::Size original, int longSide);
BoxXyxy applyBox(const BoxXyxy& box, cv::Size original, int longSide);

// Orders the corners of a box given in any corner order (x0<=x1, y0<=y1).
BoxXyxy normalizeBox(const BoxXyxy& box);

// Box conversions with the official conventions: XYWH from XYXY is (x0, y0, x1-x0, y1-y0).
std::array<double, 4> boxXyxyToXywh(const BoxXyxy& box);

}  // namespace samcli
