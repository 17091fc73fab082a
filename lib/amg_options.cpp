#include "samcli/amg.hpp"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "samcli/error.hpp"
#include "samcli/json_input.hpp"
#include "samcli/text_input.hpp"

// The generator's settings, grids and crops: everything of sam-amg that needs no model, so tools
// can validate options before loading one and unit tests need no LibTorch.
namespace samcli {

AmgOptions amgPreset(const std::string& name) {
  AmgOptions o;
  if (name == "default") return o;
  if (name == "fast") {
    o.pointsPerSide = 16;
    return o;
  }
  if (name == "fine") {
    o.cropNLayers = 1;
    o.cropNPointsDownscaleFactor = 2;
    o.minMaskRegionArea = 100;
    return o;
  }
  if (name == "sam-py") {
    o.pointsPerSide = 10;
    o.predIouThresh = 0.995;
    o.stabilityScoreThresh = 0.95;
    o.cropNLayers = 1;
    o.cropNPointsDownscaleFactor = 2;
    o.minMaskRegionArea = 100;
    return o;
  }
  if (name == "notebook") {
    o.pointsPerSide = 51;
    o.predIouThresh = 0.86;
    o.stabilityScoreThresh = 0.92;
    o.cropNLayers = 1;
    o.cropNPointsDownscaleFactor = 2;
    o.minMaskRegionArea = 100;
    return o;
  }
  throw InvalidParameter({"preset"}, "unknown preset '" + name + "' (expected fast, default, fine, sam-py or notebook)");
}

void validateAmgOptions(const AmgOptions& o) {
  const auto require = [](bool ok, const char* parameter, const std::string& rule) {
    if (!ok) throw InvalidParameter({parameter}, parameter + (" " + rule));
  };
  const auto unit = [&](double v, const char* parameter) {
    require(v >= 0.0 && v <= 1.0, parameter, "must be between 0 and 1 (got " + formatNumber(v) + ")");
  };
  if (o.pointGrids.empty()) {
    require(o.pointsPerSide >= 1 && o.pointsPerSide <= kMaxPointsPerSide, "points_per_side",
            "must be between 1 and " + std::to_string(kMaxPointsPerSide) + " (got " + std::to_string(o.pointsPerSide) + ")");
  }
  require(o.pointsPerBatch >= 1, "points_per_batch", "must be at least 1");
  unit(o.predIouThresh, "pred_iou_thresh");
  unit(o.stabilityScoreThresh, "stability_score_thresh");
  require(o.stabilityScoreOffset >= 0.0, "stability_score_offset", "must not be negative");
  unit(o.boxNmsThresh, "box_nms_thresh");
  unit(o.cropNmsThresh, "crop_nms_thresh");
  require(o.cropNLayers >= 0, "crop_n_layers", "must not be negative");
  require(o.cropOverlapRatio >= 0.0 && o.cropOverlapRatio < 1.0, "crop_overlap_ratio", "must be in [0, 1)");
  require(o.cropNPointsDownscaleFactor >= 1, "crop_n_points_downscale_factor", "must be at least 1");
  require(o.minMaskRegionArea >= 0, "min_mask_region_area", "must not be negative");
  if (!o.pointGrids.empty()) {
    if (o.pointGrids.size() < size_t(o.cropNLayers) + 1) {
      throw InvalidParameter({"point_grids", "crop_n_layers"},
                             "point_grids has " + std::to_string(o.pointGrids.size()) + " grid(s) but crop_n_layers " +
                                 std::to_string(o.cropNLayers) + " needs " + std::to_string(o.cropNLayers + 1));
    }
  } else {
    for (int i = 0; i <= o.cropNLayers; ++i) {
      require(int(o.pointsPerSide / std::pow(o.cropNPointsDownscaleFactor, i)) >= 1, "crop_n_points_downscale_factor",
              "leaves no points in crop layer " + std::to_string(i));
    }
  }
}

std::vector<std::vector<PointXY>> readPointGrids(const std::string& path) {
  const nlohmann::json j = readJsonFile(path);
  const std::string expected = "(expected JSON [[[x,y],...], ...] per crop layer, x,y in [0,1])";
  if (!j.is_array() || j.empty()) throw Error("invalid point grids '" + path + "': no grid " + expected);
  std::vector<std::vector<PointXY>> grids;
  for (size_t layer = 0; layer < j.size(); ++layer) {
    const std::string where = "invalid point grids '" + path + "': grid " + std::to_string(layer + 1);
    const nlohmann::json& points = j[layer];
    if (!points.is_array() || points.empty()) throw Error(where + " is not a non-empty list of points " + expected);
    if (points.size() > kMaxGridPoints) {
      throw Error(where + " has " + std::to_string(points.size()) + " points; at most " +
                  std::to_string(kMaxGridPoints) + " are allowed");
    }
    std::vector<PointXY> grid;
    for (size_t i = 0; i < points.size(); ++i) {
      const nlohmann::json& p = points[i];
      const auto inUnit = [](const nlohmann::json& v) {
        return v.is_number() && v.get<double>() >= 0.0 && v.get<double>() <= 1.0;
      };
      if (!p.is_array() || p.size() != 2 || !inUnit(p[0]) || !inUnit(p[1])) {
        throw Error(where + " point " + std::to_string(i + 1) + " is " + jsonSnippet(p) + " " + expected);
      }
      grid.push_back({p[0].get<double>(), p[1].get<double>()});
    }
    grids.push_back(std::move(grid));
  }
  return grids;
}

std::vector<PointXY> buildPointGrid(int n) {
  // numpy.linspace(offset, 1 - offset, n): start + i * step, with the last value exactly the stop.
  const double offset = 1.0 / (2.0 * n);
  std::vector<double> side(static_cast<size_t>(n));
  const double step = n > 1 ? ((1.0 - offset) - offset) / (n - 1) : 0.0;
  for (int i = 0; i < n; ++i) side[size_t(i)] = i * step + offset;
  if (n > 1) side.back() = 1.0 - offset;
  std::vector<PointXY> points;
  for (int yi = 0; yi < n; ++yi) {
    for (int xi = 0; xi < n; ++xi) points.push_back({side[size_t(xi)], side[size_t(yi)]});
  }
  return points;
}

std::vector<std::vector<PointXY>> buildAllLayerPointGrids(int nPerSide, int nLayers, int scalePerLayer) {
  std::vector<std::vector<PointXY>> grids;
  for (int i = 0; i <= nLayers; ++i) grids.push_back(buildPointGrid(int(nPerSide / std::pow(scalePerLayer, i))));
  return grids;
}

std::vector<CropBox> generateCropBoxes(cv::Size image, int nLayers, double overlapRatio) {
  std::vector<CropBox> crops{{{0, 0, image.width, image.height}, 0}};
  const int shortSide = std::min(image.width, image.height);
  const auto cropLen = [](int origLen, int nCrops, int overlap) {
    return int(std::ceil((double(overlap) * (nCrops - 1) + origLen) / nCrops));
  };
  for (int layer = 0; layer < nLayers; ++layer) {
    const int perSide = 1 << (layer + 1);
    const int overlap = int(overlapRatio * shortSide * (2.0 / perSide));
    const int cropW = cropLen(image.width, perSide, overlap);
    const int cropH = cropLen(image.height, perSide, overlap);
    // Official order: itertools.product(x0s, y0s), so x is the outer loop.
    for (int xi = 0; xi < perSide; ++xi) {
      for (int yi = 0; yi < perSide; ++yi) {
        const int x0 = (cropW - overlap) * xi;
        const int y0 = (cropH - overlap) * yi;
        crops.push_back({{x0, y0, std::min(x0 + cropW, image.width), std::min(y0 + cropH, image.height)}, layer + 1});
      }
    }
  }
  return crops;
}

}  // namespace samcli
