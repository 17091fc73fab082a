#include "samcli/prompted.hpp"

#include <cstdio>

#include "samcli/error.hpp"
#include "samcli/outputs.hpp"
#include "samcli/text_input.hpp"

namespace samcli {
namespace {

bool inside(double x, double y, cv::Size size) { return x >= 0 && y >= 0 && x <= size.width && y <= size.height; }

}  // namespace

void checkPromptInside(const Prompt& prompt, cv::Size size, const std::string& imagePath) {
  const std::string dims = std::to_string(size.width) + "x" + std::to_string(size.height);
  for (const auto& p : prompt.points) {
    if (!inside(p.x, p.y, size)) {
      throw Error("point " + formatNumber(p.x) + "," + formatNumber(p.y) + " is outside '" + imagePath + "' (" + dims + ")");
    }
  }
  if (prompt.box) {
    const BoxXyxy& b = *prompt.box;
    if (!inside(b.x0, b.y0, size) || !inside(b.x1, b.y1, size)) {
      throw Error("box is outside '" + imagePath + "' (" + dims + ")");
    }
    if (b.x1 - b.x0 < 1 || b.y1 - b.y0 < 1) {
      throw Error("box " + formatBox(b) + " is degenerate (needs width and height of at least 1 pixel)");
    }
  }
}

std::vector<Prompt> boxPrompts(const std::vector<BoxXyxy>& boxes, const std::vector<PointXY>& points,
                               const std::vector<int>& labels) {
  std::vector<Prompt> prompts;
  for (const auto& box : boxes) prompts.push_back(Prompt{points, labels, box, cv::Mat()});
  return prompts;
}

size_t bestPrediction(const std::vector<MaskPrediction>& predictions) {
  if (predictions.empty()) throw Error("no predicted mask to choose from");
  size_t best = 0;
  for (size_t i = 1; i < predictions.size(); ++i) {
    if (predictions[i].predictedIou > predictions[best].predictedIou) best = i;
  }
  return best;
}

std::vector<MaskRecord> recordsFromPredictions(const Prompt& prompt, std::vector<MaskPrediction>& predictions,
                                               cv::Size imageSize) {
  std::vector<MaskRecord> records;
  for (auto& p : predictions) {
    MaskRecord r;
    r.mask = p.mask;
    measureMask(r);
    r.predictedIou = p.predictedIou;
    r.stabilityScore = p.stabilityScore;
    r.pointCoords = prompt.points;
    r.pointLabels = prompt.labels;
    r.box = prompt.box;
    r.cropBox = {0, 0, imageSize.width, imageSize.height};
    records.push_back(std::move(r));
  }
  return records;
}

void RecordCollector::add(const Prompt& prompt, std::vector<MaskPrediction>& predictions) {
  const size_t c = bestPrediction(predictions);
  // Predicted IoUs are unbounded (negative ones occur): the first prompt's best always counts.
  if (records.empty() || predictions[c].predictedIou > records[best].predictedIou) {
    best = records.size() + c;
    bestLowResLogits = predictions[c].lowResLogits;
  }
  for (MaskRecord& r : recordsFromPredictions(prompt, predictions, imageSize_)) {
    r.mask.release();
    records.push_back(std::move(r));
  }
}

ImageOutcome promptedResult(const std::string& imagePath, const cv::Mat& rgb, std::vector<MaskRecord> records, bool panelPerMask,
                            std::vector<std::pair<std::string, cv::Mat>> arrays) {
  nameMaskFiles(records);
  ImageOutcome outcome;
  outcome.doc = imageResultJson(imagePath, rgb.size(), records);
  const std::string json = dumpJson(outcome.doc);
  outcome.write = [rgb, records = std::move(records), panelPerMask, arrays = std::move(arrays),
                   json](ImageOutputDir& out) {
    out.writeMasks(records);
    cv::Mat overlay;
    if (panelPerMask) {
      std::vector<cv::Mat> panels;
      for (size_t i = 0; i < records.size(); ++i) {
        panels.push_back(renderOverlay(rgb, {&records[i]},
                                       "Mask " + std::to_string(i + 1) + ", score " + formatNumber(records[i].predictedIou)));
      }
      overlay = sideBySide(panels);
    } else {
      std::vector<const MaskRecord*> all;
      for (const auto& r : records) all.push_back(&r);
      overlay = renderOverlay(rgb, all, std::to_string(records.size()) + " mask(s)");
    }
    out.writePng("overlay.png", overlay);
    for (const auto& [file, array] : arrays) writeNpy(out.pathFor(file), array);
    out.writeText("masks.json", json);
  };
  return outcome;
}

}  // namespace samcli
