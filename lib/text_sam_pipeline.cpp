// The half of text_sam.hpp that runs the models. It lives in samcli, the LibTorch library, because
// that library defines the detector and the predictor; this file needs only their torch-free headers.
#include "samcli/text_sam.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>

#include "samcli/log.hpp"

namespace samcli {
namespace {

std::string seconds(std::chrono::steady_clock::time_point since) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f s",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count());
  return buf;
}

}  // namespace

struct TextSamPipeline::Impl {
  // The query sets an image is searched for, and their detector input.
  struct ImageQueries {
    std::vector<QuerySet> sets;
    QueryTokens tokens;  // all queries of all sets, set after set
  };

  ImageQueries shared;
  std::map<std::string, ImageQueries> perImage;  // by image path
  DetectionOptions detection;
  bool overlayPerDetection;
  OwlVitDetector detector;
  Predictor predictor;

  const ImageQueries& queriesFor(const std::string& path) const {
    return perImage.empty() ? shared : perImage.at(path);
  }
  std::vector<std::vector<MaskRecord>> segment(const ImageQueries& queries, const std::string& path, const cv::Mat& rgb);
};

TextSamPipeline::TextSamPipeline(TextSamQueries queries, const std::string& detectorModel, const std::string& samModel,
                                 const RuntimeOptions& runtime, const TextSamOptions& options) {
  const OwlVitManifest detectorManifest = readOwlVitManifest(resolveDetectorDir(detectorModel));
  const ClipTokenizer tokenizer = ClipTokenizer::fromBpeFile(
      (std::filesystem::path(detectorManifest.directory) / detectorManifest.bpeMergesFile).string());
  std::set<std::string> warned;
  const auto tokenize = [&](std::vector<QuerySet> querySets) {
    std::vector<std::string> allQueries;
    for (const auto& set : querySets) allQueries.insert(allQueries.end(), set.queries.begin(), set.queries.end());
    QueryTokens tokens = tokenizeQueries(tokenizer, allQueries, detectorManifest);
    for (const auto& query : tokens.truncated) {
      if (!warned.insert(query).second) continue;
      Log::warning("query '" + query + "' is longer than the detector's " +
                   std::to_string(detectorManifest.maxTextLength - 2) + " tokens: only its beginning is used");
    }
    return Impl::ImageQueries{std::move(querySets), std::move(tokens)};
  };
  Impl::ImageQueries shared;
  std::map<std::string, Impl::ImageQueries> perImage;
  if (queries.perImage.empty()) {
    shared = tokenize(std::move(queries.shared));
  } else {
    for (auto& [image, imageSets] : queries.perImage) perImage.emplace(image, tokenize(std::move(imageSets)));
  }
  const std::string samDir = resolveModelDir(samModel);
  readSamManifest(samDir);

  impl_.reset(new Impl{std::move(shared), std::move(perImage), options.detection, options.overlayPerDetection,
                       OwlVitDetector(detectorManifest, runtime), Predictor(loadSamModel(samDir, runtime))});
}

TextSamPipeline::~TextSamPipeline() = default;

// One detector pass for every query set, then SAM on every box of every set in one decoder batch
// after a single image encoding. Returns one record list per set.
std::vector<std::vector<MaskRecord>> TextSamPipeline::Impl::segment(const ImageQueries& queries,
                                                                    const std::string& path, const cv::Mat& rgb) {
  const std::vector<QuerySet>& sets = queries.sets;
  auto start = std::chrono::steady_clock::now();
  const DetectorOutput raw = detector.detect(rgb, queries.tokens);
  std::vector<std::vector<Detection>> found;
  std::vector<Prompt> prompts;
  int column = 0;
  for (const auto& set : sets) {
    const int count = static_cast<int>(set.queries.size());
    found.push_back(postprocessDetections(raw.logits.colRange(column, column + count), raw.boxes, rgb.size(),
                                          detection));
    column += count;
    for (const auto& d : found.back()) {
      Prompt p;
      p.box = d.box;
      prompts.push_back(std::move(p));
    }
    if (found.back().empty()) {
      Log::warning(path + (set.folder.empty() ? "" : " " + set.folder) + ": nothing found for '" +
                   joinQueries(set.queries) + "' (no detector score above --box-threshold)");
    }
  }
  std::string timing = path + ": 1 detector pass for " + std::to_string(sets.size()) + " query set(s), " +
                       std::to_string(queries.tokens.count) + " queries, " + seconds(start) + "; SAM: ";

  start = std::chrono::steady_clock::now();
  std::vector<std::vector<MaskPrediction>> predictions;
  if (prompts.empty()) {
    timing += "skipped, no box";
  } else {
    predictor.setImage(rgb);
    predictions = predictor.predictBatch(prompts, false);
    timing += "image encoded once, " + std::to_string(prompts.size()) + " box(es) decoded in one batch, " +
              seconds(start);
  }
  Log::info(timing);

  std::vector<std::vector<MaskRecord>> records(sets.size());
  size_t next = 0;
  for (size_t s = 0; s < sets.size(); ++s) {
    for (const auto& d : found[s]) {
      records[s].push_back(recordFromDetection(d, predictions[next++].front(), sets[s].queries, rgb.size()));
    }
  }
  return records;
}

ImageOutcome TextSamPipeline::segment(const InputImage& input, const cv::Mat& rgb) {
  const Impl::ImageQueries& queries = impl_->queriesFor(input.path);
  return textSamResult(input.path, rgb, queries.sets, impl_->segment(queries, input.path, rgb),
                       impl_->overlayPerDetection);
}

}  // namespace samcli
