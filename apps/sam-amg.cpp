// sam-amg: automatic mask generation over whole images (SamAutomaticMaskGenerator semantics).
#include <samcli/amg.hpp>
#include <samcli/batch_run.hpp>
#include <samcli/cli.hpp>
#include <samcli/error.hpp>
#include <samcli/image_io.hpp>
#include <samcli/outputs.hpp>
#include <samcli/predictor.hpp>

using namespace samcli;

int main(int argc, char** argv) {
  CLI::App app{
      "Segment everything in each image with SAM's automatic mask generator (same parameters, defaults and\n"
      "results as segment_anything's SamAutomaticMaskGenerator). Writes, per image, <out>/<stem>/ in the\n"
      "layout of the official scripts/amg.py (0.png..N-1.png and metadata.csv) plus masks.json (COCO RLE\n"
      "records), overlay.png (masks in random colours, largest first) and labels.png (1 + mask index per\n"
      "pixel, 0 = none; 16-bit beyond 255 masks).\n"
      "\nExamples:\n"
      "  sam-amg photo.jpg -o masks/\n"
      "  sam-amg photos/*.jpg --preset sam-py --skip-existing\n"
      "  sam-amg photo.jpg --points-per-side 10 --pred-iou-thresh 0.995 --crop-n-layers 1 \\\n"
      "          --crop-n-points-downscale-factor 2 --min-mask-region-area 100",
      "sam-amg"};
  CommonOptions common;
  addCommonOptions(app, common);
  AmgCli amg;
  addAmgOptions(app, amg, "default");
  uint32_t seed = 0;
  app.add_option("--seed", seed, "Seed of the overlay colours")->capture_default_str()->group("Output");

  return runTool(app, argc, argv, [&] {
    Log::setQuiet(common.quiet);
    const AmgOptions options = resolveAmgOptions(amg);  // before the model loads: that takes seconds

    const std::vector<InputImage> inputs = resolveInputs(common);
    const AutomaticMaskGenerator generator(loadSamModel(resolveModelDir(common.model), common.runtime), options);
    return processImages(common, inputs, [&](const InputImage& input, const cv::Mat& rgb) {
      std::vector<MaskRecord> records = generator.generate(rgb);
      if (records.empty()) Log::warning("no mask passed the filters in '" + input.path + "'");
      return amgResult(input.path, rgb, std::move(records), seed);
    });
  });
}
