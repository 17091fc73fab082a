#include "samcli/records.hpp"

#include <algorithm>
#include <numeric>

#include "samcli/mask_utils.hpp"

namespace samcli {

void measureMask(MaskRecord& record) {
  record.rle = encodeRle(record.mask);
  record.area = maskArea(record.mask);
  record.bbox = maskBboxXywh(record.mask);
}

cv::Mat maskOf(const MaskRecord& record) { return record.mask.empty() ? decodeRle(record.rle) : record.mask; }

std::vector<size_t> largestFirst(const std::vector<MaskRecord>& records) {
  std::vector<size_t> order(records.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return records[a].area > records[b].area; });
  return order;
}

nlohmann::ordered_json recordToJson(const MaskRecord& record) {
  nlohmann::ordered_json j;
  j["area"] = record.area;
  j["bbox"] = record.bbox;
  j["predicted_iou"] = record.predictedIou;
  j["stability_score"] = record.stabilityScore;
  auto points = nlohmann::ordered_json::array();
  for (const auto& p : record.pointCoords) points.push_back({p.x, p.y});
  j["point_coords"] = points;
  if (!record.pointLabels.empty()) j["point_labels"] = record.pointLabels;
  if (record.box) {
    j["box"] = {record.box->x0, record.box->y0, record.box->x1, record.box->y1};
  } else {
    j["box"] = nullptr;
  }
  j["crop_box"] = record.cropBox;
  if (!record.maskFile.empty()) j["mask_file"] = record.maskFile;
  j["segmentation"] = {{"size", {record.rle.height, record.rle.width}},
                       {"counts", rleCountsToString(record.rle.counts)}};
  for (const auto& [key, value] : record.extra.items()) j[key] = value;
  return j;
}

std::string dumpJson(const nlohmann::ordered_json& value, bool pretty) {
  // Linux file names and COCO strings may hold bytes that are not UTF-8, which JSON cannot carry:
  // each such byte becomes U+FFFD (README, "Outputs").
  return value.dump(pretty ? 2 : -1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string dumpJson(const nlohmann::json& value, bool pretty) {
  return value.dump(pretty ? 2 : -1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace samcli
