// Benchmark (not a test): the image encoder stage of one image as the tools run it (Predictor::setImage:
// resize, normalise, encode), its peak memory, and this machine's plain matrix-product speed on the
// same threads, as one JSON line on stdout. bench/encoder_bench.py adds the counted FLOPs and the
// official code, and runs this program with and without the tools' allocator.
//   encoder_bench IMAGE MODEL_DIR [--threads N] [--repeats N]
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <samcli/image_io.hpp>
#include <samcli/predictor.hpp>

using namespace samcli;

namespace {

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// VmHWM / VmRSS of this process in MiB.
double statusMiB(const std::string& field) {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind(field + ":", 0) == 0) return std::stod(line.substr(field.size() + 1)) / 1024.0;
  }
  return -1;
}

// Starts a new peak (VmHWM) at the current RSS, so that the encoder stage's peak excludes loading.
void resetPeakRss() { std::ofstream("/proc/self/clear_refs") << "5"; }

// GFLOP/s of a 2048x2048 float matrix product, best of 10, on LibTorch's current threads.
double matmulGflops() {
  const int64_t n = 2048;
  const torch::Tensor a = torch::randn({n, n});
  const torch::Tensor b = torch::randn({n, n});
  torch::Tensor c = torch::mm(a, b);
  double best = 1e30;
  for (int i = 0; i < 10; ++i) {
    const auto start = std::chrono::steady_clock::now();
    torch::mm_out(c, a, b);
    best = std::min(best, secondsSince(start));
  }
  return 2.0 * n * n * n / best / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Time the image encoder stage on one image", "encoder_bench"};
  std::string image;
  std::string modelDir;
  RuntimeOptions runtime;
  int repeats = 2;
  app.add_option("image", image)->required();
  app.add_option("model", modelDir)->required();
  app.add_option("--threads", runtime.threads);
  app.add_option("--repeats", repeats)->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  auto start = std::chrono::steady_clock::now();
  const auto model = loadSamModel(modelDir, runtime);
  const double load = secondsSince(start);
  const cv::Mat rgb = readImageRgb(image);
  Predictor predictor(model);
  const double rssBefore = statusMiB("VmRSS");
  resetPeakRss();
  nlohmann::json runs = nlohmann::json::array();
  for (int r = 0; r < repeats; ++r) {
    start = std::chrono::steady_clock::now();
    predictor.setImage(rgb);
    runs.push_back(secondsSince(start));
  }
  const nlohmann::json result = {{"image", {rgb.cols, rgb.rows}},      {"threads", at::get_num_threads()},
                                 {"load_s", load},                      {"encoder_s", runs},
                                 {"rss_before_mib", rssBefore},         {"peak_rss_mib", statusMiB("VmHWM")},
                                 {"matmul_gflops", matmulGflops()}};
  std::printf("%s\n", result.dump().c_str());
  return 0;
}
