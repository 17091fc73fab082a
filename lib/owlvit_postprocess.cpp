// The torch-free half of samcli/owlvit.hpp: queries, tokens and detection post-processing.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
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

std::vector<Detection> postprocessDetections(const cv::Mat& logits, const cv::Mat& boxes, cv::Size imageSize,
                                             const DetectionOptions& options) {
  if (logits.type() != CV_32FC1 || boxes.type() != CV_32FC1 || boxes.cols != 4 || logits.rows != boxes.rows) {
    throw Error("detector outputs must be float logits [P,Q] and boxes [P,4] with the same P");
  }
  std::vector<Detection> found;
  if (logits.cols == 0) return found;
  for (int p = 0; p < logits.rows; ++p) {
    const float* row = logits.ptr<float>(p);
    const int label = static_cast<int>(std::max_element(row, row + logits.cols) - row);
    const float score = 1.0f / (1.0f + std::exp(-row[label]));
    if (!(score > options.boxThreshold)) continue;
    const float* b = boxes.ptr<float>(p);
    const BoxXyxy predicted = boxCxcywhToXyxy({b[0], b[1], b[2], b[3]}, imageSize);
    const BoxXyxy box = clipBoxToImage(predicted, imageSize);
    if (box.x1 - box.x0 < 1.0 || box.y1 - box.y0 < 1.0) continue;
    found.push_back({label, score, box, predicted});
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

  // Stable: box order breaks ties, so runs are reproducible.
  std::stable_sort(found.begin(), found.end(), [](const Detection& a, const Detection& b) { return a.score > b.score; });
  if (options.topK > 0 && static_cast<int>(found.size()) > options.topK) found.resize(options.topK);
  return found;
}

}  // namespace samcli
