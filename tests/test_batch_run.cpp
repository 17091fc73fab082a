// The batch runner (batch_run.hpp) with a task instead of a model: every image's pixels reach its own
// task and its own folder, and a result another process finishes meanwhile is never overwritten
// under --skip-existing.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "samcli/batch_run.hpp"
#include "samcli/image_io.hpp"
#include "samcli/log.hpp"
#include "support/temp_dir.hpp"

using namespace samcli;
namespace fs = std::filesystem;

namespace {

// img0.png..img<n-1>.png, each one grey value (40 * index) that names it.
std::vector<InputImage> greyImages(const test::TempDir& dir, int n) {
  for (int i = 0; i < n; ++i) {
    writePngAtomic(dir / ("in/img" + std::to_string(i) + ".png"), cv::Mat(4, 4, CV_8UC3, cv::Scalar::all(40 * i)));
  }
  return expandInputs({dir / "in"}, false);
}

int indexOf(const InputImage& input) { return std::stoi(input.outputName.substr(3)); }

// What another process sharing the output folder leaves: a finished folder of its own.
void finishElsewhere(const std::string& folder) {
  fs::create_directories(folder);
  std::ofstream(fs::path(folder) / "masks.json") << R"({"image": "other process", "masks": []})";
}

std::string imageOf(const std::string& folder) {
  std::ifstream in(fs::path(folder) / "masks.json");
  return nlohmann::json::parse(in).at("image").get<std::string>();
}

// Runs the images; the task checks the pixels it gets and calls `during(index)` as inference would
// take its time.
int run(const CommonOptions& options, const std::vector<InputImage>& inputs, std::set<int>& processed,
        const std::function<void(int)>& during) {
  return processImages(options, inputs, [&](const InputImage& input, const cv::Mat& rgb) {
    const int index = indexOf(input);
    CHECK(int(rgb.at<cv::Vec3b>(0, 0)[0]) == 40 * index);  // its own pixels, never a neighbour's
    processed.insert(index);
    during(index);
    ImageOutcome outcome;
    outcome.doc = {{"image", input.path}, {"masks", nlohmann::json::array()}};
    outcome.write = [doc = outcome.doc.dump()](ImageOutputDir& out) { out.writeText("masks.json", doc); };
    return outcome;
  });
}

}  // namespace

TEST_CASE("processImages: a folder finished by another process during the run is kept under --skip-existing",
          "[batch_run]") {
  Log::setQuiet(true);
  test::TempDir dir;
  const auto inputs = greyImages(dir, 6);
  CommonOptions options;
  options.outDir = dir / "out";
  options.skipExisting = true;
  std::set<int> processed;
  const int code = run(options, inputs, processed, [&](int index) {
    // While image 1 is inferred, image 2 (decided and being read already) is finished elsewhere;
    // while image 4 is inferred, so is image 4 itself.
    if (index == 1) finishElsewhere(dir / "out/img2");
    if (index == 4) finishElsewhere(dir / "out/img4");
  });
  CHECK(code == 0);
  CHECK(processed == std::set<int>{0, 1, 2, 3, 4, 5});
  for (int i : {0, 1, 3, 5}) CHECK(imageOf(dir / ("out/img" + std::to_string(i))) == inputs[size_t(i)].path);
  CHECK(imageOf(dir / "out/img2") == "other process");
  CHECK(imageOf(dir / "out/img4") == "other process");
  for (const auto& entry : fs::directory_iterator(dir / "out")) {
    CHECK(entry.path().filename().string().find(".tmp-") == std::string::npos);
  }
}

TEST_CASE("processImages: --skip-existing decides before reading, without it results are replaced", "[batch_run]") {
  Log::setQuiet(true);
  test::TempDir dir;
  const auto inputs = greyImages(dir, 4);
  finishElsewhere(dir / "out/img1");
  CommonOptions options;
  options.outDir = dir / "out";
  options.skipExisting = true;
  std::set<int> processed;
  CHECK(run(options, inputs, processed, [](int) {}) == 0);
  CHECK(processed == std::set<int>{0, 2, 3});
  CHECK(imageOf(dir / "out/img1") == "other process");

  options.skipExisting = false;
  processed.clear();
  CHECK(run(options, inputs, processed, [&](int index) {
          if (index == 2) finishElsewhere(dir / "out/img3");
        }) == 0);
  CHECK(processed == std::set<int>{0, 1, 2, 3});
  for (int i = 0; i < 4; ++i) CHECK(imageOf(dir / ("out/img" + std::to_string(i))) == inputs[size_t(i)].path);
}
