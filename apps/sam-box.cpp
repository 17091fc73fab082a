// sam-box: masks from one or many boxes (optionally with clicks), SamPredictor semantics.
#include <samcli/cli.hpp>
#include <samcli/error.hpp>
#include <samcli/image_io.hpp>
#include <samcli/predictor.hpp>
#include <samcli/prompted.hpp>

using namespace samcli;

int main(int argc, char** argv) {
  CLI::App app{
      "Segment the object inside each box with SAM (one mask per box; all boxes of an image are decoded\n"
      "in one batch). Clicks given with --point/--neg apply to every box. Writes, per image,\n"
      "<out>/<stem>/ with one PNG per box (0/255), overlay.png and masks.json.\n\n"
      "Examples:\n"
      "  sam-box photo.jpg --box 120,80,460,390\n"
      "  sam-box photo.jpg --box 120,80,460,390 --box 500,60,640,300 --json -\n"
      "  sam-box photo.jpg --box 460,390,120,80 --point 300,200   # any corner order; box + click",
      "sam-box"};
  CommonOptions common;
  addCommonOptions(app, common);
  std::vector<std::string> boxes;
  std::vector<std::string> positives;
  std::vector<std::string> negatives;
  bool multimask = false;
  app.add_option("-b,--box", boxes, "Box X0,Y0,X1,Y1 in pixels, any corner order (repeatable)")
      ->allow_extra_args(false)
      ->type_name("X0,Y0,X1,Y1")
      ->required()
      ->group("Prompt");
  app.add_option("-p,--point", positives, "Foreground click X,Y added to every box (repeatable)")
      ->allow_extra_args(false)
      ->type_name("X,Y")
      ->group("Prompt");
  app.add_option("-n,--neg", negatives, "Background click X,Y added to every box (repeatable)")
      ->allow_extra_args(false)
      ->type_name("X,Y")
      ->group("Prompt");
  app.add_flag("--multimask", multimask, "Return 3 candidates per box instead of 1")->group("Prompt");

  return runTool(app, argc, argv, [&] {
    Log::setQuiet(common.quiet);
    Prompt shared;
    for (const auto& p : positives) {
      shared.points.push_back(parsePoint(p, "--point"));
      shared.labels.push_back(1);
    }
    for (const auto& p : negatives) {
      shared.points.push_back(parsePoint(p, "--neg"));
      shared.labels.push_back(0);
    }
    std::vector<Prompt> prompts;
    for (const auto& b : boxes) {
      Prompt p = shared;
      p.box = parseBox(b, "--box");
      prompts.push_back(std::move(p));
    }

    Predictor predictor(loadSamModel(resolveModelDir(common.model), common.runtime));
    return processImages(common, [&](const InputImage& input, const cv::Mat& rgb) {
      for (const auto& p : prompts) checkPromptInside(p, rgb.size(), input.path);
      predictor.setImage(rgb);
      auto batches = predictor.predictBatch(prompts, multimask);
      std::vector<MaskRecord> records;
      for (size_t i = 0; i < prompts.size(); ++i) {
        for (auto& r : recordsFromPredictions(prompts[i], batches[i], rgb.size())) records.push_back(std::move(r));
      }
      return promptedResult(common.outDir, input.outputName, input.path, rgb, std::move(records), multimask);
    });
  });
}
