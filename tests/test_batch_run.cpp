// The batch runner (batch_run.hpp) with a task instead of a model: every image's pixels reach its own
// task and its own folder, a result another process finishes meanwhile is never overwritten under
// --skip-existing, and every image is reported once, in input order, whatever became of it.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "samcli/batch_run.hpp"
#include "samcli/error.hpp"
#include "samcli/image_io.hpp"
#include "samcli/log.hpp"
#include "support/capture.hpp"
#include "support/message_of.hpp"
#include "support/temp_dir.hpp"

using namespace samcli;
namespace fs = std::filesystem;

namespace {

int indexOf(const InputImage& input) { return std::stoi(input.outputName.substr(3)); }

// What another process sharing the output folder leaves: a finished folder of its own.
void finishElsewhere(const std::string& folder) {
  fs::create_directories(folder);
  std::ofstream(fs::path(folder) / "masks.json") << R"({"image": "other process", "masks": []})";
}

std::string imageIn(const std::string& folder) {
  std::ifstream in(fs::path(folder) / "masks.json");
  return nlohmann::json::parse(in).at("image").get<std::string>();
}

nlohmann::json readJson(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

// The --jsonl lines on stdout, parsed.
std::vector<nlohmann::json> jsonLines(const std::string& text) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

// A run over img0.png..img<n-1>.png, each one grey value (40 * index) that names it, into <dir>/out.
struct Batch {
  explicit Batch(int n) {
    Log::setQuiet(true);
    for (int i = 0; i < n; ++i) {
      writePngAtomic(dir / ("in/img" + std::to_string(i) + ".png"), cv::Mat(4, 4, CV_8UC3, cv::Scalar::all(40 * i)));
    }
    inputs = expandInputs({dir / "in"}, false);
    options.outDir = dir / "out";
  }

  // Runs the images; the task checks the pixels it gets and calls `during(index)` as inference
  // would take its time (an Error thrown there fails the image).
  int run(const std::function<void(int)>& during) {
    return processImages(options, inputs, [&](const InputImage& input, const cv::Mat& rgb) {
      const int index = indexOf(input);
      CHECK(int(rgb.at<cv::Vec3b>(0, 0)[0]) == 40 * index);  // its own pixels, never a neighbour's
      processed.insert(index);
      during(index);
      ImageOutcome outcome;
      outcome.doc = {{"image", input.path}, {"width", rgb.cols}, {"height", rgb.rows}, {"masks", nlohmann::json::array()}};
      outcome.write = [doc = outcome.doc.dump()](ImageOutputDir& out) { out.writeText("masks.json", doc); };
      return outcome;
    });
  }

  // Whose result the image's folder holds: an input's path, or "other process".
  std::string imageOf(int index) const { return imageIn(dir / ("out/img" + std::to_string(index))); }

  test::TempDir dir;
  std::vector<InputImage> inputs;
  CommonOptions options;
  std::set<int> processed;  // the images the task ran on
};

}  // namespace

TEST_CASE("processImages: a folder finished by another process during the run is kept under --skip-existing",
          "[batch_run]") {
  Batch batch(6);
  batch.options.skipExisting = true;
  const int code = batch.run([&](int index) {
    // While image 1 is inferred, image 2 (decided and being read already) is finished elsewhere;
    // while image 4 is inferred, so is image 4 itself.
    if (index == 1) finishElsewhere(batch.dir / "out/img2");
    if (index == 4) finishElsewhere(batch.dir / "out/img4");
  });
  CHECK(code == 0);
  CHECK(batch.processed == std::set<int>{0, 1, 2, 3, 4, 5});
  for (int i : {0, 1, 3, 5}) CHECK(batch.imageOf(i) == batch.inputs[size_t(i)].path);
  CHECK(batch.imageOf(2) == "other process");
  CHECK(batch.imageOf(4) == "other process");
  for (const auto& entry : fs::directory_iterator(batch.dir / "out")) {
    CHECK(entry.path().filename().string().find(".tmp-") == std::string::npos);
  }
}

TEST_CASE("processImages: --skip-existing decides before reading, without it results are replaced", "[batch_run]") {
  Batch batch(4);
  finishElsewhere(batch.dir / "out/img1");
  batch.options.skipExisting = true;
  CHECK(batch.run([](int) {}) == 0);
  CHECK(batch.processed == std::set<int>{0, 2, 3});
  CHECK(batch.imageOf(1) == "other process");

  batch.options.skipExisting = false;
  batch.processed.clear();
  CHECK(batch.run([&](int index) {
          if (index == 2) finishElsewhere(batch.dir / "out/img3");
        }) == 0);
  CHECK(batch.processed == std::set<int>{0, 1, 2, 3});
  for (int i = 0; i < 4; ++i) CHECK(batch.imageOf(i) == batch.inputs[size_t(i)].path);
}

TEST_CASE("processImages --keep-going: a failure is reported in input order and the rest run, exit 1", "[batch_run]") {
  Batch batch(4);
  batch.options.keepGoing = true;
  batch.options.jsonl = true;
  batch.options.jsonPath = batch.dir / "all.json";
  batch.options.cocoPath = batch.dir / "coco.json";
  test::StdoutCapture out;
  test::Capture err(std::cerr);
  const int code = batch.run([](int index) {
    if (index == 1) throw Error("img1 failed");
  });
  const std::vector<nlohmann::json> lines = jsonLines(out.text());
  CHECK(code == 1);
  CHECK(batch.processed == std::set<int>{0, 1, 2, 3});
  REQUIRE(lines.size() == 4);
  const std::vector<std::string> statuses = {"ok", "error", "ok", "ok"};
  for (size_t i = 0; i < 4; ++i) {
    CHECK(lines[i].at("image") == batch.inputs[i].path);
    CHECK(lines[i].at("output") == batch.dir / ("out/" + batch.inputs[i].outputName));
    CHECK(lines[i].at("status") == statuses[i]);
    CHECK(lines[i].at("masks") == 0);
    CHECK(lines[i].contains("error") == (i == 1));
  }
  CHECK(lines[1].at("error") == "img1 failed");
  CHECK_FALSE(fs::exists(batch.dir / "out/img1"));
  CHECK_THAT(err.text(), Catch::Contains("error: img1 failed") && Catch::Contains("1 of 4 image(s) failed"));
  // --json and --coco hold the images that did not fail; COCO names them below their input folder.
  const nlohmann::json all = readJson(batch.dir / "all.json");
  REQUIRE(all.size() == 3);
  CHECK(all[0].at("image") == batch.inputs[0].path);
  CHECK(all[1].at("image") == batch.inputs[2].path);
  CHECK(all[2].at("image") == batch.inputs[3].path);
  const nlohmann::json coco = readJson(batch.dir / "coco.json");
  REQUIRE(coco.at("images").size() == 3);
  CHECK(coco["images"][0].at("file_name") == "img0.png");
  CHECK(coco["images"][1].at("file_name") == "img2.png");
  CHECK(coco["images"][2].at("file_name") == "img3.png");
}

TEST_CASE("processImages: without --keep-going the first failure stops the run once the image before it is written",
          "[batch_run]") {
  Batch batch(5);
  batch.options.jsonPath = batch.dir / "all.json";
  CHECK(test::messageOf<Error>([&] {
          batch.run([](int index) {
            if (index == 2) throw Error("img2 failed");
          });
        }) == "img2 failed");
  CHECK(batch.processed == std::set<int>{0, 1, 2});
  CHECK(batch.imageOf(0) == batch.inputs[0].path);
  CHECK(batch.imageOf(1) == batch.inputs[1].path);
  for (const char* notWritten : {"out/img2", "out/img3", "out/img4", "all.json"}) {
    CHECK_FALSE(fs::exists(batch.dir / notWritten));
  }
}

TEST_CASE("processImages --skip-existing: a skipped image reports its finished document, an unreadable one fails",
          "[batch_run]") {
  Batch batch(4);
  finishElsewhere(batch.dir / "out/img1");
  batch.dir.write("out/img2/masks.json", "{\"image\": ");
  batch.options.skipExisting = true;
  batch.options.keepGoing = true;
  batch.options.jsonl = true;
  batch.options.jsonPath = batch.dir / "all.json";
  test::StdoutCapture out;
  test::Capture err(std::cerr);
  const int code = batch.run([](int) {});
  const std::vector<nlohmann::json> lines = jsonLines(out.text());
  CHECK(code == 1);
  CHECK(batch.processed == std::set<int>{0, 3});
  REQUIRE(lines.size() == 4);
  CHECK(lines[0].at("status") == "ok");
  CHECK(lines[1].at("status") == "skipped");
  CHECK(lines[2].at("status") == "error");
  CHECK_THAT(lines[2].at("error").get<std::string>(), Catch::EndsWith(" (remove the folder to redo its image)"));
  CHECK(lines[3].at("status") == "ok");
  const nlohmann::json all = readJson(batch.dir / "all.json");
  REQUIRE(all.size() == 3);
  CHECK(all[1].at("image") == "other process");
}
