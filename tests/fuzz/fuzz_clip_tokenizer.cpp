// The CLIP tokenizer on arbitrary text (text-sam's --text, --queries-from and prompt-file "text"),
// with the vocabulary in tests/data/clip.
#include <memory>

#include "fuzz_common.hpp"
#include "samcli/clip_tokenizer.hpp"

using namespace samcli;

namespace {

std::unique_ptr<ClipTokenizer> tokenizer;
size_t runsSinceLoad = 0;

void load() {
  tokenizer = std::make_unique<ClipTokenizer>(
      ClipTokenizer::fromBpeFile(SAMCLI_TEST_DATA_DIR "/clip/clip_bpe_simple_vocab_16e6.txt.gz"));
  runsSinceLoad = 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The per-pre-token cache grows with every new word: a fresh tokenizer now and then keeps the
  // fuzzer's memory flat.
  if (!tokenizer || ++runsSinceLoad > 20000) load();
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::guarded([&] {
    const std::vector<int> ids = tokenizer->encode(text);
    for (int id : ids) tokenizer->token(id);  // every id is in the vocabulary
    ClipTokenizer::cleanText(text);
    if (!ids.empty()) {
      const auto row = tokenizer->tokenizeForModel(text);
      if (row.inputIds.size() != size_t(ClipTokenizer::kOwlVitMaxLength)) std::abort();
    }
  });
  return 0;
}
