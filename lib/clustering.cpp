#include "samcli/clustering.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include <opencv2/core.hpp>

#include "samcli/error.hpp"

namespace samcli {
namespace {

// Returns the common dimension of `points` (0 when there are none).
size_t checkedDimension(const std::vector<std::vector<float>>& points, const char* fn) {
  if (points.empty()) return 0;
  const size_t dim = points[0].size();
  if (dim == 0) throw Error(std::string(fn) + ": vectors must not be empty");
  for (size_t i = 0; i < points.size(); ++i) {
    if (points[i].size() != dim) {
      throw Error(std::string(fn) + ": vector " + std::to_string(i) + " has " + std::to_string(points[i].size()) +
                  " components, vector 0 has " + std::to_string(dim));
    }
    for (float x : points[i]) {
      if (!std::isfinite(x)) throw Error(std::string(fn) + ": vector " + std::to_string(i) + " has a non-finite component");
    }
  }
  return dim;
}

double squaredNorm(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += double(x) * x;
  return s;
}

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += double(a[i]) * b[i];
  return s;
}

// Restores the caller's RNG state even when cv::kmeans throws, so seeding stays local to the call.
class RngStateGuard {
 public:
  RngStateGuard() : saved_(cv::theRNG().state) {}
  ~RngStateGuard() { cv::theRNG().state = saved_; }
  RngStateGuard(const RngStateGuard&) = delete;
  RngStateGuard& operator=(const RngStateGuard&) = delete;

 private:
  uint64_t saved_;
};

}  // namespace

double cosineSimilarity(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) {
    throw Error("cosineSimilarity: vectors have " + std::to_string(a.size()) + " and " + std::to_string(b.size()) +
                " components");
  }
  const double na = squaredNorm(a), nb = squaredNorm(b);
  if (na == 0 || nb == 0) return 0;
  return std::clamp(dot(a, b) / std::sqrt(na * nb), -1.0, 1.0);
}

std::vector<float> l2Normalize(const std::vector<float>& v) {
  const double n = std::sqrt(squaredNorm(v));
  if (n == 0) return v;
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = float(v[i] / n);
  return out;
}

std::vector<std::vector<float>> l2Normalize(const std::vector<std::vector<float>>& points) {
  std::vector<std::vector<float>> out;
  out.reserve(points.size());
  for (const auto& p : points) out.push_back(l2Normalize(p));
  return out;
}

std::vector<int> dbscan(const std::vector<std::vector<float>>& points, double eps, int minSamples, Metric metric) {
  if (!(eps > 0)) throw Error("dbscan: eps must be > 0, got " + std::to_string(eps));
  if (minSamples < 1) throw Error("dbscan: minSamples must be >= 1, got " + std::to_string(minSamples));
  checkedDimension(points, "dbscan");
  const size_t n = points.size();

  std::vector<double> norms(n);
  for (size_t i = 0; i < n; ++i) norms[i] = std::sqrt(squaredNorm(points[i]));
  auto distance = [&](size_t i, size_t j) {
    if (metric == Metric::Cosine) {
      if (norms[i] == 0 || norms[j] == 0) return 1.0;
      return std::clamp(1.0 - dot(points[i], points[j]) / (norms[i] * norms[j]), 0.0, 2.0);
    }
    double s = 0;
    for (size_t d = 0; d < points[i].size(); ++d) {
      const double diff = double(points[i][d]) - points[j][d];
      s += diff * diff;
    }
    return std::sqrt(s);
  };

  // Self is a neighbour when within eps (always, except a zero vector under the cosine metric), as
  // in scikit-learn's radius_neighbors. List order does not matter: cluster membership does not
  // depend on the order in which a cluster is expanded.
  std::vector<std::vector<size_t>> neighbours(n);
  for (size_t i = 0; i < n; ++i) {
    if (distance(i, i) <= eps) neighbours[i].push_back(i);
    for (size_t j = i + 1; j < n; ++j) {
      if (distance(i, j) <= eps) {
        neighbours[i].push_back(j);
        neighbours[j].push_back(i);
      }
    }
  }

  std::vector<char> core(n);
  for (size_t i = 0; i < n; ++i) core[i] = neighbours[i].size() >= size_t(minSamples);

  std::vector<int> labels(n, -1);
  int next = 0;
  std::vector<size_t> stack;
  for (size_t seed = 0; seed < n; ++seed) {
    if (labels[seed] != -1 || !core[seed]) continue;
    stack.assign(1, seed);
    while (!stack.empty()) {
      const size_t i = stack.back();
      stack.pop_back();
      if (labels[i] != -1) continue;
      labels[i] = next;
      // Border points are labelled but not expanded: only core points propagate the cluster.
      if (core[i]) {
        for (size_t j : neighbours[i]) {
          if (labels[j] == -1) stack.push_back(j);
        }
      }
    }
    ++next;
  }
  return labels;
}

std::vector<int> kmeans(const std::vector<std::vector<float>>& points, int k, uint64_t seed) {
  if (k < 1) throw Error("kmeans: k must be >= 1, got " + std::to_string(k));
  if (size_t(k) > points.size()) {
    throw Error("kmeans: k = " + std::to_string(k) + " exceeds the number of points (" +
                std::to_string(points.size()) + ")");
  }
  const size_t dim = checkedDimension(points, "kmeans");
  cv::Mat data(int(points.size()), int(dim), CV_32F);
  for (size_t i = 0; i < points.size(); ++i) std::copy(points[i].begin(), points[i].end(), data.ptr<float>(int(i)));

  constexpr int kAttempts = 5;
  const cv::TermCriteria criteria(cv::TermCriteria::COUNT + cv::TermCriteria::EPS, 100, 1e-6);
  cv::Mat rawLabels;
  {
    RngStateGuard guard;
    // Via the constructor, which maps a zero seed to a valid state (a zero state never changes).
    cv::theRNG() = cv::RNG(seed);
    cv::kmeans(data, k, rawLabels, criteria, kAttempts, cv::KMEANS_PP_CENTERS);
  }

  std::vector<int> renumber(size_t(k), -1);
  std::vector<int> labels(points.size());
  int next = 0;
  for (size_t i = 0; i < points.size(); ++i) {
    int& id = renumber[size_t(rawLabels.at<int>(int(i)))];
    if (id == -1) id = next++;
    labels[i] = id;
  }
  return labels;
}

}  // namespace samcli
