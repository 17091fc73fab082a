// Prompt files (--prompts) in their three formats; the first byte chooses the format.
#include <sstream>

#include "fuzz_common.hpp"
#include "samcli/prompt_file.hpp"

using namespace samcli;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const PromptFormat kFormats[] = {PromptFormat::Json, PromptFormat::Jsonl, PromptFormat::Csv};
  static const char* kNames[] = {"/fuzz/prompts.json", "/fuzz/prompts.jsonl", "/fuzz/prompts.csv"};
  const int which = data[0] % 3;
  if (kFormats[which] != PromptFormat::Csv && fuzz::jsonNesting(data + 1, size - 1) > fuzz::kMaxFuzzedNesting) {
    return 0;
  }
  std::istringstream in(std::string(reinterpret_cast<const char*>(data + 1), size - 1));
  fuzz::guarded([&] {
    const PromptFile file = PromptFile::parse(in, kFormats[which], kNames[which]);
    for (const InputImage& input : file.inputs()) {
      if (!file.find(input.path)) {
        std::fprintf(stderr, "fuzz: an input of the prompt file has no entry\n");
        std::abort();
      }
    }
  });
  return 0;
}
