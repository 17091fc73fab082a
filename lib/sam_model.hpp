#pragma once
// A loaded SAM model: the two TorchScript modules of a model directory, its manifest and the device
// they run on, with the tensor-level steps of SamPredictor (preprocess, encode, decode, upscale).
// Library-internal (includes torch); the predictor, the automatic generator and the semantic
// pooling all build on it.
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include <torch/script.h>

#include <opencv2/core.hpp>

#include "embedding_cache.hpp"
#include "samcli/geometry.hpp"
#include "samcli/model.hpp"

namespace samcli {

// An image embedding made ready for decoding: with a format-2 decoder, also the prompt-independent
// part of the decoder's first layer, computed once per image instead of once per prompt.
struct PreparedEmbedding {
  torch::Tensor embedding;       // [1,C,h,w]
  torch::IValue decoderContext;  // format 2 only: what the decoder's prepare() returned
};

// Whether a prompt's masks are wanted, from the predicted IoUs of its `count` candidates: lets the
// automatic generator skip the masks of prompts none of whose candidates it would keep.
using MaskFilter = std::function<bool(const float* iou, int64_t count)>;

// Decoded prompts: every candidate's score, and the masks of the prompts the filter wanted.
struct DecodedPrompts {
  torch::Tensor iouPredictions;        // [B, C] float, C = 3 (multimask) or 1
  std::vector<int64_t> maskedPrompts;  // the prompts with masks, ascending
  torch::Tensor lowResLogits;          // [maskedPrompts.size(), C, L, L]
};

class SamModel {
 public:
  SamModel(SamManifest manifest, const RuntimeOptions& runtime);

  const SamManifest& manifest() const { return manifest_; }
  torch::Device device() const { return device_; }

  // Official preprocessing: resize the longest side to imageSize (PIL bilinear), normalise with the
  // manifest's mean/std, pad bottom/right with zeros. Returns [1,3,S,S] on the model's device and the
  // resized (unpadded) size.
  torch::Tensor preprocess(const cv::Mat& rgb, cv::Size* inputSize) const;
  // Image encoder on a preprocessed input: [1,C,h,w] embedding (manifest.embeddingShape).
  torch::Tensor encode(const torch::Tensor& preprocessed) const;
  // preprocess + encode, through the embedding cache when one is configured.
  torch::Tensor encodeImage(const cv::Mat& rgb, cv::Size* inputSize) const;

  PreparedEmbedding prepare(const torch::Tensor& embedding) const;

  // Decodes prompts already in the resized frame. coords [B,N,2], labels [B,N] with the codes of
  // docs/model-format.md (1 fg, 0 bg, -1 padding, 2/3 box corners). maskInput: [B,1,L,L] or
  // undefined. Masks are computed for the prompts `wanted` accepts (all without one).
  DecodedPrompts decode(const PreparedEmbedding& image, const torch::Tensor& coords, const torch::Tensor& labels,
                        const torch::Tensor& maskInput, bool multimask, const MaskFilter& wanted = {}) const;

 private:
  SamManifest manifest_;
  torch::Device device_;
  mutable torch::jit::Module encoder_;
  mutable torch::jit::Module decoder_;
  std::unique_ptr<EmbeddingCache> cache_;
  torch::Tensor pixelMean_;  // [1,3,1,1]
  torch::Tensor pixelStd_;
};

// Appends the official prompt encoding of one prompt (points in the resized frame) to coords/labels:
// the points, then the two box corners (labels 2, 3) or, without a box, a padding point (label -1).
void appendPromptSequence(const std::vector<PointXY>& points, const std::vector<int>& labels,
                          const std::optional<BoxXyxy>& box, std::vector<float>& coords, std::vector<float>& codes);

}  // namespace samcli
