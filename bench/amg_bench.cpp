// Benchmark (not a test): per-stage times and peak memory of automatic mask generation.
//   amg_bench IMAGE MODEL_DIR [--points-per-side N] [--crop-n-layers N] [--pred-iou-thresh X]
//             [--stability-score-thresh X] [--threads N] [--repeats N]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>

#include <CLI/CLI.hpp>

#include <samcli/amg.hpp>
#include <samcli/image_io.hpp>
#include <samcli/predictor.hpp>
#include <samcli/records.hpp>
#include <samcli/rle.hpp>

using namespace samcli;

int main(int argc, char** argv) {
  CLI::App app{"Time sam-amg's stages on one image", "amg_bench"};
  std::string image;
  std::string modelDir;
  AmgOptions o;
  RuntimeOptions runtime;
  int repeats = 1;
  app.add_option("image", image)->required();
  app.add_option("model", modelDir)->required();
  app.add_option("--points-per-side", o.pointsPerSide);
  app.add_option("--crop-n-layers", o.cropNLayers);
  app.add_option("--crop-n-points-downscale-factor", o.cropNPointsDownscaleFactor);
  app.add_option("--pred-iou-thresh", o.predIouThresh);
  app.add_option("--stability-score-thresh", o.stabilityScoreThresh);
  app.add_option("--min-mask-region-area", o.minMaskRegionArea);
  app.add_option("--threads", runtime.threads);
  app.add_option("--repeats", repeats);
  CLI11_PARSE(app, argc, argv);

  const auto model = loadSamModel(modelDir, runtime);
  const cv::Mat rgb = readImageRgb(image);
  const AutomaticMaskGenerator generator(model, o);
  for (int r = 0; r < repeats; ++r) {
    AmgTimings t;
    const auto start = std::chrono::steady_clock::now();
    const std::vector<MaskRecord> records = generator.generate(rgb, &t);
    const double generate = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const auto encodeStart = std::chrono::steady_clock::now();
    size_t bytes = 0;
    for (const auto& rec : records) bytes += recordToJson(rec).dump().size();
    const double encode = std::chrono::duration<double>(std::chrono::steady_clock::now() - encodeStart).count();
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    std::printf(
        "image %dx%d  masks %zu  candidates %d  upscaled %d\n"
        "encoder %.2f s  decoder %.2f s  postprocess %.2f s  generate %.2f s  json %.3f s (%zu bytes)  peak RSS %.0f MiB\n",
        rgb.cols, rgb.rows, records.size(), t.candidates, t.upscaled, t.encoderSeconds, t.decoderSeconds,
        t.postprocessSeconds, generate, encode, bytes, usage.ru_maxrss / 1024.0);
  }
  return 0;
}
