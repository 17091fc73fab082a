#include "samcli/cli.hpp"

#include <chrono>
#include <cmath>
#include <iostream>
#include <sstream>

#include "samcli/error.hpp"
#include "samcli/image_io.hpp"
#include "samcli/records.hpp"

namespace samcli {
namespace {

std::string g_tool = "samcli";
bool g_quiet = false;

std::vector<double> parseNumbers(const std::string& text, char sep, const std::string& option, size_t expected,
                                 const char* shape) {
  std::vector<double> values;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, sep)) {
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || item.find_first_not_of(" \t", used) != std::string::npos || !std::isfinite(v)) {
      throw UsageError("invalid " + option + " '" + text + "' (expected " + shape + ")");
    }
    values.push_back(v);
  }
  if (values.size() != expected || (!text.empty() && text.back() == sep)) {
    throw UsageError("invalid " + option + " '" + text + "' (expected " + shape + ")");
  }
  return values;
}

}  // namespace

void Log::setTool(std::string name) { g_tool = std::move(name); }
void Log::setQuiet(bool quiet) { g_quiet = quiet; }
void Log::info(const std::string& message) {
  if (!g_quiet) std::cerr << g_tool << ": " << message << '\n';
}
void Log::warning(const std::string& message) { std::cerr << g_tool << ": warning: " << message << '\n'; }
void Log::error(const std::string& message) { std::cerr << g_tool << ": error: " << message << '\n'; }

void addCommonOptions(CLI::App& app, CommonOptions& o) {
  app.add_option("images", o.inputs, "Input image files")->required()->type_name("IMAGE...");
  app.add_option("-m,--model", o.model,
                 "SAM model: a directory made by weights/export_sam.py, or a name (vit_b, vit_l, vit_h, b, l, h) "
                 "looked up under $SAMCLI_WEIGHTS and ./weights. Default: $SAMCLI_MODEL")
      ->type_name("DIR|NAME")
      ->group("Model");
  app.add_option("--device", o.runtime.device, "cpu, cuda, cuda:N, or auto (CUDA when available)")
      ->capture_default_str()
      ->group("Model");
  app.add_option("--threads", o.runtime.threads, "CPU threads for inference (0 = all cores)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber)
      ->group("Model");
  app.add_option("-o,--out", o.outDir, "Output directory for masks, overlays and per-image JSON")
      ->capture_default_str()
      ->group("Output");
  app.add_option("--json", o.jsonPath, "Also write all records of the run as one JSON file ('-' = stdout)")
      ->type_name("FILE|-")
      ->group("Output");
  app.add_flag("-q,--quiet", o.quiet, "No progress messages on stderr (errors are still printed)")->group("Output");
  // A repeated single-value option takes its last value, so wrappers can append overrides.
  for (const char* name : {"--model", "--device", "--threads", "--out", "--json"}) {
    app.get_option(name)->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  }
}

namespace {

// Accepts "0.3413" or a fraction such as "512/1500" (the official default is written that way).
double parseRatio(const std::string& text, const std::string& option) {
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
  throw UsageError("invalid " + option + " '" + text + "' (expected a number or a fraction like 512/1500)");
}

}  // namespace

void addAmgOptions(CLI::App& app, AmgCli& cli, const std::string& defaultPreset) {
  cli.preset = defaultPreset;
  app.add_option("--preset", cli.preset, "Starting settings: fast, default, fine, sam-py or notebook")
      ->capture_default_str()
      ->group("Generator");
  const auto option = [&](const std::string& name, auto AmgOptions::*field, const std::string& help) {
    CLI::Option* opt = app.add_option(name, cli.given.*field, help)->group("Generator");
    AmgOptions* given = &cli.given;
    cli.overrides.emplace_back(opt, [given, field](AmgOptions& o) { o.*field = given->*field; });
  };
  option("--points-per-side", &AmgOptions::pointsPerSide, "Grid points per image side [official 32]");
  CLI::Option* grids = app.add_option("--point-grids", cli.pointGridsPath,
                                      "JSON point grids per crop layer ([[[x,y],...],...], in [0,1]) instead of "
                                      "--points-per-side")
                           ->group("Generator");
  cli.overrides.emplace_back(grids, [&cli](AmgOptions& o) { o.pointGrids = readPointGrids(cli.pointGridsPath); });
  option("--points-per-batch", &AmgOptions::pointsPerBatch, "Points decoded together [64]");
  option("--pred-iou-thresh", &AmgOptions::predIouThresh, "Keep masks with predicted IoU above this [0.88]");
  option("--stability-score-thresh", &AmgOptions::stabilityScoreThresh, "Keep masks this stable or more [0.95]");
  option("--stability-score-offset", &AmgOptions::stabilityScoreOffset, "Logit offset of the stability score [1.0]");
  option("--box-nms-thresh", &AmgOptions::boxNmsThresh, "Box IoU for duplicate removal within a crop [0.7]");
  option("--crop-n-layers", &AmgOptions::cropNLayers, "Layers of crops, layer i with 2^i x 2^i crops [0]");
  option("--crop-nms-thresh", &AmgOptions::cropNmsThresh, "Box IoU for duplicate removal across crops [0.7]");
  CLI::Option* overlap = app.add_option("--crop-overlap-ratio", cli.overlapText,
                                        "Crop overlap as a fraction of the short side [512/1500]")
                             ->group("Generator");
  cli.overrides.emplace_back(
      overlap, [&cli](AmgOptions& o) { o.cropOverlapRatio = parseRatio(cli.overlapText, "--crop-overlap-ratio"); });
  option("--crop-n-points-downscale-factor", &AmgOptions::cropNPointsDownscaleFactor,
         "Points per side divided by this per crop layer [1]");
  option("--min-mask-region-area", &AmgOptions::minMaskRegionArea,
         "Fill holes and remove islands smaller than this, then NMS again [0]");
}

AmgOptions resolveAmgOptions(const AmgCli& cli) {
  AmgOptions options = amgPreset(cli.preset);
  for (const auto& [opt, apply] : cli.overrides) {
    if (opt->count() > 0) apply(options);
  }
  validateAmgOptions(options);
  return options;
}

int runTool(CLI::App& app, int argc, char** argv, const std::function<int()>& body) {
  Log::setTool(app.get_name());
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::CallForVersion&) {
    std::cout << app.version() << '\n';
    return 0;
  } catch (const CLI::ParseError& e) {
    Log::error(std::string(e.what()) + " (see --help)");
    return 2;
  }
  try {
    return body();
  } catch (const UsageError& e) {
    Log::error(e.what());
    return 2;
  } catch (const Error& e) {
    Log::error(e.what());
    return 1;
  } catch (const std::exception& e) {
    // LibTorch and OpenCV exceptions carry multi-line context; the first line is the cause.
    const std::string what = e.what();
    Log::error("internal error: " + what.substr(0, what.find('\n')));
    return 1;
  }
}

int processImages(const CommonOptions& options,
                  const std::function<nlohmann::ordered_json(const std::string& path)>& perImage) {
  auto all = nlohmann::ordered_json::array();
  size_t done = 0;
  for (const auto& path : options.inputs) {
    const auto start = std::chrono::steady_clock::now();
    nlohmann::ordered_json result = perImage(path);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ++done;
    std::ostringstream msg;
    msg.precision(2);
    msg << std::fixed << "[" << done << "/" << options.inputs.size() << "] " << path << ": "
        << result["masks"].size() << " mask(s), " << seconds << " s";
    Log::info(msg.str());
    if (!options.jsonPath.empty()) all.push_back(std::move(result));
  }
  if (options.jsonPath == "-") {
    std::cout << dumpJson(all) << std::flush;
  } else if (!options.jsonPath.empty()) {
    writeFileAtomic(options.jsonPath, dumpJson(all));
  }
  return 0;
}

PointXY parsePoint(const std::string& text, const std::string& option) {
  const auto v = parseNumbers(text, ',', option, 2, "X,Y in pixels");
  return {v[0], v[1]};
}

BoxXyxy parseBox(const std::string& text, const std::string& option) {
  const auto v = parseNumbers(text, ',', option, 4, "X0,Y0,X1,Y1 in pixels");
  return normalizeBox({v[0], v[1], v[2], v[3]});
}

void parseLabelledPoints(const std::string& text, const std::string& option, std::vector<PointXY>& points,
                         std::vector<int>& labels) {
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ';')) {
    if (item.find_first_not_of(" \t") == std::string::npos) continue;
    const auto v = parseNumbers(item, ',', option, 3, "\"x,y,label;...\" with label 1 (foreground) or 0 (background)");
    if (v[2] != 0.0 && v[2] != 1.0) {
      throw UsageError("invalid " + option + " '" + item + "': label must be 1 (foreground) or 0 (background)");
    }
    points.push_back({v[0], v[1]});
    labels.push_back(static_cast<int>(v[2]));
  }
  if (points.empty()) throw UsageError("invalid " + option + " '" + text + "': no points");
}

}  // namespace samcli
