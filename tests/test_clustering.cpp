// Expected labels are worked out by hand from scikit-learn's DBSCAN definition (distances noted
// next to the point sets) and from the renumbering rule of kmeans.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

#include <opencv2/core.hpp>

#include "samcli/clustering.hpp"
#include "samcli/error.hpp"

using samcli::Metric;
using Points = std::vector<std::vector<float>>;
using Labels = std::vector<int>;

namespace {

// Two groups joined by a border point b = (1, 0) that is within eps = 1 of the core a0 = (0, 0)
// (distance 1, exactly eps) and of the core c0 = (1.5, 0) (distance 0.5), and of nothing else.
// With minSamples = 4: a0 and c0 have 5 points within 1 (self included) and are core; every other
// point has at most 3 (b: a0, c0, self) and is a border point.
const std::vector<float> a0{0, 0}, a1{0, 1}, a2{0, -1}, a3{-1, 0};
const std::vector<float> b{1, 0};
const std::vector<float> c0{1.5f, 0}, c1{1.5f, 1}, c2{1.5f, -1}, c3{2.5f, 0};

// Points on a 2-D grid drawn from a fixed LCG, so the test needs no random source of its own.
Points lcgPoints(int n, uint32_t state) {
  Points pts;
  auto next = [&state] {
    state = state * 1664525u + 1013904223u;
    return float(state >> 8) / float(1 << 24);
  };
  for (int i = 0; i < n; ++i) pts.push_back({next(), next()});
  return pts;
}

}  // namespace

TEST_CASE("dbscan finds two blobs and a noise point", "[clustering]") {
  // Blob A is a unit square (side 1, diagonal 1.414); blob B an L of three points; (5, 5) is > 7
  // from both. With eps = 1.5 and minSamples = 3 every blob point has >= 3 points within eps.
  const Points pts{{5, 5}, {0, 0}, {10, 10}, {0, 1}, {1, 0}, {10, 11}, {1, 1}, {11, 10}};
  CHECK(samcli::dbscan(pts, 1.5, 3, Metric::Euclidean) == Labels{-1, 0, 1, 0, 0, 1, 0, 1});
  // Blob B has only 3 points: with minSamples = 4 it dissolves into noise, A (4 points) survives.
  CHECK(samcli::dbscan(pts, 1.5, 4, Metric::Euclidean) == Labels{-1, 0, -1, 0, 0, -1, 0, -1});
}

TEST_CASE("dbscan counts the point itself and includes distance == eps", "[clustering]") {
  const Points pts{a0, a1, a2, a3};  // a0 has 4 points within 1, itself included; the others 2
  CHECK(samcli::dbscan(pts, 1.0, 4, Metric::Euclidean) == Labels{0, 0, 0, 0});
  CHECK(samcli::dbscan(pts, 1.0, 5, Metric::Euclidean) == Labels{-1, -1, -1, -1});
  CHECK(samcli::dbscan(pts, 0.99, 2, Metric::Euclidean) == Labels{-1, -1, -1, -1});
  // minSamples = 1: every point is core, isolated points become singleton clusters.
  CHECK(samcli::dbscan(pts, 0.5, 1, Metric::Euclidean) == Labels{0, 1, 2, 3});
}

TEST_CASE("dbscan gives a border point to the first cluster that reaches it", "[clustering]") {
  // b is nearer to c0, but the cluster discovered first claims it.
  CHECK(samcli::dbscan({a0, a1, a2, a3, b, c0, c1, c2, c3}, 1.0, 4, Metric::Euclidean) ==
        Labels{0, 0, 0, 0, 0, 1, 1, 1, 1});
  CHECK(samcli::dbscan({c0, c1, c2, c3, b, a0, a1, a2, a3}, 1.0, 4, Metric::Euclidean) ==
        Labels{0, 0, 0, 0, 0, 1, 1, 1, 1});
  // Discovery order is by the first core point's index: c0 (index 1) comes before a0 (index 5).
  CHECK(samcli::dbscan({b, c0, a1, a2, a3, a0, c1, c2, c3}, 1.0, 4, Metric::Euclidean) ==
        Labels{0, 0, 1, 1, 1, 1, 0, 0, 0});
  // A border point does not extend its cluster: (2, 0) is within eps of the border point b only.
  CHECK(samcli::dbscan({a0, a1, a3, b, {2, 0}}, 1.0, 4, Metric::Euclidean) == Labels{0, 0, 0, 0, -1});
}

TEST_CASE("dbscan cosine groups by direction, euclidean by position", "[clustering]") {
  const Points pts{{1, 0}, {0, 10}, {10, 0}, {0, 1}, {1000, 1}, {0, 100}};
  // Cosine distances within each direction are 0 (or 1 - 1000/sqrt(1000001) = 5.0e-7); across, ~1.
  CHECK(samcli::dbscan(pts, 0.01, 2, Metric::Cosine) == Labels{0, 1, 0, 1, 0, 1});
  // Euclidean: the nearest pair, (1, 0) and (0, 1), is 1.414 apart.
  CHECK(samcli::dbscan(pts, 1.0, 2, Metric::Euclidean) == Labels{-1, -1, -1, -1, -1, -1});
  CHECK(samcli::dbscan(pts, 1.5, 2, Metric::Euclidean) == Labels{0, -1, -1, 0, -1, -1});
  // On unit vectors the Euclidean distance is sqrt(2 * cosine distance): at most 0.001 within a
  // direction.
  CHECK(samcli::dbscan(samcli::l2Normalize(pts), 0.01, 2, Metric::Euclidean) == Labels{0, 1, 0, 1, 0, 1});
}

TEST_CASE("dbscan cosine puts a zero vector at distance 1 from everything", "[clustering]") {
  const Points pts{{0, 0}, {1, 0}, {2, 0}};
  // Not even within eps of itself, so it stays noise even with minSamples = 1.
  CHECK(samcli::dbscan(pts, 0.5, 1, Metric::Cosine) == Labels{-1, 0, 0});
  // eps = 1 includes distance 1: the zero vector joins (its 3 points within eps make it core).
  CHECK(samcli::dbscan(pts, 1.0, 3, Metric::Cosine) == Labels{0, 0, 0});
  // Orthogonal vectors are also at cosine distance 1.
  CHECK(samcli::dbscan({{1, 0}, {0, 1}}, 0.999, 1, Metric::Cosine) == Labels{0, 1});
  CHECK(samcli::dbscan({{1, 0}, {0, 1}}, 1.0, 2, Metric::Cosine) == Labels{0, 0});
}

TEST_CASE("dbscan validates its arguments", "[clustering]") {
  const Points pts{{0, 0}, {1, 1}};
  CHECK(samcli::dbscan({}, 1.0, 1, Metric::Euclidean).empty());
  CHECK_THROWS_AS(samcli::dbscan(pts, 0.0, 1, Metric::Euclidean), samcli::Error);
  CHECK_THROWS_AS(samcli::dbscan(pts, -1.0, 1, Metric::Euclidean), samcli::Error);
  CHECK_THROWS_AS(samcli::dbscan(pts, 1.0, 0, Metric::Euclidean), samcli::Error);
  CHECK_THROWS_WITH(samcli::dbscan({{0, 0}, {1, 1, 1}}, 1.0, 1, Metric::Cosine),
                    "dbscan: vector 1 has 3 components, vector 0 has 2");
  CHECK_THROWS_AS(samcli::dbscan({{}, {}}, 1.0, 1, Metric::Cosine), samcli::Error);
  CHECK_THROWS_AS(samcli::dbscan({{0, NAN}}, 1.0, 1, Metric::Cosine), samcli::Error);
}

TEST_CASE("cosineSimilarity and l2Normalize", "[clustering]") {
  CHECK(samcli::cosineSimilarity({1, 0}, {0, 1}) == 0.0);
  CHECK(samcli::cosineSimilarity({1, 1}, {2, 2}) == Approx(1.0));
  CHECK(samcli::cosineSimilarity({1, 0}, {-3, 0}) == -1.0);
  CHECK(samcli::cosineSimilarity({3, 4}, {4, 3}) == Approx(24.0 / 25.0));
  CHECK(samcli::cosineSimilarity({0, 0}, {1, 2}) == 0.0);
  CHECK_THROWS_AS(samcli::cosineSimilarity({1, 0}, {1, 0, 0}), samcli::Error);

  const std::vector<float> n = samcli::l2Normalize(std::vector<float>{3, 4});
  REQUIRE(n.size() == 2);
  CHECK(n[0] == Approx(0.6));
  CHECK(n[1] == Approx(0.8));
  CHECK(samcli::l2Normalize(std::vector<float>{0, 0}) == std::vector<float>{0, 0});
}

TEST_CASE("kmeans separates well-separated blobs, ids by first occurrence", "[clustering]") {
  // Three tight blobs around (0, 0), (100, 0), (0, 100), interleaved C, A, B, C, A, B, ...
  Points pts;
  Labels expected;
  const float jitter[4][2] = {{0, 0}, {1, 0}, {0, 1}, {1, 1}};
  for (const auto& j : jitter) {
    pts.push_back({0 + j[0], 100 + j[1]});
    pts.push_back({0 + j[0], 0 + j[1]});
    pts.push_back({100 + j[0], 0 + j[1]});
    expected.insert(expected.end(), {0, 1, 2});
  }
  for (uint64_t seed : {0ull, 1ull, 42ull, 123456789ull}) {
    CHECK(samcli::kmeans(pts, 3, seed) == expected);
  }
  CHECK(samcli::kmeans(pts, 1, 7) == Labels(pts.size(), 0));
}

TEST_CASE("kmeans is deterministic for the same input and seed", "[clustering]") {
  // Uniform points have no natural clustering, so the result depends on the seeding.
  const Points pts = lcgPoints(200, 2024);
  const Labels first = samcli::kmeans(pts, 5, 17);
  const Labels second = samcli::kmeans(pts, 5, 17);
  CHECK(first == second);
  REQUIRE(first.size() == pts.size());
  CHECK(first[0] == 0);
  for (int l : first) CHECK((l >= 0 && l < 5));

  // The caller's OpenCV RNG is left as it was.
  cv::theRNG().state = 99;
  samcli::kmeans(pts, 5, 17);
  CHECK(cv::theRNG().state == 99);
}

TEST_CASE("kmeans handles k == number of points, also with duplicates", "[clustering]") {
  CHECK(samcli::kmeans({{0, 0}, {5, 5}, {9, 9}}, 3, 1) == Labels{0, 1, 2});
  const Labels dup = samcli::kmeans({{1, 1}, {1, 1}}, 2, 1);
  REQUIRE(dup.size() == 2);
  CHECK(dup[0] == 0);
}

TEST_CASE("kmeans validates its arguments", "[clustering]") {
  const Points pts{{0, 0}, {1, 1}, {2, 2}};
  CHECK_THROWS_WITH(samcli::kmeans(pts, 0, 1), "kmeans: k must be >= 1, got 0");
  CHECK_THROWS_WITH(samcli::kmeans(pts, 4, 1), "kmeans: k = 4 exceeds the number of points (3)");
  CHECK_THROWS_AS(samcli::kmeans({}, 1, 1), samcli::Error);
  CHECK_THROWS_AS(samcli::kmeans({{0, 0}, {1}}, 1, 1), samcli::Error);
}
