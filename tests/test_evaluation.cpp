// Expected values are counted by hand on rectangles. Under DAVIS's boundary map, the boundary of a
// filled rectangle with rows r0..r1 and columns c0..c1 (inside the image) is the 1-px outline of
// rows r0-1..r1, columns c0-1..c1: 2h + 2w pixels for an h x w rectangle.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include <opencv2/core.hpp>

#include "samcli/error.hpp"
#include "samcli/evaluation.hpp"

using samcli::ClassMatch;
using samcli::compareMasks;
using samcli::hungarianMatch;
using samcli::matchLabelMaps;
using Cost = std::vector<std::vector<double>>;

namespace {

cv::Mat rectMask(cv::Size size, cv::Rect r) {
  cv::Mat m = cv::Mat::zeros(size, CV_8UC1);
  m(r).setTo(255);
  return m;
}

double assignmentCost(const Cost& cost, const std::vector<int>& match) {
  double total = 0;
  for (size_t i = 0; i < match.size(); ++i) {
    if (match[i] >= 0) total += cost[i][size_t(match[i])];
  }
  return total;
}

// Minimum over all injective row -> column maps (rows <= cols), by enumerating permutations.
double bruteForceMinCost(const Cost& cost) {
  std::vector<int> perm(cost[0].size());
  std::iota(perm.begin(), perm.end(), 0);
  double best = INFINITY;
  do {
    best = std::min(best, assignmentCost(cost, std::vector<int>(perm.begin(), perm.begin() + long(cost.size()))));
  } while (std::next_permutation(perm.begin(), perm.end()));
  return best;
}

Cost lcgCost(size_t rows, size_t cols, uint32_t state) {
  Cost c(rows, std::vector<double>(cols));
  for (auto& row : c) {
    for (double& x : row) {
      state = state * 1664525u + 1013904223u;
      x = double(state >> 20);  // 0..4095, with repeats, so ties occur
    }
  }
  return c;
}

void checkMatch(const ClassMatch& m, int gtClass, int predictedClass, double iou) {
  CHECK(m.gtClass == gtClass);
  CHECK(m.predictedClass == predictedClass);
  CHECK(m.iou == Approx(iou));
}

}  // namespace

TEST_CASE("compareMasks IoU and Dice on overlapping squares", "[evaluation]") {
  const cv::Size size(30, 20);
  // Two 10x10 squares overlapping in a 5x10 strip: IoU = 50 / 150, Dice = 2 * 50 / 200.
  const auto s = compareMasks(rectMask(size, {2, 3, 10, 10}), rectMask(size, {7, 3, 10, 10}));
  CHECK(s.iou == Approx(50.0 / 150.0));
  CHECK(s.dice == Approx(0.5));
  // Outlines: columns 1..11 and 6..16 over rows 2..12, 40 pixels each. Exact coincidence: the top
  // and bottom rows over columns 6..11, 12 pixels. Within 2 px, 20 of 40 on either side (the
  // unmatched: 3 + 3 at the far ends of top and bottom rows, 5 in the middle of the inner column,
  // 9 in the far column).
  CHECK(compareMasks(rectMask(size, {2, 3, 10, 10}), rectMask(size, {7, 3, 10, 10}), 0).boundaryF == Approx(0.3));
  CHECK(s.boundaryF == Approx(0.5));
}

TEST_CASE("compareMasks on identical, empty and complementary masks", "[evaluation]") {
  const cv::Size size(30, 30);
  const cv::Mat sq = rectMask(size, {5, 5, 10, 10});
  const cv::Mat empty = cv::Mat::zeros(size, CV_8UC1);

  auto same = compareMasks(sq, sq, 0);
  CHECK(same.iou == 1.0);
  CHECK(same.dice == 1.0);
  CHECK(same.boundaryF == 1.0);

  // Non-zero is inside, whatever the value.
  CHECK(compareMasks(sq / 255, sq).iou == 1.0);

  auto bothEmpty = compareMasks(empty, empty);
  CHECK(bothEmpty.iou == 1.0);
  CHECK(bothEmpty.dice == 1.0);
  CHECK(bothEmpty.boundaryF == 1.0);

  for (const auto& s : {compareMasks(empty, sq), compareMasks(sq, empty), compareMasks(sq, 255 - sq, 5)}) {
    CHECK(s.iou == 0.0);
    CHECK(s.dice == 0.0);
  }
  CHECK(compareMasks(empty, sq).boundaryF == 0.0);
  CHECK(compareMasks(sq, empty).boundaryF == 0.0);
  // The complement has the same outline: DAVIS's boundary marks where the label changes.
  CHECK(compareMasks(sq, 255 - sq, 0).boundaryF == 1.0);
}

TEST_CASE("compareMasks boundary F tolerates a 1-px shift within tolerance", "[evaluation]") {
  const cv::Size size(30, 30);
  const cv::Mat gt = rectMask(size, {5, 5, 10, 10});
  const cv::Mat pred = rectMask(size, {6, 5, 10, 10});
  const auto s = compareMasks(pred, gt);  // default tolerance 2
  CHECK(s.iou == Approx(90.0 / 110.0));
  CHECK(s.dice == Approx(180.0 / 200.0));
  CHECK(s.boundaryF == 1.0);
  CHECK(compareMasks(pred, gt, 1).boundaryF == 1.0);
  // Tolerance 0: the outlines span columns 4..14 and 5..15 over rows 4..14; of their 40 pixels
  // only the top and bottom rows over columns 5..14 coincide, 20 pixels: P = R = F = 0.5.
  CHECK(compareMasks(pred, gt, 0).boundaryF == Approx(20.0 / 40.0));
  // A 1-px diagonal shift is at distance sqrt(2) > 1 for the side columns and rows.
  CHECK(compareMasks(rectMask(size, {6, 6, 10, 10}), gt, 1).boundaryF < 1.0);
  CHECK(compareMasks(rectMask(size, {6, 6, 10, 10}), gt, 2).boundaryF == 1.0);
}

TEST_CASE("compareMasks follows DAVIS at the image border", "[evaluation]") {
  const cv::Size size(10, 10);
  const cv::Mat full(size, CV_8UC1, cv::Scalar(255));
  // The image border is no boundary: a full mask has none, so it matches only another full mask.
  CHECK(compareMasks(full, full, 0).boundaryF == 1.0);
  const auto s = compareMasks(full, rectMask(size, {2, 2, 5, 5}));
  CHECK(s.iou == Approx(0.25));
  CHECK(s.boundaryF == 0.0);
}

TEST_CASE("compareMasks validates its inputs", "[evaluation]") {
  const cv::Mat a = cv::Mat::zeros(10, 10, CV_8UC1);
  CHECK_THROWS_WITH(compareMasks(a, cv::Mat::zeros(10, 11, CV_8UC1)),
                    "compareMasks: predicted size 10x10 differs from ground-truth size 11x10");
  CHECK_THROWS_AS(compareMasks(cv::Mat::zeros(10, 10, CV_16UC1), a), samcli::Error);
  CHECK_THROWS_AS(compareMasks(a, cv::Mat::zeros(10, 10, CV_8UC3)), samcli::Error);
  CHECK_THROWS_AS(compareMasks(cv::Mat(), cv::Mat()), samcli::Error);
  CHECK_THROWS_AS(compareMasks(a, a, -1), samcli::Error);
}

TEST_CASE("summarize", "[evaluation]") {
  const auto odd = samcli::summarize({3, 1, 2});
  CHECK(odd.count == 3);
  CHECK(odd.mean == 2.0);
  CHECK(odd.median == 2.0);
  CHECK(odd.min == 1.0);
  CHECK(odd.max == 3.0);

  const auto even = samcli::summarize({0.5, 0.25, 1, 0});
  CHECK(even.count == 4);
  CHECK(even.mean == 0.4375);
  CHECK(even.median == 0.375);
  CHECK(even.min == 0.0);
  CHECK(even.max == 1.0);

  const auto none = samcli::summarize({});
  CHECK(none.count == 0);
  CHECK(std::isnan(none.mean));
  CHECK(std::isnan(none.median));
  CHECK(std::isnan(none.min));
  CHECK(std::isnan(none.max));

  CHECK_THROWS_WITH(samcli::summarize({1, NAN}), "summarize: value 1 is not finite");
}

TEST_CASE("hungarianMatch on known matrices", "[evaluation]") {
  // Optimum 1 + 2 + 2 = 5 (the diagonal costs 6).
  CHECK(hungarianMatch({{4, 1, 3}, {2, 0, 5}, {3, 2, 2}}) == std::vector<int>{1, 0, 2});
  // Greedy would give row 0 column 0 (1) and leave row 1 with 100; the optimum is 2 + 1.
  CHECK(hungarianMatch({{1, 2, 100}, {1, 100, 100}}) == std::vector<int>{1, 0});
  // The transpose: more rows than columns, one row left out.
  CHECK(hungarianMatch({{1, 1}, {2, 100}, {100, 100}}) == std::vector<int>{1, 0, -1});
  // Negative costs (maximising a score by minimising its negation): -0.9 - 0.7 beats -0.1 - 0.8.
  CHECK(hungarianMatch({{-0.9, -0.1}, {-0.8, -0.7}}) == std::vector<int>{0, 1});
  CHECK(hungarianMatch({{5}}) == std::vector<int>{0});
  CHECK(hungarianMatch({}).empty());
  CHECK(hungarianMatch({{}, {}}) == std::vector<int>{-1, -1});
}

TEST_CASE("hungarianMatch reaches the brute-force optimum", "[evaluation]") {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    for (auto [rows, cols] : {std::pair<size_t, size_t>{5, 5}, {4, 6}, {6, 3}, {1, 4}}) {
      const Cost cost = lcgCost(rows, cols, seed);
      const std::vector<int> match = hungarianMatch(cost);
      REQUIRE(match.size() == rows);
      std::vector<int> used;
      for (int j : match) {
        if (j >= 0) used.push_back(j);
      }
      std::sort(used.begin(), used.end());
      CHECK(std::adjacent_find(used.begin(), used.end()) == used.end());
      CHECK(used.size() == std::min(rows, cols));
      if (rows <= cols) {
        CHECK(assignmentCost(cost, match) == bruteForceMinCost(cost));
      } else {
        Cost t(cols, std::vector<double>(rows));
        for (size_t i = 0; i < rows; ++i) {
          for (size_t j = 0; j < cols; ++j) t[j][i] = cost[i][j];
        }
        CHECK(assignmentCost(cost, match) == bruteForceMinCost(t));
      }
    }
  }
}

TEST_CASE("hungarianMatch validates its input", "[evaluation]") {
  CHECK_THROWS_WITH(hungarianMatch({{1, 2}, {3}}), "hungarianMatch: row 1 has 1 columns, row 0 has 2");
  CHECK_THROWS_AS(hungarianMatch({{1, INFINITY}}), samcli::Error);
  CHECK_THROWS_AS(hungarianMatch({{NAN}}), samcli::Error);
}

TEST_CASE("matchLabelMaps recovers permuted labels", "[evaluation]") {
  cv::Mat gt = cv::Mat::zeros(20, 20, CV_8UC1);
  gt(cv::Rect(0, 0, 10, 10)).setTo(1);
  gt(cv::Rect(10, 0, 10, 10)).setTo(2);
  gt(cv::Rect(0, 10, 20, 5)).setTo(3);
  cv::Mat pred = cv::Mat::zeros(20, 20, CV_16UC1);
  pred.setTo(500, gt == 1);
  pred.setTo(7, gt == 2);
  pred.setTo(1, gt == 3);

  const auto m = matchLabelMaps(pred, gt);
  REQUIRE(m.size() == 3);
  checkMatch(m[0], 1, 500, 1.0);
  checkMatch(m[1], 2, 7, 1.0);
  checkMatch(m[2], 3, 1, 1.0);
  CHECK(samcli::meanMatchedIou(m) == 1.0);
}

TEST_CASE("matchLabelMaps on partial overlaps", "[evaluation]") {
  cv::Mat gt = cv::Mat::zeros(20, 20, CV_16UC1);
  gt(cv::Rect(0, 0, 10, 10)).setTo(1);   // 100 px
  gt(cv::Rect(10, 0, 10, 10)).setTo(2);  // 100 px

  SECTION("one-to-one by total IoU") {
    cv::Mat pred = cv::Mat::zeros(20, 20, CV_8UC1);
    pred(cv::Rect(0, 0, 15, 10)).setTo(1);   // all of GT 1, half of GT 2: IoU 100/150 and 50/200
    pred(cv::Rect(15, 0, 5, 10)).setTo(2);   // the other half of GT 2: IoU 50/100
    const auto m = matchLabelMaps(pred, gt);
    REQUIRE(m.size() == 2);
    checkMatch(m[0], 1, 1, 2.0 / 3.0);
    checkMatch(m[1], 2, 2, 0.5);
    CHECK(samcli::meanMatchedIou(m) == Approx(7.0 / 12.0));
  }
  SECTION("predicted pixels over GT background count against the class") {
    cv::Mat pred = cv::Mat::zeros(20, 20, CV_8UC1);
    pred(cv::Rect(0, 0, 10, 20)).setTo(9);  // GT 1 plus 100 px of GT background
    const auto m = matchLabelMaps(pred, gt);
    REQUIRE(m.size() == 2);
    checkMatch(m[0], 1, 9, 0.5);
    checkMatch(m[1], 2, -1, 0.0);
    CHECK(samcli::meanMatchedIou(m) == Approx(0.25));
  }
  SECTION("a zero-overlap pairing is reported as unmatched") {
    cv::Mat pred = cv::Mat::zeros(20, 20, CV_8UC1);
    pred(cv::Rect(0, 0, 10, 10)).setTo(4);
    pred(cv::Rect(0, 10, 20, 10)).setTo(5);  // only over GT background
    const auto m = matchLabelMaps(pred, gt);
    REQUIRE(m.size() == 2);
    checkMatch(m[0], 1, 4, 1.0);
    checkMatch(m[1], 2, -1, 0.0);
  }
  SECTION("no predicted classes") {
    const auto m = matchLabelMaps(cv::Mat::zeros(20, 20, CV_8UC1), gt);
    REQUIRE(m.size() == 2);
    checkMatch(m[0], 1, -1, 0.0);
    checkMatch(m[1], 2, -1, 0.0);
    CHECK(samcli::meanMatchedIou(m) == 0.0);
  }
}

TEST_CASE("matchLabelMaps edge cases and validation", "[evaluation]") {
  const cv::Mat background = cv::Mat::zeros(8, 8, CV_8UC1);
  cv::Mat pred = background.clone();
  pred.setTo(3);
  CHECK(matchLabelMaps(pred, background).empty());
  CHECK(std::isnan(samcli::meanMatchedIou({})));

  CHECK_THROWS_AS(matchLabelMaps(cv::Mat::zeros(8, 8, CV_32SC1), background), samcli::Error);
  CHECK_THROWS_AS(matchLabelMaps(background, cv::Mat::zeros(8, 9, CV_8UC1)), samcli::Error);
}

TEST_CASE("farthestFromBoundary", "[evaluation]") {
  const cv::Size size(30, 30);
  // An 11x11 square, x 8..18 and y 5..15: its centre.
  CHECK(samcli::farthestFromBoundary(rectMask(size, {8, 5, 11, 11})) == cv::Point(13, 10));
  // The image border counts as boundary, so a square in the corner also gives its centre.
  CHECK(samcli::farthestFromBoundary(rectMask(size, {0, 0, 11, 11})) == cv::Point(5, 5));
  CHECK(samcli::farthestFromBoundary(cv::Mat(5, 5, CV_8UC1, cv::Scalar(1))) == cv::Point(2, 2));
  // Ties go to the first pixel in row-major order: a 7x3 bar (x 5..11, y 10..12) has distance 2
  // at x 6..10 of its middle row; a 4x4 square has four centre pixels at distance 2.
  CHECK(samcli::farthestFromBoundary(rectMask(size, {5, 10, 7, 3})) == cv::Point(6, 11));
  CHECK(samcli::farthestFromBoundary(rectMask(size, {2, 2, 4, 4})) == cv::Point(3, 3));

  CHECK_THROWS_AS(samcli::farthestFromBoundary(cv::Mat::zeros(size, CV_8UC1)), samcli::Error);
  CHECK_THROWS_AS(samcli::farthestFromBoundary(cv::Mat::zeros(size, CV_16UC1)), samcli::Error);
}
