#pragma once
// text-sam (textSam.py's pipeline): a run's queries, the pipeline that finds them in an image
// (OWL-ViT boxes, then SAM masks) and its results: a detection with its SAM mask becomes a record,
// and an image's records its output folder (mask PNGs, detections figure, overlays, masks.json).
// The pipeline runs the models (lib/text_sam_pipeline.cpp, LibTorch behind the detector's and the
// predictor's pimpls); queries and results are torch-free (lib/text_sam.cpp).
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "samcli/inputs.hpp"
#include "samcli/model.hpp"
#include "samcli/outputs.hpp"
#include "samcli/owlvit.hpp"
#include "samcli/predictor.hpp"
#include "samcli/prompt_file.hpp"
#include "samcli/records.hpp"

namespace samcli {

// An example of what to look for (image_guided_detection's query image): an image file, or a box
// cut from the image searched.
struct ExampleQuery {
  std::string imagePath;       // "" for a box
  std::optional<BoxXyxy> box;  // in the searched image's pixels
};

// Queries detected together; a detection's label indexes `queries`. A set is text queries, or
// example queries (then `queries` holds their labels: the file name, or "box x0,y0,x1,y1").
struct QuerySet {
  std::vector<std::string> queries;
  std::vector<ExampleQuery> examples;  // one per query when the set is examples, else empty
  std::string folder;  // inside the image folder: "" (the folder itself), or "q1", "q2", ...
};

// The query sets a run looks for in each image.
struct TextSamQueries {
  std::vector<QuerySet> shared;                           // every image's
  std::map<std::string, std::vector<QuerySet>> perImage;  // by image path; when not empty, instead of shared
};

// The same query sets for every image: the --text values as one set (each split on commas), or with
// `queriesFrom` (a file, "-" = standard input) one set per non-blank line, set N in the folder "qN".
// Throws UsageError when there is no query or one that splitQueries refuses, Error when the file
// cannot be read.
// With `queryImages` or `queryBoxes` (--query-image, --query-box; the caller keeps them apart from
// --text), one set of example queries instead, images first. Throws UsageError when there is no
// query or one that splitQueries refuses, Error when the file cannot be read.
TextSamQueries queriesFromOptions(const std::vector<std::string>& texts, const std::string& queriesFrom,
                                  const std::vector<std::string>& queryImages = {},
                                  const std::vector<BoxXyxy>& queryBoxes = {});

// Every prompt-file entry's queries as one query set for its image: its text, or its query_images
// and query_boxes. Throws UsageError naming an entry with neither, with both, or with a query that
// splitQueries refuses.
TextSamQueries queriesFromPromptFile(const PromptFile& file);

// The label of an example query in records and figures: the image's file name, or "box x0,y0,x1,y1".
std::string exampleLabel(const ExampleQuery& example);

// What the pipeline keeps of the detections, and what it writes besides the usual figures.
struct TextSamOptions {
  DetectionOptions detection;  // for example queries, nmsIou unset means HF's 0.3
  bool overlayPerDetection = false;  // also overlay_<i>.png, one mask each
};

class TextSamPipeline {
 public:
  // The models are directories or names: detectorModel as resolveDetectorDir, samModel as
  // resolveModelDir takes them. Reads the detector's manifest and tokenizer, tokenizes the queries
  // (a warning, once per query, for one cut to the detector's length) and checks the SAM model
  // directory before loading both models, so that anything wrong with them is reported before the
  // slow loading.
  TextSamPipeline(TextSamQueries queries, const std::string& detectorModel, const std::string& samModel,
                  const RuntimeOptions& runtime, const TextSamOptions& options);
  ~TextSamPipeline();

  // One image: one detector pass for all its query sets, then SAM on every box of every set in one
  // decoder batch after a single image encoding; its result as textSamResult makes it. Warns about
  // a set with nothing found and logs the stages' times.
  ImageOutcome segment(const InputImage& input, const cv::Mat& rgb);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The record of one detection and its single-mask SAM prediction: mask and SAM scores, the detector
// box clipped to the image as `box` (SAM's prompt), and the extra fields "label" (the query text or
// example label), "label_id" (its index in `queries`), "detector_score" and "detector_box" (the box
// as the detector predicted it, XYXY, possibly reaching past the image), plus "objectness" (OWLv2)
// and "relative_score" (example queries: HF's image-guided score) where the detection has them.
MaskRecord recordFromDetection(const Detection& detection, MaskPrediction& prediction,
                               const std::vector<std::string>& queries, cv::Size imageSize);

// textSam.py's detection figure: each record's box with a "<label> <score>" tag, in the colour its
// mask has in the overlay (maskColour of its index), under a title strip.
cv::Mat renderDetections(const cv::Mat& rgb, const std::vector<MaskRecord>& records, const std::string& title);

// The image's document and a writer of its folder (ImageOutputDir): for
// every query set, in its folder, <i>.png per detection (best score first), detections.png and
// overlay.png (all masks), and with overlayPerDetection also overlay_<i>.png (one mask each); then
// masks.json holding every record (mask_file relative to it; with set folders also "query_set", the
// 1-based set number) followed by "queries" (one set without folder) or "query_sets". `records[s]`
// belongs to `sets[s]`.
ImageOutcome textSamResult(const std::string& imagePath, const cv::Mat& rgb, const std::vector<QuerySet>& sets,
                           std::vector<std::vector<MaskRecord>> records, bool overlayPerDetection);

}  // namespace samcli
