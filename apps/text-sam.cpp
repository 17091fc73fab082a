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
    "Segment the objects named in text, or like an example: an OWL-ViT or OWLv2 detector finds their\n"
    "boxes, SAM segments each box (all boxes of an image in one decoder batch, one mask per box). Pre-\n"
    "and post-processing are Hugging Face's (OwlViTProcessor / Owlv2Processor, post_process_object_detection,\n"
    "post_process_image_guided_detection), as in textSam.py.\n"
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
    "Examples instead of words: --query-image EXAMPLE.png finds every object like the one the example\n"
    "shows (HF's image_guided_detection: the example's own best-covering box embedding is the query);\n"
    "--query-box X0,Y0,X1,Y1 takes the example from that box of each image searched (its pixels, as if\n"
    "cut out and given as --query-image). Both repeat; each example is a query, labelled by its file\n"
    "name or \"box X0,Y0,X1,Y1\". Boxes are kept as post_process_image_guided_detection keeps them: NMS\n"
    "over all boxes (--nms, default 0.3 here), then those within 10x of the best score; the record's\n"
    "relative_score is HF's score for them. Needs a detector exported by this samcli (format 2).\n"
    "\n"
    "--prompts FILE gives every image its own queries (the entry's \"text\", or its \"query_images\" and\n"
    "\"query_boxes\"), for a whole dataset in one process; results as with --text (see \"Prompt file\").\n"
    "\n"
    "Which detector (weights/export_owlvit.py; detector time per image on 2 CPU threads, measured by\n"
    "bench/detector_speed.py):\n"
    "  owlvit-base-patch32          768 px, 1.4 s: fastest; coarse boxes, fine for large objects\n"
    "  owlvit-base-patch16          768 px, 5.3 s: finer boxes for small objects\n"
    "  owlv2-base-patch16-ensemble  960 px padded square, 8.9 s: the most accurate, with an objectness\n"
    "                               score per box (record field objectness)\n"
    "An example image costs one more image pass of the detector, once per run.\n"
    "\n"
    "Writes, per image, <out>/<stem>/ (per query set <out>/<stem>/qN/ with --queries-from):\n"
    "  <i>.png          mask of detection i (0/255, image size), best detector score first\n"
    "  detections.png   the boxes tagged \"<label> <score>\" (colours as in overlay.png)\n"
    "  overlay.png      all masks over the image\n"
    "  overlay_<i>.png  mask i alone, tagged like its box (--mask-mode single)\n"
    "and <out>/<stem>/masks.json: one record per detection (SAM's fields; box = the detector's box\n"
    "clipped to the image, X0,Y0,X1,Y1 in pixels, SAM's prompt; detector_box = the box as the detector\n"
    "predicted it, possibly reaching past the image; label = the query, label_id, detector_score;\n"
    "query_set with --queries-from; objectness with OWLv2; relative_score with examples) and the\n"
    "queries. Nothing found: an empty list, a warning, exit 0.\n"
    "Exit codes: 0 success; 1 an image, model or output failed; 2 usage error.\n"
    "\n"
    "Models: --detector-model, a directory made by weights/export_owlvit.py (OWL-ViT or OWLv2; the\n"
    "manifest says which preprocessing it takes) or a name looked up as\n"
    "owlvit-<name> and <name> in the folders --model names (default $SAMCLI_DETECTOR); and the\n"
    "SAM model, --model or its alias --sam-model (default $SAMCLI_MODEL).\n"
    "\n"
    "Examples:\n"
    "  text-sam photo.jpg --text dog --detector-model base-patch32 --model vit_b\n"
    "  text-sam a.jpg b.jpg --text \"dog, person\" --box-threshold 0.2 --nms 0.5 --json -\n"
    "  text-sam street.jpg --text car --top-k 3 --mask-mode single\n"
    "  printf 'dog\\ncat, bird\\n' | text-sam photo.jpg --queries-from -   # out/photo/q1/, q2/\n"
    "  text-sam shelf.jpg --query-image screw.png --detector-model owlv2-base-patch16-ensemble\n"
    "  text-sam tray/ --query-box 410,220,470,300 --box-threshold 0.3   # like the object in that box\n"
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
  std::vector<std::string> queryImages;
  std::vector<std::string> queryBoxes;
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
  CLI::Option* queryImage =
      app.add_option("--query-image", queryImages, "An example image: find objects like it (repeatable)")
          ->allow_extra_args(false)
          ->type_name("FILE")
          ->excludes(text)
          ->excludes(queriesFrom)
          ->group("Prompt");
  CLI::Option* queryBox =
      app.add_option("--query-box", queryBoxes, "An example box of each image: find objects like it (repeatable)")
          ->allow_extra_args(false)
          ->type_name("X0,Y0,X1,Y1")
          ->excludes(text)
          ->excludes(queriesFrom)
          ->group("Prompt");
  addPromptFileOption(app, common,
                      "text-sam uses text, or query_images and query_boxes (each entry needs one kind; its queries\n"
                      "form one query set, results in <out>/<stem>/ as with --text); points, labels and boxes are\n"
                      "ignored.")
      ->excludes(text)
      ->excludes(queriesFrom)
      ->excludes(queryImage)
      ->excludes(queryBox);
  app.add_option("--box-threshold", o.detection.boxThreshold, "Keep boxes whose detector score is above this")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0))
      ->group("Detection");
  auto* nms = app.add_option("--nms", nmsIou,
                             "Non-maximum suppression: drop a box overlapping a better one by IoU > this; text: per "
                             "label, default off; examples: over all boxes, default 0.3 (1 = off)")
                  ->type_name("IOU")
                  ->check(CLI::Range(0.0, 1.0))
                  ->group("Detection");
  app.add_option("--top-k", o.detection.topK, "Keep the N best detections per query set (0 = all)")
      ->type_name("N")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000000))
      ->group("Detection");
  app.add_option("--detector-model", detectorModel,
                 "OWL-ViT or OWLv2 detector: a directory made by weights/export_owlvit.py, or a name (base-patch32, "
                 "owlv2-base-patch16-ensemble, ...) "
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
    std::vector<BoxXyxy> boxes;
    for (const auto& b : queryBoxes) boxes.push_back(parseBox(b, "--query-box"));
    TextSamQueries queries =
        file ? queriesFromPromptFile(*file) : queriesFromOptions(texts, queriesFromPath, queryImages, boxes);
    const std::vector<InputImage> inputs = file ? resolveInputs(common, file->inputs()) : resolveInputs(common);
    TextSamPipeline pipeline(std::move(queries), detectorModel, common.model, common.runtime, o);
    return processImages(common, inputs,
                         [&](const InputImage& input, const cv::Mat& rgb) { return pipeline.segment(input, rgb); });
  });
}
