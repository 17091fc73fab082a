// The LibTorch half of samcli/owlvit.hpp: the detector module and its preprocessing.
#include <algorithm>
#include <cstddef>
#include <filesystem>

#include "device.hpp"
#include "samcli/error.hpp"
#include "samcli/owlvit.hpp"
#include "samcli/resample.hpp"

namespace fs = std::filesystem;

namespace samcli {

struct OwlVitDetector::Impl {
  OwlVitManifest manifest;
  std::string path;  // of the detector file, for messages
  torch::Device device{torch::kCPU};
  mutable torch::jit::Module module;
  torch::Tensor mean;  // [1,3,1,1] float32, on the CPU like the normalisation
  torch::Tensor std;
};

OwlVitDetector::OwlVitDetector(OwlVitManifest manifest, const RuntimeOptions& runtime)
    : impl_(std::make_unique<Impl>()) {
  impl_->device = selectDevice(runtime.device);
  configureThreads(runtime.threads);
  impl_->path = (fs::path(manifest.directory) / manifest.detectorFile).string();
  impl_->module = loadScriptModule(impl_->path, impl_->device);
  const auto channel = [](const std::array<float, 3>& v) {
    return torch::tensor(std::vector<float>(v.begin(), v.end()), torch::kFloat32).view({1, 3, 1, 1});
  };
  impl_->mean = channel(manifest.imageMean);
  impl_->std = channel(manifest.imageStd);
  impl_->manifest = std::move(manifest);
}

OwlVitDetector::~OwlVitDetector() = default;
OwlVitDetector::OwlVitDetector(OwlVitDetector&&) noexcept = default;
OwlVitDetector& OwlVitDetector::operator=(OwlVitDetector&&) noexcept = default;

const OwlVitManifest& OwlVitDetector::manifest() const { return impl_->manifest; }

DetectorOutput OwlVitDetector::detect(const cv::Mat& rgb, const QueryTokens& queries) const {
  if (rgb.empty() || rgb.type() != CV_8UC3) throw Error("the detector expects a non-empty 8-bit RGB image");
  if (queries.count < 1) throw Error("the detector needs at least one query");
  const int side = impl_->manifest.imageSize;
  const cv::Mat resized = resizePil(rgb, {side, side}, ResampleFilter::Bicubic);
  torch::InferenceMode guard;
  // OwlViTImageProcessor's arithmetic: rescale in float64, then normalise in float32.
  torch::Tensor pixels = torch::from_blob(const_cast<uchar*>(resized.ptr()), {side, side, 3}, torch::kUInt8)
                             .to(torch::kFloat64)
                             .mul(1.0 / 255.0)
                             .to(torch::kFloat32)
                             .permute({2, 0, 1})
                             .unsqueeze(0);
  pixels = ((pixels - impl_->mean) / impl_->std).contiguous().to(impl_->device);
  // One pass per chunk of at most kMaxQueryBatch queries: the text tower's activations grow with
  // the number of rows, and a query's logits do not depend on the other queries in its pass.
  std::vector<torch::Tensor> logitChunks;
  torch::Tensor boxes;
  for (int start = 0; start < queries.count; start += kMaxQueryBatch) {
    const int count = std::min(kMaxQueryBatch, queries.count - start);
    const auto rows = [&](const std::vector<int64_t>& values) {
      const std::vector<int64_t> chunk(values.begin() + std::ptrdiff_t(start) * queries.length,
                                       values.begin() + std::ptrdiff_t(start + count) * queries.length);
      return torch::tensor(chunk, torch::kInt64).view({count, queries.length}).to(impl_->device);
    };
    torch::Tensor logits;
    torch::Tensor chunkBoxes;
    try {
      const auto out = impl_->module.forward({rows(queries.inputIds), rows(queries.attentionMask), pixels});
      if (!out.isTuple() || out.toTuple()->elements().size() != 2) {
        throw Error("detector '" + impl_->path + "' does not return (logits, pred_boxes)");
      }
      const auto elements = out.toTuple()->elements();
      logits = elements[0].toTensor();
      chunkBoxes = elements[1].toTensor();
    } catch (const c10::Error& e) {
      const std::string what = e.what_without_backtrace();
      throw Error("detector '" + impl_->path + "' failed: " + what.substr(0, what.find('\n')));
    }
    const bool shapesOk = logits.dim() == 3 && logits.size(0) == 1 && logits.size(2) == count &&
                          chunkBoxes.dim() == 3 && chunkBoxes.size(0) == 1 && chunkBoxes.size(1) == logits.size(1) &&
                          chunkBoxes.size(2) == 4;
    if (!shapesOk) {
      throw Error("detector '" + impl_->path + "' returned logits " + c10::str(logits.sizes()) + " and boxes " +
                  c10::str(chunkBoxes.sizes()) + "; expected [1,P," + std::to_string(count) + "] and [1,P,4]");
    }
    logitChunks.push_back(logits);
    if (!boxes.defined()) boxes = chunkBoxes;  // the boxes depend on the image only
  }
  const torch::Tensor logits = torch::cat(logitChunks, 2);
  const auto toMat = [](const torch::Tensor& t) {
    const torch::Tensor cpu = t[0].to(torch::kCPU, torch::kFloat32).contiguous();
    return cv::Mat(static_cast<int>(cpu.size(0)), static_cast<int>(cpu.size(1)), CV_32FC1, cpu.data_ptr<float>())
        .clone();
  };
  return {toMat(logits), toMat(boxes)};
}

}  // namespace samcli
