#include "samcli/evaluation.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>

#include <opencv2/imgproc.hpp>

#include "samcli/error.hpp"

namespace samcli {
namespace {

std::string sizeText(const cv::Mat& m) { return std::to_string(m.cols) + "x" + std::to_string(m.rows); }

void checkBinaryMask(const cv::Mat& m, const char* fn, const char* what) {
  if (m.empty()) throw Error(std::string(fn) + ": " + what + " mask is empty (0x0)");
  if (m.type() != CV_8UC1) throw Error(std::string(fn) + ": " + what + " mask must be CV_8UC1");
}

void checkSameSize(const cv::Mat& a, const cv::Mat& b, const char* fn) {
  if (a.size() != b.size()) {
    throw Error(std::string(fn) + ": predicted size " + sizeText(a) + " differs from ground-truth size " + sizeText(b));
  }
}

// DAVIS's _seg2bmap: a pixel is on the boundary when it differs from its right, lower or
// lower-right neighbour; the last row compares only rightwards, the last column only downwards,
// and the bottom-right pixel never is. Input and output are 0/1 CV_8UC1.
cv::Mat boundaryMap(const cv::Mat& bin) {
  const int h = bin.rows, w = bin.cols;
  cv::Mat b = cv::Mat::zeros(bin.size(), CV_8UC1);
  for (int y = 0; y < h; ++y) {
    const uchar* row = bin.ptr<uchar>(y);
    const uchar* below = y + 1 < h ? bin.ptr<uchar>(y + 1) : nullptr;
    uchar* out = b.ptr<uchar>(y);
    for (int x = 0; x < w; ++x) {
      const bool hasRight = x + 1 < w;
      bool edge = false;
      if (below && hasRight) {
        edge = row[x] != row[x + 1] || row[x] != below[x] || row[x] != below[x + 1];
      } else if (hasRight) {
        edge = row[x] != row[x + 1];
      } else if (below) {
        edge = row[x] != below[x];
      }
      out[x] = edge;
    }
  }
  return b;
}

// skimage.morphology.disk(r): the (2r+1)^2 square's pixels with dx^2 + dy^2 <= r^2.
cv::Mat diskKernel(int r) {
  cv::Mat k(2 * r + 1, 2 * r + 1, CV_8UC1);
  for (int y = 0; y <= 2 * r; ++y) {
    for (int x = 0; x <= 2 * r; ++x) k.at<uchar>(y, x) = (x - r) * (x - r) + (y - r) * (y - r) <= r * r;
  }
  return k;
}

double boundaryF(const cv::Mat& predBin, const cv::Mat& gtBin, int tolerance) {
  const cv::Mat predB = boundaryMap(predBin), gtB = boundaryMap(gtBin);
  const int nPred = cv::countNonZero(predB), nGt = cv::countNonZero(gtB);
  if (nPred == 0 && nGt == 0) return 1;
  if (nPred == 0 || nGt == 0) return 0;
  const cv::Mat kernel = diskKernel(tolerance);
  cv::Mat predDil, gtDil;
  cv::dilate(predB, predDil, kernel);
  cv::dilate(gtB, gtDil, kernel);
  const double precision = double(cv::countNonZero(predB & gtDil)) / nPred;
  const double recall = double(cv::countNonZero(gtB & predDil)) / nGt;
  if (precision + recall == 0) return 0;
  return 2 * precision * recall / (precision + recall);
}

cv::Mat labelsAs16U(const cv::Mat& labels, const char* what) {
  if (labels.empty()) throw Error(std::string("matchLabelMaps: ") + what + " label map is empty (0x0)");
  if (labels.type() == CV_16UC1) return labels;
  if (labels.type() != CV_8UC1) throw Error(std::string("matchLabelMaps: ") + what + " label map must be CV_8UC1 or CV_16UC1");
  cv::Mat out;
  labels.convertTo(out, CV_16U);
  return out;
}

}  // namespace

MaskScores compareMasks(const cv::Mat& pred, const cv::Mat& gt, int boundaryTolerancePx) {
  checkBinaryMask(pred, "compareMasks", "predicted");
  checkBinaryMask(gt, "compareMasks", "ground-truth");
  checkSameSize(pred, gt, "compareMasks");
  if (boundaryTolerancePx < 0) {
    throw Error("compareMasks: boundary tolerance must be >= 0 pixels, got " + std::to_string(boundaryTolerancePx));
  }
  const cv::Mat predBin = pred != 0, gtBin = gt != 0;  // 0/255
  const double inter = cv::countNonZero(predBin & gtBin);
  const double areaPred = cv::countNonZero(predBin), areaGt = cv::countNonZero(gtBin);
  const double uni = areaPred + areaGt - inter;

  MaskScores s;
  s.iou = uni == 0 ? 1.0 : inter / uni;
  s.dice = uni == 0 ? 1.0 : 2 * inter / (areaPred + areaGt);
  s.boundaryF = boundaryF(predBin / 255, gtBin / 255, boundaryTolerancePx);
  return s;
}

Summary summarize(std::vector<double> values) {
  Summary s;
  s.count = values.size();
  if (values.empty()) {
    s.mean = s.median = s.min = s.max = std::numeric_limits<double>::quiet_NaN();
    return s;
  }
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) throw Error("summarize: value " + std::to_string(i) + " is not finite");
  }
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  s.mean = std::accumulate(values.begin(), values.end(), 0.0) / double(n);
  s.median = n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  s.min = values.front();
  s.max = values.back();
  return s;
}

std::vector<int> hungarianMatch(const std::vector<std::vector<double>>& cost) {
  const size_t rows = cost.size();
  if (rows == 0) return {};
  const size_t cols = cost[0].size();
  for (size_t i = 0; i < rows; ++i) {
    if (cost[i].size() != cols) {
      throw Error("hungarianMatch: row " + std::to_string(i) + " has " + std::to_string(cost[i].size()) +
                  " columns, row 0 has " + std::to_string(cols));
    }
    for (double c : cost[i]) {
      if (!std::isfinite(c)) throw Error("hungarianMatch: row " + std::to_string(i) + " has a non-finite cost");
    }
  }
  if (cols == 0) return std::vector<int>(rows, -1);

  // The potentials algorithm needs n <= m; with more rows than columns, solve the transpose.
  const bool transposed = rows > cols;
  const size_t n = transposed ? cols : rows, m = transposed ? rows : cols;
  auto a = [&](size_t i, size_t j) { return transposed ? cost[j - 1][i - 1] : cost[i - 1][j - 1]; };

  // 1-based; column 0 is a virtual column holding the row being inserted. u, v are the dual
  // potentials, p[j] the row assigned to column j, way[j] the previous column on the augmenting path.
  constexpr double kInf = std::numeric_limits<double>::infinity();
  std::vector<double> u(n + 1, 0), v(m + 1, 0), minv(m + 1);
  std::vector<size_t> p(m + 1, 0), way(m + 1, 0);
  std::vector<char> used(m + 1);
  for (size_t i = 1; i <= n; ++i) {
    p[0] = i;
    size_t j0 = 0;
    std::fill(minv.begin(), minv.end(), kInf);
    std::fill(used.begin(), used.end(), 0);
    do {
      used[j0] = 1;
      const size_t i0 = p[j0];
      double delta = kInf;
      size_t j1 = 0;
      for (size_t j = 1; j <= m; ++j) {
        if (used[j]) continue;
        const double cur = a(i0, j) - u[i0] - v[j];
        if (cur < minv[j]) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j] < delta) {
          delta = minv[j];
          j1 = j;
        }
      }
      for (size_t j = 0; j <= m; ++j) {
        if (used[j]) {
          u[p[j]] += delta;
          v[j] -= delta;
        } else {
          minv[j] -= delta;
        }
      }
      j0 = j1;
    } while (p[j0] != 0);
    do {
      const size_t j1 = way[j0];
      p[j0] = p[j1];
      j0 = j1;
    } while (j0 != 0);
  }

  std::vector<int> match(rows, -1);
  for (size_t j = 1; j <= m; ++j) {
    if (p[j] == 0) continue;
    if (transposed) {
      match[j - 1] = int(p[j] - 1);
    } else {
      match[p[j] - 1] = int(j - 1);
    }
  }
  return match;
}

std::vector<ClassMatch> matchLabelMaps(const cv::Mat& predLabels, const cv::Mat& gtLabels) {
  const cv::Mat pred = labelsAs16U(predLabels, "predicted"), gt = labelsAs16U(gtLabels, "ground-truth");
  if (pred.size() != gt.size()) {
    throw Error("matchLabelMaps: predicted size " + sizeText(pred) + " differs from ground-truth size " + sizeText(gt));
  }

  constexpr size_t kLabels = 65536;
  std::vector<int64_t> predArea(kLabels, 0), gtArea(kLabels, 0);
  for (int y = 0; y < pred.rows; ++y) {
    const uint16_t* pr = pred.ptr<uint16_t>(y);
    const uint16_t* gr = gt.ptr<uint16_t>(y);
    for (int x = 0; x < pred.cols; ++x) {
      ++predArea[pr[x]];
      ++gtArea[gr[x]];
    }
  }
  // Compact indices of the classes present (label 0 excluded), in ascending label order.
  std::vector<int> predClasses, gtClasses, predIndex(kLabels, -1), gtIndex(kLabels, -1);
  for (size_t l = 1; l < kLabels; ++l) {
    if (predArea[l] > 0) {
      predIndex[l] = int(predClasses.size());
      predClasses.push_back(int(l));
    }
    if (gtArea[l] > 0) {
      gtIndex[l] = int(gtClasses.size());
      gtClasses.push_back(int(l));
    }
  }

  const size_t nPred = predClasses.size(), nGt = gtClasses.size();
  std::vector<int64_t> inter(nGt * nPred, 0);
  for (int y = 0; y < pred.rows; ++y) {
    const uint16_t* pr = pred.ptr<uint16_t>(y);
    const uint16_t* gr = gt.ptr<uint16_t>(y);
    for (int x = 0; x < pred.cols; ++x) {
      if (pr[x] != 0 && gr[x] != 0) ++inter[size_t(gtIndex[gr[x]]) * nPred + size_t(predIndex[pr[x]])];
    }
  }
  std::vector<std::vector<double>> iou(nGt, std::vector<double>(nPred, 0));
  std::vector<std::vector<double>> cost(nGt, std::vector<double>(nPred, 0));
  for (size_t g = 0; g < nGt; ++g) {
    for (size_t p = 0; p < nPred; ++p) {
      const int64_t i = inter[g * nPred + p];
      const int64_t u = predArea[size_t(predClasses[p])] + gtArea[size_t(gtClasses[g])] - i;
      iou[g][p] = double(i) / double(u);
      cost[g][p] = -iou[g][p];
    }
  }

  const std::vector<int> assignment = hungarianMatch(cost);
  std::vector<ClassMatch> out(nGt);
  for (size_t g = 0; g < nGt; ++g) {
    out[g].gtClass = gtClasses[g];
    const int p = assignment[g];
    // A zero-overlap pairing only fills the assignment; it is no detection of the class.
    if (p >= 0 && iou[g][size_t(p)] > 0) {
      out[g].predictedClass = predClasses[size_t(p)];
      out[g].iou = iou[g][size_t(p)];
    }
  }
  return out;
}

double meanMatchedIou(const std::vector<ClassMatch>& matches) {
  if (matches.empty()) return std::numeric_limits<double>::quiet_NaN();
  double sum = 0;
  for (const auto& m : matches) sum += m.iou;
  return sum / double(matches.size());
}

cv::Point farthestFromBoundary(const cv::Mat& gtMask) {
  checkBinaryMask(gtMask, "farthestFromBoundary", "ground-truth");
  if (cv::countNonZero(gtMask) == 0) throw Error("farthestFromBoundary: ground-truth mask is empty (no foreground pixel)");
  cv::Mat padded;
  cv::copyMakeBorder(gtMask != 0, padded, 1, 1, 1, 1, cv::BORDER_CONSTANT, cv::Scalar(0));
  cv::Mat dist;
  cv::distanceTransform(padded, dist, cv::DIST_L2, cv::DIST_MASK_5);

  // A plain scan rather than cv::minMaxLoc, whose tie order is not documented.
  cv::Point best(-1, -1);
  float bestDist = -1;
  for (int y = 0; y < gtMask.rows; ++y) {
    const float* row = dist.ptr<float>(y + 1) + 1;
    for (int x = 0; x < gtMask.cols; ++x) {
      if (row[x] > bestDist) {
        bestDist = row[x];
        best = cv::Point(x, y);
      }
    }
  }
  return best;
}

}  // namespace samcli
