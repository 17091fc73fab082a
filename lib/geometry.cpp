#include "samcli/geometry.hpp"

#include <algorithm>
#include <string>

#include "samcli/error.hpp"
#include "samcli/resample.hpp"

namespace samcli {

cv::Size preprocessShape(cv::Size original, int longSide) {
  if (original.width <= 0 || original.height <= 0) {
    throw Error("invalid image size " + std::to_string(original.width) + "x" +
                std::to_string(original.height));
  }
  const double scale = longSide * 1.0 / std::max(original.height, original.width);
  const double newh = original.height * scale;
  const double neww = original.width * scale;
  return {static_cast<int>(neww + 0.5), static_cast<int>(newh + 0.5)};
}

cv::Mat resizeLongestSide(const cv::Mat& rgb, int longSide) {
  return resizePil(rgb, preprocessShape(rgb.size(), longSide), ResampleFilter::Bilinear);
}

PointXY applyCoords(PointXY p, cv::Size original, int longSide) {
  const cv::Size resized = preprocessShape(original, longSide);
  // The ratio is formed first, as in the official code: x * (new_w / old_w) and (x * new_w) / old_w
  // can differ in the last bit.
  const double sx = static_cast<double>(resized.width) / original.width;
  const double sy = static_cast<double>(resized.height) / original.height;
  return {p.x * sx, p.y * sy};
}

BoxXyxy applyBox(const BoxXyxy& box, cv::Size original, int longSide) {
  const PointXY a = applyCoords({box.x0, box.y0}, original, longSide);
  const PointXY b = applyCoords({box.x1, box.y1}, original, longSide);
  return {a.x, a.y, b.x, b.y};
}

BoxXyxy normalizeBox(const BoxXyxy& box) {
  return {std::min(box.x0, box.x1), std::min(box.y0, box.y1), std::max(box.x0, box.x1),
          std::max(box.y0, box.y1)};
}

std::array<double, 4> boxXyxyToXywh(const BoxXyxy& box) {
  return {box.x0, box.y0, box.x1 - box.x0, box.y1 - box.y0};
}

}  // namespace samcli
