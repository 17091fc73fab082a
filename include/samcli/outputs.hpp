#pragma once
// What the tools leave on disk for one image: a folder <out>/<stem>/ holding 0.png..N-1.png (one
// 0/255 mask per record, image size), overlay.png and masks.json. The folder is assembled under a
// temporary name and renamed into place when complete, so an interrupted run never leaves a
// half-written result (and an existing folder always means a finished image). Every path written
// or removed below the output folder passes outputPathUnder, so no input can lead a write out of it.
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "samcli/records.hpp"

namespace samcli {

class ImageOutputDir;

// An image's result: its JSON document at once, its files later. The runner creates the image's
// folder, has `write` fill it in the background while the next image is processed, and commits it
// (see processImages in batch_run.hpp).
struct ImageOutcome {
  nlohmann::ordered_json doc;
  std::function<void(ImageOutputDir&)> write;
};

// <outDir>/<name>, checked to stay inside outDir: `name` must be a relative path of plain components
// (not absolute, no "." or ".." or empty ones), and no folder between outDir and the target may be
// a symlink leading out of outDir. Throws Error naming the path otherwise. The one gate for every
// write and removal below an output folder.
std::string outputPathUnder(const std::string& outDir, const std::string& name);

// What commit() does when the image's folder exists already.
enum class ExistingResult {
  Replace,  // swap it out in one step (readers see the old or the new folder, never neither), then remove it
  Keep,     // a finished result (with masks.json), e.g. from a process sharing the output folder: discard ours
};

// Names the records' mask files 0.png..N-1.png (prefix + index), before the JSON document is made.
void nameMaskFiles(std::vector<MaskRecord>& records, const std::string& prefix = "");

class ImageOutputDir {
 public:
  // Prepares <outDir>/<name> (written under a temporary sibling name until commit()); name may
  // contain subfolders (the input tree mirrored).
  ImageOutputDir(const std::string& outDir, const std::string& name);
  ~ImageOutputDir();  // removes the temporary folder unless committed
  ImageOutputDir(const ImageOutputDir&) = delete;
  ImageOutputDir& operator=(const ImageOutputDir&) = delete;

  std::string finalPath() const { return final_; }
  std::string pathFor(const std::string& file) const;  // inside the temporary folder (outputPathUnder)
  // Runs `write` on this folder; its errors name the folder and files as the user will see them,
  // not the temporary name they are written under.
  void fill(const std::function<void(ImageOutputDir&)>& write);
  // Writes every record's mask to its maskFile (see nameMaskFiles), decoding the RLE of records
  // whose mask was released.
  void writeMasks(const std::vector<MaskRecord>& records);
  void writePng(const std::string& file, const cv::Mat& image);
  void writeText(const std::string& file, const std::string& text);
  // Moves the finished folder into place. Returns false when `existing` is Keep and a finished
  // result was there (this one is then discarded).
  bool commit(ExistingResult existing = ExistingResult::Replace);

 private:
  std::string final_;
  std::string temp_;
  bool committed_ = false;
};

// Removes the temporary folders that an interrupted run (Ctrl-C, a killed job) left beside the
// output folders <outDir>/<name> of these images; a folder whose process still runs on this
// machine is kept. Each output folder's parent is listed once.
void removeInterruptedOutputs(const std::string& outDir, const std::vector<std::string>& names);

// Colour of the i-th mask in overlays: the first is SAM.py's blue (30,144,255); the rest a fixed
// seeded sequence, so the same mask keeps its colour between runs.
cv::Vec3b maskColour(size_t index);

// Paints `colour` at opacity `alpha` over the pixels of `canvas` (CV_8UC3) where `mask` is
// non-zero: cv::addWeighted(canvas, 1 - alpha, colour, alpha) through the mask. Only the mask's
// bounding box is blended, so a small mask on a large photo costs little.
void tintMasked(cv::Mat& canvas, const cv::Mat& mask, const cv::Scalar& colour, double alpha);

// Draws masks (translucent fill + contour), their prompts (foreground points as green stars,
// background as red, boxes as green rectangles, as SAM.py's figures) and a title strip.
cv::Mat renderOverlay(const cv::Mat& rgb, const std::vector<const MaskRecord*>& masks, const std::string& title,
                      bool drawPrompts = true);

// Places panels side by side (heights equal), separated by a thin white gap.
cv::Mat sideBySide(const std::vector<cv::Mat>& panels);

// The per-image JSON document: {"image","width","height","masks":[records...]} plus extra fields.
nlohmann::ordered_json imageResultJson(const std::string& imagePath, cv::Size size,
                                       const std::vector<MaskRecord>& records);

// The official scripts/amg.py metadata.csv (same header, same column formatting).
std::string amgMetadataCsv(const std::vector<MaskRecord>& records);

// SAM.py's show_anns look: masks filled with seeded random colours, largest first, alpha 0.35.
cv::Mat renderAnnotations(const cv::Mat& rgb, const std::vector<MaskRecord>& records, uint32_t seed = 0);

// One image saying which mask covers each pixel: 1 + record index (0 = none), larger masks painted
// first so small ones stay visible. CV_8UC1, or CV_16UC1 beyond 255 masks.
cv::Mat labelMap(const std::vector<MaskRecord>& records, cv::Size size);

// sam-amg's result for one image: masks.json, the masks, metadata.csv, overlay.png (colours from
// `seed`) and labels.png.
ImageOutcome amgResult(const std::string& imagePath, const cv::Mat& rgb, std::vector<MaskRecord> records,
                       uint32_t seed);

// Writes a float32 array as a NumPy .npy file (atomically), e.g. low-res logits for --mask-input.
void writeNpy(const std::string& path, const cv::Mat& floats);
// Reads a 2-D (or leading-1 3-D) little-endian float32 .npy. Throws Error naming the file.
cv::Mat readNpy(const std::string& path);

}  // namespace samcli
