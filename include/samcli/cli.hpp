#pragma once
// What every samcli tool shares on the command line: option declarations (model, device, threads,
// output, JSON, verbosity), prompt-argument parsing, diagnostics on stderr and the exit-code rules.
// Exit codes: 0 success; 1 an input, output or model failed (or a quality gate failed); 2 usage
// error: unknown option, malformed or out-of-range value (UsageError).
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "samcli/amg.hpp"
#include "samcli/geometry.hpp"
#include "samcli/inputs.hpp"
#include "samcli/log.hpp"
#include "samcli/model.hpp"

namespace samcli {

struct CommonOptions {
  std::vector<std::string> inputs;  // files, directories, glob patterns, @list, - (see inputs.hpp)
  bool recursive = false;
  std::string shard;                // --shard I/N
  std::string model;                // --model DIR|NAME (default $SAMCLI_MODEL)
  RuntimeOptions runtime;           // --device, --threads, --embedding-cache
  std::string outDir = "out";
  std::string jsonPath;             // --json FILE|- (all records of the run)
  bool jsonl = false;               // one line per image on stdout
  std::string cocoPath;             // --coco FILE
  bool skipExisting = false;
  bool keepGoing = false;
  bool quiet = false;
  std::string promptsPath;          // --prompts FILE (tools with per-image prompts, see prompt_file.hpp)
  bool session = false;             // --session: prompts from stdin (session.hpp)
};

// Declares --max-pixels N (image_io.hpp's maxImagePixels), part of the common options; for tools
// that read images or masks without them (sam-eval).
CLI::Option* addMaxPixelsOption(CLI::App& app);

// Declares the positional IMAGE... inputs and the shared options on `app`.
void addCommonOptions(CLI::App& app, CommonOptions& options);

// Declares --prompts FILE (per-image prompts, prompt_file.hpp) after addCommonOptions: a run then
// takes its images either from IMAGE... or from the prompt file, exactly one of the two (a parse
// error otherwise). `fields` says in the help which fields of an entry the tool uses.
CLI::Option* addPromptFileOption(CLI::App& app, CommonOptions& options, const std::string& fields);

// Declares --session (sam-point, sam-box: prompts from stdin, see session.hpp) after
// addPromptFileOption: a run then takes IMAGE..., --prompts FILE or --session.
CLI::Option* addSessionOption(CLI::App& app, CommonOptions& options);

// The automatic generator's options, shared by sam-amg and sam-semantic: --preset plus every
// official parameter, each overriding the preset only when given.
struct AmgCli {
  std::string preset;
  AmgOptions given;
  std::string pointGridsPath;
  std::string overlapText;
  std::vector<std::pair<CLI::Option*, std::function<void(AmgOptions&)>>> overrides;
};
// Each option's help shows the value of `defaultPreset` (and the official default where it differs);
// the presets are described in the help's footer (amgPresetHelp).
void addAmgOptions(CLI::App& app, AmgCli& cli, const std::string& defaultPreset);
// The presets in --help order, and what one sets: "points-per-side 16" or "the official defaults".
std::vector<std::string> amgPresetNames();
std::string describeAmgPreset(const std::string& preset);
// "Presets (explicit options override them):" and one line per preset, for a tool's description.
std::string amgPresetHelp();
// The preset with the given options applied, validated (throws UsageError).
AmgOptions resolveAmgOptions(const AmgCli& cli);

// Parses argv and runs `body`. Prints "<tool>: error: <message>" for any failure (one line, no stack
// trace) and maps it to the exit codes above; --help prints the help and returns 0.
int runTool(CLI::App& app, int argc, char** argv, const std::function<int()>& body);


// The run's images: IMAGE... expanded (or `listed`, e.g. a prompt file's images), sorted, checked
// for output-folder collisions and sharded; the output options are checked against each other
// (UsageError). Tools call it before loading a model, so that a bad pattern, list or option pair is
// reported at once rather than after seconds of loading, then run them with processImages
// (batch_run.hpp).
std::vector<InputImage> resolveInputs(const CommonOptions& options,
                                      std::optional<std::vector<InputImage>> listed = std::nullopt);

// "X,Y" -> point; "X0,Y0,X1,Y1" -> box (corners in any order, normalised); "x,y,label;..." -> points
// with labels. Throw Error naming the option and the value.
PointXY parsePoint(const std::string& text, const std::string& option);
BoxXyxy parseBox(const std::string& text, const std::string& option);
// --point (label 1) then --neg (label 0) values, appended to points/labels.
void parseClicks(const std::vector<std::string>& positives, const std::vector<std::string>& negatives,
                 std::vector<PointXY>& points, std::vector<int>& labels);
void parseLabelledPoints(const std::string& text, const std::string& option, std::vector<PointXY>& points,
                         std::vector<int>& labels);

}  // namespace samcli
