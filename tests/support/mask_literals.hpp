#pragma once
// Small masks written as literals in tests: rows of 0/1 become a CV_8UC1 0/255 mask.
#include <vector>

#include <opencv2/core.hpp>

namespace samcli::test {

inline cv::Mat maskFromRows(const std::vector<std::vector<int>>& rows) {
  cv::Mat m(static_cast<int>(rows.size()), static_cast<int>(rows[0].size()), CV_8UC1);
  for (int y = 0; y < m.rows; ++y) {
    for (int x = 0; x < m.cols; ++x) m.at<uint8_t>(y, x) = rows[size_t(y)][size_t(x)] ? 255 : 0;
  }
  return m;
}

inline bool sameMask(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && cv::countNonZero(a != b) == 0;
}

}  // namespace samcli::test
