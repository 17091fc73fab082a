// COCO files as sam-eval reads them (ground truth and predictions, with and without categories),
// samcli masks.json documents, and sam-coco-merge's merge.
#include <nlohmann/json.hpp>

#include "fuzz_common.hpp"
#include "samcli/coco.hpp"
#include "samcli/eval_run.hpp"

using namespace samcli;

namespace {

// Masks are decoded only up to this many pixels: image sizes are bounded elsewhere.
constexpr int64_t kMaxDecodedPixels = 1 << 20;

bool smallEnough(cv::Size s) { return int64_t(s.width) * s.height <= kMaxDecodedPixels; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (fuzz::jsonNesting(data, size) > fuzz::kMaxFuzzedNesting) return 0;
  const nlohmann::json doc = nlohmann::json::parse(data, data + size, nullptr, false);
  if (doc.is_discarded()) return 0;  // nlohmann's own parser is not what is fuzzed here
  for (const bool perCategory : {false, true}) {
    fuzz::guarded([&] {
      for (const GtItem& item : groundTruthFromCoco(doc, "fuzz.json", perCategory)) {
        if (smallEnough(item.size)) loadGtMask(item);
      }
    });
    fuzz::guarded([&] {
      for (const auto& keyed : predictionsFromCoco(doc, "fuzz.json", perCategory)) {
        const PredEntry& entry = keyed.second;
        bool small = true;
        for (const PredCandidate& c : entry.candidates) small = small && smallEnough({c.rle.width, c.rle.height});
        if (!small) continue;
        for (const MaskPick pick : {MaskPick::Best, MaskPick::First, MaskPick::Union}) {
          fuzz::guarded([&] { loadPrediction(entry, pick, {4, 3}); });
        }
      }
    });
  }
  fuzz::guarded([&] {
    for (const PredCandidate& c : candidatesFromMasksJson(doc, "masks.json")) {
      if (smallEnough({c.rle.width, c.rle.height})) decodeRle(c.rle);
    }
  });
  const nlohmann::ordered_json ordered = nlohmann::ordered_json::parse(data, data + size, nullptr, false);
  fuzz::guarded([&] { mergeCoco({{"a.json", ordered}, {"b.json", ordered}}).dump(); });
  return 0;
}
