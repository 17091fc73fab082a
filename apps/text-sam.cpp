// text-sam: objects named in text -> OWL-ViT boxes -> SAM masks (textSam.py's pipeline).
#include <optional>
#include <string>
#include <vector>

#include <samcli/batch_run.hpp>
#include <samcli/cli.hpp>
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
    "and <out>/<stem>/masks.json: one record per detection (SAM's fields; box = the detector's box\n"
    "clipped to the image, X0,Y0,X1,Y1 in pixels, SAM's prompt; detector_box = the box as the detector\n"
    "predicted it, possibly reaching past the image; label = the query, label_id, detector_score;\n"
    "query_set with --queries-from) and the queries. Nothing found: an empty list, a warning, exit 0.\n"
    "Exit codes: 0 success; 1 an image, model or output failed; 2 usage error.\n"
    "\n"
    "Models: --detector-model, a directory made by weights/export_owlvit.py or a name looked up as\n"
    "owlvit-<name> and <name> in the folders --model names (default $SAMCLI_DETECTOR); and the\n"
    "SAM model, --model or its alias --sam-model (default $SAMCLI_MODEL).\n"
    "\n"
    "Examples:\n"
    "  text-sam photo.jpg --text dog --detector-model base-patch32 --model vit_b\n"
    "  text-sam a.jpg b.jpg --text \"dog, person\" --box-threshold 0.2 --nms 0.5 --json -\n"
    "  text-sam street.jpg --text car --top-k 3 --mask-mode single\n"
    "  printf 'dog\\ncat, bird\\n' | text-sam photo.jpg --queries-from -   # out/photo/q1/, q2/\n"
    "  text-sam --prompts queries.jsonl -o out/   # {\"image\": \"a.jpg\", \"text\": \"dog, cat\"} per line";

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{kHelp, "text-sam"};
  CommonOptions common;
  addCommonOptions(app, common);
  TextSamOptions o;
  std::string detectorModel;
  std::vector<std::string> texts;
  std::string queriesFromPath;
  std::string maskMode = "all";
  double nmsIou = 0;
  CLI::Option* queriesFrom = app.add_option("--queries-from", queriesFromPath,
                                     "Query sets, one per line ('-' = stdin); each set gets its own folder qN")
                          ->type_name("FILE|-")
                          ->group("Prompt");
  CLI::Option* text = app.add_option("-t,--text", texts, "Queries to look for, comma-separated (repeatable)")
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
  app.add_option("--detector-model", detectorModel,
                 "OWL-ViT detector: a directory made by weights/export_owlvit.py, or a name (base-patch32, ...) "
                 "looked up under $SAMCLI_WEIGHTS, ./weights and <prefix>/share/samcli/weights (installed tools) or the "
                 "source tree's weights/ (tools in a build tree). Default: $SAMCLI_DETECTOR")
      ->type_name("DIR|NAME")
      ->group("Model");
  app.add_option("--sam-model", common.model, "Same as --model")
      ->type_name("DIR|NAME")
      ->excludes("--model")
      ->group("Model");
  app.add_option("--mask-mode", maskMode,
                 "all: one overlay with every mask; single: also one overlay per detection (overlay_<i>.png)")
      ->capture_default_str()
      ->check(CLI::IsMember({"single", "all"}))
      ->group("Output");

  return runTool(app, argc, argv, [&] {
    Log::setQuiet(common.quiet);
    if (nms->count() > 0) o.detection.nmsIou = nmsIou;
    o.overlayPerDetection = maskMode == "single";
    std::optional<PromptFile> file;
    if (!common.promptsPath.empty()) file = PromptFile::read(common.promptsPath);
    TextSamQueries queries = file ? queriesFromPromptFile(*file) : queriesFromOptions(texts, queriesFromPath);
    const std::vector<InputImage> inputs = file ? resolveInputs(common, file->inputs()) : resolveInputs(common);
    TextSamPipeline pipeline(std::move(queries), detectorModel, common.model, common.runtime, o);
    return processImages(common, inputs,
                         [&](const InputImage& input, const cv::Mat& rgb) { return pipeline.segment(input, rgb); });
  });
}
