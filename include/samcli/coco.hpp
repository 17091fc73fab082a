#pragma once
// COCO instance-segmentation files (what CVAT, Label Studio and pycocotools read) from a run's
// per-image documents, and the merge of several such files (one per shard) into one.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace samcli {

// images [{id, file_name, width, height}], annotations [{id, image_id, category_id, segmentation
// (compressed RLE), area, bbox [x,y,w,h] in pixel extents as pycocotools' toBbox, score (the
// predicted IoU), iscrowd 0, stability_score}], categories [{id, name}]. A mask's category is its
// "label" (text-sam), else "class <k>" (sam-semantic, k > 0), else "object". Unlabelled semantic
// masks (class 0) are left out.
nlohmann::ordered_json cocoFromResults(const std::vector<nlohmann::ordered_json>& imageDocs);

// Joins COCO files into the file one run over all their images would write: images in file_name
// order (stable for equal names), each with its annotations, ids renumbered, categories unified by
// name and numbered as first met, the first file's info kept. Throws Error naming the file when
// one is not a COCO object (images/annotations/categories) or an annotation's image or category
// is missing.
nlohmann::ordered_json mergeCoco(const std::vector<std::pair<std::string, nlohmann::ordered_json>>& files);

}  // namespace samcli
