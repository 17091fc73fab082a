// .npy files as --mask-input reads them (low-res logits of an earlier run).
#include "fuzz_common.hpp"
#include "samcli/outputs.hpp"

using namespace samcli;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = fuzz::scratchDir() + "/input.npy";
  fuzz::writeFile(path, data, size);
  fuzz::guarded([&] { readNpy(path); });
  return 0;
}
