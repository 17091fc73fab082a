#pragma once
// Automatic mask generation with the semantics of segment_anything's SamAutomaticMaskGenerator:
// a point grid per crop layer, crops with overlap, batched multimask decoding, predicted-IoU and
// stability filters, crop-boundary filter, box NMS within and across crops (smaller crops
// preferred), optional small-region clean-up followed by NMS again.
//
// It returns the same masks as the official generator while doing less work: candidates are
// filtered on predicted IoU before their logits are upscaled to full resolution (the official code
// upscales every candidate first), upscaling runs in small chunks so memory stays bounded on large
// images, and masks are kept as RLE from the batch on.
#include <array>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "samcli/geometry.hpp"
#include "samcli/records.hpp"

namespace samcli {

class SamModel;

// Grid sizes beyond any useful density, refused before the grid is allocated: 1024 points per side
// is a million prompts per crop (already hours of decoding).
constexpr int kMaxPointsPerSide = 1024;
constexpr size_t kMaxGridPoints = size_t(kMaxPointsPerSide) * size_t(kMaxPointsPerSide);

struct AmgOptions {
  int pointsPerSide = 32;                    // ignored when pointGrids is set
  std::vector<std::vector<PointXY>> pointGrids;  // per crop layer, normalised to [0,1]
  int pointsPerBatch = 64;
  double predIouThresh = 0.88;
  double stabilityScoreThresh = 0.95;
  double stabilityScoreOffset = 1.0;
  double boxNmsThresh = 0.7;
  int cropNLayers = 0;
  double cropNmsThresh = 0.7;
  double cropOverlapRatio = 512.0 / 1500.0;
  int cropNPointsDownscaleFactor = 1;
  int minMaskRegionArea = 0;
};

// Named settings: "fast" (16 points per side), "default" (the official defaults), "fine" (32 points,
// one crop layer, downscale 2, min region 100) and "sam-py" (SAM.py's: 10 points, IoU 0.995,
// stability 0.95, one crop layer, downscale 2, min region 100) and "notebook" (the SAM semantic
// segmentation notebook's: 51 points, IoU 0.86, stability 0.92, one crop layer, downscale 2, min
// region 100). Throws InvalidParameter ("preset") for other names.
AmgOptions amgPreset(const std::string& name);

// Throws InvalidParameter naming the parameter (points_per_side, pred_iou_thresh...) for out-of-range values.
void validateAmgOptions(const AmgOptions& options);

// Reads point grids from JSON: [[[x,y],...], ...] one list per crop layer, coordinates in [0,1],
// at most kMaxGridPoints per layer. Throws Error naming the file, the grid and the point.
std::vector<std::vector<PointXY>> readPointGrids(const std::string& path);

// Official build_point_grid: n x n points at the centres of an n x n tiling of [0,1]^2, x fastest.
std::vector<PointXY> buildPointGrid(int nPerSide);
// One grid per layer 0..nLayers, layer i with int(nPerSide / scalePerLayer^i) points per side.
std::vector<std::vector<PointXY>> buildAllLayerPointGrids(int nPerSide, int nLayers, int scalePerLayer);

struct CropBox {
  std::array<int, 4> xyxy;  // x0, y0, x1, y1 (exclusive) in image pixels
  int layer;
};
// Official generate_crop_boxes: the whole image, then per layer i a 2^(i+1) x 2^(i+1) grid of
// overlapping crops.
std::vector<CropBox> generateCropBoxes(cv::Size imageSize, int nLayers, double overlapRatio);

// Where the time went, for the benchmark. Batches are decoded in parallel, so decoder and
// post-processing times are summed over the workers (they can exceed the wall time).
struct AmgTimings {
  double encoderSeconds = 0;
  double decoderSeconds = 0;
  double postprocessSeconds = 0;  // upscaling, filtering, NMS, RLE, small regions
  int candidates = 0;             // masks decoded
  int upscaled = 0;               // candidates that survived the IoU filter and were upscaled
};

// The image encoder's output for the whole image (crop 0), so that tools pooling features over
// masks reuse the AMG's own encoder pass. data is [channels, height, width] row-major.
struct ImageEmbedding {
  std::vector<float> data;
  int channels = 0;
  int height = 0;
  int width = 0;
  cv::Size inputSize;     // resized image inside the padded square
  int paddedSize = 0;     // side of the square the grid covers (1024)
};

class AutomaticMaskGenerator {
 public:
  AutomaticMaskGenerator(std::shared_ptr<SamModel> model, AmgOptions options);

  // Masks of an RGB image as records (segmentation as RLE; record.mask left empty), in the official
  // order. Never throws for "no mask survived": returns an empty list.
  std::vector<MaskRecord> generate(const cv::Mat& rgb, AmgTimings* timings = nullptr,
                                   ImageEmbedding* wholeImageEmbedding = nullptr) const;

  const AmgOptions& options() const { return options_; }

 private:
  std::shared_ptr<SamModel> model_;
  AmgOptions options_;
};

}  // namespace samcli
