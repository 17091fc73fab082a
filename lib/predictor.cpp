#include "samcli/predictor.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "samcli/error.hpp"
#include "samcli/mask_postprocess.hpp"
#include "sam_model.hpp"

namespace samcli {

struct Predictor::Impl {
  std::shared_ptr<SamModel> model;
  PreparedEmbedding image;  // embedding undefined until setImage
  cv::Size originalSize;
  cv::Size inputSize;
};

Predictor::Predictor(std::shared_ptr<SamModel> model) : impl_(std::make_unique<Impl>()) {
  impl_->model = std::move(model);
}
Predictor::~Predictor() = default;
Predictor::Predictor(Predictor&&) noexcept = default;
Predictor& Predictor::operator=(Predictor&&) noexcept = default;

void Predictor::setImage(const cv::Mat& rgb) {
  if (rgb.empty() || rgb.type() != CV_8UC3) throw Error("setImage expects a non-empty 8-bit RGB image");
  impl_->originalSize = rgb.size();
  impl_->image = impl_->model->prepare(impl_->model->encodeImage(rgb, &impl_->inputSize));
}

bool Predictor::isImageSet() const { return impl_->image.embedding.defined(); }
cv::Size Predictor::originalSize() const { return impl_->originalSize; }
cv::Size Predictor::inputSize() const { return impl_->inputSize; }
const SamModel& Predictor::model() const { return *impl_->model; }

std::vector<MaskPrediction> Predictor::predict(const Prompt& prompt, bool multimask) const {
  return predictBatch({prompt}, multimask).front();
}

std::vector<std::vector<MaskPrediction>> Predictor::predictBatch(const std::vector<Prompt>& prompts,
                                                                 bool multimask) const {
  std::vector<std::vector<MaskPrediction>> results(prompts.size());
  predictEach(prompts, multimask, [&](size_t i, std::vector<MaskPrediction>& p) { results[i] = std::move(p); });
  return results;
}

void Predictor::predictEach(const std::vector<Prompt>& prompts, bool multimask, const PredictionSink& take) const {
  if (!isImageSet()) throw Error("an image must be set with setImage() before predicting");
  // The decoder repeats the image embedding once per prompt (4 MB each for SAM): thousands of boxes
  // in one call would need gigabytes. Chunks keep memory bounded; each prompt is decoded on its
  // own rows, so the results do not depend on how the batch is split.
  for (size_t start = 0; start < prompts.size(); start += kMaxDecodeBatch) {
    const size_t end = std::min(prompts.size(), start + kMaxDecodeBatch);
    auto part = decodeChunk(std::vector<Prompt>(prompts.begin() + std::ptrdiff_t(start),
                                                prompts.begin() + std::ptrdiff_t(end)),
                            multimask, prompts.front());
    for (size_t i = 0; i < part.size(); ++i) take(start + i, part[i]);
  }
}

std::vector<std::vector<MaskPrediction>> Predictor::decodeChunk(const std::vector<Prompt>& prompts, bool multimask,
                                                                const Prompt& first) const {
  const SamManifest& manifest = impl_->model->manifest();
  const int imageSize = manifest.imageSize;
  const int low = manifest.lowResMaskSize;
  std::vector<float> coords;
  std::vector<float> codes;
  std::vector<float> maskInputs;
  for (const Prompt& p : prompts) {
    if (p.points.size() != first.points.size() || p.box.has_value() != first.box.has_value() ||
        p.maskInput.empty() != first.maskInput.empty()) {
      throw Error("prompts decoded in one batch must have the same number of points, boxes and mask inputs");
    }
    if (p.labels.size() != p.points.size()) throw Error("every prompt point needs a label");
    if (p.points.empty() && !p.box) throw Error("a prompt needs at least one point or a box");
    std::vector<PointXY> resized;
    for (const auto& pt : p.points) resized.push_back(applyCoords(pt, impl_->originalSize, imageSize));
    std::optional<BoxXyxy> box;
    if (p.box) box = applyBox(*p.box, impl_->originalSize, imageSize);
    appendPromptSequence(resized, p.labels, box, coords, codes);
    if (!p.maskInput.empty()) {
      if (p.maskInput.type() != CV_32FC1 || p.maskInput.rows != low || p.maskInput.cols != low) {
        throw Error("mask input must be " + std::to_string(low) + "x" + std::to_string(low) + " float logits");
      }
      const cv::Mat m = p.maskInput.isContinuous() ? p.maskInput : p.maskInput.clone();
      maskInputs.insert(maskInputs.end(), m.ptr<float>(), m.ptr<float>() + low * low);
    }
  }
  const auto batch = static_cast<int64_t>(prompts.size());
  const int64_t n = static_cast<int64_t>(codes.size()) / batch;
  const torch::Tensor coordT = torch::tensor(coords).view({batch, n, 2});
  const torch::Tensor codeT = torch::tensor(codes).view({batch, n});
  torch::Tensor maskT;
  if (!maskInputs.empty()) maskT = torch::tensor(maskInputs).view({batch, 1, low, low});

  const DecodedPrompts decoded = impl_->model->decode(impl_->image, coordT, codeT, maskT, multimask);
  const torch::Tensor lowCpu = decoded.lowResLogits.to(torch::kCPU).contiguous();
  const torch::Tensor& iou = decoded.iouPredictions;
  const LogitFrame frame{imageSize, impl_->inputSize, impl_->originalSize};

  std::vector<std::vector<MaskPrediction>> results(prompts.size());
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t c = 0; c < lowCpu.size(1); ++c) {
      MaskPrediction pred;
      pred.lowResLogits = cv::Mat(low, low, CV_32FC1, lowCpu[b][c].data_ptr<float>()).clone();
      ThresholdedMask m = thresholdUpscaledLogits(pred.lowResLogits, frame, manifest.maskThreshold, 1.0f);
      pred.mask = std::move(m.mask);
      pred.predictedIou = iou[b][c].item<float>();
      pred.stabilityScore = std::isnan(m.stabilityScore) ? 0.0f : m.stabilityScore;
      results[static_cast<size_t>(b)].push_back(std::move(pred));
    }
  }
  return results;
}

std::shared_ptr<SamModel> loadSamModel(const std::string& dir, const RuntimeOptions& runtime) {
  return std::make_shared<SamModel>(readSamManifest(dir), runtime);
}

}  // namespace samcli
