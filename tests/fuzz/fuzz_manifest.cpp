// Model manifests (manifest.json of a SAM model or an OWL-ViT detector directory).
#include <filesystem>

#include "fuzz_common.hpp"
#include "samcli/model.hpp"

using namespace samcli;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string dir = [] {
    const std::string d = fuzz::scratchDir() + "/model";
    std::filesystem::create_directories(d);
    // The files the seed manifests name, so validation goes past the existence check.
    for (const char* name : {"image_encoder.pt", "prompt_decoder.pt", "detector.pt", "bpe_simple_vocab_16e6.txt.gz"}) {
      fuzz::writeFile(d + "/" + name, nullptr, 0);
    }
    return d;
  }();
  if (fuzz::jsonNesting(data, size) > fuzz::kMaxFuzzedNesting) return 0;
  fuzz::writeFile(dir + "/manifest.json", data, size);
  fuzz::guarded([&] { readSamManifest(dir); });
  fuzz::guarded([&] { readOwlVitManifest(dir); });
  return 0;
}
