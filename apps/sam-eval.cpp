// sam-eval: scores predicted masks against ground truth and gates CI on the result.
#include <iostream>
#include <map>

#include <samcli/cli.hpp>
#include <samcli/error.hpp>
#include <samcli/eval_run.hpp>
#include <samcli/image_io.hpp>

using namespace samcli;

namespace {

// Names up to a few images, so a long list of missing predictions stays one line.
std::string someNames(const EvalReport& report, ImageResult::Status status) {
  constexpr size_t kShown = 5;
  std::string names;
  size_t n = 0;
  for (const auto& r : report.images) {
    if (r.status != status) continue;
    if (n < kShown) names += (n ? ", " : "") + r.name;
    ++n;
  }
  return n > kShown ? names + ", ..." : names;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Compare predicted masks with ground-truth masks: IoU, Dice and boundary F per image, their count,\n"
      "mean, median, min and max, and the means per group (subfolder or COCO category). Optionally fail\n"
      "(exit 1) when quality is below a threshold or regressed from a baseline, for CI.\n\n"
      "Ground truth (--gt): a folder of mask PNGs (non-zero = object), searched recursively; subfolders\n"
      "are groups (gt/<species>/<image>.png). Or a COCO JSON file with RLE annotations: per image the\n"
      "union of its annotations, or per image and category with --per-category.\n"
      "Predictions (--pred): a folder with, for ground truth <name>.png, either <name>.png or the samcli\n"
      "output folder <name>/masks.json (also found as <stem>/masks.json when the stem is unique); or a\n"
      "COCO JSON file (images[].file_name, annotations with RLE segmentation and score).\n"
      "An image without prediction scores 0 (and is reported) unless --skip-missing. An empty ground\n"
      "truth scores 1 for an empty prediction and 0 otherwise.\n\n"
      "Examples:\n"
      "  sam-eval --pred out/ --gt gt/                       # table on stdout\n"
      "  sam-eval --pred out/ --gt gt/ --format json -o eval.json\n"
      "  sam-eval --pred preds.json --gt instances.json --per-category --format markdown\n"
      "  sam-eval --pred out/ --gt gt/ --min-miou 0.80 --baseline main.json --max-regression 0.01 -q   # CI gate",
      "sam-eval"};
  EvalOptions options;
  std::string pick = "best";
  std::string format = "text";
  std::string outPath;
  std::string baselinePath;
  GateOptions gates;
  bool quiet = false;
  app.add_option("--pred", options.predPath, "Predictions: mask folder, samcli output folder or COCO JSON")
      ->required()
      ->type_name("DIR|JSON")
      ->group("Input");
  app.add_option("--gt", options.gtPath, "Ground truth: mask folder or COCO JSON")
      ->required()
      ->type_name("DIR|JSON")
      ->group("Input");
  app.add_option("--pick", pick,
                 "Which mask of a prediction with several (masks.json, COCO) is scored: best (highest "
                 "predicted_iou / score), first, or union")
      ->check(CLI::IsMember({"best", "first", "union"}))
      ->capture_default_str()
      ->group("Input");
  app.add_flag("--per-category", options.perCategory, "COCO ground truth: score each category of an image separately")
      ->group("Input");
  app.add_flag("--skip-missing", options.skipMissing, "Leave images without prediction out instead of scoring them 0")
      ->group("Input");
  app.add_option("--boundary-tolerance", options.boundaryTolerancePx,
                 "Boundary F: a boundary pixel is matched within this many pixels (DAVIS uses ~0.8% of the "
                 "image diagonal)")
      ->check(CLI::Range(0, 10000))
      ->type_name("PX")
      ->capture_default_str()
      ->group("Metrics");
  app.add_option("--format", format, "Report format: text (tables), csv, json (also the --baseline input), markdown")
      ->check(CLI::IsMember({"text", "csv", "json", "markdown"}))
      ->capture_default_str()
      ->group("Output");
  app.add_option("-o,--output", outPath, "Write the report to FILE instead of stdout (a regular file is replaced atomically; a symlink, device or FIFO is written through)")
      ->type_name("FILE")
      ->group("Output");
  app.add_flag("-q,--quiet", quiet, "No summary line on stderr (warnings and errors are still printed)")
      ->group("Output");
  addMaxPixelsOption(app)->group("Input");
  app.add_option("--min-miou", gates.minMeanIou, "Exit 1 when the mean IoU is below X")
      ->check(CLI::Range(0.0, 1.0))
      ->type_name("X")
      ->group("CI gates");
  auto* baselineOpt = app.add_option("--baseline", baselinePath, "A previous --format json report to compare with")
                          ->type_name("FILE")
                          ->group("CI gates");
  auto* regressionOpt = app.add_option("--max-regression", gates.maxRegression,
                                       "Exit 1 when the mean IoU, overall or of a group in both reports, is more "
                                       "than X below the baseline's")
                            ->check(CLI::Range(0.0, 1.0))
                            ->type_name("X")
                            ->group("CI gates");
  baselineOpt->needs(regressionOpt);
  regressionOpt->needs(baselineOpt);

  return runTool(app, argc, argv, [&] {
    Log::setQuiet(quiet);
    const std::map<std::string, MaskPick> picks = {
        {"best", MaskPick::Best}, {"first", MaskPick::First}, {"union", MaskPick::Union}};
    const std::map<std::string, ReportFormat> formats = {{"text", ReportFormat::Text},
                                                         {"csv", ReportFormat::Csv},
                                                         {"json", ReportFormat::Json},
                                                         {"markdown", ReportFormat::Markdown}};
    options.pick = picks.at(pick);
    // Read before the evaluation, which can take minutes, so a wrong path fails at once.
    std::optional<BaselineMeans> baseline;
    if (!baselinePath.empty()) baseline = readBaseline(baselinePath);

    const EvalReport report = evaluate(options);
    if (report.missing > 0) {
      Log::warning(std::to_string(report.missing) + " of " + std::to_string(report.images.size()) +
                   " images have no prediction and score 0 (--skip-missing leaves them out): " +
                   someNames(report, ImageResult::Status::Missing));
    }
    if (report.skipped > 0) {
      Log::warning(std::to_string(report.skipped) + " of " + std::to_string(report.images.size()) +
                   " images have no prediction and are left out: " + someNames(report, ImageResult::Status::Skipped));
    }
    const std::string text = formatReport(report, formats.at(format));
    writeOutputFile(outPath.empty() ? "-" : outPath, text);
    const Summary& iou = report.overall.iou;
    if (iou.count > 0) {
      Log::info(std::to_string(iou.count) + " images: mean IoU " + std::to_string(iou.mean) + ", mean Dice " +
                std::to_string(report.overall.dice.mean) + ", mean boundary F " +
                std::to_string(report.overall.boundaryF.mean) + (outPath.empty() ? "" : " -> " + outPath));
    }

    const std::vector<std::string> failures = checkGates(report, gates, baseline);
    for (const auto& failure : failures) Log::error("quality gate failed: " + failure);
    return failures.empty() ? 0 : 1;
  });
}
