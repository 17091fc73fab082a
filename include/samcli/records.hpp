#pragma once
// The record every tool emits per mask, and its JSON form. Keys are written in a fixed order and
// floats with the shortest round-trip representation, so outputs diff cleanly between runs.
#include <array>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "samcli/geometry.hpp"
#include "samcli/rle.hpp"

namespace samcli {

struct MaskRecord {
  cv::Mat mask;  // CV_8UC1 0/255 at image size; may be released once encoded (rle stays)
  Rle rle;
  int64_t area = 0;
  std::array<int, 4> bbox{};  // XYWH, official convention (see maskBboxXywh)
  double predictedIou = 0;
  double stabilityScore = 0;
  std::vector<PointXY> pointCoords;  // original-image pixels
  std::vector<int> pointLabels;
  std::optional<BoxXyxy> box;        // the box prompt, if any
  std::array<int, 4> cropBox{};      // XYWH of the crop the mask came from (whole image: 0,0,W,H)
  std::string maskFile;              // relative to the JSON file, once written
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();  // tool-specific fields
};

// Fills rle, area and bbox from record.mask.
void measureMask(MaskRecord& record);

// The record's mask, decoded from its RLE when the full-resolution mask was released.
cv::Mat maskOf(const MaskRecord& record);

// Record indices by decreasing area (stable): the order to paint overlapping masks in, so that small
// ones lying on larger ones stay visible.
std::vector<size_t> largestFirst(const std::vector<MaskRecord>& records);

// {"area","bbox","predicted_iou","stability_score","point_coords","point_labels","box","crop_box",
//  "mask_file","segmentation":{"size":[h,w],"counts":"<COCO compressed>"}, ...extra}
nlohmann::ordered_json recordToJson(const MaskRecord& record);

// Serialises a JSON value with a trailing newline (indent 2 when pretty). Bytes that are not UTF-8
// (Linux file names may hold any) are written as U+FFFD, the one rule every samcli JSON output
// follows, instead of failing.
std::string dumpJson(const nlohmann::ordered_json& value, bool pretty = true);
std::string dumpJson(const nlohmann::json& value, bool pretty = true);

}  // namespace samcli
