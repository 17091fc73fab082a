// sam-eval's inputs and scoring: ground truth and predictions from folders or COCO JSON, paired by
// key and compared. Reports and gates are in eval_report.cpp.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

#include "samcli/error.hpp"
#include "samcli/eval_run.hpp"
#include "samcli/image_io.hpp"
#include "samcli/json_input.hpp"

namespace fs = std::filesystem;

namespace samcli {
namespace {

std::string sizeText(cv::Size s) { return std::to_string(s.width) + "x" + std::to_string(s.height); }

// How messages name a mask: "'gt/a.png'" or "'gt.json' image 'a.jpg'".
std::string describe(const std::string& path, const std::string& cocoImage) {
  return cocoImage.empty() ? "'" + path + "'" : "'" + path + "' image '" + cocoImage + "'";
}

// "a/b.png" (or "./a/b.png") -> "a/b"; '/' on every platform so keys from folders and COCO
// file_names compare.
std::string keyFromRelativePath(const fs::path& relative) {
  fs::path p = relative.lexically_normal();
  p.replace_extension();
  return p.generic_string();
}

std::string groupOfKey(const std::string& key) {
  const auto slash = key.rfind('/');
  return slash == std::string::npos ? "" : key.substr(0, slash);
}

std::string lastComponent(const std::string& key) { return key.substr(key.rfind('/') + 1); }

bool hasPngExtension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return ext == ".png";
}

// A COCO segmentation RLE ({"size":[h,w],"counts": string or list}); polygons are rejected because
// rasterising them differently from pycocotools would shift every boundary score.
Rle rleFromSegmentation(const nlohmann::json& seg, const std::string& where) {
  if (seg.is_array()) {
    throw Error(where + " is a polygon; sam-eval reads RLE segmentations only (convert polygons with "
                        "pycocotools.mask.frPyObjects)");
  }
  if (!seg.is_object() || !seg.contains("size") || !seg.contains("counts")) {
    throw Error(where + " has no RLE segmentation {\"size\":[h,w],\"counts\":...}");
  }
  const std::string field = where + " segmentation";
  const nlohmann::json& size = seg["size"];
  const auto side = [](const nlohmann::json& v) {
    return v.is_number_integer() && v.get<int64_t>() >= 1 && v.get<int64_t>() <= INT32_MAX;
  };
  if (!size.is_array() || size.size() != 2 || !side(size[0]) || !side(size[1])) {
    throwFieldError(field, "size", "must be [height, width] with positive integers, got " + jsonSnippet(size));
  }
  Rle rle;
  rle.height = size[0].get<int>();
  rle.width = size[1].get<int>();
  checkImageSize(rle.width, rle.height, field + " \"size\"");
  const uint64_t total = uint64_t(rle.height) * uint64_t(rle.width);
  const nlohmann::json& counts = seg["counts"];
  if (counts.is_string()) {
    try {
      rle.counts = rleCountsFromString(counts.get<std::string>());
    } catch (const Error& e) {
      throwFieldError(field, "counts", std::string("is invalid: ") + e.what());
    }
  } else if (counts.is_array()) {
    rle.counts.reserve(std::min<size_t>(counts.size(), total + 1));
    for (size_t i = 0; i < counts.size(); ++i) {
      const nlohmann::json& c = counts[i];
      // Checked one by one: get<uint32_t> would wrap -1 and truncate 2^40 silently.
      if (!c.is_number_integer() || c.get<int64_t>() < 0 || uint64_t(c.get<int64_t>()) > total) {
        throwFieldError(field, "counts", "holds " + jsonSnippet(c) + " at index " + std::to_string(i) +
                                              ": counts are run lengths between 0 and height x width");
      }
      rle.counts.push_back(uint32_t(c.get<int64_t>()));
    }
  } else {
    throwFieldError(field, "counts", "must be a compressed string or a list of run lengths, got " + jsonSnippet(counts));
  }
  // Checked here, where the annotation can still be named; decodeRle would check it later.
  uint64_t covered = 0;
  for (uint32_t c : rle.counts) covered += c;
  if (covered != total) {
    throw Error(where + " has an inconsistent RLE: its counts cover " + std::to_string(covered) + " pixels, not " +
                std::to_string(rle.height) + "x" + std::to_string(rle.width));
  }
  return rle;
}

double scoreOf(const nlohmann::json& j, const char* field) {
  const auto it = j.find(field);
  return it != j.end() && it->is_number() ? it->get<double>() : -std::numeric_limits<double>::infinity();
}

// What both sides read from a COCO dataset file, parsed and checked once.
struct CocoAnnotation {
  Rle rle;
  std::string category;  // read only with perCategory
  double score = 0;
};

struct CocoImage {
  std::string key;
  std::string fileName;
  cv::Size size;  // images[].width/height, else the size of its first RLE
  std::vector<CocoAnnotation> annotations;
};

struct CocoFile {
  std::vector<CocoImage> images;  // in file order
  std::vector<std::string> categories;
};

CocoAnnotation parseAnnotation(const nlohmann::json& annotation, const std::map<int64_t, std::string>& categories,
                               bool perCategory, CocoImage& image, const std::string& source) {
  const std::string where = "'" + source + "' annotation " +
                            (annotation.contains("id") ? "id " + jsonSnippet(annotation["id"])
                                                       : std::to_string(image.annotations.size())) +
                            " (image '" + image.fileName + "')";
  CocoAnnotation out;
  out.rle = rleFromSegmentation(annotation.value("segmentation", nlohmann::json()), where);
  const cv::Size rleSize(out.rle.width, out.rle.height);
  if (image.size.empty()) image.size = rleSize;
  if (rleSize != image.size) throw Error(where + " is " + sizeText(rleSize) + ", its image " + sizeText(image.size));
  out.score = scoreOf(annotation, "score");
  if (perCategory) {
    if (!annotation.contains("category_id")) throw Error(where + " has no category_id");
    const int64_t id = jsonInteger(annotation, "category_id", where, INT64_MIN, INT64_MAX);
    const auto it = categories.find(id);
    if (it == categories.end()) {
      throw Error(where + " has category_id " + std::to_string(id) + ", which \"categories\" does not list");
    }
    out.category = it->second;
  }
  return out;
}

CocoFile readCoco(const nlohmann::json& coco, const std::string& source, bool perCategory) {
  if (coco.is_array()) {
    throw Error("'" + source + "' is a COCO results list; sam-eval needs the dataset form with \"images\" and "
                "\"annotations\"");
  }
  if (!coco.is_object() || !coco.contains("images") || !coco["images"].is_array()) {
    throw Error("'" + source + "' is not a COCO dataset (no \"images\" array)");
  }
  CocoFile file;
  {
    std::map<int64_t, size_t> imageIndex;
    std::set<std::string> keys;
    for (size_t i = 0; i < coco["images"].size(); ++i) {
      const nlohmann::json& image = coco["images"][i];
      const std::string where = "'" + source + "' images[" + std::to_string(i) + "]";
      CocoImage entry;
      entry.fileName = jsonString(image, "file_name", where);
      entry.key = keyFromRelativePath(fs::path(entry.fileName));
      if (image.contains("width") && image.contains("height")) {
        entry.size = cv::Size(int(jsonInteger(image, "width", where, 1, INT32_MAX)),
                              int(jsonInteger(image, "height", where, 1, INT32_MAX)));
        checkImageSize(entry.size.width, entry.size.height, where + " ('" + entry.fileName + "')");
      }
      if (!keys.insert(entry.key).second) {
        throw Error("'" + source + "' lists two images named '" + entry.key + "' (file names without extension)");
      }
      const int64_t id = jsonInteger(image, "id", where, INT64_MIN, INT64_MAX);
      if (!imageIndex.emplace(id, file.images.size()).second) {
        throw Error("'" + source + "' lists image id " + std::to_string(id) + " twice");
      }
      file.images.push_back(std::move(entry));
    }
    std::map<int64_t, std::string> categories;
    const nlohmann::json noList = nlohmann::json::array();
    const nlohmann::json& categoryList = coco.contains("categories") ? coco["categories"] : noList;
    const nlohmann::json& annotationList = coco.contains("annotations") ? coco["annotations"] : noList;
    if (!categoryList.is_array() || !annotationList.is_array()) {
      throw Error("'" + source + "': \"categories\" and \"annotations\" must be lists");
    }
    for (size_t i = 0; i < categoryList.size(); ++i) {
      const std::string where = "'" + source + "' categories[" + std::to_string(i) + "]";
      const std::string name = jsonString(categoryList[i], "name", where);
      categories[jsonInteger(categoryList[i], "id", where, INT64_MIN, INT64_MAX)] = name;
      file.categories.push_back(name);
    }
    for (size_t i = 0; i < annotationList.size(); ++i) {
      const nlohmann::json& annotation = annotationList[i];
      const int64_t imageId =
          jsonInteger(annotation, "image_id", "'" + source + "' annotations[" + std::to_string(i) + "]", INT64_MIN,
                      INT64_MAX);
      const auto it = imageIndex.find(imageId);
      if (it == imageIndex.end()) {
        throw Error("'" + source + "': an annotation refers to image id " + std::to_string(imageId) +
                    ", which \"images\" does not list");
      }
      CocoImage& image = file.images[it->second];
      image.annotations.push_back(parseAnnotation(annotation, categories, perCategory, image, source));
    }
  }
  return file;
}

std::vector<GtItem> groundTruthFromFolder(const std::string& root) {
  std::vector<GtItem> items;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, ec), end; it != end && !ec; it.increment(ec)) {
    if (!it->is_regular_file(ec) || !hasPngExtension(it->path())) continue;
    GtItem item;
    item.key = keyFromRelativePath(it->path().lexically_relative(root));
    item.group = groupOfKey(item.key);
    item.path = it->path().string();
    items.push_back(std::move(item));
  }
  if (ec) throw Error("cannot list ground-truth folder '" + root + "': " + ec.message());
  if (items.empty()) throw Error("no ground-truth masks (*.png) found under '" + root + "'");
  return items;
}

}  // namespace

std::string itemName(const GtItem& item) { return item.category.empty() ? item.key : item.key + "/" + item.category; }

std::vector<GtItem> groundTruthFromCoco(const nlohmann::json& coco, const std::string& source, bool perCategory) {
  const CocoFile file = readCoco(coco, source, perCategory);
  std::vector<GtItem> items;
  for (const CocoImage& image : file.images) {
    if (image.size.empty()) {
      throw Error(describe(source, image.fileName) + " has neither width/height nor annotations to size its ground truth");
    }
    GtItem base;
    base.key = image.key;
    base.group = groupOfKey(image.key);
    base.path = source;
    base.cocoImage = image.fileName;
    base.size = image.size;
    if (!perCategory) {
      for (const auto& annotation : image.annotations) base.rles.push_back(annotation.rle);
      items.push_back(std::move(base));
      continue;
    }
    std::map<std::string, GtItem> byCategory;
    for (const auto& annotation : image.annotations) {
      auto [it, added] = byCategory.emplace(annotation.category, base);
      it->second.category = it->second.group = annotation.category;
      it->second.rles.push_back(annotation.rle);
    }
    for (auto& [category, item] : byCategory) items.push_back(std::move(item));
  }
  std::sort(items.begin(), items.end(), [](const GtItem& a, const GtItem& b) { return itemName(a) < itemName(b); });
  return items;
}

std::vector<GtItem> listGroundTruth(const std::string& path, bool perCategory) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error("ground truth '" + path + "': no such file or folder");
  if (!fs::is_directory(path, ec)) return groundTruthFromCoco(readJsonFile(path), path, perCategory);
  if (perCategory) {
    throw InvalidParameter({"per_category"},
                           "per_category needs a COCO JSON ground truth; in a folder the subfolders are the groups");
  }
  std::vector<GtItem> items = groundTruthFromFolder(path);
  std::sort(items.begin(), items.end(), [](const GtItem& a, const GtItem& b) { return a.key < b.key; });
  for (size_t i = 1; i < items.size(); ++i) {
    if (items[i].key == items[i - 1].key) {
      throw Error("ground truth '" + items[i - 1].path + "' and '" + items[i].path + "' have the same name");
    }
  }
  return items;
}

cv::Mat loadGtMask(const GtItem& item) {
  if (item.cocoImage.empty()) return readMask(item.path);
  cv::Mat mask = cv::Mat::zeros(item.size, CV_8UC1);
  for (const Rle& rle : item.rles) mask |= decodeRle(rle);
  return mask;
}

PredIndex predictionsFromCoco(const nlohmann::json& coco, const std::string& source, bool perCategory) {
  const CocoFile file = readCoco(coco, source, perCategory);
  PredIndex out;
  for (const CocoImage& image : file.images) {
    PredEntry base;
    base.kind = PredEntry::Kind::Coco;
    base.path = source;
    base.cocoImage = image.fileName;
    if (!perCategory) {
      for (const auto& annotation : image.annotations) base.candidates.push_back({annotation.rle, annotation.score});
      out.emplace(image.key, std::move(base));
      continue;
    }
    // An image the file lists is predicted: a category without annotations in it is an empty mask.
    std::map<std::string, PredEntry> byCategory;
    for (const std::string& category : file.categories) byCategory.emplace(category, base);
    for (const auto& annotation : image.annotations) {
      byCategory[annotation.category].candidates.push_back({annotation.rle, annotation.score});
    }
    for (auto& [category, entry] : byCategory) out.emplace(image.key + "/" + category, std::move(entry));
  }
  return out;
}

PredIndex indexPredictions(const std::string& path, bool perCategory) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error("predictions '" + path + "': no such file or folder");
  if (!fs::is_directory(path, ec)) return predictionsFromCoco(readJsonFile(path), path, perCategory);
  PredIndex index;
  for (fs::recursive_directory_iterator it(path, ec), end; it != end && !ec; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    const fs::path relative = it->path().lexically_relative(path);
    PredEntry entry;
    entry.path = it->path().string();
    std::string key;
    if (relative.filename() == "masks.json") {
      entry.kind = PredEntry::Kind::SamcliJson;
      key = relative.parent_path().generic_string();
    } else if (hasPngExtension(relative)) {
      key = keyFromRelativePath(relative);
    } else {
      continue;
    }
    const auto [existing, added] = index.emplace(key, entry);
    if (!added) {
      throw Error("predictions '" + existing->second.path + "' and '" + entry.path + "' are both for '" + key +
                  "'; keep one");
    }
  }
  if (ec) throw Error("cannot list predictions folder '" + path + "': " + ec.message());
  return index;
}

std::vector<const PredEntry*> matchPredictions(const std::vector<GtItem>& items, const PredIndex& index) {
  // Keys per last component; with --per-category one key has several items, which share it.
  std::map<std::string, std::set<std::string>> keysByStem;
  for (const GtItem& item : items) keysByStem[lastComponent(item.key)].insert(item.key);
  std::vector<const PredEntry*> matches;
  matches.reserve(items.size());
  for (const GtItem& item : items) {
    auto it = index.find(itemName(item));
    const std::string stem = lastComponent(item.key);
    if (it == index.end() && stem != item.key && keysByStem[stem].size() == 1) {
      it = index.find(item.category.empty() ? stem : stem + "/" + item.category);
    }
    matches.push_back(it == index.end() ? nullptr : &it->second);
  }
  return matches;
}

std::vector<PredCandidate> candidatesFromMasksJson(const nlohmann::json& doc, const std::string& source) {
  if (!doc.is_object() || !doc.contains("masks") || !doc["masks"].is_array()) {
    throw Error("'" + source + "' is not a samcli masks.json (no \"masks\" array)");
  }
  std::vector<PredCandidate> candidates;
  for (size_t i = 0; i < doc["masks"].size(); ++i) {
    const auto& record = doc["masks"][i];
    const std::string where = "'" + source + "' mask " + std::to_string(i);
    if (!record.is_object()) throw Error(where + " is not a mask record");
    candidates.push_back({rleFromSegmentation(record.value("segmentation", nlohmann::json()), where),
                          scoreOf(record, "predicted_iou")});
  }
  return candidates;
}

cv::Mat pickMask(const std::vector<PredCandidate>& candidates, MaskPick pick, cv::Size emptySize) {
  if (candidates.empty()) return cv::Mat::zeros(emptySize, CV_8UC1);
  switch (pick) {
    case MaskPick::First:
      return decodeRle(candidates.front().rle);
    case MaskPick::Best: {
      // max_element keeps the first of equal scores.
      const auto best = std::max_element(candidates.begin(), candidates.end(),
                                         [](const auto& a, const auto& b) { return a.score < b.score; });
      return decodeRle(best->rle);
    }
    case MaskPick::Union:
      break;
  }
  cv::Mat mask = decodeRle(candidates.front().rle);
  for (size_t i = 1; i < candidates.size(); ++i) {
    const cv::Mat other = decodeRle(candidates[i].rle);
    if (other.size() != mask.size()) {
      throw Error("candidate masks of different sizes (" + sizeText(mask.size()) + ", " + sizeText(other.size()) + ")");
    }
    mask |= other;
  }
  return mask;
}

cv::Mat loadPrediction(const PredEntry& entry, MaskPick pick, cv::Size gtSize) {
  if (entry.kind == PredEntry::Kind::Png) return readMask(entry.path);
  const bool inFile = entry.kind == PredEntry::Kind::SamcliJson;
  const std::vector<PredCandidate> fromFile =
      inFile ? candidatesFromMasksJson(readJsonFile(entry.path), entry.path) : std::vector<PredCandidate>{};
  try {
    return pickMask(inFile ? fromFile : entry.candidates, pick, gtSize);
  } catch (const Error& e) {
    throw Error(describe(entry.path, entry.cocoImage) + ": " + e.what());
  }
}

EvalReport evaluate(const EvalOptions& options) {
  // Predictions are indexed first so a wrong --pred fails before any ground truth is decoded.
  const PredIndex predictions = indexPredictions(options.predPath, options.perCategory);
  const std::vector<GtItem> items = listGroundTruth(options.gtPath, options.perCategory);
  const std::vector<const PredEntry*> matches = matchPredictions(items, predictions);
  std::vector<ImageResult> results;
  results.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    const GtItem& item = items[i];
    const PredEntry* entry = matches[i];
    ImageResult r;
    r.name = itemName(item);
    r.group = item.group;
    const cv::Mat gt = loadGtMask(item);
    r.gtArea = cv::countNonZero(gt);
    if (entry == nullptr) {
      r.status = options.skipMissing ? ImageResult::Status::Skipped : ImageResult::Status::Missing;
      results.push_back(std::move(r));
      continue;
    }
    const cv::Mat pred = loadPrediction(*entry, options.pick, gt.size());
    if (pred.size() != gt.size()) {
      throw Error("size mismatch for '" + r.name + "': prediction " + describe(entry->path, entry->cocoImage) + " is " +
                  sizeText(pred.size()) + ", ground truth " + describe(item.path, item.cocoImage) + " is " +
                  sizeText(gt.size()));
    }
    r.scores = compareMasks(pred, gt, options.boundaryTolerancePx);
    r.predArea = cv::countNonZero(pred);
    results.push_back(std::move(r));
  }
  return summarizeResults(std::move(results), options);
}

}  // namespace samcli
