#include "samcli/cli.hpp"

#include <signal.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <sstream>
#include <type_traits>
#include <variant>

#include "samcli/error.hpp"
#include "samcli/image_io.hpp"
#include "samcli/scheduler.hpp"

namespace samcli {
namespace {

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

namespace {
const char* kMaxPixelsHint = "raise the limit with --max-pixels N";
}  // namespace

CLI::Option* addMaxPixelsOption(CLI::App& app) {
  // Declaring the option changes nothing; parsing it (runTool) sets the limit and the hint.
  return app
      .add_option_function<int64_t>(
          "--max-pixels", [](const int64_t& n) { setMaxImagePixels(n, kMaxPixelsHint); },
          "Refuse images (and COCO, RLE and .npy sizes) of more than N pixels, checked before decoding "
          "(default " + std::to_string(kDefaultMaxPixels) + ", PIL's decompression-bomb limit)")
      ->type_name("N")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 40))
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
}

void addCommonOptions(CLI::App& app, CommonOptions& o) {
  app.add_option("images", o.inputs,
                 "Images: files, directories, glob patterns, @list.txt (one path per line) or - (paths on stdin); "
                 "processed in sorted order")
      ->required()
      ->type_name("IMAGE...")
      ->group("Input");
  app.add_flag("-r,--recursive", o.recursive, "Include images in subdirectories of directory arguments")->group("Input");
  app.add_option("--shard", o.shard,
                 "Process only inputs I, I+N, I+2N, ... of the sorted list (0 <= I < N): N jobs cover every input "
                 "exactly once. auto: I and N of this Slurm array task (--array=0-N); auto/N: I of this Slurm "
                 "array task or Kubernetes indexed Job pod")
      ->type_name("I/N|auto")
      ->group("Input");
  app.add_option("-m,--model", o.model,
                 "SAM model: a directory made by weights/export_sam.py, or a name (vit_b, vit_l, vit_h, vit_t, b, l, h, t) "
                 "looked up under $SAMCLI_WEIGHTS, ./weights and <prefix>/share/samcli/weights (installed tools) or the "
                 "source tree's weights/ (tools in a build tree). Default: $SAMCLI_MODEL")
      ->type_name("DIR|NAME")
      ->group("Model");
  app.add_option("--device", o.runtime.device, "cpu, cuda, cuda:N, or auto (CUDA when available)")
      ->capture_default_str()
      ->group("Model");
  app.add_option("--threads", o.runtime.threads, "CPU threads for inference (0 = the task's $SLURM_CPUS_PER_TASK, else all cores this process may use)")
      ->capture_default_str()
      ->check(CLI::Range(0, 4096))
      ->group("Model");
  app.add_option("--embedding-cache", o.runtime.embeddingCache,
                 "Keep image embeddings in DIR, keyed by image content and model: repeated runs on the same image "
                 "skip the encoder (stale or corrupt entries are rebuilt)")
      ->type_name("DIR")
      ->group("Model");
  app.add_option("-o,--out", o.outDir,
                 "Output directory: one folder per image, mirroring the input tree below directory arguments")
      ->capture_default_str()
      ->group("Output");
  app.add_option("--json", o.jsonPath, "Also write all records of the run as one JSON file ('-' = stdout)")
      ->type_name("FILE|-")
      ->group("Output");
  app.add_flag("--jsonl", o.jsonl, "Stream one JSON line per image to stdout (image, status, masks, seconds)")
      ->group("Output");
  app.add_option("--coco", o.cocoPath,
                 "Also write the run as a COCO instance-segmentation file (file_name: the image's path below its "
                 "directory argument, as in the output tree)")
      ->type_name("FILE")
      ->group("Output");
  app.add_flag("--skip-existing", o.skipExisting, "Skip images whose output folder is complete (resume a run)")
      ->group("Output");
  app.add_flag("-k,--keep-going", o.keepGoing,
               "Report a failing image and go on with the rest (exit code 1 at the end); default: stop")
      ->group("Output");
  app.add_flag("-q,--quiet", o.quiet, "No progress on stderr (errors are still printed)")->group("Output");
  addMaxPixelsOption(app)->group("Input");
  // An empty name (--json "" from an unset shell variable) would silently write nothing.
  const CLI::Validator named([](std::string& value) { return value.empty() ? std::string("an empty name") : std::string(); },
                             "", "NAME");
  for (const char* name : {"--out", "--json", "--coco", "--embedding-cache"}) app.get_option(name)->check(named);
  // A repeated single-value option takes its last value, so wrappers can append overrides.
  for (const char* name : {"--model", "--device", "--threads", "--out", "--json", "--coco", "--shard",
                           "--embedding-cache"}) {
    app.get_option(name)->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  }
}

CLI::Option* addPromptFileOption(CLI::App& app, CommonOptions& o, const std::string& fields) {
  CLI::Option* images = app.get_option("images");
  images->required(false);
  CLI::Option* prompts = app.add_option("--prompts", o.promptsPath,
                                        "Per-image prompts instead of IMAGE... and the prompt options: a .json, "
                                        ".jsonl or .csv file with one entry per image (see \"Prompt file\" above)")
                             ->type_name("FILE")
                             ->excludes(images)
                             ->group("Input");
  app.description(app.get_description() +
                  "\n\n"
                  "Prompt file (--prompts FILE): one entry per image, so one process runs a whole dataset.\n"
                  "The extension chooses the format:\n"
                  "  .json   [{\"image\": \"a.jpg\", \"points\": [[420, 310], [500, 200]], \"labels\": [1, 0]},\n"
                  "           {\"image\": \"b.jpg\", \"boxes\": [[10, 20, 200, 180]], \"text\": [\"dog\", \"cat\"]}]\n"
                  "  .jsonl  one such object per line\n"
                  "  .csv    a header, then one row per image; lists ';'-separated, cells with commas quoted:\n"
                  "            image,points,labels,boxes,text\n"
                  "            a.jpg,\"420,310;500,200\",1;0,,\n"
                  "            b.jpg,,,\"10,20,200,180\",\"dog, cat\"\n"
                  "Fields: image (required; relative to the prompt file's folder), points [[x,y],...] and\n"
                  "labels [1,0,...] (1 foreground, 0 background; default all 1), boxes [[x0,y0,x1,y1],...]\n"
                  "(any corner order), text (a string or a list, each split on commas as --text).\n"
                  "Coordinates are original-image pixels; an unknown field is an error.\n" + fields + "\n"
                  "An image may be listed once (all its prompts in one entry). Results go to <out>/<stem>/,\n"
                  "or mirror the tree below the images' common folder when they lie in several folders.\n"
                  "A malformed file stops the run before the model loads (exit 2), naming the file and the\n"
                  "line (JSON: the entry); an unreadable image or a prompt outside its image fails that\n"
                  "image (exit 1; --keep-going goes on). --shard, --skip-existing, --json, --jsonl and\n"
                  "--coco work as usual.");
  app.parse_complete_callback([images, prompts] {
    if (images->count() == 0 && prompts->count() == 0) throw CLI::RequiredError("IMAGE... or --prompts FILE");
  });
  return prompts;
}

CLI::Option* addSessionOption(CLI::App& app, CommonOptions& o) {
  CLI::Option* images = app.get_option("images");
  CLI::Option* prompts = app.get_option("--prompts");
  CLI::Option* session =
      app.add_flag("--session", o.session,
                   "Serve prompts from stdin, one JSON object per line, answering one JSON line each on stdout, "
                   "with the model loaded once (see \"Session\" above)")
          ->excludes(images)
          ->excludes(prompts)
          ->group("Input");
  for (const char* stdoutOption : {"--json", "--jsonl", "--coco"}) session->excludes(app.get_option(stdoutOption));
  app.description(app.get_description() +
                  "\n\n"
                  "Session (--session): one prompt per line on stdin, e.g.\n"
                  "  {\"image\": \"a.jpg\", \"points\": [[420, 310]]}\n"
                  "  {\"points\": [[420, 310], [500, 200]], \"labels\": [1, 0], \"refine\": true, \"save\": true}\n"
                  "  {\"image\": \"b.jpg\", \"boxes\": [[10, 20, 200, 180]], \"multimask\": false}\n"
                  "the prompt-file fields plus multimask, refine (feed back the previous best mask's logits, as\n"
                  "SAM.py does for further clicks) and save (write the result's folder under --out: true = the\n"
                  "image's stem, or a name; a result there is replaced, a file is not). \"image\" may be left out\n"
                  "to stay on the current image, which is encoded once. Each line is answered on stdout with\n"
                  "{\"line\", \"image\", \"width\", \"height\", \"prompt\", \"masks\": [records], \"best\", \"seconds\"} or\n"
                  "{\"line\", \"error\"}, \"line\" being its number in the input; a blank line is skipped without an\n"
                  "answer (it is counted). A bad line does not end the session (one longer than 16 MiB does,\n"
                  "exit 1); the end of stdin does (exit 0).");
  app.parse_complete_callback([images, prompts, session] {
    if (images->count() == 0 && prompts->count() == 0 && session->count() == 0) {
      throw CLI::RequiredError("IMAGE..., --prompts FILE or --session");
    }
  });
  return session;
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

namespace {

// The generator's numeric parameters as the command line names them: one table for the option
// declarations, the defaults --help shows and the preset descriptions, so none can drift from
// the definitions in amg_options.cpp.
struct AmgParameter {
  const char* name;
  std::variant<int AmgOptions::*, double AmgOptions::*> field;
  const char* help;
};

const std::vector<AmgParameter>& amgParameters() {
  static const std::vector<AmgParameter> table = {
      {"points-per-side", &AmgOptions::pointsPerSide, "Grid points per image side"},
      {"points-per-batch", &AmgOptions::pointsPerBatch, "Points decoded together"},
      {"pred-iou-thresh", &AmgOptions::predIouThresh, "Keep masks with predicted IoU above this"},
      {"stability-score-thresh", &AmgOptions::stabilityScoreThresh, "Keep masks this stable or more"},
      {"stability-score-offset", &AmgOptions::stabilityScoreOffset, "Logit offset of the stability score"},
      {"box-nms-thresh", &AmgOptions::boxNmsThresh, "Box IoU for duplicate removal within a crop"},
      {"crop-n-layers", &AmgOptions::cropNLayers, "Layers of crops, layer i with 2^i x 2^i crops"},
      {"crop-nms-thresh", &AmgOptions::cropNmsThresh, "Box IoU for duplicate removal across crops"},
      {"crop-overlap-ratio", &AmgOptions::cropOverlapRatio, "Crop overlap as a fraction of the short side"},
      {"crop-n-points-downscale-factor", &AmgOptions::cropNPointsDownscaleFactor,
       "Points per side divided by this per crop layer"},
      {"min-mask-region-area", &AmgOptions::minMaskRegionArea,
       "Fill holes and remove islands smaller than this, then NMS again"},
  };
  return table;
}

// The official overlap is written 512/1500 (its source spells it so); other values as numbers.
std::string formatAmgValue(const AmgOptions& o, const AmgParameter& p) {
  return std::visit(
      [&](auto field) {
        if constexpr (std::is_same_v<decltype(field), double AmgOptions::*>) {
          if (field == &AmgOptions::cropOverlapRatio && o.*field == AmgOptions{}.cropOverlapRatio) return std::string("512/1500");
        }
        std::ostringstream text;
        text << o.*field;
        return text.str();
      },
      p.field);
}

}  // namespace

namespace {

struct AmgPresetInfo {
  std::string name;
  std::string origin;  // whose settings these are, for --help
};

const std::vector<AmgPresetInfo>& amgPresets() {
  static const std::vector<AmgPresetInfo> presets = {{"fast", ""},
                                                     {"default", ""},
                                                     {"fine", ""},
                                                     {"sam-py", "SAM.py's settings:"},
                                                     {"notebook", "the semantic-segmentation notebook's:"}};
  return presets;
}

}  // namespace

std::vector<std::string> amgPresetNames() {
  std::vector<std::string> names;
  for (const AmgPresetInfo& p : amgPresets()) names.push_back(p.name);
  return names;
}

std::string describeAmgPreset(const std::string& preset) {
  const AmgOptions chosen = amgPreset(preset);
  const AmgOptions official;
  std::string text;
  for (const AmgParameter& p : amgParameters()) {
    const std::string value = formatAmgValue(chosen, p);
    if (value == formatAmgValue(official, p)) continue;
    text += (text.empty() ? "" : ", ") + std::string(p.name) + " " + value;
  }
  return text.empty() ? "the official defaults" : text;
}

void addAmgOptions(CLI::App& app, AmgCli& cli, const std::string& defaultPreset) {
  cli.preset = defaultPreset;
  std::string presetList;
  for (const std::string& name : amgPresetNames()) presetList += (presetList.empty() ? "" : ", ") + name;
  app.add_option("--preset", cli.preset, "Starting settings: " + presetList + " (see Presets below)")
      ->capture_default_str()
      ->group("Generator");
  // Below the options, so that every tool with the generator shows what the presets set.
  app.footer("\n" + amgPresetHelp());
  // The default shown is the tool's default preset's value, and the official one where it differs.
  const AmgOptions shown = amgPreset(defaultPreset);
  const AmgOptions official;
  for (const AmgParameter& p : amgParameters()) {
    std::string help = std::string(p.help) + " [" + formatAmgValue(shown, p);
    if (formatAmgValue(shown, p) != formatAmgValue(official, p)) help += "; official " + formatAmgValue(official, p);
    help += "]";
    const std::string name = std::string("--") + p.name;
    if (p.field == decltype(p.field){&AmgOptions::cropOverlapRatio}) {
      // Read as text: the official default is a fraction.
      CLI::Option* opt = app.add_option(name, cli.overlapText, help)->group("Generator");
      cli.overrides.emplace_back(
          opt, [&cli, name](AmgOptions& o) { o.cropOverlapRatio = parseRatio(cli.overlapText, name); });
      continue;
    }
    std::visit(
        [&](auto field) {
          CLI::Option* opt = app.add_option(name, cli.given.*field, help)->group("Generator");
          AmgOptions* given = &cli.given;
          cli.overrides.emplace_back(opt, [given, field](AmgOptions& o) { o.*field = given->*field; });
        },
        p.field);
  }
  CLI::Option* grids = app.add_option("--point-grids", cli.pointGridsPath,
                                      "JSON point grids per crop layer ([[[x,y],...],...], in [0,1]) instead of "
                                      "--points-per-side")
                           ->group("Generator");
  cli.overrides.emplace_back(grids, [&cli](AmgOptions& o) { o.pointGrids = readPointGrids(cli.pointGridsPath); });
}

std::string amgPresetHelp() {
  std::string text = "Presets (explicit options override them):\n";
  for (const AmgPresetInfo& preset : amgPresets()) {
    const std::string line = "  " + preset.name + std::string(preset.name.size() < 9 ? 9 - preset.name.size() : 1, ' ');
    // Wrapped at about 100 columns, continuation lines indented under the description.
    std::string word, row = line;
    std::istringstream words(preset.origin + " " + describeAmgPreset(preset.name));
    while (words >> word) {
      if (row.size() + word.size() + 1 > 100 && row.size() > line.size()) {
        text += row + "\n";
        row = std::string(line.size(), ' ');
      }
      row += (row.size() > line.size() ? " " : "") + word;
    }
    text += row + "\n";
  }
  return text;
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
  // A closed stdout then fails the write with EPIPE (writeStdout: BrokenPipe) instead of killing
  // the process in the middle of writing an output folder.
  ::signal(SIGPIPE, SIG_IGN);
  app.set_version_flag("--version", app.get_name() + " " + SAMCLI_VERSION, "Print the version and exit");
  try {
    try {
      app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
      writeStdout(app.help());
      return 0;
    } catch (const CLI::CallForAllHelp&) {
      writeStdout(app.help("", CLI::AppFormatMode::All));
      return 0;
    } catch (const CLI::CallForVersion&) {
      writeStdout(app.version() + "\n");
      return 0;
    } catch (const CLI::ParseError& e) {
      Log::error(std::string(e.what()) + " (see --help)");
      return 2;
    }
    if (app.get_option_no_throw("--max-pixels") != nullptr) {
      setMaxImagePixels(maxImagePixels(), kMaxPixelsHint);  // messages about the limit say how to raise it
    }
    return body();
  } catch (const BrokenPipe&) {
    return 0;
  } catch (const InvalidParameter& e) {
    // Every library parameter a tool exposes is the flag of the same name: points_per_side is
    // --points-per-side.
    Log::error(e.renamed([](std::string name) {
      std::replace(name.begin(), name.end(), '_', '-');
      return "--" + name;
    }));
    return 2;
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

std::vector<InputImage> resolveInputs(const CommonOptions& options, std::optional<std::vector<InputImage>> listed) {
  if (options.jsonl && options.jsonPath == "-") {
    throw UsageError("--json - and --jsonl would both write to stdout: give --json a file name, or drop one");
  }
  std::vector<InputImage> inputs =
      listed ? sortInputs(std::move(*listed)) : expandInputs(options.inputs, options.recursive);
  if (!options.shard.empty()) {
    const Shard shard = parseShard(options.shard);
    const size_t all = inputs.size();
    inputs = selectShard(inputs, shard);
    // A scheduler's log then shows which part of the data a task took, and with how many threads.
    if (!shard.origin.empty()) {
      Log::info("shard " + std::to_string(shard.index) + "/" + std::to_string(shard.count) + " (" + shard.origin +
                "): " + std::to_string(inputs.size()) + " of " + std::to_string(all) + " image(s), " +
                std::to_string(threadCount(options.runtime.threads, processEnvironment())) + " CPU thread(s)");
    }
  }
  if (inputs.empty()) Log::warning("no input image to process");
  return inputs;
}

PointXY parsePoint(const std::string& text, const std::string& option) {
  const auto v = parseNumbers(text, ',', option, 2, "X,Y in pixels");
  return {v[0], v[1]};
}

BoxXyxy parseBox(const std::string& text, const std::string& option) {
  const auto v = parseNumbers(text, ',', option, 4, "X0,Y0,X1,Y1 in pixels");
  return normalizeBox({v[0], v[1], v[2], v[3]});
}

void parseClicks(const std::vector<std::string>& positives, const std::vector<std::string>& negatives,
                 std::vector<PointXY>& points, std::vector<int>& labels) {
  for (const auto& p : positives) {
    points.push_back(parsePoint(p, "--point"));
    labels.push_back(1);
  }
  for (const auto& p : negatives) {
    points.push_back(parsePoint(p, "--neg"));
    labels.push_back(0);
  }
}

void parseLabelledPoints(const std::string& text, const std::string& option, std::vector<PointXY>& points,
                         std::vector<int>& labels) {
  const size_t before = points.size();  // points may already hold --point/--neg clicks
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
  if (points.size() == before) throw UsageError("invalid " + option + " '" + text + "': no points");
}

}  // namespace samcli
