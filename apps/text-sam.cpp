// text-sam: objects named in text -> OWL-ViT boxes -> SAM masks (textSam.py's pipeline).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>

#include <samcli/batch_run.hpp>
#include <samcli/cli.hpp>
#include <samcli/error.hpp>
#include <samcli/image_io.hpp>
#include <samcli/owlvit.hpp>
#include <samcli/predictor.hpp>
#include <samcli/prompt_file.hpp>
#include <samcli/text_sam.hpp>

using namespace samcli;

namespace {

const char* kHelp =
    "Segment the objects named in text: OWL-ViT finds their boxes, SAM segments each box (all boxes of\n"
    "an image in one decoder batch, one mask per box). Pre- and post-processing are Hugging Face's\n"
    "OwlViTProcessor and post_process_object_detection, as in textSam.py.\n"
    "\n"
    "Queries: --text dog --text person, or --text \"dog, person\" (split on commas). Each box gets the\n"
    "query it scores best on as label, with score sigmoid(logit); boxes scoring <= --box-threshold are\n"
    "dropped, the rest clipped to the image. Queries go through CLIP's tokenizer: at most 14 tokens\n"
    "each for OWL-ViT (longer ones are cut, with a warning). An empty query, or one of only ASCII\n"
    "punctuation (\"???\"), is a usage error.\n"
    "\n"
    "--queries-from FILE|- runs many query sets on each image: one set per non-blank line, split on\n"
    "commas like --text. The image is processed once for all of them (one detector pass, one SAM image\n"
    "encoding, one decoder batch) and set N (N-th non-blank line) gets the folder <out>/<stem>/qN/.\n"
    "\n"
    "--prompts FILE gives every image its own queries (the entry's \"text\"), for a whole dataset in one\n"
    "process; results as with --text (see \"Prompt file\" below).\n"
    "\n"
    "Writes, per image, <out>/<stem>/ (per query set <out>/<stem>/qN/ with --queries-from):\n"
    "  <i>.png          mask of detection i (0/255, image size), best detector score first\n"
    "  detections.png   the boxes tagged \"<label> <score>\" (colours as in overlay.png)\n"
    "  overlay.png      all masks over the image\n"
    "  overlay_<i>.png  mask i alone, tagged like its box (--mask-mode single)\n"
    "and <out>/<stem>/masks.json: one record per detection (SAM's fields, box = the detector box\n"
    "X0,Y0,X1,Y1 in pixels, label = the query, label_id, detector_score; query_set with\n"
    "--queries-from) and the queries. Nothing found: an empty list, a warning, exit code 0.\n"
    "Exit codes: 0 success; 1 an image, model or output failed; 2 usage error.\n"
    "\n"
    "Models: --detector-model, a directory made by weights/export_owlvit.py or a name looked up as\n"
    "owlvit-<name> and <name> under $SAMCLI_WEIGHTS and ./weights (default $SAMCLI_DETECTOR); and the\n"
    "SAM model, --model or its alias --sam-model (default $SAMCLI_MODEL).\n"
    "\n"
    "Examples:\n"
    "  text-sam photo.jpg --text dog --detector-model base-patch32 --model vit_b\n"
    "  text-sam a.jpg b.jpg --text \"dog, person\" --box-threshold 0.2 --nms 0.5 --json -\n"
    "  text-sam street.jpg --text car --top-k 3 --mask-mode single\n"
    "  printf 'dog\\ncat, bird\\n' | text-sam photo.jpg --queries-from -   # out/photo/q1/, q2/\n"
    "  text-sam --prompts queries.jsonl -o out/   # {\"image\": \"a.jpg\", \"text\": \"dog, cat\"} per line";

struct TextSamOptions {
  std::vector<std::string> texts;
  std::string queriesFrom;
  std::string detectorModel;
  std::string maskMode = "all";
  DetectionOptions detection;
};

std::vector<QuerySet> querySets(const TextSamOptions& o) {
  if (o.queriesFrom.empty()) {
    if (o.texts.empty()) throw UsageError("nothing to look for: give --text \"dog, person\", --queries-from FILE or --prompts FILE");
    QuerySet set;
    for (const auto& text : o.texts) {
      for (auto& q : splitQueries(text, "--text")) set.queries.push_back(std::move(q));
    }
    return {set};
  }
  std::vector<std::vector<std::string>> lines;
  if (o.queriesFrom == "-") {
    lines = readQuerySets(std::cin, "--queries-from '-'");
  } else {
    std::ifstream in(o.queriesFrom);
    if (!in || std::filesystem::is_directory(o.queriesFrom)) {
      throw Error("cannot read --queries-from '" + o.queriesFrom + "': no such file");
    }
    lines = readQuerySets(in, "--queries-from '" + o.queriesFrom + "'");
  }
  std::vector<QuerySet> sets;
  for (auto& queries : lines) sets.push_back({std::move(queries), "q" + std::to_string(sets.size() + 1)});
  return sets;
}

std::string seconds(std::chrono::steady_clock::time_point since) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f s",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count());
  return buf;
}

// The query sets an image is searched for, and their detector input.
struct ImageQueries {
  std::vector<QuerySet> sets;
  QueryTokens tokens;  // all queries of all sets, set after set
};

// What every image of a run shares.
struct Pipeline {
  ImageQueries shared;                           // --text / --queries-from: every image
  std::map<std::string, ImageQueries> perImage;  // --prompts: by image path
  DetectionOptions detection;
  OwlVitDetector detector;
  Predictor predictor;

  const ImageQueries& queriesFor(const std::string& path) const {
    return perImage.empty() ? shared : perImage.at(path);
  }
};

// One image: one detector pass for every query set, then SAM on every box of every set in one
// decoder batch after a single image encoding. Returns one record list per set.
std::vector<std::vector<MaskRecord>> segmentImage(Pipeline& pipeline, const ImageQueries& queries,
                                                  const std::string& path, const cv::Mat& rgb) {
  const std::vector<QuerySet>& sets = queries.sets;
  auto start = std::chrono::steady_clock::now();
  const DetectorOutput raw = pipeline.detector.detect(rgb, queries.tokens);
  std::vector<std::vector<Detection>> found;
  std::vector<Prompt> prompts;
  int column = 0;
  for (const auto& set : sets) {
    const int count = static_cast<int>(set.queries.size());
    found.push_back(postprocessDetections(raw.logits.colRange(column, column + count), raw.boxes, rgb.size(),
                                          pipeline.detection));
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
    pipeline.predictor.setImage(rgb);
    predictions = pipeline.predictor.predictBatch(prompts, false);
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

// Every prompt-file entry's queries, as one query set per image. Throws UsageError naming an entry
// without text or with an empty query.
std::map<std::string, std::vector<QuerySet>> querySetsFromFile(const PromptFile& file) {
  std::map<std::string, std::vector<QuerySet>> sets;
  for (const PromptEntry& entry : file.entries()) {
    if (entry.texts.empty()) throwPromptError(entry, "no \"text\" for '" + entry.image + "' (text-sam needs queries)");
    QuerySet set;
    for (const auto& text : entry.texts) {
      for (auto& q : splitQueries(text, entry.where + " \"text\"")) set.queries.push_back(std::move(q));
    }
    sets[entry.image] = {std::move(set)};
  }
  return sets;
}

int run(const CommonOptions& common, const TextSamOptions& o) {
  std::optional<PromptFile> file;
  if (!common.promptsPath.empty()) file = PromptFile::read(common.promptsPath);
  const std::map<std::string, std::vector<QuerySet>> fileSets =
      file ? querySetsFromFile(*file) : std::map<std::string, std::vector<QuerySet>>();
  std::vector<QuerySet> sets = file ? std::vector<QuerySet>() : querySets(o);
  const std::vector<InputImage> inputs = file ? resolveInputs(common, file->inputs()) : resolveInputs(common);
  // Everything that can be wrong with the queries or the model directories is reported before the
  // (slow) model loading.
  const OwlVitManifest detectorManifest = readOwlVitManifest(resolveDetectorDir(o.detectorModel));
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
    return ImageQueries{std::move(querySets), std::move(tokens)};
  };
  ImageQueries shared;
  std::map<std::string, ImageQueries> perImage;
  if (file) {
    for (const auto& [image, imageSets] : fileSets) perImage.emplace(image, tokenize(imageSets));
  } else {
    shared = tokenize(std::move(sets));
  }
  const std::string samDir = resolveModelDir(common.model);
  readSamManifest(samDir);

  Pipeline pipeline{std::move(shared), std::move(perImage), o.detection,
                    OwlVitDetector(detectorManifest, common.runtime), Predictor(loadSamModel(samDir, common.runtime))};
  const ImageTask task = [&](const InputImage& input, const cv::Mat& rgb) {
    const ImageQueries& queries = pipeline.queriesFor(input.path);
    std::vector<std::vector<MaskRecord>> records = segmentImage(pipeline, queries, input.path, rgb);
    return textSamResult(input.path, rgb, queries.sets, std::move(records),
                         o.maskMode == "single");
  };
  return processImages(common, inputs, task);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{kHelp, "text-sam"};
  CommonOptions common;
  addCommonOptions(app, common);
  TextSamOptions o;
  double nmsIou = 0;
  CLI::Option* queriesFrom = app.add_option("--queries-from", o.queriesFrom,
                                     "Query sets, one per line ('-' = stdin); each set gets its own folder qN")
                          ->type_name("FILE|-")
                          ->group("Prompt");
  CLI::Option* text = app.add_option("-t,--text", o.texts, "Queries to look for, comma-separated (repeatable)")
                          ->allow_extra_args(false)
                          ->type_name("TEXT")
                          ->excludes(queriesFrom)
                          ->group("Prompt");
  addPromptFileOption(app, common,
                      "text-sam uses text (each entry needs one; all its queries form one query set, results in\n"
                      "<out>/<stem>/ as with --text); points, labels and boxes are ignored.")
      ->excludes(text)
      ->excludes(queriesFrom);
  app.add_option("--box-threshold", o.detection.boxThreshold, "Keep boxes whose detector score is above this")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0))
      ->group("Detection");
  auto* nms = app.add_option("--nms", nmsIou,
                             "Per-label non-maximum suppression: drop a box overlapping a better one of the same "
                             "label by IoU > this (default: off)")
                  ->type_name("IOU")
                  ->check(CLI::Range(0.0, 1.0))
                  ->group("Detection");
  app.add_option("--top-k", o.detection.topK, "Keep the N best detections per query set (0 = all)")
      ->type_name("N")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000000))
      ->group("Detection");
  app.add_option("--detector-model", o.detectorModel,
                 "OWL-ViT detector: a directory made by weights/export_owlvit.py, or a name (base-patch32, ...) "
                 "looked up under $SAMCLI_WEIGHTS and ./weights. Default: $SAMCLI_DETECTOR")
      ->type_name("DIR|NAME")
      ->group("Model");
  app.add_option("--sam-model", common.model, "Same as --model")
      ->type_name("DIR|NAME")
      ->excludes("--model")
      ->group("Model");
  app.add_option("--mask-mode", o.maskMode,
                 "all: one overlay with every mask; single: also one overlay per detection (overlay_<i>.png)")
      ->capture_default_str()
      ->check(CLI::IsMember({"single", "all"}))
      ->group("Output");

  return runTool(app, argc, argv, [&] {
    Log::setQuiet(common.quiet);
    if (nms->count() > 0) o.detection.nmsIou = nmsIou;
    return run(common, o);
  });
}
