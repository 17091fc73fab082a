#include "samcli/coco.hpp"

#include <algorithm>
#include <map>

#include "samcli/error.hpp"
#include "samcli/json_input.hpp"

namespace samcli {
namespace {

class Categories {
 public:
  int idOf(const std::string& name) {
    const auto [it, fresh] = ids_.emplace(name, int(ids_.size()) + 1);
    if (fresh) list_.push_back({{"id", it->second}, {"name", name}, {"supercategory", "object"}});
    return it->second;
  }
  nlohmann::ordered_json list() const { return list_; }

 private:
  std::map<std::string, int> ids_;
  nlohmann::ordered_json list_ = nlohmann::ordered_json::array();
};

std::string categoryOf(const nlohmann::ordered_json& mask) {
  if (mask.contains("label") && mask["label"].is_string()) return mask["label"].get<std::string>();
  if (mask.contains("class") && mask["class"].is_number_integer()) return "class " + std::to_string(mask["class"].get<int>());
  return "object";
}

// One image's results document (masks.json form) into `images` and `annotations`.
void addResults(const nlohmann::ordered_json& doc, Categories& categories, nlohmann::ordered_json& images,
                nlohmann::ordered_json& annotations) {
  const int imageId = int(images.size()) + 1;
  images.push_back({{"id", imageId}, {"file_name", doc.at("image")}, {"width", doc.at("width")},
                    {"height", doc.at("height")}});
  for (const auto& mask : doc.at("masks")) {
    if (mask.contains("class") && mask["class"] == 0) continue;
    const auto& b = mask.at("bbox");
    const bool empty = mask.at("area").get<int64_t>() == 0;
    // samcli's bbox holds inclusive maxima (SAM's convention); COCO's counts pixels.
    const nlohmann::ordered_json bbox = {b[0], b[1], empty ? 0 : b[2].get<int>() + 1, empty ? 0 : b[3].get<int>() + 1};
    annotations.push_back({{"id", int(annotations.size()) + 1},
                           {"image_id", imageId},
                           {"category_id", categories.idOf(categoryOf(mask))},
                           {"segmentation", mask.at("segmentation")},
                           {"area", mask.at("area")},
                           {"bbox", bbox},
                           {"iscrowd", 0},
                           {"score", mask.at("predicted_iou")},
                           {"stability_score", mask.at("stability_score")}});
  }
}

}  // namespace

nlohmann::ordered_json cocoFromResults(const std::vector<nlohmann::ordered_json>& imageDocs) {
  Categories categories;
  auto images = nlohmann::ordered_json::array();
  auto annotations = nlohmann::ordered_json::array();
  for (const auto& doc : imageDocs) {
    // Documents of skipped images come from masks.json files on disk, which may have been edited.
    try {
      addResults(doc, categories, images, annotations);
    } catch (const nlohmann::json::exception&) {
      throw Error("cannot write the COCO file: the results of image " +
                  jsonSnippet(doc.is_object() ? doc.value("image", nlohmann::ordered_json()) : nlohmann::ordered_json()) +
                  " lack a field or have one of the wrong type (an edited masks.json?)");
    }
  }
  nlohmann::ordered_json coco;
  coco["info"] = {{"description", "samcli results"}};
  coco["images"] = std::move(images);
  coco["annotations"] = std::move(annotations);
  coco["categories"] = categories.list();
  return coco;
}

nlohmann::ordered_json mergeCoco(const std::vector<std::pair<std::string, nlohmann::ordered_json>>& files) {
  // An image with its annotations, each annotation with its category's name until ids are given.
  struct MergedImage {
    nlohmann::ordered_json image;
    std::vector<std::pair<nlohmann::ordered_json, std::string>> annotations;
  };
  std::vector<MergedImage> merged;
  nlohmann::ordered_json info = {{"description", "samcli results"}};
  for (const auto& [path, coco] : files) {
    if (!coco.is_object() || !coco.contains("images") || !coco.contains("annotations") || !coco.contains("categories")) {
      throw Error("'" + path + "' is not a COCO file (needs images, annotations and categories)");
    }
    if (&coco == &files.front().second && coco.contains("info")) info = coco["info"];
    for (const char* list : {"images", "annotations", "categories"}) {
      if (!coco[list].is_array()) throw Error("'" + path + "': \"" + list + "\" must be a list");
    }
    // A named copy: structured bindings cannot be captured before C++20 (clang refuses).
    const std::string& file = path;
    const auto where = [&file](const char* list, size_t i) {
      return "malformed COCO file '" + file + "': " + list + "[" + std::to_string(i) + "]";
    };
    std::map<int64_t, std::string> categoryName;
    for (size_t i = 0; i < coco["categories"].size(); ++i) {
      const auto& c = coco["categories"][i];
      categoryName[jsonInteger(c, "id", where("categories", i), INT64_MIN, INT64_MAX)] =
          jsonString(c, "name", where("categories", i));
    }
    std::map<int64_t, size_t> imageAt;
    for (size_t i = 0; i < coco["images"].size(); ++i) {
      imageAt[jsonInteger(coco["images"][i], "id", where("images", i), INT64_MIN, INT64_MAX)] = merged.size();
      merged.push_back({coco["images"][i], {}});
    }
    for (size_t i = 0; i < coco["annotations"].size(); ++i) {
      const auto& a = coco["annotations"][i];
      const auto img = imageAt.find(jsonInteger(a, "image_id", where("annotations", i), INT64_MIN, INT64_MAX));
      const auto cat = categoryName.find(jsonInteger(a, "category_id", where("annotations", i), INT64_MIN, INT64_MAX));
      if (img == imageAt.end() || cat == categoryName.end()) {
        throw Error(where("annotations", i) + " (id " + jsonSnippet(a.value("id", nlohmann::ordered_json())) +
                    ") refers to a missing image or category");
      }
      merged[img->second].annotations.emplace_back(a, cat->second);
    }
  }
  // In file_name order, as one run over the same inputs lists its images: the merge of N shards is
  // then that run's file, and the order of the parts on the command line does not matter.
  const auto fileName = [](const MergedImage& m) {
    const auto it = m.image.find("file_name");
    return it != m.image.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  std::stable_sort(merged.begin(), merged.end(),
                   [&](const MergedImage& a, const MergedImage& b) { return fileName(a) < fileName(b); });
  Categories categories;
  auto images = nlohmann::ordered_json::array();
  auto annotations = nlohmann::ordered_json::array();
  for (auto& [image, imageAnnotations] : merged) {
    image["id"] = int(images.size()) + 1;
    for (auto& [a, category] : imageAnnotations) {
      a["id"] = int(annotations.size()) + 1;
      a["image_id"] = image["id"];
      a["category_id"] = categories.idOf(category);
      annotations.push_back(std::move(a));
    }
    images.push_back(std::move(image));
  }
  nlohmann::ordered_json result;
  result["info"] = info;
  result["images"] = std::move(images);
  result["annotations"] = std::move(annotations);
  result["categories"] = categories.list();
  return result;
}

}  // namespace samcli
