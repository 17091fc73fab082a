#pragma once
// Open-vocabulary detection with OWL-ViT, as text-sam runs it: text queries become CLIP token rows,
// one detector pass per image serves every query, and the raw outputs go through Hugging Face's
// OwlViTImageProcessor.post_process_object_detection (plus optional per-label NMS and top-k). The
// detector (LibTorch) stays behind a pimpl; everything else here is torch-free and unit-tested.
#include <array>
#include <cstdint>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "samcli/clip_tokenizer.hpp"
#include "samcli/geometry.hpp"
#include "samcli/model.hpp"

namespace samcli {

// Splits one --text value on commas ("dog, person" -> {"dog", "person"}), trimming white space and
// skipping empty pieces. Throws UsageError naming `source` when no query remains, or when a query is
// only ASCII punctuation ("???": CLIP would tokenize it, but it names nothing to look for).
std::vector<std::string> splitQueries(const std::string& text, const std::string& source);

// The queries as one --text value again ("dog, person"), for messages and titles.
std::string joinQueries(const std::vector<std::string>& queries);

// Reads a query file: one query set per non-blank line, each split as splitQueries. `source`
// says where the lines come from in messages (e.g. "query file 'q.txt'"). Throws UsageError when
// there is no set.
std::vector<std::vector<std::string>> readQuerySets(std::istream& in, const std::string& source);

// The detector's text input: one row of `length` ids per query.
struct QueryTokens {
  int count = 0;
  int length = 0;
  std::vector<int64_t> inputIds;       // count x length, row-major: BOS, ids, EOS, padding
  std::vector<int64_t> attentionMask;  // 1 on BOS..EOS, 0 on padding
  std::vector<std::string> truncated;  // queries cut to fit the row (the caller warns)
};

// Tokenizes queries with the manifest's row length and BOS/EOS/pad ids. Throws UsageError naming a
// query that gives no ids.
QueryTokens tokenizeQueries(const ClipTokenizer& tokenizer, const std::vector<std::string>& queries,
                            const OwlVitManifest& manifest);

struct Detection {
  int label = 0;    // query index: the column of the best logit
  float score = 0;  // sigmoid of that logit
  BoxXyxy box;      // original-image pixels, clipped to the image (SAM's box prompt)
  BoxXyxy detectorBox;  // as the detector predicted it; may reach past the image (textSam.py keeps it so)
};

struct DetectionOptions {
  float boxThreshold = 0.1f;     // keep score > threshold
  std::optional<double> nmsIou;  // per label: drop a box overlapping a better one by IoU > nmsIou
  int topK = 0;                  // keep the K best (0 = all)
};

// Normalised (cx, cy, w, h) -> XYXY in pixels of an image of `size`, in float32 as HF's
// center_to_corners_format followed by the scale to (w, h, w, h).
BoxXyxy boxCxcywhToXyxy(const std::array<float, 4>& cxcywh, cv::Size size);

// Clips a box to [0, W] x [0, H].
BoxXyxy clipBoxToImage(const BoxXyxy& box, cv::Size size);

// post_process_object_detection for one image: per box, score = sigmoid(max logit over the queries)
// and label = its query; boxes converted to XYXY pixels of the original image (the detector saw it
// resized to SxS without keeping the aspect, so x scales by W and y by H); kept when
// score > boxThreshold. Then: boxes clipped to the image (the unclipped one kept as detectorBox),
// those under 1 pixel wide or high dropped
// (no box prompt for SAM), per-label NMS, sorted by descending score (box order among equal ones),
// top-k. logits: CV_32FC1 [P, Q] (a column range of a larger output works), boxes: CV_32FC1 [P, 4].
std::vector<Detection> postprocessDetections(const cv::Mat& logits, const cv::Mat& boxes, cv::Size imageSize,
                                             const DetectionOptions& options);

struct DetectorOutput {
  cv::Mat logits;  // CV_32FC1 [P, Q]
  cv::Mat boxes;   // CV_32FC1 [P, 4]: (cx, cy, w, h) normalised to 0..1
};

class OwlVitDetector {
 public:
  // Loads the manifest's detector file onto the device chosen by `runtime`.
  OwlVitDetector(OwlVitManifest manifest, const RuntimeOptions& runtime);
  ~OwlVitDetector();
  OwlVitDetector(OwlVitDetector&&) noexcept;
  OwlVitDetector& operator=(OwlVitDetector&&) noexcept;

  const OwlVitManifest& manifest() const;

  // One detector pass over an RGB image (CV_8UC3) per kMaxQueryBatch queries (one pass for usual
  // query counts; thousands of queries stay within bounded memory), logits concatenated in query
  // order. Preprocessing is OwlViTImageProcessor's: PIL bicubic resize to SxS (aspect not kept),
  // x/255, (x - mean) / std.
  DetectorOutput detect(const cv::Mat& rgb, const QueryTokens& queries) const;
  static constexpr int kMaxQueryBatch = 64;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace samcli
