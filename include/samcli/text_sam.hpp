#pragma once
// text-sam's results: a detection with its SAM mask becomes a record, and an image's records its
// output folder (mask PNGs, detections figure, overlays, masks.json).
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "samcli/outputs.hpp"
#include "samcli/owlvit.hpp"
#include "samcli/predictor.hpp"
#include "samcli/records.hpp"

namespace samcli {

// Queries detected together; a detection's label indexes `queries`.
struct QuerySet {
  std::vector<std::string> queries;
  std::string folder;  // inside the image folder: "" (the folder itself), or "q1", "q2", ...
};

// The record of one detection and its single-mask SAM prediction: mask and SAM scores, the detector
// box clipped to the image as `box` (SAM's prompt), and the extra fields "label" (the query text),
// "label_id" (its index in `queries`), "detector_score" and "detector_box" (the box as the
// detector predicted it, XYXY, possibly reaching past the image).
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
