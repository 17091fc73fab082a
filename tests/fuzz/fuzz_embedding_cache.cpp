// Embedding-cache entries (--embedding-cache): a JSON header line, then float32 data.
#include <iostream>

#include "embedding_cache.hpp"
#include "fuzz_common.hpp"

using namespace samcli;

namespace {

// What fuzz corpus entries are written for: a small embedding, so the data part stays small.
constexpr std::array<int, 3> kShape{2, 3, 4};
const char* kKey = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string dir = [] {
    std::cerr.rdbuf(nullptr);  // the "stale or corrupt entry" warning of nearly every input
    return fuzz::scratchDir();
  }();
  fuzz::writeFile(dir + "/" + kKey + ".samemb", data, size);
  const EmbeddingCache cache(dir, "fuzz-model");
  fuzz::guarded([&] {
    CachedEmbedding entry;
    if (cache.load(kKey, kShape, entry) && entry.data.size() != size_t(kShape[0] * kShape[1] * kShape[2])) {
      std::abort();
    }
  });
  return 0;
}
