#pragma once
// Open-vocabulary detection with OWL-ViT and OWLv2, as text-sam runs it: text queries become CLIP
// token rows, example images become query embeddings, one image tower pass per image serves every
// query, and the raw outputs go through Hugging Face's post_process_object_detection or
// post_process_image_guided_detection (plus optional NMS and top-k). The detector (LibTorch) stays
// behind a pimpl; everything else here is torch-free and unit-tested.
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
  std::optional<float> objectness;     // OWLv2: sigmoid of the box's objectness logit
  std::optional<float> relativeScore;  // example queries: post_process_image_guided_detection's score
};

struct DetectionOptions {
  float boxThreshold = 0.1f;     // keep score > threshold (example queries: score >= threshold, as HF)
  std::optional<double> nmsIou;  // text: per label, off by default; example queries: over all boxes, 0.3 by default
  int topK = 0;                  // keep the K best (0 = all)
};

// Where a detector's normalised boxes lie: 0..1 spans `frame` pixels from the image's top-left
// corner -- the image itself (OWL-ViT stretches it to the input) or OWLv2's padded square -- and
// boxes are clipped to `image`.
struct BoxFrame {
  BoxFrame() = default;
  BoxFrame(cv::Size imageSize) : frame(imageSize), image(imageSize) {}  // NOLINT: the usual case reads best implicit
  BoxFrame(cv::Size frameSize, cv::Size imageSize) : frame(frameSize), image(imageSize) {}
  cv::Size frame;
  cv::Size image;
};

// Normalised (cx, cy, w, h) -> XYXY in pixels of a frame of `size`, in float32 as HF's
// center_to_corners_format followed by the scale to (w, h, w, h).
BoxXyxy boxCxcywhToXyxy(const std::array<float, 4>& cxcywh, cv::Size size);

// Clips a box to [0, W] x [0, H].
BoxXyxy clipBoxToImage(const BoxXyxy& box, cv::Size size);

// post_process_object_detection for one image: per box, score = sigmoid(max logit over the queries)
// and label = its query; boxes converted to XYXY pixels of the frame (x scales by its width, y by its
// height); kept when score > boxThreshold. Then: boxes clipped to the image (the unclipped one kept
// as detectorBox), those under 1 pixel wide or high dropped (no box prompt for SAM), per-label NMS,
// sorted by descending score (box order among equal ones), top-k. logits: CV_32FC1 [P, Q] (a column
// range of a larger output works), boxes: CV_32FC1 [P, 4], objectness: CV_32FC1 [P, 1] or empty.
std::vector<Detection> postprocessDetections(const cv::Mat& logits, const cv::Mat& boxes, const BoxFrame& frame,
                                             const DetectionOptions& options, const cv::Mat& objectness = cv::Mat());

// post_process_image_guided_detection for one image, whose columns are example queries: score =
// sigmoid(max logit); greedy NMS over all boxes by descending score on the normalised boxes (a box
// overlapping a kept one by IoU > nmsIou, default 0.3, is dropped; off at 1); scores under
// boxThreshold dropped; kept where HF's relative score (score - 0.1 m) / (0.9 m), m = best score +
// 1e-6, is above 0. Then clipped, filtered, sorted and cut to top-k as postprocessDetections.
std::vector<Detection> postprocessImageGuided(const cv::Mat& logits, const cv::Mat& boxes, const BoxFrame& frame,
                                              const DetectionOptions& options, const cv::Mat& objectness = cv::Mat());

// What the detector makes of one image and its queries.
struct DetectorOutput {
  cv::Mat logits;      // CV_32FC1 [P, Q]: the text queries' columns, then the examples'
  cv::Mat boxes;       // CV_32FC1 [P, 4]: (cx, cy, w, h) normalised to 0..1 of `frame`
  cv::Mat objectness;  // CV_32FC1 [P, 1] logits (OWLv2), or empty
  BoxFrame frame;      // where the boxes lie in the image
};

class OwlVitDetector {
 public:
  // Loads the manifest's detector file onto the device chosen by `runtime`; a format-2 file must
  // have the methods of the split interface (docs/model-format.md).
  OwlVitDetector(OwlVitManifest manifest, const RuntimeOptions& runtime);
  ~OwlVitDetector();
  OwlVitDetector(OwlVitDetector&&) noexcept;
  OwlVitDetector& operator=(OwlVitDetector&&) noexcept;

  const OwlVitManifest& manifest() const;

  // One image tower pass over an RGB image (CV_8UC3), the text tower per kMaxQueryBatch queries
  // (thousands of queries stay within bounded memory) and the class head on every query: the text
  // queries' logits, then one column per row of `examples` (CV_32FC1 [E, D] from embedExample; may
  // be empty). Preprocessing is the manifest's: OwlViTImageProcessor's (PIL bicubic to SxS, aspect
  // not kept) or Owlv2ImageProcessor's (pad to a square with 0.5 grey at the bottom/right,
  // resizeAntialiasedLinear to SxS); both then normalise (x - mean) / std in float32.
  DetectorOutput detect(const cv::Mat& rgb, const QueryTokens& text, const cv::Mat& examples = cv::Mat()) const;
  static constexpr int kMaxQueryBatch = 64;

  // The query embedding of an example image (CV_8UC3), as image_guided_detection chooses it: the
  // embedding of the example's own predicted box that covers it best and stands out most from the
  // rest (CV_32FC1 [1, D]). Throws Error for a format-1 detector, which cannot take examples.
  cv::Mat embedExample(const cv::Mat& rgb) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace samcli
