#pragma once
// Prompted segmentation with SamPredictor's semantics: setImage() runs the image encoder once,
// predict() decodes prompts against that embedding. LibTorch stays behind the pimpl so that tools
// and most of the library compile without its headers.
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include <opencv2/core.hpp>

#include "samcli/geometry.hpp"
#include "samcli/model.hpp"

namespace samcli {

// One prompt in original-image pixels. Labels: 1 = foreground, 0 = background.
struct Prompt {
  std::vector<PointXY> points;
  std::vector<int> labels;
  std::optional<BoxXyxy> box;
  cv::Mat maskInput;  // optional CV_32FC1 low-res logits (lowResMaskSize square) from a previous run
};

struct MaskPrediction {
  cv::Mat mask;            // CV_8UC1 0/255, original image size (logits > mask threshold)
  float predictedIou = 0;  // the decoder's IoU estimate
  float stabilityScore = 0;  // IoU of the masks thresholded at +-1.0 around the mask threshold
  cv::Mat lowResLogits;    // CV_32FC1, lowResMaskSize square, for --mask-input refinement
};

class SamModel;  // loaded TorchScript modules + manifest + device (lib/sam_model.hpp)

class Predictor {
 public:
  Predictor(std::shared_ptr<SamModel> model);
  ~Predictor();
  Predictor(Predictor&&) noexcept;
  Predictor& operator=(Predictor&&) noexcept;

  // Encodes an RGB image (CV_8UC3). Expensive: one encoder pass.
  void setImage(const cv::Mat& rgb);
  bool isImageSet() const;
  cv::Size originalSize() const;  // of the image given to setImage
  cv::Size inputSize() const;     // after resizing the longest side

  // Decodes one prompt: 3 candidates when multimask, else 1, in the decoder's order.
  std::vector<MaskPrediction> predict(const Prompt& prompt, bool multimask) const;
  // Decodes several prompts (e.g. many boxes) in decoder batches of at most kMaxDecodeBatch, so
  // memory stays bounded however many are given. Every prompt must have the same number of points
  // and either all or none a box / a mask input.
  std::vector<std::vector<MaskPrediction>> predictBatch(const std::vector<Prompt>& prompts, bool multimask) const;
  // The same, handing each prompt's predictions to take(prompt index, predictions) as soon as its
  // batch is decoded: a caller that keeps only part of them (records, one mask's logits) holds one
  // batch of low-res logits at a time, not one 256x256 float map per candidate of every prompt.
  using PredictionSink = std::function<void(size_t, std::vector<MaskPrediction>&)>;
  void predictEach(const std::vector<Prompt>& prompts, bool multimask, const PredictionSink& take) const;
  static constexpr size_t kMaxDecodeBatch = 64;

  const SamModel& model() const;

 private:
  // One decoder batch; `first` is the prompt every one must match in shape.
  std::vector<std::vector<MaskPrediction>> decodeChunk(const std::vector<Prompt>& prompts, bool multimask,
                                                       const Prompt& first) const;
  friend class PredictorAccess;  // library-internal torch-level access (lib/predictor_internal.hpp)
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Loads a SAM model directory onto the device chosen by `runtime` (and sets LibTorch's threads).
std::shared_ptr<SamModel> loadSamModel(const std::string& dir, const RuntimeOptions& runtime);

}  // namespace samcli
