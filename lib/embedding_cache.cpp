#include "embedding_cache.hpp"

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "samcli/image_io.hpp"
#include "samcli/json_input.hpp"
#include "samcli/log.hpp"
#include "samcli/sha256.hpp"
#include "samcli/text_input.hpp"

namespace fs = std::filesystem;

namespace samcli {
namespace {

constexpr const char* kFormat = "samcli-embedding";
// Version 2: the checksum covers the header as well as the data (version 1 left an edited
// input_size undetected); version 1 entries are rebuilt.
constexpr int kVersion = 2;
constexpr size_t kMaxHeaderBytes = 4096;

// sha256 of the header without its "sha256" field (compact JSON, keys sorted), a newline and the
// data bytes.
std::string entryDigest(const nlohmann::json& headerWithoutDigest, const std::vector<float>& data) {
  std::string bytes = headerWithoutDigest.dump() + "\n";
  bytes.append(reinterpret_cast<const char*>(data.data()), data.size() * sizeof(float));
  return sha256Hex(bytes);
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
    LineReader lines(in, "'" + path + "'", kMaxHeaderBytes, 1);
    lines.next(headerLine);
    nlohmann::json header = parseJson(headerLine, "'" + path + "'");
    if (!header.is_object() || header.value("format", "") != kFormat) {
      why = "unknown format";
    } else if (header.value("version", 0) != kVersion) {
      why = "written by another samcli version";
    } else if (header.value("key", "") != key) {
      why = "written for another image or model";
    } else if (header.at("shape").get<std::array<int, 3>>() != expectedShape) {
      why = "embedding shape differs from the model's";
    } else {
      out.shape = expectedShape;
      const auto input = header.at("input_size").get<std::array<int, 2>>();
      out.inputSize = {input[0], input[1]};
      out.data.resize(size_t(expectedShape[0]) * size_t(expectedShape[1]) * size_t(expectedShape[2]));
      in.read(reinterpret_cast<char*>(out.data.data()), std::streamsize(out.data.size() * sizeof(float)));
      const std::string stated = header.at("sha256").get<std::string>();
      header.erase("sha256");
      if (!in || in.peek() != std::char_traits<char>::eof()) {
        why = "truncated or oversized";
      } else if (entryDigest(header, out.data) != stated) {
        why = "checksum mismatch";
      } else if (input[0] < 1 || input[1] < 1 || input[0] > 1 << 16 || input[1] > 1 << 16) {
        why = "invalid input_size";
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
  nlohmann::json header = {{"format", kFormat},
                           {"version", kVersion},
                           {"key", key},
                           {"shape", entry.shape},
                           {"input_size", {entry.inputSize.width, entry.inputSize.height}}};
  header["sha256"] = entryDigest(header, entry.data);
  std::string bytes = header.dump() + "\n";
  bytes.append(reinterpret_cast<const char*>(entry.data.data()), entry.data.size() * sizeof(float));
  writeFileAtomic(pathFor(key), bytes);
}

}  // namespace samcli
