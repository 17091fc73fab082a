#pragma once
// Segmentation quality measures for sam-eval: per-mask region and boundary scores, summary
// statistics, optimal one-to-one matching, and the interactive-segmentation click protocol.
// Binary masks are CV_8UC1 with non-zero = inside; anything else is rejected with samcli::Error.
#include <cstddef>
#include <vector>

#include <opencv2/core.hpp>

namespace samcli {

struct MaskScores {
  double iou = 0;        // |P & G| / |P | G|
  double dice = 0;       // 2 |P & G| / (|P| + |G|)
  double boundaryF = 0;  // DAVIS boundary F-measure
};

// Compares a predicted mask with the ground truth (same size, else Error).
// IoU and Dice of two empty masks are 1 (nothing to find, nothing found), as in DAVIS.
// Boundary F follows the DAVIS benchmark (f_measure in davis2017-evaluation): the boundary of a
// mask is the set of pixels that differ from their right, lower or lower-right neighbour, i.e. a
// 1-px contour offset half a pixel towards the origin; the image border is not a boundary, so a
// mask covering the whole image has none. A predicted boundary pixel counts as correct when a GT
// boundary pixel lies within a disk of radius `boundaryTolerancePx` (skimage's disk: dx^2 + dy^2 <=
// r^2), and symmetrically for recall; F = 2PR / (P + R). Both boundaries empty: F = 1; exactly one
// empty: F = 0 (DAVIS sets P, R to 1, 0 or 0, 1). The tolerance is in pixels (DAVIS's default is
// ceil(0.008 * image diagonal)); it must be >= 0, and 0 demands exact coincidence.
MaskScores compareMasks(const cv::Mat& pred, const cv::Mat& gt, int boundaryTolerancePx = 2);

struct Summary {
  size_t count = 0;
  double mean = 0, median = 0, min = 0, max = 0;
};

// Count, mean, median (mean of the two middle values for an even count), min and max. With no
// values every statistic is NaN (count 0), since no value would be truthful. Throws Error on a
// non-finite value: it would poison every statistic silently.
Summary summarize(std::vector<double> values);

// Minimum-cost one-to-one assignment (Hungarian algorithm with potentials, O(n^2 m) for n <= m).
// `cost` is rows x cols, rectangular allowed, all rows the same length and all entries finite
// (else Error). Returns, for each row, its column, or -1 when there are more rows than columns and
// the row is left out. min(rows, cols) pairs are always formed.
std::vector<int> hungarianMatch(const std::vector<std::vector<double>>& cost);

struct ClassMatch {
  int predictedClass = -1;
  int gtClass = 0;
  double iou = 0;
};

// Matches the classes of a predicted label map to those of a GT label map (CV_8UC1 or CV_16UC1
// each, same size, else Error) one-to-one, maximising the total IoU. Label 0 is not a class in
// either map (unlabelled / background) and is never matched, but its pixels still count: the IoU
// of classes p and g is that of the masks (pred == p) and (gt == g) over the whole image, so a
// predicted class spilling into GT background is penalised. Returns one entry per GT class, by
// ascending GT label; a GT class left without a predicted class, or paired with one it does not
// overlap at all, has predictedClass -1 and IoU 0.
std::vector<ClassMatch> matchLabelMaps(const cv::Mat& predLabels, const cv::Mat& gtLabels);

// Mean IoU over all entries (unmatched GT classes count as 0); NaN for an empty list.
double meanMatchedIou(const std::vector<ClassMatch>& matches);

// The first click of the standard interactive-segmentation protocol (as in RITM/SAM evaluations):
// the GT pixel farthest from the mask boundary, by cv::distanceTransform (DIST_L2, 5x5 mask) of the
// mask padded with one background pixel on every side, so the image border counts as boundary and
// a mask touching it is not pulled towards it. Ties go to the first pixel in row-major order.
// Returns (x, y) = (column, row). Throws Error for an empty mask.
cv::Point farthestFromBoundary(const cv::Mat& gtMask);

}  // namespace samcli
