// Compressed COCO RLE counts (pycocotools' string form), as read from COCO files and masks.json.
#include <opencv2/core.hpp>

#include "fuzz_common.hpp"
#include "samcli/rle.hpp"

using namespace samcli;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<uint32_t> counts;
  bool parsed = false;
  fuzz::guarded([&] {
    counts = rleCountsFromString(text);
    parsed = true;
  });
  if (!parsed) return 0;
  // What the parser accepts, the writer writes back to the same counts.
  if (rleCountsFromString(rleCountsToString(counts)) != counts) {
    std::fprintf(stderr, "fuzz: counts do not survive rleCountsToString/rleCountsFromString\n");
    std::abort();
  }
  uint64_t total = 0;
  for (uint32_t c : counts) total += c;
  // Decoded as one column when small enough (sizes are bounded elsewhere, not by this parser).
  if (total == 0 || total > (1u << 20)) return 0;
  Rle rle{static_cast<int>(total), 1, counts};
  fuzz::guarded([&] {
    const cv::Mat mask = decodeRle(rle);
    if (cv::countNonZero(mask) != rleArea(rle) || decodeRle(encodeRle(mask)).size() != mask.size()) {
      std::fprintf(stderr, "fuzz: decoded area differs from rleArea\n");
      std::abort();
    }
  });
  return 0;
}
