#include "samcli/text_sam.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <opencv2/imgproc.hpp>

#include "samcli/error.hpp"
#include "samcli/outputs.hpp"
#include "samcli/prompted.hpp"
#include "samcli/text_input.hpp"

namespace samcli {
namespace {

std::string formatScore(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", v);
  return buf;
}

std::string tagOf(const MaskRecord& record) {
  return record.extra.value("label", std::string()) + " " + formatScore(record.extra.value("detector_score", 0.0));
}

QuerySet querySetOf(const std::vector<std::string>& texts, const std::string& source) {
  QuerySet set;
  for (const auto& text : texts) {
    for (auto& q : splitQueries(text, source)) set.queries.push_back(std::move(q));
  }
  return set;
}

}  // namespace

std::string exampleLabel(const ExampleQuery& example) {
  if (!example.box) return std::filesystem::path(example.imagePath).filename().string();
  return "box " + formatBox(*example.box);
}

namespace {

QuerySet exampleSet(const std::vector<std::string>& images, const std::vector<BoxXyxy>& boxes) {
  QuerySet set;
  for (const auto& image : images) set.examples.push_back({image, std::nullopt});
  for (const auto& box : boxes) set.examples.push_back({"", box});
  for (const auto& example : set.examples) set.queries.push_back(exampleLabel(example));
  return set;
}

}  // namespace

TextSamQueries queriesFromOptions(const std::vector<std::string>& texts, const std::string& queriesFrom,
                                  const std::vector<std::string>& queryImages, const std::vector<BoxXyxy>& queryBoxes) {
  TextSamQueries run;
  if (!queryImages.empty() || !queryBoxes.empty()) {
    run.shared = {exampleSet(queryImages, queryBoxes)};
    return run;
  }
  if (queriesFrom.empty()) {
    if (texts.empty()) {
      throw UsageError("nothing to look for: give --text \"dog, person\", --queries-from FILE, --query-image FILE, "
                       "--query-box X0,Y0,X1,Y1 or --prompts FILE");
    }
    run.shared = {querySetOf(texts, "--text")};
    return run;
  }
  std::vector<std::vector<std::string>> lines;
  if (queriesFrom == "-") {
    lines = readQuerySets(std::cin, "--queries-from '-'");
  } else {
    std::ifstream in(queriesFrom);
    if (!in || std::filesystem::is_directory(queriesFrom)) {
      throw Error("cannot read --queries-from '" + queriesFrom + "': no such file");
    }
    lines = readQuerySets(in, "--queries-from '" + queriesFrom + "'");
  }
  for (auto& queries : lines) run.shared.push_back({std::move(queries), {}, "q" + std::to_string(run.shared.size() + 1)});
  return run;
}

TextSamQueries queriesFromPromptFile(const PromptFile& file) {
  TextSamQueries run;
  for (const PromptEntry& entry : file.entries()) {
    const bool examples = !entry.queryImages.empty() || !entry.queryBoxes.empty();
    if (entry.texts.empty() && !examples) {
      throwPromptError(entry, "no \"text\", \"query_images\" or \"query_boxes\" for '" + entry.image +
                                  "' (text-sam needs queries)");
    }
    if (!entry.texts.empty() && examples) {
      throwPromptError(entry, "give \"text\" or example queries (\"query_images\", \"query_boxes\"), not both");
    }
    run.perImage[entry.image] = {examples ? exampleSet(entry.queryImages, entry.queryBoxes)
                                          : querySetOf(entry.texts, entry.where + " \"text\"")};
  }
  return run;
}

MaskRecord recordFromDetection(const Detection& detection, MaskPrediction& prediction,
                               const std::vector<std::string>& queries, cv::Size imageSize) {
  Prompt prompt;
  prompt.box = detection.box;
  std::vector<MaskPrediction> single{std::move(prediction)};
  MaskRecord record = std::move(recordsFromPredictions(prompt, single, imageSize).front());
  record.extra["label"] = queries.at(static_cast<size_t>(detection.label));
  record.extra["label_id"] = detection.label;
  record.extra["detector_score"] = detection.score;
  const BoxXyxy& d = detection.detectorBox;
  record.extra["detector_box"] = {d.x0, d.y0, d.x1, d.y1};
  if (detection.objectness) record.extra["objectness"] = *detection.objectness;
  if (detection.relativeScore) record.extra["relative_score"] = *detection.relativeScore;
  return record;
}

cv::Mat renderDetections(const cv::Mat& rgb, const std::vector<MaskRecord>& records, const std::string& title) {
  cv::Mat canvas = rgb.clone();
  // Sizes follow renderOverlay's, so the two figures of an image look alike.
  const double scale = std::max(rgb.cols, rgb.rows) / 1000.0;
  const int thickness = std::max(1, cvRound(2 * scale));
  const double fontScale = std::max(0.45, 0.6 * scale);
  std::vector<cv::Rect> placed;  // tags already drawn: a later tag moves down rather than hide one
  for (size_t i = 0; i < records.size(); ++i) {
    if (!records[i].box) continue;
    const BoxXyxy& b = *records[i].box;
    const cv::Vec3b c = maskColour(i);
    const cv::Scalar colour(c[0], c[1], c[2]);
    cv::rectangle(canvas, cv::Point2d(b.x0, b.y0), cv::Point2d(b.x1, b.y1), colour, thickness + 1, cv::LINE_AA);
    int baseline = 0;
    const std::string tag = tagOf(records[i]);
    const cv::Size text = cv::getTextSize(tag, cv::FONT_HERSHEY_SIMPLEX, fontScale, thickness, &baseline);
    // The tag sits on the box's top edge, inside the image when the box touches the top.
    const int x = std::clamp(cvRound(b.x0), 0, std::max(0, canvas.cols - text.width - 6));
    cv::Rect tagBox(x, std::max(0, cvRound(b.y0) - text.height - baseline - 6), text.width + 6,
                    text.height + baseline + 6);
    while (std::any_of(placed.begin(), placed.end(), [&](const cv::Rect& r) { return (r & tagBox).area() > 0; }) &&
           tagBox.y + 2 * tagBox.height <= canvas.rows) {
      tagBox.y += tagBox.height;
    }
    placed.push_back(tagBox);
    const int top = tagBox.y;
    cv::rectangle(canvas, tagBox, colour, cv::FILLED);
    const double luma = 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];
    cv::putText(canvas, tag, cv::Point(x + 3, top + text.height + 3), cv::FONT_HERSHEY_SIMPLEX, fontScale,
                luma > 140 ? cv::Scalar(0, 0, 0) : cv::Scalar(255, 255, 255), thickness, cv::LINE_AA);
  }
  return renderOverlay(canvas, {}, title, false);
}

ImageOutcome textSamResult(const std::string& imagePath, const cv::Mat& rgb, const std::vector<QuerySet>& sets,
                           std::vector<std::vector<MaskRecord>> records, bool overlayPerDetection) {
  if (sets.empty() || records.size() != sets.size()) throw Error("textSamResult: one record list per query set");
  const bool setFolders = !sets.front().folder.empty();
  std::vector<MaskRecord> all;
  for (size_t s = 0; s < sets.size(); ++s) {
    nameMaskFiles(records[s], sets[s].folder.empty() ? "" : sets[s].folder + "/");
    for (auto& r : records[s]) {
      if (setFolders) r.extra["query_set"] = s + 1;
    }
    all.insert(all.end(), records[s].begin(), records[s].end());
  }
  ImageOutcome outcome;
  outcome.doc = imageResultJson(imagePath, rgb.size(), all);
  if (setFolders) {
    auto list = nlohmann::ordered_json::array();
    for (size_t s = 0; s < sets.size(); ++s) {
      list.push_back({{"query_set", s + 1}, {"folder", sets[s].folder}, {"queries", sets[s].queries}});
    }
    outcome.doc["query_sets"] = std::move(list);
  } else {
    outcome.doc["queries"] = sets.front().queries;
  }
  const std::string json = dumpJson(outcome.doc);
  outcome.write = [rgb, sets, records = std::move(records), overlayPerDetection, json](ImageOutputDir& out) {
    for (size_t s = 0; s < sets.size(); ++s) {
      const std::string prefix = sets[s].folder.empty() ? "" : sets[s].folder + "/";
      const std::vector<MaskRecord>& set = records[s];
      out.writeMasks(set);
      std::vector<const MaskRecord*> masks;
      for (size_t i = 0; i < set.size(); ++i) {
        masks.push_back(&set[i]);
        if (overlayPerDetection) {
          out.writePng(prefix + "overlay_" + std::to_string(i) + ".png", renderOverlay(rgb, {&set[i]}, tagOf(set[i])));
        }
      }
      const std::string queries = joinQueries(sets[s].queries);
      out.writePng(prefix + "detections.png",
                   renderDetections(rgb, set, std::to_string(set.size()) + " detection(s): " + queries));
      out.writePng(prefix + "overlay.png", renderOverlay(rgb, masks, std::to_string(set.size()) + " mask(s): " + queries));
    }
    out.writeText("masks.json", json);
  };
  return outcome;
}

}  // namespace samcli
