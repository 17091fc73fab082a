#include "embedding_cache.hpp"

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "samcli/image_io.hpp"
#include "samcli/log.hpp"
#include "samcli/sha256.hpp"

namespace fs = std::filesystem;

namespace samcli {
namespace {

constexpr const char* kFormat = "samcli-embedding";
constexpr int kVersion = 1;

std::string dataDigest(const std::vector<float>& data) {
  return sha256Hex(reinterpret_cast<const uint8_t*>(data.data()), data.size() * sizeof(float));
}

}  // namespace

EmbeddingCache::EmbeddingCache(std::string directory, std::string modelIdentity)
    : directory_(std::move(directory)), modelIdentity_(std::move(modelIdentity)) {}

std::string EmbeddingCache::pathFor(const std::string& key) const {
  return (fs::path(directory_) / (key + ".samemb")).string();
}

std::string EmbeddingCache::keyFor(const cv::Mat& rgb) const {
  return sha256Hex(modelIdentity_ + "|" + std::to_string(rgb.cols) + "x" + std::to_string(rgb.rows) + "|" +
                   sha256Hex(rgb));
}

bool EmbeddingCache::load(const std::string& key, const std::array<int, 3>& expectedShape, CachedEmbedding& out) const {
  const std::string path = pathFor(key);
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::string why;
  try {
    std::string headerLine;
    std::getline(in, headerLine);
    const nlohmann::json header = nlohmann::json::parse(headerLine);
    if (header.at("format") != kFormat || header.at("version") != kVersion) {
      why = "unknown format";
    } else if (header.at("key") != key) {
      why = "written for another image or model";
    } else if (header.at("shape").get<std::array<int, 3>>() != expectedShape) {
      why = "embedding shape differs from the model's";
    } else {
      out.shape = expectedShape;
      const auto input = header.at("input_size").get<std::array<int, 2>>();
      out.inputSize = {input[0], input[1]};
      out.data.resize(size_t(expectedShape[0]) * size_t(expectedShape[1]) * size_t(expectedShape[2]));
      in.read(reinterpret_cast<char*>(out.data.data()), std::streamsize(out.data.size() * sizeof(float)));
      if (!in || in.peek() != std::char_traits<char>::eof()) {
        why = "truncated or oversized";
      } else if (dataDigest(out.data) != header.at("data_sha256").get<std::string>()) {
        why = "checksum mismatch";
      }
    }
  } catch (const std::exception&) {
    why = "unreadable header";
  }
  if (why.empty()) return true;
  Log::warning("embedding cache entry '" + path + "' is stale or corrupt (" + why + "): rebuilding it");
  std::error_code ec;
  fs::remove(path, ec);
  return false;
}

void EmbeddingCache::store(const std::string& key, const CachedEmbedding& entry) const {
  const nlohmann::json header = {{"format", kFormat},
                                 {"version", kVersion},
                                 {"key", key},
                                 {"shape", entry.shape},
                                 {"input_size", {entry.inputSize.width, entry.inputSize.height}},
                                 {"data_sha256", dataDigest(entry.data)}};
  std::string bytes = header.dump() + "\n";
  bytes.append(reinterpret_cast<const char*>(entry.data.data()), entry.data.size() * sizeof(float));
  writeFileAtomic(pathFor(key), bytes);
}

}  // namespace samcli
