#pragma once
// sam-point --auto-click: the single-click evaluation protocol (docs/evaluation.md). Each image's
// ground-truth mask is found, and its first click placed where the literature puts it: the GT
// pixel farthest from the mask boundary (farthestFromBoundary in evaluation.hpp). Torch-free.
#include <map>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "samcli/geometry.hpp"
#include "samcli/inputs.hpp"

namespace samcli {

// Where each input's ground truth is: a folder of mask PNGs named like the outputs, or one mask.
class GroundTruthMasks {
 public:
  // `path` is a folder (every *.png below it, extension case-insensitive, named by its relative
  // path without extension, as sam-eval names ground truth) or a single mask file. Throws
  // UsageError when it does not exist or the folder holds no PNG.
  explicit GroundTruthMasks(std::string path);

  bool isFolder() const { return folder_; }
  const std::string& path() const { return path_; }

  // The mask file of an input. Folder: <folder>/<outputName>.png, else <folder>/<stem>.png (stem:
  // the output name's last component); and for a flat output name (no folder, e.g. images given
  // as files), as sam-eval pairs flat output folders with nested ground truth, the only mask
  // anywhere below the folder with that stem. Single file: that file. Throws Error naming the file
  // looked for when there is none, or the candidates when several masks have the stem.
  std::string maskFor(const InputImage& input) const;

 private:
  std::string path_;
  bool folder_ = false;
  std::map<std::string, std::string> byName_;               // "salmon/img_001" -> file
  std::map<std::string, std::vector<std::string>> byStem_;  // "img_001" -> names
};

// The first click for `gtMask` (CV_8UC1, non-zero = object; read from `gtPath`): the pixel farthest
// from its boundary, as (x, y) in pixels. Throws Error naming gtPath when the mask is empty or its
// size differs from the image's.
PointXY autoClick(const cv::Mat& gtMask, const std::string& gtPath, cv::Size imageSize);

}  // namespace samcli
