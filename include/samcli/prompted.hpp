#pragma once
// Prompted segmentation as the sam-point and sam-box tools run it: predictions become records, and
// an image's records become its output folder (masks, overlay, JSON).
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "samcli/outputs.hpp"
#include "samcli/predictor.hpp"
#include "samcli/records.hpp"

namespace samcli {

// Throws Error naming the image when a point or box lies outside it (size = image size).
void checkPromptInside(const Prompt& prompt, cv::Size size, const std::string& imagePath);

// One prompt per box, each with the same clicks (sam-box: every box of an image in one batch).
std::vector<Prompt> boxPrompts(const std::vector<BoxXyxy>& boxes, const std::vector<PointXY>& points,
                               const std::vector<int>& labels);

// The index of the candidate with the highest predicted IoU (the first of equals): the mask SAM.py
// and the official notebooks keep from a multimask answer.
size_t bestPrediction(const std::vector<MaskPrediction>& predictions);

// One record per predicted mask, carrying the prompt (original pixels) and the whole-image crop box.
std::vector<MaskRecord> recordsFromPredictions(const Prompt& prompt, std::vector<MaskPrediction>& predictions,
                                               cv::Size imageSize);

// The records of many prompts, taken prompt by prompt as the decoder batches finish
// (Predictor::predictEach), with the low-res logits of the best-scored mask only: the one a
// refinement feeds back (session "refine", sam-point's best_logits.npy). Each full-resolution mask
// is released once measured (the writers decode it from its RLE, maskOf), so memory grows by a
// record's RLE per box; keeping every prediction took about 330 KB per box (a 256x256 float map
// and the mask), gigabytes for thousands of boxes.
class RecordCollector {
 public:
  explicit RecordCollector(cv::Size imageSize) : imageSize_(imageSize) {}
  void add(const Prompt& prompt, std::vector<MaskPrediction>& predictions);

  std::vector<MaskRecord> records;  // prompt by prompt, candidates in the decoder's order
  size_t best = 0;                  // the record with the highest predicted IoU (the first of equals)
  cv::Mat bestLowResLogits;         // its low-res logits

 private:
  cv::Size imageSize_;
};

// The image's document and a writer of its folder: {0..N-1.png, overlay.png, masks.json}.
// With panelPerMask the overlay shows each mask in its own panel titled "Mask i, score ..." (SAM.py's
// figures for multimask output); otherwise all masks in one panel. `arrays` are written as float32
// .npy files beside them.
ImageOutcome promptedResult(const std::string& imagePath, const cv::Mat& rgb, std::vector<MaskRecord> records, bool panelPerMask,
                            std::vector<std::pair<std::string, cv::Mat>> arrays = {});

}  // namespace samcli
