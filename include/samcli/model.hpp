#pragma once
// Where models live and what their manifests say. A model is a directory holding TorchScript files
// and a manifest.json (docs/model-format.md). Nothing here needs LibTorch.
#include <array>
#include <string>

namespace samcli {

// The newest SAM model format this library reads (docs/model-format.md): 1 = a prompt decoder with one
// forward(); 2 = a decoder whose prepare/decode/upscale methods let callers skip prompt-independent
// and unused work. Both are read.
constexpr int kSamFormatVersion = 2;

struct SamManifest {
  std::string directory;          // absolute or as given
  std::string modelType;          // "vit_b", "vit_l", "vit_h", "vit_t", "fixture", ...
  int formatVersion = 0;
  int imageSize = 1024;           // longest side after resizing = padded square side
  std::array<float, 3> pixelMean{};  // RGB, 0..255 scale
  std::array<float, 3> pixelStd{};
  float maskThreshold = 0.0f;
  std::array<int, 3> embeddingShape{256, 64, 64};  // C, H, W of the encoder output
  int lowResMaskSize = 256;
  std::string imageEncoderFile;   // paths relative to `directory`
  std::string promptDecoderFile;
};

// Resolves a --model argument: an existing directory is used as is; otherwise a name (vit_b, vit_l,
// vit_h, vit_t (MobileSAM), or the short b, l, h, t; any other name is taken literally) is looked up
// as "sam_<type>" and "<name>" under $SAMCLI_WEIGHTS, then ./weights, then <prefix>/share/samcli/weights
// for an installed tool (<prefix>/bin/tool) or the source tree's weights/ for one in a build tree
// (<repo>/<build>/apps/tool). An empty argument means $SAMCLI_MODEL. Throws Error listing the places
// searched.
std::string resolveModelDir(const std::string& dirOrName, const std::string& defaultEnv = "SAMCLI_MODEL");

// Reads and validates <dir>/manifest.json. Throws Error naming the file on any problem.
SamManifest readSamManifest(const std::string& dir);

// How a detector's input is made from the image (the Hugging Face image processor it was exported with).
enum class DetectorPreprocessing {
  Stretch,    // OwlViTImageProcessor: PIL bicubic to SxS, aspect not kept; boxes relative to the image
  PadSquare,  // Owlv2ImageProcessor: pad bottom/right to a square with 0.5 grey, anti-aliased resize to
              // SxS; boxes relative to the padded square
};

// An OWL-ViT or OWLv2 detector directory for text-sam (weights/export_owlvit.py, docs/model-format.md).
struct OwlVitManifest {
  std::string directory;
  std::string modelType;             // "owlvit-base-patch32", "owlv2-base-patch16-ensemble", ..., "fixture"
  int formatVersion = 0;             // 1: forward(ids, mask, pixels) only; 2: the split interface
  DetectorPreprocessing preprocessing = DetectorPreprocessing::Stretch;
  bool objectness = false;           // the detector has OWLv2's objectness head
  int imageSize = 768;               // side S of the square input
  std::array<float, 3> imageMean{};  // RGB, 0..1 scale (after rescaling by 1/255)
  std::array<float, 3> imageStd{};
  int maxTextLength = 16;            // ids per query row, BOS and EOS included
  int bosId = 0;
  int eosId = 0;
  int padId = 0;
  std::string detectorFile;          // paths relative to `directory`
  std::string bpeMergesFile;
};

// Resolves a --detector-model argument as resolveModelDir does, with "owlvit-<name>" and "<name>"
// as the names looked up (so "base-patch32" finds weights/owlvit-base-patch32). An empty argument
// means $SAMCLI_DETECTOR.
std::string resolveDetectorDir(const std::string& dirOrName, const std::string& defaultEnv = "SAMCLI_DETECTOR");

// Reads and validates an OWL-ViT <dir>/manifest.json. Throws Error naming the file on any problem,
// including a file named in it that is missing.
OwlVitManifest readOwlVitManifest(const std::string& dir);

// Execution settings every tool shares. device: "cpu", "cuda", "cuda:N" or "auto" (CUDA when
// available). threads: intra-op threads for LibTorch on the CPU, 0 = the CPUs Slurm allotted the
// task or all cores (scheduler.hpp). embeddingCache: a folder of image embeddings keyed by image
// content and model, so repeated runs on the same image skip the encoder ("" = none).
struct RuntimeOptions {
  std::string device = "auto";
  int threads = 0;
  std::string embeddingCache;
};

}  // namespace samcli
