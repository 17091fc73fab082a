#pragma once
// Image embeddings on disk, keyed by image content and model, so that repeated runs on the same
// image (many prompts from a shell loop) skip the encoder. Entries are validated on every read
// (format, key, shape, a checksum over header and data) and rebuilt with a warning when stale or corrupt.
#include <array>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace samcli {

struct CachedEmbedding {
  std::vector<float> data;
  std::array<int, 3> shape{};  // C, H, W
  cv::Size inputSize;
};

class EmbeddingCache {
 public:
  // modelIdentity: anything that changes when the encoder does (see SamModel).
  EmbeddingCache(std::string directory, std::string modelIdentity);

  std::string keyFor(const cv::Mat& rgb) const;
  // False on a miss; a stale or corrupt entry is reported, removed and also a miss.
  bool load(const std::string& key, const std::array<int, 3>& expectedShape, CachedEmbedding& out) const;
  void store(const std::string& key, const CachedEmbedding& entry) const;

 private:
  std::string pathFor(const std::string& key) const;
  std::string directory_;
  std::string modelIdentity_;
};

}  // namespace samcli
