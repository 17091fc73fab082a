// sam-point: masks from foreground/background clicks, SamPredictor semantics.
#include <samcli/auto_click.hpp>
#include <samcli/batch_run.hpp>
#include <samcli/cli.hpp>
#include <samcli/error.hpp>
#include <samcli/image_io.hpp>
#include <samcli/interactive.hpp>
#include <samcli/outputs.hpp>
#include <samcli/predictor.hpp>
#include <samcli/prompt_file.hpp>
#include <samcli/prompted.hpp>
#include <samcli/session.hpp>

#include <algorithm>
#include <map>

using namespace samcli;

namespace {

const char* kHelp =
    "Segment the object under one or more clicks with SAM. Writes, per image, <out>/<stem>/ with one PNG\n"
    "per candidate mask (0/255), overlay.png, masks.json and best_logits.npy (the low-res logits of the\n"
    "best-scored mask, for --mask-input refinement). One click gives 3 candidates, several clicks 1 mask\n"
    "(--multimask / --single override).\n\n"
    "--auto-click GT places the click itself, as the single-click evaluation protocol does: at the pixel\n"
    "of the image's ground-truth mask farthest from its boundary (distance transform; the image border\n"
    "counts as boundary; ties to the first pixel in row-major order). Of the 3 candidates only the one\n"
    "with the highest predicted IoU is kept: 0.png, and masks.json with the click in point_coords,\n"
    "\"auto_click\": true and \"gt_mask\" (the file used). GT is a folder of masks (non-zero = object)\n"
    "named like the outputs: the image's mask is GT/<name>.png, <name> being its output folder\n"
    "(the path below a folder given as IMAGE, without extension, else the file stem), or GT/<stem>.png;\n"
    "for images given as files, also the only mask anywhere under GT with the image's stem (as sam-eval\n"
    "pairs them). Or GT is one mask file, for one image. An\n"
    "image without ground truth, or with an empty one, fails with an error naming the file (exit 1;\n"
    "--keep-going goes on). Then `sam-eval --pred OUT --gt GT` scores the run (docs/evaluation.md).\n\n"
    "Interactive (--interactive, one image, needs a display): SAM.py's window. Left click adds a\n"
    "foreground point, right click a background point, middle click clears, a left drag draws a box.\n"
    "One click shows 3 candidates (Tab or 1/2/3 cycles, title \"Mask i, Score: ...\"); more clicks or a box\n"
    "give one mask, refined with the previous best mask's logits (--no-refine: afresh). Keys: s saves the\n"
    "result as a batch run would (<out>/<stem>/), a shows the automatic masks (the generator options\n"
    "below, as sam-amg), u undoes, r resets, q or Esc quits.\n\n"
    "Examples:\n"
    "  sam-point photo.jpg --point 420,310                 # 3 candidates with scores\n"
    "  sam-point photo.jpg --point 420,310 --neg 500,200 --single\n"
    "  sam-point photo.jpg --points \"420,310,1;500,200,0\" --json - | jq '.[0].masks[0].area'\n"
    "  sam-point photo.jpg --point 430,300 --mask-input out/photo/best_logits.npy --single\n"
    "  sam-point --prompts clicks.jsonl -o out/ --keep-going    # per-image clicks, whole dataset\n"
    "  sam-point images/ --auto-click gt/ -o pred/ && sam-eval --pred pred --gt gt\n"
    "  sam-point photo.jpg --interactive -o picked/\n"
    "  printf '%s\\n' '{\"image\": \"photo.jpg\", \"points\": [[420, 310]]}' | sam-point --session";

struct PointOptions {
  std::vector<std::string> positives;
  std::vector<std::string> negatives;
  std::string labelled;
  std::string maskInputPath;
  std::string autoClickPath;
  bool single = false;
  bool multimask = false;
};

// As SamPredictor's guidance: one ambiguous click -> 3 candidates; several clicks -> 1 mask.
bool useMultimask(const PointOptions& o, const Prompt& prompt) {
  return o.multimask || (!o.single && defaultMultimask({prompt}));
}

// The clicks of --point, --neg and --points. Throws UsageError when there is no foreground click.
Prompt promptFromOptions(const PointOptions& o) {
  Prompt prompt;
  parseClicks(o.positives, o.negatives, prompt.points, prompt.labels);
  if (!o.labelled.empty()) parseLabelledPoints(o.labelled, "--points", prompt.points, prompt.labels);
  if (prompt.points.empty()) {
    throw UsageError("no click given: use --point X,Y (and --neg X,Y), --points, --prompts FILE or --auto-click GT");
  }
  if (std::count(prompt.labels.begin(), prompt.labels.end(), 1) == 0) {
    throw UsageError("at least one foreground click is needed (--point X,Y)");
  }
  if (!o.maskInputPath.empty()) prompt.maskInput = readNpy(o.maskInputPath);
  return prompt;
}

// The clicks of every prompt-file entry, by image path. Throws UsageError naming an entry without a
// foreground click.
std::map<std::string, Prompt> promptsFromFile(const PromptFile& file) {
  std::map<std::string, Prompt> prompts;
  for (const PromptEntry& entry : file.entries()) {
    if (entry.points.empty()) throwPromptError(entry, "no \"points\" for '" + entry.image + "' (sam-point needs clicks)");
    if (std::count(entry.labels.begin(), entry.labels.end(), 1) == 0) {
      throwPromptError(entry, "no foreground point (label 1) for '" + entry.image + "'");
    }
    prompts[entry.image] = Prompt{entry.points, entry.labels, std::nullopt, cv::Mat()};
  }
  return prompts;
}

// One image, one prompt: every candidate (or the single mask) with its overlay and best logits.
ImageOutcome segment(Predictor& predictor, const InputImage& input,
                     const cv::Mat& rgb, const Prompt& prompt, bool multimask) {
  checkPromptInside(prompt, rgb.size(), input.path);
  predictor.setImage(rgb);
  std::vector<MaskPrediction> predictions = predictor.predict(prompt, multimask);
  const cv::Mat bestLogits = predictions[bestPrediction(predictions)].lowResLogits;
  std::vector<MaskRecord> records = recordsFromPredictions(prompt, predictions, rgb.size());
  return promptedResult(input.path, rgb, std::move(records), multimask,
                        {{"best_logits.npy", bestLogits}});
}

// --auto-click: the click from the ground truth, 3 candidates, the best-scored one kept.
int runAutoClick(const CommonOptions& common, const std::string& gtPath) {
  const GroundTruthMasks gt(gtPath);
  const std::vector<InputImage> inputs = resolveInputs(common);
  if (!gt.isFolder() && inputs.size() != 1) {
    throw UsageError("--auto-click '" + gtPath + "' is one mask, for one image, but " + std::to_string(inputs.size()) +
                     " images are given: pass a folder of masks named like the images");
  }
  Predictor predictor(loadSamModel(resolveModelDir(common.model), common.runtime));
  return processImages(common, inputs, [&](const InputImage& input, const cv::Mat& rgb) {
    const std::string maskPath = gt.maskFor(input);
    Prompt prompt;
    prompt.points = {autoClick(readMask(maskPath), maskPath, rgb.size())};
    prompt.labels = {1};
    predictor.setImage(rgb);
    std::vector<MaskPrediction> predictions = predictor.predict(prompt, true);
    std::vector<MaskPrediction> kept = {predictions[bestPrediction(predictions)]};
    std::vector<MaskRecord> records = recordsFromPredictions(prompt, kept, rgb.size());
    records.front().extra["auto_click"] = true;
    records.front().extra["gt_mask"] = maskPath;
    return promptedResult(input.path, rgb, std::move(records), true,
                          {{"best_logits.npy", kept.front().lowResLogits}});
  });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{kHelp, "sam-point"};
  CommonOptions common;
  addCommonOptions(app, common);
  PointOptions o;
  auto* point = app.add_option("-p,--point", o.positives, "Foreground click X,Y in pixels (repeatable)")
                    ->allow_extra_args(false)->type_name("X,Y")->group("Prompt");
  auto* neg = app.add_option("-n,--neg", o.negatives, "Background click X,Y in pixels (repeatable)")
                  ->allow_extra_args(false)->type_name("X,Y")->group("Prompt");
  auto* points = app.add_option("--points", o.labelled,
                                "Clicks with labels: \"x,y,label;...\" (label 1 foreground, 0 background)")
                     ->type_name("LIST")
                     ->group("Prompt");
  auto* maskInput = app.add_option("--mask-input", o.maskInputPath,
                                   "Low-res logits of a previous run (best_logits.npy) to refine")
                        ->type_name("NPY")
                        ->group("Prompt");
  auto* multiOpt = app.add_flag("--multimask", o.multimask, "Return 3 candidate masks (default for a single click)")
                       ->group("Prompt");
  auto* singleOpt = app.add_flag("--single", o.single, "Return 1 mask (default for several clicks)")
                        ->excludes(multiOpt)
                        ->group("Prompt");
  auto* autoClickOpt =
      app.add_option("--auto-click", o.autoClickPath,
                     "Click each image at the point of its ground-truth mask farthest from the boundary and keep "
                     "the best of 3 candidates (evaluation protocol; see above)")
          ->type_name("GT")
          ->excludes(point)->excludes(neg)->excludes(points)->excludes(maskInput)->excludes(multiOpt)
          ->excludes(singleOpt)
          ->group("Prompt");
  addPromptFileOption(app, common,
                      "sam-point uses points and labels (each entry needs a foreground point; boxes and text are\n"
                      "ignored), with --single/--multimask as for --point.")
      ->excludes(point)->excludes(neg)->excludes(points)->excludes(maskInput)->excludes(autoClickOpt);
  CLI::Option* session = addSessionOption(app, common)
      ->excludes(point)->excludes(neg)->excludes(points)->excludes(maskInput)->excludes(autoClickOpt)
      ->excludes(multiOpt)->excludes(singleOpt);
  bool interactive = false;
  bool noRefine = false;
  CLI::Option* interactiveOpt =
      app.add_flag("--interactive", interactive,
                   "Open IMAGE in a window and segment with the mouse (see \"Interactive\" above)")
          ->excludes(point)->excludes(neg)->excludes(points)->excludes(maskInput)->excludes(autoClickOpt)
          ->excludes(multiOpt)->excludes(singleOpt)->excludes(session)->excludes(app.get_option("--prompts"))
          ->group("Interactive");
  app.add_flag("--no-refine", noRefine,
               "--interactive: decode every click afresh instead of feeding back the previous best mask")
      ->needs(interactiveOpt)
      ->group("Interactive");
  AmgCli amg;
  addAmgOptions(app, amg, "default");

  return runTool(app, argc, argv, [&] {
    Log::setQuiet(common.quiet);
    if (common.session) {
      serveSession(resolveModelDir(common.model), common.runtime, {common.outDir});
      return 0;
    }
    if (interactive) {
      requireDisplay();
      const std::vector<InputImage> inputs = resolveInputs(common);
      if (inputs.size() != 1) {
        throw UsageError("--interactive opens one image, " + std::to_string(inputs.size()) + " given");
      }
      const AmgOptions amgOptions = resolveAmgOptions(amg);
      const std::shared_ptr<SamModel> model = loadSamModel(resolveModelDir(common.model), common.runtime);
      PromptSession session(model);
      session.openImage(inputs.front().path);
      const AutomaticMaskGenerator generator(model, amgOptions);
      runInteractiveWindow(session, {common.outDir, !noRefine, [&](const cv::Mat& rgb) { return generator.generate(rgb); }});
      return 0;
    }
    if (!o.autoClickPath.empty()) return runAutoClick(common, o.autoClickPath);
    if (!common.promptsPath.empty()) {
      const PromptFile file = PromptFile::read(common.promptsPath);
      const std::map<std::string, Prompt> prompts = promptsFromFile(file);
      const std::vector<InputImage> inputs = resolveInputs(common, file.inputs());
      Predictor predictor(loadSamModel(resolveModelDir(common.model), common.runtime));
      return processImages(common, inputs, [&](const InputImage& input, const cv::Mat& rgb) {
        const Prompt& prompt = prompts.at(input.path);
        return segment(predictor, input, rgb, prompt, useMultimask(o, prompt));
      });
    }
    const Prompt prompt = promptFromOptions(o);
    const std::vector<InputImage> inputs = resolveInputs(common);
    Predictor predictor(loadSamModel(resolveModelDir(common.model), common.runtime));
    return processImages(common, inputs, [&](const InputImage& input, const cv::Mat& rgb) {
      return segment(predictor, input, rgb, prompt, useMultimask(o, prompt));
    });
  });
}
