#pragma once
// What every samcli tool shares on the command line: option declarations (model, device, threads,
// output, JSON, verbosity), prompt-argument parsing, diagnostics on stderr and the exit-code rules.
// Exit codes: 0 success; 1 an input, output or model failed (or a quality gate failed); 2 usage
// error: unknown option, malformed or out-of-range value (UsageError).
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "samcli/amg.hpp"
#include "samcli/geometry.hpp"
#include "samcli/model.hpp"

namespace samcli {

struct CommonOptions {
  std::vector<std::string> inputs;
  std::string model;        // --model DIR|NAME (default $SAMCLI_MODEL)
  RuntimeOptions runtime;   // --device, --threads
  std::string outDir = "out";
  std::string jsonPath;     // --json FILE|- (all records of the run)
  bool quiet = false;
};

// Declares the positional IMAGE... inputs and the shared options on `app`.
void addCommonOptions(CLI::App& app, CommonOptions& options);

// The automatic generator's options, shared by sam-amg and sam-semantic: --preset plus every
// official parameter, each overriding the preset only when given.
struct AmgCli {
  std::string preset;
  AmgOptions given;
  std::string pointGridsPath;
  std::string overlapText;
  std::vector<std::pair<CLI::Option*, std::function<void(AmgOptions&)>>> overrides;
};
void addAmgOptions(CLI::App& app, AmgCli& cli, const std::string& defaultPreset);
// The preset with the given options applied, validated (throws UsageError).
AmgOptions resolveAmgOptions(const AmgCli& cli);

// Parses argv and runs `body`. Prints "<tool>: error: <message>" for any failure (one line, no stack
// trace) and maps it to the exit codes above; --help prints the help and returns 0.
int runTool(CLI::App& app, int argc, char** argv, const std::function<int()>& body);

// Progress and diagnostics, always on stderr so stdout stays data-only.
class Log {
 public:
  static void setTool(std::string name);
  static void setQuiet(bool quiet);
  static void info(const std::string& message);     // suppressed by --quiet
  static void warning(const std::string& message);  // "<tool>: warning: ..."
  static void error(const std::string& message);    // "<tool>: error: ..."
};

// Runs `perImage` on every input image in order, timing each and reporting progress on stderr.
// perImage returns the image's JSON document; with --json they are gathered into one array (stdout
// for '-'). The first failing image stops the run with its one-line error. Returns the exit code.
int processImages(const CommonOptions& options,
                  const std::function<nlohmann::ordered_json(const std::string& path)>& perImage);

// "X,Y" -> point; "X0,Y0,X1,Y1" -> box (corners in any order, normalised); "x,y,label;..." -> points
// with labels. Throw Error naming the option and the value.
PointXY parsePoint(const std::string& text, const std::string& option);
BoxXyxy parseBox(const std::string& text, const std::string& option);
void parseLabelledPoints(const std::string& text, const std::string& option, std::vector<PointXY>& points,
                         std::vector<int>& labels);

}  // namespace samcli
