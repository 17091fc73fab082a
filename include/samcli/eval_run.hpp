#pragma once
// sam-eval's work: pair ground-truth masks with predictions (mask folders, samcli output folders or
// COCO JSON), score each pair with compareMasks, summarise overall and per group, format the report
// and decide the CI gates. Torch-free; the tool only parses options and prints.
//
// Keys: every mask is named by its path relative to the dataset root (or its COCO file_name),
// '/'-separated, without extension: gt/salmon/img_003.png -> "salmon/img_003". Its group is the
// folder part ("salmon"; "" at the top level) or, with --per-category, the COCO category.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "samcli/evaluation.hpp"
#include "samcli/rle.hpp"

namespace samcli {

// Which mask of a prediction with several candidates is scored: the highest score ("predicted_iou"
// in masks.json, "score" in COCO; candidates without one rank last, ties go to the first), the
// first, or the union of all.
enum class MaskPick { Best, First, Union };

struct EvalOptions {
  std::string predPath;
  std::string gtPath;
  MaskPick pick = MaskPick::Best;
  int boundaryTolerancePx = 2;
  bool skipMissing = false;  // leave images without a prediction out instead of scoring them 0
  bool perCategory = false;  // COCO ground truth: one item per (image, category) instead of per image
};

// One thing to score: a ground-truth image, or with --per-category one category in it.
struct GtItem {
  std::string key;       // see "Keys" above
  std::string category;  // COCO category name with --per-category, else ""
  std::string group;
  std::string path;       // the PNG, or the COCO file
  std::string cocoImage;  // COCO: the image's file_name, its size and the RLEs whose union is the object
  cv::Size size;
  std::vector<Rle> rles;
};

// "key" or, with a category, "key/category": where a prediction for the item is looked up.
std::string itemName(const GtItem& item);

// Every *.png under a folder (recursively, extension case-insensitive) or every image of a COCO JSON
// file (annotations as RLE, compressed or not; polygons are rejected), sorted by name. Throws Error
// naming the path when it is missing, unreadable, malformed or holds no mask.
std::vector<GtItem> listGroundTruth(const std::string& path, bool perCategory);
std::vector<GtItem> groundTruthFromCoco(const nlohmann::json& coco, const std::string& source, bool perCategory);
// The object as CV_8UC1 0/255 (the union of the item's annotations for COCO).
cv::Mat loadGtMask(const GtItem& item);

struct PredCandidate {
  Rle rle;
  double score = 0;
};

// Where one prediction comes from: a plain mask PNG, a samcli masks.json (candidates read when the
// prediction is loaded), or the candidates of a COCO file.
struct PredEntry {
  enum class Kind { Png, SamcliJson, Coco };
  Kind kind = Kind::Png;
  std::string path;
  std::string cocoImage;                  // Coco: the image's file_name and its candidates
  std::vector<PredCandidate> candidates;
};
using PredIndex = std::map<std::string, PredEntry>;

// Indexes a prediction folder (<name>.png and <name>/masks.json, recursively) or a COCO JSON file
// (images[].file_name; with perCategory one entry per image and category of its categories[]).
// Throws Error naming the path when it is missing or malformed, or when a name has both a PNG and a
// masks.json.
PredIndex indexPredictions(const std::string& path, bool perCategory);
PredIndex predictionsFromCoco(const nlohmann::json& coco, const std::string& source, bool perCategory);

// For each item, the index entry holding its prediction, or nullptr. Tries itemName(item); then,
// because the samcli tools write one flat <out>/<stem>/ folder per image, the key's last component
// alone (with the category appended) when no other item shares it.
std::vector<const PredEntry*> matchPredictions(const std::vector<GtItem>& items, const PredIndex& index);

// The candidates of a samcli masks.json document: segmentation RLE and predicted_iou of each mask.
std::vector<PredCandidate> candidatesFromMasksJson(const nlohmann::json& doc, const std::string& source);
// The chosen candidate as CV_8UC1 0/255; an empty mask of `emptySize` when there is none.
cv::Mat pickMask(const std::vector<PredCandidate>& candidates, MaskPick pick, cv::Size emptySize);
// Reads the prediction as CV_8UC1 0/255 (`gtSize` sizes an empty candidate list).
cv::Mat loadPrediction(const PredEntry& entry, MaskPick pick, cv::Size gtSize);

struct ImageResult {
  enum class Status { Scored, Missing, Skipped };
  std::string name;  // itemName
  std::string group;
  Status status = Status::Scored;
  MaskScores scores;  // all 0 when Missing; meaningless when Skipped
  int64_t gtArea = 0;
  int64_t predArea = 0;  // 0 unless Scored
};

struct MetricSummaries {
  Summary iou, dice, boundaryF;
};

struct GroupReport {
  std::string group;
  MetricSummaries metrics;
};

struct EvalReport {
  EvalOptions options;
  std::vector<ImageResult> images;  // by name
  MetricSummaries overall;          // over Scored and Missing images
  std::vector<GroupReport> groups;  // by name; empty when no image has a group
  size_t missing = 0;               // images without a prediction, scored 0
  size_t skipped = 0;               // images without a prediction, left out (--skip-missing)
};

// Summaries of per-image results, overall and per group.
EvalReport summarizeResults(std::vector<ImageResult> images, const EvalOptions& options);

// Reads both sides, scores every ground-truth item and summarises. Throws Error naming the file on
// unreadable input or when a prediction's size differs from its ground truth's.
EvalReport evaluate(const EvalOptions& options);

enum class ReportFormat { Text, Csv, Json, Markdown };
// text: aligned tables for a terminal; csv: one row per image, then per group ("level" group) and
// overall ("level" all) with means; json: everything (also the baseline for --baseline); markdown:
// summary, group and image tables for documents.
std::string formatReport(const EvalReport& report, ReportFormat format);
nlohmann::ordered_json reportToJson(const EvalReport& report);

// Mean IoUs of an earlier --format json report.
struct BaselineMeans {
  double meanIou = 0;
  std::map<std::string, double> groupMeanIou;
};
BaselineMeans baselineFromJson(const nlohmann::json& report, const std::string& source);
BaselineMeans readBaseline(const std::string& path);

struct GateOptions {
  std::optional<double> minMeanIou;     // fail when mean IoU < this
  std::optional<double> maxRegression;  // fail when baseline mean IoU - mean IoU > this (overall or a shared group)
};

// One message per failed gate, stating the numbers; empty when every gate passes. Differences
// within 1e-9 are rounding and count as equal, so a gate set at exactly the achieved value passes. A
// report that scored nothing fails any gate.
std::vector<std::string> checkGates(const EvalReport& report, const GateOptions& gates,
                                    const std::optional<BaselineMeans>& baseline);

}  // namespace samcli
