// The half of text_sam.hpp that runs the models. It lives in samcli, the LibTorch library, because
// that library defines the detector and the predictor; this file needs only their torch-free headers.
#include "samcli/text_sam.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include "samcli/error.hpp"
#include "samcli/image_io.hpp"
#include "samcli/log.hpp"
#include "samcli/text_input.hpp"

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
    QueryTokens tokens;  // the queries of the text sets, set after set
  };

  ImageQueries shared;
  std::map<std::string, ImageQueries> perImage;  // by image path
  TextSamOptions options;
  OwlVitDetector detector;
  Predictor predictor;
  std::map<std::string, cv::Mat> exampleEmbeddings;  // by example image path, [1, D] each

  const ImageQueries& queriesFor(const std::string& path) const {
    return perImage.empty() ? shared : perImage.at(path);
  }
  cv::Mat embeddingOf(const ExampleQuery& example, const std::string& path, const cv::Mat& rgb) const;
  std::vector<std::vector<MaskRecord>> segment(const ImageQueries& queries, const std::string& path, const cv::Mat& rgb);
};

namespace {

// Every set of a run, shared or per image.
template <class Visit>
void forEachSet(const TextSamQueries& queries, Visit visit) {
  for (const auto& set : queries.shared) visit(set);
  for (const auto& [image, sets] : queries.perImage) {
    for (const auto& set : sets) visit(set);
  }
}

// The pixels of an example box: the box rounded outward to whole pixels, within the image.
cv::Mat exampleCrop(const cv::Mat& rgb, const BoxXyxy& box, const std::string& path) {
  const BoxXyxy b = clipBoxToImage(box, rgb.size());
  const cv::Rect r(cv::Point(int(std::floor(b.x0)), int(std::floor(b.y0))),
                   cv::Point(int(std::ceil(b.x1)), int(std::ceil(b.y1))));
  if (r.width < 1 || r.height < 1) {
    throw Error(path + ": query box " + formatBox(box) + " has no pixels inside the " +
                std::to_string(rgb.cols) + "x" + std::to_string(rgb.rows) + " image");
  }
  return rgb(r).clone();
}

}  // namespace

TextSamPipeline::TextSamPipeline(TextSamQueries queries, const std::string& detectorModel, const std::string& samModel,
                                 const RuntimeOptions& runtime, const TextSamOptions& options) {
  const OwlVitManifest detectorManifest = readOwlVitManifest(resolveDetectorDir(detectorModel));
  const ClipTokenizer tokenizer = ClipTokenizer::fromBpeFile(
      (std::filesystem::path(detectorManifest.directory) / detectorManifest.bpeMergesFile).string());
  bool examples = false;
  std::map<std::string, cv::Mat> exampleImages;  // decoded before the slow model loading: errors first
  forEachSet(queries, [&](const QuerySet& set) {
    for (const auto& example : set.examples) {
      examples = true;
      if (!example.box && !exampleImages.count(example.imagePath)) {
        exampleImages[example.imagePath] = readImageRgb(example.imagePath);
      }
    }
  });
  if (examples && detectorManifest.formatVersion < 2) {
    throw Error("detector model '" + detectorManifest.directory + "' is of format 1, which takes text only: export " +
                "it again with weights/export_owlvit.py for example queries (--query-image, --query-box)");
  }
  std::set<std::string> warned;
  const auto tokenize = [&](std::vector<QuerySet> querySets) {
    std::vector<std::string> textQueries;
    for (const auto& set : querySets) {
      if (set.examples.empty()) textQueries.insert(textQueries.end(), set.queries.begin(), set.queries.end());
    }
    QueryTokens tokens = tokenizeQueries(tokenizer, textQueries, detectorManifest);
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

  impl_.reset(new Impl{std::move(shared), std::move(perImage), options, OwlVitDetector(detectorManifest, runtime),
                       Predictor(loadSamModel(samDir, runtime)), {}});
  for (const auto& [path, rgb] : exampleImages) impl_->exampleEmbeddings[path] = impl_->detector.embedExample(rgb);
}

TextSamPipeline::~TextSamPipeline() = default;

cv::Mat TextSamPipeline::Impl::embeddingOf(const ExampleQuery& example, const std::string& path,
                                           const cv::Mat& rgb) const {
  if (!example.box) return exampleEmbeddings.at(example.imagePath);
  return detector.embedExample(exampleCrop(rgb, *example.box, path));
}

// One image tower pass for every query set, then SAM on every box of every set in one decoder batch
// after a single image encoding. Returns one record list per set.
std::vector<std::vector<MaskRecord>> TextSamPipeline::Impl::segment(const ImageQueries& queries,
                                                                    const std::string& path, const cv::Mat& rgb) {
  const std::vector<QuerySet>& sets = queries.sets;
  auto start = std::chrono::steady_clock::now();
  cv::Mat examples;
  for (const auto& set : sets) {
    for (const auto& example : set.examples) examples.push_back(embeddingOf(example, path, rgb));
  }
  const DetectorOutput raw = detector.detect(rgb, queries.tokens, examples);
  std::vector<std::vector<Detection>> found;
  std::vector<Prompt> prompts;
  int textColumn = 0;
  int exampleColumn = queries.tokens.count;
  for (const auto& set : sets) {
    const int count = static_cast<int>(set.queries.size());
    if (set.examples.empty()) {
      found.push_back(postprocessDetections(raw.logits.colRange(textColumn, textColumn + count), raw.boxes, raw.frame,
                                            options.detection, raw.objectness));
      textColumn += count;
    } else {
      found.push_back(postprocessImageGuided(raw.logits.colRange(exampleColumn, exampleColumn + count), raw.boxes,
                                             raw.frame, options.detection, raw.objectness));
      exampleColumn += count;
    }
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
                       std::to_string(queries.tokens.count + examples.rows) + " queries, " + seconds(start) + "; SAM: ";

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
                       impl_->options.overlayPerDetection);
}

}  // namespace samcli
