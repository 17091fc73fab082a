#pragma once
// Where models live and what their manifests say. A model is a directory holding TorchScript files
// and a manifest.json (docs/model-format.md). Nothing here needs LibTorch.
#include <array>
#include <string>

namespace samcli {

struct SamManifest {
  std::string directory;          // absolute or as given
  std::string modelType;          // "vit_b", "vit_l", "vit_h", "fixture", ...
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
// vit_h, or SAM.py's b, l, h; any other name is taken literally) is looked up as "sam_<type>" and
// "<name>" under $SAMCLI_WEIGHTS, then ./weights, then the weights/ folder next to the
// installation. An empty argument means $SAMCLI_MODEL. Throws Error listing the places searched.
std::string resolveModelDir(const std::string& dirOrName, const std::string& defaultEnv = "SAMCLI_MODEL");

// Reads and validates <dir>/manifest.json. Throws Error naming the file on any problem.
SamManifest readSamManifest(const std::string& dir);

// Execution settings every tool shares. device: "cpu", "cuda", "cuda:N" or "auto" (CUDA when
// available). threads: intra-op threads for LibTorch on the CPU, 0 = all cores.
struct RuntimeOptions {
  std::string device = "auto";
  int threads = 0;
};

}  // namespace samcli
