// sam-point: masks from foreground/background clicks, SamPredictor semantics.
#include <samcli/cli.hpp>
#include <samcli/error.hpp>
#include <samcli/image_io.hpp>
#include <samcli/outputs.hpp>
#include <samcli/predictor.hpp>
#include <samcli/prompted.hpp>

#include <algorithm>

using namespace samcli;

int main(int argc, char** argv) {
  CLI::App app{
      "Segment the object under one or more clicks with SAM. Writes, per image, <out>/<stem>/ with one PNG\n"
      "per candidate mask (0/255), overlay.png, masks.json and best_logits.npy (the low-res logits of the\n"
      "best-scored mask, for --mask-input refinement).\n\n"
      "Examples:\n"
      "  sam-point photo.jpg --point 420,310                 # 3 candidates with scores\n"
      "  sam-point photo.jpg --point 420,310 --neg 500,200 --single\n"
      "  sam-point photo.jpg --points \"420,310,1;500,200,0\" --json - | jq '.[0].masks[0].area'\n"
      "  sam-point photo.jpg --point 430,300 --mask-input out/photo/best_logits.npy --single",
      "sam-point"};
  CommonOptions common;
  addCommonOptions(app, common);
  std::vector<std::string> positives;
  std::vector<std::string> negatives;
  std::string labelled;
  std::string maskInputPath;
  bool single = false;
  bool multimask = false;
  app.add_option("-p,--point", positives, "Foreground click X,Y in pixels (repeatable)")
      ->allow_extra_args(false)->type_name("X,Y")->group("Prompt");
  app.add_option("-n,--neg", negatives, "Background click X,Y in pixels (repeatable)")
      ->allow_extra_args(false)->type_name("X,Y")->group("Prompt");
  app.add_option("--points", labelled, "Clicks with labels: \"x,y,label;...\" (label 1 foreground, 0 background)")
      ->type_name("LIST")
      ->group("Prompt");
  app.add_option("--mask-input", maskInputPath, "Low-res logits of a previous run (best_logits.npy) to refine")
      ->type_name("NPY")
      ->group("Prompt");
  auto* multiOpt = app.add_flag("--multimask", multimask, "Return 3 candidate masks (default for a single click)")
                       ->group("Prompt");
  app.add_flag("--single", single, "Return 1 mask (default for several clicks)")->excludes(multiOpt)->group("Prompt");

  return runTool(app, argc, argv, [&] {
    Log::setQuiet(common.quiet);
    Prompt prompt;
    for (const auto& p : positives) {
      prompt.points.push_back(parsePoint(p, "--point"));
      prompt.labels.push_back(1);
    }
    for (const auto& p : negatives) {
      prompt.points.push_back(parsePoint(p, "--neg"));
      prompt.labels.push_back(0);
    }
    if (!labelled.empty()) parseLabelledPoints(labelled, "--points", prompt.points, prompt.labels);
    if (prompt.points.empty()) throw UsageError("no click given: use --point X,Y (and --neg X,Y) or --points");
    if (std::count(prompt.labels.begin(), prompt.labels.end(), 1) == 0) {
      throw UsageError("at least one foreground click is needed (--point X,Y)");
    }
    if (!maskInputPath.empty()) prompt.maskInput = readNpy(maskInputPath);
    // As SamPredictor's guidance: one ambiguous click -> 3 candidates; several clicks -> 1 mask.
    const bool useMultimask = multimask || (!single && prompt.points.size() == 1);

    Predictor predictor(loadSamModel(resolveModelDir(common.model), common.runtime));
    return processImages(common, [&](const InputImage& input, const cv::Mat& rgb) {
      checkPromptInside(prompt, rgb.size(), input.path);
      predictor.setImage(rgb);
      std::vector<MaskPrediction> predictions = predictor.predict(prompt, useMultimask);
      const auto best = std::max_element(predictions.begin(), predictions.end(),
                                         [](const auto& a, const auto& b) { return a.predictedIou < b.predictedIou; });
      const cv::Mat bestLogits = best->lowResLogits;
      std::vector<MaskRecord> records = recordsFromPredictions(prompt, predictions, rgb.size());
      return promptedResult(common.outDir, input.outputName, input.path, rgb, std::move(records), useMultimask,
                            {{"best_logits.npy", bestLogits}});
    });
  });
}
