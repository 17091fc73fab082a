// The torch-free half of samcli/owlvit.hpp: queries, tokens and detection post-processing.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <optional>
#include <sstream>

#include "samcli/clip_tokenizer.hpp"
#include "samcli/error.hpp"
#include "samcli/mask_utils.hpp"
#include "samcli/owlvit.hpp"
#include "samcli/text_input.hpp"

namespace samcli {
namespace {

std::string trimAscii(const std::string& s) {
  const char* space = " \t\r\n\f\v";
  const size_t first = s.find_first_not_of(space);
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(space) - first + 1);
}

bool onlyAsciiPunctuation(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 128 && (std::ispunct(u) || std::isspace(u));
  });
}

// The text with every byte outside ASCII as \xHH: how a query that is not UTF-8 is shown.
std::string escapedBytes(const std::string& s) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out += c;
    } else {
      out += std::string("\\x") + hex[u >> 4] + hex[u & 15];
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> splitQueries(const std::string& text, const std::string& source) {
  std::vector<std::string> queries;
  std::stringstream pieces(text);
  std::string piece;
  while (std::getline(pieces, piece, ',')) {
    piece = trimAscii(piece);
    if (piece.empty()) continue;
    // JSON outputs carry the query; CLIP's tokenizer would read garbage. Refused before any model runs.
    if (!isValidUtf8(piece)) {
      throw UsageError("query '" + escapedBytes(piece) + "' in " + source + " is not valid UTF-8");
    }
    if (onlyAsciiPunctuation(piece)) {
      throw UsageError("query '" + piece + "' in " + source + " is only punctuation: nothing to look for");
    }
    queries.push_back(piece);
  }
  if (queries.empty()) {
    throw UsageError(source + " '" + text + "' has no query: give the things to look for, e.g. \"dog, person\"");
  }
  return queries;
}

std::string joinQueries(const std::vector<std::string>& queries) {
  std::string text;
  for (const auto& q : queries) text += (text.empty() ? "" : ", ") + q;
  return text;
}

std::vector<std::vector<std::string>> readQuerySets(std::istream& in, const std::string& source) {
  std::vector<std::vector<std::string>> sets;
  std::string line;
  LineReader lines(in, source);
  while (lines.next(line)) {
    if (trimAscii(line).empty()) continue;
    sets.push_back(splitQueries(line, source + " line " + std::to_string(lines.lineNumber())));
  }
  if (in.bad()) throw Error("cannot read " + source);
  if (sets.empty()) {
    throw UsageError(source + " has no queries (one query set per line, e.g. \"dog, person\")");
  }
  return sets;
}

QueryTokens tokenizeQueries(const ClipTokenizer& tokenizer, const std::vector<std::string>& queries,
                            const OwlVitManifest& manifest) {
  QueryTokens tokens;
  tokens.count = static_cast<int>(queries.size());
  tokens.length = manifest.maxTextLength;
  for (const auto& query : queries) {
    ClipTokenizer::TokenizedText row;
    try {
      row = tokenizer.tokenizeForModel(query, manifest.maxTextLength, manifest.bosId, manifest.eosId, manifest.padId);
    } catch (const Error& e) {
      throw UsageError("query '" + query + "': " + e.what());
    }
    if (row.truncated) tokens.truncated.push_back(query);
    tokens.inputIds.insert(tokens.inputIds.end(), row.inputIds.begin(), row.inputIds.end());
    tokens.attentionMask.insert(tokens.attentionMask.end(), row.attentionMask.begin(), row.attentionMask.end());
  }
  return tokens;
}

BoxXyxy boxCxcywhToXyxy(const std::array<float, 4>& cxcywh, cv::Size size) {
  const auto w = static_cast<float>(size.width);
  const auto h = static_cast<float>(size.height);
  const float x0 = (cxcywh[0] - 0.5f * cxcywh[2]) * w;
  const float y0 = (cxcywh[1] - 0.5f * cxcywh[3]) * h;
  const float x1 = (cxcywh[0] + 0.5f * cxcywh[2]) * w;
  const float y1 = (cxcywh[1] + 0.5f * cxcywh[3]) * h;
  return {x0, y0, x1, y1};
}

BoxXyxy clipBoxToImage(const BoxXyxy& box, cv::Size size) {
  const auto clampX = [&](double x) { return std::clamp(x, 0.0, static_cast<double>(size.width)); };
  const auto clampY = [&](double y) { return std::clamp(y, 0.0, static_cast<double>(size.height)); };
  return {clampX(box.x0), clampY(box.y0), clampX(box.x1), clampY(box.y1)};
}

namespace {

void checkOutputs(const cv::Mat& logits, const cv::Mat& boxes, const cv::Mat& objectness) {
  if (logits.type() != CV_32FC1 || boxes.type() != CV_32FC1 || boxes.cols != 4 || logits.rows != boxes.rows ||
      (!objectness.empty() && (objectness.type() != CV_32FC1 || objectness.rows != boxes.rows))) {
    throw Error("detector outputs must be float logits [P,Q], boxes [P,4] and objectness [P,1] with the same P");
  }
}

float sigmoid(float logit) { return 1.0f / (1.0f + std::exp(-logit)); }

// Score and label of every box: sigmoid of the best logit over the columns, and its column.
void bestQuery(const cv::Mat& logits, int p, int& label, float& score) {
  const float* row = logits.ptr<float>(p);
  label = static_cast<int>(std::max_element(row, row + logits.cols) - row);
  score = sigmoid(row[label]);
}

// The detection of box p, or nothing when it has no area in the image (no box prompt for SAM).
std::optional<Detection> detectionOf(const cv::Mat& boxes, const cv::Mat& objectness, int p, int label, float score,
                                     const BoxFrame& frame) {
  const float* b = boxes.ptr<float>(p);
  const BoxXyxy predicted = boxCxcywhToXyxy({b[0], b[1], b[2], b[3]}, frame.frame);
  const BoxXyxy box = clipBoxToImage(predicted, frame.image);
  if (box.x1 - box.x0 < 1.0 || box.y1 - box.y0 < 1.0) return std::nullopt;
  Detection d{label, score, box, predicted, std::nullopt, std::nullopt};
  if (!objectness.empty()) d.objectness = sigmoid(objectness.at<float>(p, 0));
  return d;
}

// Stable: box order breaks ties, so runs are reproducible.
std::vector<Detection> sortAndCut(std::vector<Detection> found, int topK) {
  std::stable_sort(found.begin(), found.end(), [](const Detection& a, const Detection& b) { return a.score > b.score; });
  if (topK > 0 && static_cast<int>(found.size()) > topK) found.resize(topK);
  return found;
}

// IoU of two XYXY boxes in float32, as HF's box_iou computes it.
float iouFloat(const float* a, const float* b) {
  const float areaA = (a[2] - a[0]) * (a[3] - a[1]);
  const float areaB = (b[2] - b[0]) * (b[3] - b[1]);
  const float w = std::max(0.0f, std::min(a[2], b[2]) - std::max(a[0], b[0]));
  const float h = std::max(0.0f, std::min(a[3], b[3]) - std::max(a[1], b[1]));
  const float inter = w * h;
  return inter / (areaA + areaB - inter);
}

}  // namespace

std::vector<Detection> postprocessDetections(const cv::Mat& logits, const cv::Mat& boxes, const BoxFrame& frame,
                                             const DetectionOptions& options, const cv::Mat& objectness) {
  checkOutputs(logits, boxes, objectness);
  std::vector<Detection> found;
  if (logits.cols == 0) return found;
  for (int p = 0; p < logits.rows; ++p) {
    int label = 0;
    float score = 0;
    bestQuery(logits, p, label, score);
    if (!(score > options.boxThreshold)) continue;
    if (auto d = detectionOf(boxes, objectness, p, label, score, frame)) found.push_back(*d);
  }

  if (options.nmsIou) {
    std::map<int, std::vector<size_t>> byLabel;
    for (size_t i = 0; i < found.size(); ++i) byLabel[found[i].label].push_back(i);
    std::vector<char> keep(found.size(), 0);
    for (const auto& [label, members] : byLabel) {
      std::vector<BoxXyxy> labelBoxes;
      std::vector<float> labelScores;
      for (size_t i : members) {
        labelBoxes.push_back(found[i].box);
        labelScores.push_back(found[i].score);
      }
      for (int k : nmsBoxes(labelBoxes, labelScores, *options.nmsIou)) keep[members[k]] = 1;
    }
    std::vector<Detection> kept;
    for (size_t i = 0; i < found.size(); ++i) {
      if (keep[i]) kept.push_back(found[i]);
    }
    found = std::move(kept);
  }
  return sortAndCut(std::move(found), options.topK);
}

std::vector<Detection> postprocessImageGuided(const cv::Mat& logits, const cv::Mat& boxes, const BoxFrame& frame,
                                              const DetectionOptions& options, const cv::Mat& objectness) {
  checkOutputs(logits, boxes, objectness);
  std::vector<Detection> found;
  if (logits.cols == 0 || logits.rows == 0) return found;
  const int count = logits.rows;
  std::vector<int> labels(count);
  std::vector<float> scores(count);
  std::vector<std::array<float, 4>> corners(count);
  for (int p = 0; p < count; ++p) {
    bestQuery(logits, p, labels[p], scores[p]);
    const float* b = boxes.ptr<float>(p);
    corners[p] = {b[0] - 0.5f * b[2], b[1] - 0.5f * b[3], b[0] + 0.5f * b[2], b[1] + 0.5f * b[3]};
  }
  const std::vector<float> original = scores;
  const double nms = options.nmsIou.value_or(0.3);
  if (nms < 1.0) {
    std::vector<int> order(count);
    for (int p = 0; p < count; ++p) order[p] = p;
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return scores[a] > scores[b]; });
    for (int i : order) {
      if (scores[i] == 0.0f) continue;
      for (int j = 0; j < count; ++j) {
        if (j != i && iouFloat(corners[i].data(), corners[j].data()) > nms) scores[j] = 0.0f;
      }
    }
  }
  if (std::none_of(scores.begin(), scores.end(), [](float s) { return s != 0.0f; })) return found;
  for (float& s : scores) {
    if (s < options.boxThreshold) s = 0.0f;
  }
  const float best = *std::max_element(scores.begin(), scores.end()) + 1e-6f;
  for (int p = 0; p < count; ++p) {
    const float relative = std::clamp((scores[p] - best * 0.1f) / (best * 0.9f), 0.0f, 1.0f);
    if (!(relative > 0.0f)) continue;
    if (auto d = detectionOf(boxes, objectness, p, labels[p], original[p], frame)) {
      d->relativeScore = relative;
      found.push_back(*d);
    }
  }
  return sortAndCut(std::move(found), options.topK);
}

}  // namespace samcli
