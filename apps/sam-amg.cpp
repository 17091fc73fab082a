// sam-amg: automatic mask generation over whole images (SamAutomaticMaskGenerator semantics).
#include <samcli/amg.hpp>
#include <samcli/cli.hpp>
#include <samcli/error.hpp>
#include <samcli/image_io.hpp>
#include <samcli/outputs.hpp>
#include <samcli/predictor.hpp>

#include <filesystem>
#include <fstream>
#include <functional>

using namespace samcli;

namespace {

// Accepts "0.3413" or a fraction such as "512/1500" (the official default is written that way).
double parseRatio(const std::string& text) {
  const auto slash = text.find('/');
  try {
    size_t used = 0;
    if (slash == std::string::npos) {
      const double v = std::stod(text, &used);
      if (used == text.size()) return v;
    } else {
      const double num = std::stod(text.substr(0, slash), &used);
      size_t usedDen = 0;
      const double den = std::stod(text.substr(slash + 1), &usedDen);
      if (used == slash && usedDen == text.size() - slash - 1 && den != 0) return num / den;
    }
  } catch (const std::exception&) {
  }
  throw Error("invalid --crop-overlap-ratio '" + text + "' (expected a number or a fraction like 512/1500)");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Segment everything in each image with SAM's automatic mask generator (same parameters, defaults and\n"
      "results as segment_anything's SamAutomaticMaskGenerator). Writes, per image, <out>/<stem>/ in the\n"
      "layout of the official scripts/amg.py (0.png..N-1.png and metadata.csv) plus masks.json (COCO RLE\n"
      "records), overlay.png (masks in random colours, largest first) and labels.png (1 + mask index per\n"
      "pixel, 0 = none; 16-bit beyond 255 masks).\n\n"
      "Presets (explicit options override them):\n"
      "  fast     points-per-side 16\n"
      "  default  the official defaults\n"
      "  fine     crop-n-layers 1, crop-n-points-downscale-factor 2, min-mask-region-area 100\n"
      "  sam-py   SAM.py's settings: points-per-side 10, pred-iou-thresh 0.995, stability-score-thresh\n"
      "           0.95, crop-n-layers 1, crop-n-points-downscale-factor 2, min-mask-region-area 100\n\n"
      "Examples:\n"
      "  sam-amg photo.jpg -o masks/\n"
      "  sam-amg photos/*.jpg --preset sam-py --skip-existing\n"
      "  sam-amg photo.jpg --points-per-side 10 --pred-iou-thresh 0.995 --crop-n-layers 1 \\\n"
      "          --crop-n-points-downscale-factor 2 --min-mask-region-area 100",
      "sam-amg"};
  CommonOptions common;
  addCommonOptions(app, common);
  std::string preset = "default";
  AmgOptions given;
  std::string pointGridsPath;
  std::string overlapText;
  bool skipExisting = false;
  uint32_t seed = 0;

  app.add_option("--preset", preset, "Starting settings: fast, default, fine or sam-py (see above)")
      ->capture_default_str()
      ->group("Generator");
  // Each option overrides the preset only when given on the command line.
  std::vector<std::pair<CLI::Option*, std::function<void(AmgOptions&)>>> overrides;
  const auto option = [&](const std::string& name, auto AmgOptions::*field, const std::string& help) {
    CLI::Option* opt = app.add_option(name, given.*field, help)->group("Generator");
    overrides.emplace_back(opt, [&given, field](AmgOptions& o) { o.*field = given.*field; });
  };
  option("--points-per-side", &AmgOptions::pointsPerSide, "Grid points per image side [default 32]");
  auto* gridsOpt = app.add_option("--point-grids", pointGridsPath,
                                  "JSON point grids per crop layer ([[[x,y],...],...], in [0,1]) instead of "
                                  "--points-per-side")
                       ->group("Generator");
  option("--points-per-batch", &AmgOptions::pointsPerBatch, "Points decoded together [default 64]");
  option("--pred-iou-thresh", &AmgOptions::predIouThresh, "Keep masks with predicted IoU above this [default 0.88]");
  option("--stability-score-thresh", &AmgOptions::stabilityScoreThresh, "Keep masks this stable or more [default 0.95]");
  option("--stability-score-offset", &AmgOptions::stabilityScoreOffset, "Logit offset for the stability score [default 1.0]");
  option("--box-nms-thresh", &AmgOptions::boxNmsThresh, "Box IoU for duplicate removal within a crop [default 0.7]");
  option("--crop-n-layers", &AmgOptions::cropNLayers, "Layers of crops, each with 2^i x 2^i crops [default 0]");
  option("--crop-nms-thresh", &AmgOptions::cropNmsThresh, "Box IoU for duplicate removal across crops [default 0.7]");
  auto* overlapOpt = app.add_option("--crop-overlap-ratio", overlapText,
                                    "Crop overlap as a fraction of the short side [default 512/1500]")
                         ->group("Generator");
  option("--crop-n-points-downscale-factor", &AmgOptions::cropNPointsDownscaleFactor,
         "Points per side divided by this per crop layer [default 1]");
  option("--min-mask-region-area", &AmgOptions::minMaskRegionArea,
         "Fill holes and remove islands smaller than this, then NMS again [default 0]");
  app.add_flag("--skip-existing", skipExisting, "Skip images whose output folder already exists (resume a run)")
      ->group("Output");
  app.add_option("--seed", seed, "Seed of the overlay colours")->capture_default_str()->group("Output");

  return runTool(app, argc, argv, [&] {
    Log::setQuiet(common.quiet);
    AmgOptions options = amgPreset(preset);
    for (const auto& [opt, apply] : overrides) {
      if (opt->count() > 0) apply(options);
    }
    if (gridsOpt->count() > 0) options.pointGrids = readPointGrids(pointGridsPath);
    if (overlapOpt->count() > 0) options.cropOverlapRatio = parseRatio(overlapText);
    validateAmgOptions(options);  // before the model loads: loading takes seconds

    const AutomaticMaskGenerator generator(loadSamModel(resolveModelDir(common.model), common.runtime), options);
    return processImages(common, [&](const std::string& path) {
      const std::string folder = (std::filesystem::path(common.outDir) / outputStem(path)).string();
      if (skipExisting && std::filesystem::exists(folder + "/masks.json")) {
        std::ifstream in(folder + "/masks.json");
        return nlohmann::ordered_json::parse(in);
      }
      const cv::Mat rgb = readImageRgb(path);
      std::vector<MaskRecord> records = generator.generate(rgb);
      if (records.empty()) Log::warning("no mask passed the filters in '" + path + "'");
      ImageOutputDir out(common.outDir, outputStem(path));
      out.writeMasks(records);
      out.writeText("metadata.csv", amgMetadataCsv(records));
      out.writePng("overlay.png", renderAnnotations(rgb, records, seed));
      out.writePng("labels.png", labelMap(records, rgb.size()));
      nlohmann::ordered_json doc = imageResultJson(path, rgb.size(), records);
      out.writeText("masks.json", dumpJson(doc));
      out.commit();
      return doc;
    });
  });
}
