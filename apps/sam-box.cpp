// sam-box: masks from one or many boxes (optionally with clicks), SamPredictor semantics.
#include <samcli/batch_run.hpp>
#include <samcli/cli.hpp>
#include <samcli/error.hpp>
#include <samcli/image_io.hpp>
#include <samcli/predictor.hpp>
#include <samcli/prompt_file.hpp>
#include <samcli/prompted.hpp>
#include <samcli/session.hpp>

#include <map>

using namespace samcli;

int main(int argc, char** argv) {
  CLI::App app{
      "Segment the object inside each box with SAM (one mask per box; all boxes of an image are decoded\n"
      "in one batch). Clicks given with --point/--neg apply to every box. Writes, per image,\n"
      "<out>/<stem>/ with one PNG per box (0/255), overlay.png and masks.json.\n\n"
      "Examples:\n"
      "  sam-box photo.jpg --box 120,80,460,390\n"
      "  sam-box photo.jpg --box 120,80,460,390 --box 500,60,640,300 --json -\n"
      "  sam-box photo.jpg --box 460,390,120,80 --point 300,200   # any corner order; box + click\n"
      "  sam-box --prompts boxes.csv -o out/ --coco out/coco.json  # per-image boxes, whole dataset",
      "sam-box"};
  CommonOptions common;
  addCommonOptions(app, common);
  std::vector<std::string> boxes;
  std::vector<std::string> positives;
  std::vector<std::string> negatives;
  bool multimask = false;
  auto* box = app.add_option("-b,--box", boxes, "Box X0,Y0,X1,Y1 in pixels, any corner order (repeatable)")
                  ->allow_extra_args(false)
                  ->type_name("X0,Y0,X1,Y1")
                  ->group("Prompt");
  auto* point = app.add_option("-p,--point", positives, "Foreground click X,Y added to every box (repeatable)")
                    ->allow_extra_args(false)
                    ->type_name("X,Y")
                    ->group("Prompt");
  auto* neg = app.add_option("-n,--neg", negatives, "Background click X,Y added to every box (repeatable)")
                  ->allow_extra_args(false)
                  ->type_name("X,Y")
                  ->group("Prompt");
  app.add_flag("--multimask", multimask, "Return 3 candidates per box instead of 1")->group("Prompt");
  addPromptFileOption(app, common,
                      "sam-box uses boxes (each entry needs one; one mask per box, in the entry's order) and adds\n"
                      "the entry's points and labels to each of its boxes; text is ignored.")
      ->excludes(box)->excludes(point)->excludes(neg);
  addSessionOption(app, common)->excludes(box)->excludes(point)->excludes(neg);

  return runTool(app, argc, argv, [&] {
    Log::setQuiet(common.quiet);
    if (common.session) {
      serveSession(resolveModelDir(common.model), common.runtime, {common.outDir});
      return 0;
    }
    // Every image's prompts, by image path; with IMAGE... all images share the options' boxes.
    std::map<std::string, std::vector<Prompt>> perImage;
    std::vector<Prompt> shared;
    std::vector<InputImage> inputs;
    if (!common.promptsPath.empty()) {
      const PromptFile file = PromptFile::read(common.promptsPath);
      for (const PromptEntry& entry : file.entries()) {
        if (entry.boxes.empty()) throwPromptError(entry, "no \"boxes\" for '" + entry.image + "' (sam-box needs boxes)");
        perImage[entry.image] = boxPrompts(entry.boxes, entry.points, entry.labels);
      }
      inputs = resolveInputs(common, file.inputs());
    } else {
      if (boxes.empty()) throw UsageError("no box given: use --box X0,Y0,X1,Y1 (repeatable) or --prompts FILE");
      std::vector<PointXY> points;
      std::vector<int> labels;
      parseClicks(positives, negatives, points, labels);
      std::vector<BoxXyxy> parsed;
      for (const auto& b : boxes) parsed.push_back(parseBox(b, "--box"));
      shared = boxPrompts(parsed, points, labels);
      inputs = resolveInputs(common);
    }

    Predictor predictor(loadSamModel(resolveModelDir(common.model), common.runtime));
    const ImageTask task = [&](const InputImage& input, const cv::Mat& rgb) {
      const std::vector<Prompt>& prompts = common.promptsPath.empty() ? shared : perImage.at(input.path);
      for (const auto& p : prompts) checkPromptInside(p, rgb.size(), input.path);
      predictor.setImage(rgb);
      RecordCollector collected(rgb.size());
      predictor.predictEach(prompts, multimask,
                            [&](size_t i, std::vector<MaskPrediction>& p) { collected.add(prompts[i], p); });
      return promptedResult(input.path, rgb, std::move(collected.records), multimask);
    };
    return processImages(common, inputs, task);
  });
}
