// The option layer every tool shares (samcli_cli): prompt arguments, the generator's options and
// presets, the output-option checks, and how runTool turns failures into one line and an exit code.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "samcli/cli.hpp"
#include "samcli/image_io.hpp"
#include "samcli/error.hpp"
#include "samcli/outputs.hpp"
#include "support/capture.hpp"
#include "support/temp_dir.hpp"
#include "support/message_of.hpp"

using namespace samcli;
namespace fs = std::filesystem;
using Catch::Contains;
using Catch::EndsWith;
using Catch::StartsWith;

namespace {

// runTool on `args` (argv[0] is the tool's name), with what it printed.
struct ToolRun {
  int code = -1;
  bool bodyRan = false;
  std::string out;
  std::string err;
};

ToolRun run(CLI::App& app, std::vector<std::string> args, const std::function<int()>& body) {
  args.insert(args.begin(), app.get_name());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  ToolRun r;
  test::StdoutCapture out;
  test::Capture err(std::cerr);
  r.code = runTool(app, int(args.size()), argv.data(), [&] {
    r.bodyRan = true;
    return body();
  });
  r.out = out.text();
  r.err = err.text();
  setMaxImagePixels(kDefaultMaxPixels);  // runTool configured the process-wide limit for its tool
  return r;
}

// The generator's options of a tool whose default preset is `preset`, after parsing `commandLine`.
AmgOptions resolved(const std::string& preset, const std::string& commandLine) {
  CLI::App app{"test", "sam-test"};
  AmgCli cli;
  addAmgOptions(app, cli, preset);
  app.parse(commandLine);
  return resolveAmgOptions(cli);
}

}  // namespace

TEST_CASE("parsePoint: X,Y in pixels", "[cli]") {
  const PointXY p = parsePoint("10,20.5", "--point");
  CHECK(p.x == 10);
  CHECK(p.y == 20.5);
  const PointXY q = parsePoint(" -3 , 4e1 ", "--point");
  CHECK(q.x == -3);
  CHECK(q.y == 40);
}

TEST_CASE("parsePoint: malformed values are usage errors naming the option and the value", "[cli]") {
  for (const char* bad : {"", "10", "10,20,30", "a,b", "10,x", "10,20px", ",10", "10,,20", "10,20,", "10;20", "nan,1",
                          "1,inf", "-inf,1", "1,1e999"}) {
    INFO("'" << bad << "'");
    CHECK(test::messageOf<UsageError>([&] { parsePoint(bad, "--point"); }) ==
          std::string("invalid --point '") + bad + "' (expected X,Y in pixels)");
  }
  CHECK(test::messageOf<UsageError>([] { parsePoint("1", "--neg"); }) == "invalid --neg '1' (expected X,Y in pixels)");
}

TEST_CASE("parseBox: X0,Y0,X1,Y1 with the corners in any order", "[cli]") {
  const BoxXyxy b = parseBox("10,5,30,25", "--box");
  CHECK((b.x0 == 10 && b.y0 == 5 && b.x1 == 30 && b.y1 == 25));
  const BoxXyxy swapped = parseBox("30,25,10,5", "--box");
  CHECK((swapped.x0 == 10 && swapped.y0 == 5 && swapped.x1 == 30 && swapped.y1 == 25));
  const BoxXyxy mixed = parseBox("10.5,25,30,5", "--box");
  CHECK((mixed.x0 == 10.5 && mixed.y0 == 5 && mixed.x1 == 30 && mixed.y1 == 25));

  for (const char* bad : {"", "1,2,3", "1,2,3,4,5", "1,2,3,4,", "1,2,,4", "1,2,3,nan", "inf,2,3,4", "1 2 3 4"}) {
    INFO("'" << bad << "'");
    CHECK(test::messageOf<UsageError>([&] { parseBox(bad, "--box"); }) ==
          std::string("invalid --box '") + bad + "' (expected X0,Y0,X1,Y1 in pixels)");
  }
}

TEST_CASE("parseLabelledPoints: \"x,y,label;...\" appended with their labels", "[cli]") {
  std::vector<PointXY> points{{1, 1}};
  std::vector<int> labels{1};
  parseLabelledPoints("10,20,1; 30.5,40,0", "--points", points, labels);
  REQUIRE(points.size() == 3);
  CHECK((points[1].x == 10 && points[1].y == 20));
  CHECK((points[2].x == 30.5 && points[2].y == 40));
  CHECK(labels == std::vector<int>{1, 1, 0});

  // Blank entries between or after the ';' separators are skipped.
  points.clear();
  labels.clear();
  parseLabelledPoints("10,20,0;; 5,6,1;", "--points", points, labels);
  CHECK(points.size() == 2);
  CHECK(labels == std::vector<int>{0, 1});
}

TEST_CASE("parseLabelledPoints: malformed entries, labels and empty lists are usage errors", "[cli]") {
  const auto errorOf = [](const std::string& text) {
    std::vector<PointXY> points;
    std::vector<int> labels;
    return test::messageOf<UsageError>([&] { parseLabelledPoints(text, "--points", points, labels); });
  };
  const std::string shape = "(expected \"x,y,label;...\" with label 1 (foreground) or 0 (background))";
  CHECK(errorOf("10,20") == "invalid --points '10,20' " + shape);
  CHECK(errorOf("1,2,1;10,20") == "invalid --points '10,20' " + shape);  // names the bad entry
  CHECK(errorOf("10,20,1,") == "invalid --points '10,20,1,' " + shape);
  CHECK(errorOf("10,nan,1") == "invalid --points '10,nan,1' " + shape);
  CHECK(errorOf("10,20,2") == "invalid --points '10,20,2': label must be 1 (foreground) or 0 (background)");
  CHECK(errorOf("10,20,0.5") == "invalid --points '10,20,0.5': label must be 1 (foreground) or 0 (background)");
  CHECK(errorOf("") == "invalid --points '': no points");
  CHECK(errorOf(" ; ;") == "invalid --points ' ; ;': no points");
  // Also after other clicks (sam-point appends --points to the --point/--neg ones).
  std::vector<PointXY> points{{1, 2}};
  std::vector<int> labels{1};
  CHECK(test::messageOf<UsageError>([&] { parseLabelledPoints(";", "--points", points, labels); }) ==
        "invalid --points ';': no points");
}

TEST_CASE("parseClicks: --point values (label 1) then --neg values (label 0)", "[cli]") {
  std::vector<PointXY> points{{7, 7}};
  std::vector<int> labels{0};
  parseClicks({"1,2", "3,4"}, {"5,6"}, points, labels);
  REQUIRE(points.size() == 4);
  CHECK((points[1].x == 1 && points[1].y == 2));
  CHECK((points[2].x == 3 && points[2].y == 4));
  CHECK((points[3].x == 5 && points[3].y == 6));
  CHECK(labels == std::vector<int>{0, 1, 1, 0});

  CHECK(test::messageOf<UsageError>([&] { parseClicks({"1,2,"}, {}, points, labels); }) ==
        "invalid --point '1,2,' (expected X,Y in pixels)");
  CHECK(test::messageOf<UsageError>([&] { parseClicks({"1,2"}, {"5"}, points, labels); }) ==
        "invalid --neg '5' (expected X,Y in pixels)");
}

TEST_CASE("addAmgOptions: help shows the tool's preset value and the official one where it differs", "[cli]") {
  const auto descriptions = [](const std::string& preset) {
    CLI::App app{"test", "sam-test"};
    AmgCli cli;
    addAmgOptions(app, cli, preset);
    std::map<std::string, std::string> d;
    for (const char* name : {"--pred-iou-thresh", "--points-per-side", "--stability-score-thresh", "--crop-n-layers",
                             "--crop-overlap-ratio", "--points-per-batch"}) {
      d[name] = app.get_option(name)->get_description();
    }
    d["--preset"] = app.get_option("--preset")->get_default_str();
    return d;
  };
  auto notebook = descriptions("notebook");
  CHECK_THAT(notebook["--pred-iou-thresh"], EndsWith(" [0.86; official 0.88]"));
  CHECK_THAT(notebook["--points-per-side"], EndsWith(" [51; official 32]"));
  CHECK_THAT(notebook["--stability-score-thresh"], EndsWith(" [0.92; official 0.95]"));
  CHECK_THAT(notebook["--crop-n-layers"], EndsWith(" [1; official 0]"));
  CHECK_THAT(notebook["--crop-overlap-ratio"], EndsWith(" [512/1500]"));
  CHECK_THAT(notebook["--points-per-batch"], EndsWith(" [64]"));
  CHECK(notebook["--preset"] == "notebook");

  auto official = descriptions("default");
  CHECK_THAT(official["--pred-iou-thresh"], EndsWith(" [0.88]"));
  CHECK_THAT(official["--points-per-side"], EndsWith(" [32]"));
  CHECK_THAT(official["--stability-score-thresh"], EndsWith(" [0.95]"));
  CHECK_THAT(official["--crop-overlap-ratio"], EndsWith(" [512/1500]"));
  CHECK(official["--preset"] == "default");
}

TEST_CASE("AMG presets: names in help order, and exactly what each changes", "[cli]") {
  CHECK(amgPresetNames() == std::vector<std::string>{"fast", "default", "fine", "sam-py", "notebook"});
  CHECK(describeAmgPreset("default") == "the official defaults");
  CHECK(describeAmgPreset("fast") == "points-per-side 16");
  CHECK(describeAmgPreset("fine") == "crop-n-layers 1, crop-n-points-downscale-factor 2, min-mask-region-area 100");
  // SAM.py's stability threshold is the official 0.95, so it is not listed.
  CHECK(describeAmgPreset("sam-py") ==
        "points-per-side 10, pred-iou-thresh 0.995, crop-n-layers 1, crop-n-points-downscale-factor 2, "
        "min-mask-region-area 100");
  CHECK(describeAmgPreset("notebook") ==
        "points-per-side 51, pred-iou-thresh 0.86, stability-score-thresh 0.92, crop-n-layers 1, "
        "crop-n-points-downscale-factor 2, min-mask-region-area 100");
  CHECK_THROWS_AS(describeAmgPreset("nope"), UsageError);

  const std::string help = amgPresetHelp();
  CHECK_THAT(help, StartsWith("Presets (explicit options override them):\n"));
  CHECK_THAT(help, Contains("\n  default  the official defaults\n"));
  CHECK_THAT(help, Contains("\n  fast     points-per-side 16\n"));
  CHECK_THAT(help, Contains("\n  sam-py   SAM.py's settings: points-per-side 10,"));
}

TEST_CASE("resolveAmgOptions: the preset, then only the options given", "[cli]") {
  const AmgOptions preset = resolved("default", "--preset sam-py");
  CHECK(preset.pointsPerSide == 10);
  CHECK(preset.predIouThresh == 0.995);
  CHECK(preset.cropNLayers == 1);
  CHECK(preset.minMaskRegionArea == 100);

  const AmgOptions o = resolved("default", "--preset sam-py --pred-iou-thresh 0.9 --crop-overlap-ratio 0.25");
  CHECK(o.predIouThresh == 0.9);
  CHECK(o.cropOverlapRatio == 0.25);
  CHECK(o.pointsPerSide == 10);  // not given: the preset's, not the official 32
  CHECK(o.cropNPointsDownscaleFactor == 2);
  CHECK(o.stabilityScoreThresh == 0.95);

  // A value equal to the official default still overrides the preset when given.
  CHECK(resolved("notebook", "--points-per-side 32").pointsPerSide == 32);
  CHECK(resolved("notebook", "--points-per-side 32").predIouThresh == 0.86);
  // The tool's default preset applies without --preset.
  CHECK(resolved("notebook", "").pointsPerSide == 51);
  CHECK(resolved("default", "").pointsPerSide == 32);
  // The official overlap as its source writes it.
  CHECK(resolved("default", "--crop-overlap-ratio 512/1500").cropOverlapRatio == 512.0 / 1500.0);
  CHECK(resolved("default", "--crop-overlap-ratio 1/4").cropOverlapRatio == 0.25);
}

TEST_CASE("resolveAmgOptions: malformed, out-of-range values and unknown presets are usage errors", "[cli]") {
  for (const char* bad : {"abc", "1/0", "1/", "/2", "0.3x", "1/3x"}) {
    INFO(bad);
    CHECK(test::messageOf<UsageError>([&] { resolved("default", std::string("--crop-overlap-ratio ") + bad); }) ==
          std::string("invalid --crop-overlap-ratio '") + bad + "' (expected a number or a fraction like 512/1500)");
  }
  // The library's checks name its parameters; runTool shows them as flags (test below).
  CHECK_THAT(test::messageOf<InvalidParameter>([] { resolved("default", "--pred-iou-thresh 1.5"); }),
             StartsWith("pred_iou_thresh must be between 0 and 1"));
  CHECK(test::messageOf<InvalidParameter>([] { resolved("default", "--points-per-side 0"); }) ==
        "points_per_side must be between 1 and 1024 (got 0)");
  CHECK_THAT(test::messageOf<InvalidParameter>([] { resolved("default", "--preset nope"); }), StartsWith("unknown preset 'nope'"));
  // A non-number for an integer option is CLI11's parse error.
  CHECK_THROWS_AS(resolved("default", "--points-per-side many"), CLI::ParseError);
}

TEST_CASE("resolveInputs: --json - and --jsonl cannot share stdout", "[cli]") {
  const std::vector<InputImage> listed = {{"b.png", "b"}, {"a.png", "a"}, {"c.png", "c"}, {"d.png", "d"}};
  CommonOptions options;
  options.jsonPath = "-";
  options.jsonl = true;
  CHECK(test::messageOf<UsageError>([&] { resolveInputs(options, listed); }) ==
        "--json - and --jsonl would both write to stdout: give --json a file name, or drop one");

  options.jsonPath = "run.json";
  const std::vector<InputImage> inputs = resolveInputs(options, listed);
  REQUIRE(inputs.size() == 4);
  CHECK(inputs[0].path == "a.png");  // sorted
  CHECK(inputs[3].path == "d.png");

  options.jsonl = false;
  options.jsonPath = "-";
  options.shard = "1/2";
  const std::vector<InputImage> shard = resolveInputs(options, listed);
  REQUIRE(shard.size() == 2);
  CHECK(shard[0].path == "b.png");
  CHECK(shard[1].path == "d.png");
}

TEST_CASE("addCommonOptions: a repeated single-value option takes its last value", "[cli]") {
  CLI::App app{"test", "sam-test"};
  CommonOptions options;
  addCommonOptions(app, options);
  app.parse("a.png -o first --out second --threads 2 --threads 3 b.png");
  CHECK(options.outDir == "second");
  CHECK(options.runtime.threads == 3);
  CHECK(options.inputs == std::vector<std::string>{"a.png", "b.png"});
}

TEST_CASE("runTool: exit 0 on success, the body's code otherwise", "[cli]") {
  CLI::App app{"test", "sam-test"};
  CommonOptions options;
  addCommonOptions(app, options);
  const ToolRun ok = run(app, {"a.png"}, [] { return 0; });
  CHECK(ok.code == 0);
  CHECK(ok.bodyRan);
  CHECK(ok.err.empty());
  CHECK(run(app, {"a.png"}, [] { return 1; }).code == 1);
}

TEST_CASE("runTool: --help prints the help on stdout, exit 0, without running the body", "[cli]") {
  CLI::App app{"Segment things.", "sam-test"};
  CommonOptions options;
  addCommonOptions(app, options);
  const ToolRun r = run(app, {"--help"}, [] { return 1; });
  CHECK(r.code == 0);
  CHECK_FALSE(r.bodyRan);
  CHECK_THAT(r.out, Contains("Segment things."));
  CHECK_THAT(r.out, Contains("--keep-going"));
  CHECK(r.err.empty());
}

TEST_CASE("runTool: command-line errors exit 2 with one line naming the tool", "[cli]") {
  CLI::App app{"test", "sam-test"};
  CommonOptions options;
  addCommonOptions(app, options);
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"a.png", "--bogus"}, {}, {"a.png", "--threads", "-1"}, {"a.png", "--threads", "many"}}) {
    const ToolRun r = run(app, args, [] { return 0; });
    INFO(r.err);
    CHECK(r.code == 2);
    CHECK_FALSE(r.bodyRan);
    CHECK_THAT(r.err, StartsWith("sam-test: error: "));
    CHECK_THAT(r.err, EndsWith(" (see --help)\n"));
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    app.clear();
  }
}

TEST_CASE("runTool: UsageError exits 2, Error 1, other exceptions 1 with their first line", "[cli]") {
  CLI::App app{"test", "sam-test"};
  CommonOptions options;
  addCommonOptions(app, options);

  const ToolRun usage = run(app, {"a.png"}, []() -> int { throw UsageError("invalid --point 'x'"); });
  CHECK(usage.code == 2);
  CHECK(usage.err == "sam-test: error: invalid --point 'x'\n");
  app.clear();

  const ToolRun failure = run(app, {"a.png"}, []() -> int { throw Error("cannot read 'a.png': no such file"); });
  CHECK(failure.code == 1);
  CHECK(failure.err == "sam-test: error: cannot read 'a.png': no such file\n");
  CHECK(failure.out.empty());
  app.clear();

  const ToolRun internal =
      run(app, {"a.png"}, []() -> int { throw std::runtime_error("shape mismatch\n  at frame 1\n  at frame 2"); });
  CHECK(internal.code == 1);
  CHECK(internal.err == "sam-test: error: internal error: shape mismatch\n");
}

TEST_CASE("runTool: a library parameter is named by its flag, exit 2", "[cli]") {
  CLI::App app{"test", "sam-test"};
  CommonOptions options;
  addCommonOptions(app, options);
  AmgCli amg;
  addAmgOptions(app, amg, "default");
  const ToolRun r = run(app, {"a.png", "--points-per-side", "4", "--crop-n-layers", "3", "--crop-n-points-downscale-factor", "2"},
                        [&]() -> int {
                          resolveAmgOptions(amg);
                          return 0;
                        });
  CHECK(r.code == 2);
  CHECK(r.err == "sam-test: error: --crop-n-points-downscale-factor leaves no points in crop layer 3\n");
  app.clear();

  const ToolRun two = run(app, {"a.png"}, []() -> int {
    throw InvalidParameter({"point_grids", "crop_n_layers"}, "point_grids has 1 grid(s) but crop_n_layers 2 needs 3");
  });
  CHECK(two.err == "sam-test: error: --point-grids has 1 grid(s) but --crop-n-layers 2 needs 3\n");
}

TEST_CASE("addPromptFileOption: IMAGE... or --prompts FILE, exactly one of the two", "[cli]") {
  CLI::App app{"test", "sam-test"};
  CommonOptions options;
  addCommonOptions(app, options);
  addPromptFileOption(app, options, "Fields used: points, labels.");
  CHECK_THAT(app.get_description(), Contains("Fields used: points, labels."));

  CHECK(run(app, {"a.png"}, [] { return 0; }).code == 0);
  app.clear();
  const ToolRun prompts = run(app, {"--prompts", "p.json"}, [] { return 0; });
  CHECK(prompts.code == 0);
  CHECK(options.promptsPath == "p.json");
  app.clear();
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{}, {"a.png", "--prompts", "p.json"}}) {
    const ToolRun r = run(app, args, [] { return 0; });
    INFO(r.err);
    CHECK(r.code == 2);
    CHECK_FALSE(r.bodyRan);
    app.clear();
  }
}

TEST_CASE("outputPathUnder keeps every output name inside the output folder", "[cli]") {
  test::TempDir dir;
  const std::string out = dir / "out";
  CHECK(outputPathUnder(out, "a/b") == out + "/a/b");
  CHECK(outputPathUnder(out, "..png") == out + "/..png");
  for (const std::string bad : {"", ".", "..", "../x", "a/../../x", "a/./b", "/etc/x", "a//", "a/"}) {
    CHECK_THROWS_WITH(outputPathUnder(out, bad), Catch::Contains("outside the output folder '" + out + "'"));
  }
  fs::create_directories(dir / "elsewhere");
  fs::create_directories(out);
  fs::create_directory_symlink(dir / "elsewhere", out + "/link");
  CHECK_THROWS_WITH(outputPathUnder(out, "link/x"), Catch::Contains("a symlink leading out of it"));
  fs::create_directory_symlink(out + "/a", out + "/inside");  // a symlink that stays inside is fine
  fs::create_directories(out + "/a");
  CHECK(outputPathUnder(out, "inside/x") == out + "/inside/x");
}
