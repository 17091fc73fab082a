#pragma once
// Clustering of per-mask embedding vectors into semantic classes (sam-semantic). All vectors of one
// call must have the same, non-zero dimension and finite components; otherwise samcli::Error.
#include <cstdint>
#include <vector>

namespace samcli {

// Cosine: 1 - cosine similarity, clipped to [0, 2]. A zero vector has no direction, so its cosine
// distance is 1 to every vector, itself included (scikit-learn's cosine_distances gives the same
// value, normalising a zero row to zero); with eps < 1 a zero vector is therefore always noise.
// Euclidean: L2 distance. For the Euclidean distance between directions, pass l2Normalize(points).
enum class Metric { Cosine, Euclidean };

// scikit-learn's DBSCAN: a point is core when at least `minSamples` points, itself included, lie at
// distance <= eps. Clusters are numbered 0, 1, ... in the order their first core point appears when
// scanning by index; a border point (non-core, within eps of a core point) belongs to the first
// cluster that reaches it; noise is -1. Throws Error unless eps > 0 and minSamples >= 1.
// Exact pairwise distances: O(n^2 * dim) time, neighbour lists up to O(n^2) memory.
std::vector<int> dbscan(const std::vector<std::vector<float>>& points, double eps, int minSamples, Metric metric);

// cv::kmeans (k-means++ seeding, several attempts, the most compact kept), reproducible: OpenCV's
// thread-local RNG is seeded from `seed` for the call and restored afterwards. Cluster ids are
// renumbered by first occurrence (point 0 is in cluster 0, the next new cluster is 1, ...), so the
// output does not depend on OpenCV's internal numbering. Throws Error unless 1 <= k <= points.size().
std::vector<int> kmeans(const std::vector<std::vector<float>>& points, int k, uint64_t seed);

// Cosine similarity in [-1, 1], computed in double; 0 when either vector is zero. Throws Error when
// the sizes differ.
double cosineSimilarity(const std::vector<float>& a, const std::vector<float>& b);

// The vector scaled to unit L2 norm; a zero vector is returned unchanged.
std::vector<float> l2Normalize(const std::vector<float>& v);
std::vector<std::vector<float>> l2Normalize(const std::vector<std::vector<float>>& points);

}  // namespace samcli
