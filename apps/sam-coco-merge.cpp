// sam-coco-merge: joins the COCO files of several runs (one per --shard job) into one.
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include <samcli/cli.hpp>
#include <samcli/coco.hpp>
#include <samcli/error.hpp>
#include <samcli/image_io.hpp>
#include <samcli/json_input.hpp>
#include <samcli/records.hpp>

using namespace samcli;

namespace fs = std::filesystem;

namespace {

// A shard listed twice, or the merged file passed back in, shows up as an image in two inputs.
void warnAboutRepeatedImages(const std::vector<std::pair<std::string, nlohmann::ordered_json>>& files) {
  std::map<std::string, std::string> firstFile;
  size_t repeated = 0;
  std::string example;
  for (const auto& [path, coco] : files) {
    for (const auto& image : coco["images"]) {
      if (!image.is_object() || !image.contains("file_name") || !image["file_name"].is_string()) continue;
      const auto [it, fresh] = firstFile.emplace(image["file_name"].get<std::string>(), path);
      if (!fresh && repeated++ == 0) example = "'" + it->first + "' in '" + it->second + "' and '" + path + "'";
    }
  }
  if (repeated > 0) {
    Log::warning(std::to_string(repeated) + " image(s) are in more than one input, e.g. " + example +
                 " (a shard given twice?)");
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Merge COCO instance-segmentation files (the --coco output of samcli tools, one per --shard job, or\n"
      "any COCO dataset file) into one: images are ordered by file_name (as one run over the same inputs\n"
      "orders them, so N shards merge to that run's file byte for byte, whatever the order of the\n"
      "parts), each with its annotations, and renumbered; categories are unified by name, the first\n"
      "file's \"info\" is kept. An image in two inputs (a shard given twice) is reported with a warning.\n"
      "Exit codes: 0 merged; 1 an input is missing, not JSON or not COCO (named in the message), or the\n"
      "output cannot be written; 2 usage error (e.g. the output is one of the inputs).\n\n"
      "Examples:\n"
      "  # 3 jobs over the same input list, then one file for the whole run\n"
      "  sam-amg data/ --recursive --shard 0/3 --coco out/part0.json -o out/\n"
      "  sam-amg data/ --recursive --shard 1/3 --coco out/part1.json -o out/\n"
      "  sam-amg data/ --recursive --shard 2/3 --coco out/part2.json -o out/\n"
      "  sam-coco-merge out/part*.json -o out/all.json\n"
      "  sam-coco-merge a.json b.json -o - | jq '.annotations | length'",
      "sam-coco-merge"};
  std::vector<std::string> inputs;
  std::string outPath;
  bool quiet = false;
  app.add_option("files", inputs, "COCO JSON files to merge")->required()->type_name("COCO.json...");
  app.add_option("-o,--output", outPath, "Merged COCO file ('-' = stdout; a regular file is replaced atomically, a symlink, device or FIFO written through)")
      ->required()
      ->type_name("FILE|-");
  app.add_flag("-q,--quiet", quiet, "No summary line on stderr (warnings and errors are still printed)");

  return runTool(app, argc, argv, [&] {
    Log::setQuiet(quiet);
    if (outPath != "-") {
      for (const auto& input : inputs) {
        std::error_code ec;
        if (fs::equivalent(input, outPath, ec)) {
          throw UsageError("output '" + outPath + "' is also an input; write the merged file elsewhere");
        }
      }
    }
    std::vector<std::pair<std::string, nlohmann::ordered_json>> files;
    for (const auto& input : inputs) files.emplace_back(input, readOrderedJsonFile(input));
    const nlohmann::ordered_json merged = mergeCoco(files);
    warnAboutRepeatedImages(files);

    const std::string text = dumpJson(merged, false);
    writeOutputFile(outPath, text);
    Log::info("merged " + std::to_string(files.size()) + " file(s): " + std::to_string(merged["images"].size()) +
              " image(s), " + std::to_string(merged["annotations"].size()) + " annotation(s), " +
              std::to_string(merged["categories"].size()) + " categor" +
              (merged["categories"].size() == 1 ? "y" : "ies"));
    return 0;
  });
}
