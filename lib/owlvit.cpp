// The LibTorch half of samcli/owlvit.hpp: the detector module and its preprocessing.
#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <utility>

#include "device.hpp"
#include "samcli/error.hpp"
#include "samcli/owlvit.hpp"
#include "samcli/resample.hpp"

namespace fs = std::filesystem;

namespace samcli {
namespace {

// The methods of a format-2 detector (weights/owl_detector.py), in the order text-sam calls them.
const std::vector<std::string> kSplitInterface{"image_features", "boxes", "objectness", "embed_text",
                                               "embed_query_image", "classify"};

cv::Mat toMat(const torch::Tensor& t) {  // [1, R, C] or [R, C] -> CV_32FC1 [R, C]
  const torch::Tensor cpu = (t.dim() == 3 ? t[0] : t).to(torch::kCPU, torch::kFloat32).contiguous();
  return cv::Mat(static_cast<int>(cpu.size(0)), static_cast<int>(cpu.size(1)), CV_32FC1, cpu.data_ptr<float>()).clone();
}

// u8 RGB -> float32 0..1 as the Hugging Face processors rescale: x * (1/255) in float64, then float32.
cv::Mat rescaled(const cv::Mat& rgb) {
  cv::Mat out(rgb.size(), CV_32FC3);
  for (int y = 0; y < rgb.rows; ++y) {
    const uchar* in = rgb.ptr<uchar>(y);
    float* o = out.ptr<float>(y);
    for (int x = 0; x < rgb.cols * 3; ++x) o[x] = static_cast<float>(in[x] * (1.0 / 255.0));
  }
  return out;
}

}  // namespace

struct OwlVitDetector::Impl {
  OwlVitManifest manifest;
  std::string path;  // of the detector file, for messages
  torch::Device device{torch::kCPU};
  mutable torch::jit::Module module;
  torch::Tensor mean;  // [1,3,1,1] float32, on the CPU like the normalisation
  torch::Tensor std;

  // The model input for an RGB image and the frame its boxes refer to.
  torch::Tensor pixels(const cv::Mat& rgb, BoxFrame& frame) const;
  // Runs a method, naming the file and the method when TorchScript fails.
  c10::IValue call(const std::string& method, std::vector<c10::IValue> inputs) const;
  // Token rows start..start+count of `queries` as (input_ids, attention_mask) on the device. The
  // text tower runs on at most kMaxQueryBatch rows at a time: its activations grow with the number
  // of rows, and a query's result does not depend on the other queries in its pass.
  std::pair<torch::Tensor, torch::Tensor> rows(const QueryTokens& queries, int start, int count) const;
  torch::Tensor text(const QueryTokens& queries) const;
};

torch::Tensor OwlVitDetector::Impl::pixels(const cv::Mat& rgb, BoxFrame& frame) const {
  if (rgb.empty() || rgb.type() != CV_8UC3) throw Error("the detector expects a non-empty 8-bit RGB image");
  const int side = manifest.imageSize;
  torch::Tensor input;
  if (manifest.preprocessing == DetectorPreprocessing::PadSquare) {
    const int square = std::max(rgb.cols, rgb.rows);
    cv::Mat padded(square, square, CV_32FC3, cv::Scalar::all(0.5));
    rescaled(rgb).copyTo(padded(cv::Rect(0, 0, rgb.cols, rgb.rows)));
    const cv::Mat resized = resizeAntialiasedLinear(padded, {side, side});
    input = torch::from_blob(const_cast<float*>(resized.ptr<float>()), {side, side, 3}, torch::kFloat32).clone();
    frame = BoxFrame({square, square}, rgb.size());
  } else {
    const cv::Mat resized = resizePil(rgb, {side, side}, ResampleFilter::Bicubic);
    // OwlViTImageProcessor's arithmetic: rescale in float64, then normalise in float32.
    input = torch::from_blob(const_cast<uchar*>(resized.ptr()), {side, side, 3}, torch::kUInt8)
                .to(torch::kFloat64)
                .mul(1.0 / 255.0)
                .to(torch::kFloat32);
    frame = BoxFrame(rgb.size());
  }
  input = input.permute({2, 0, 1}).unsqueeze(0);
  return ((input - mean) / std).contiguous().to(device);
}

c10::IValue OwlVitDetector::Impl::call(const std::string& method, std::vector<c10::IValue> inputs) const {
  try {
    return module.get_method(method)(std::move(inputs));
  } catch (const c10::Error& e) {
    const std::string what = e.what_without_backtrace();
    throw Error("detector '" + path + "' failed in " + method + ": " + what.substr(0, what.find('\n')));
  } catch (const std::exception& e) {  // the TorchScript interpreter's own (JITException)
    const std::string what = e.what();
    throw Error("detector '" + path + "' failed in " + method + ": " + what.substr(0, what.find('\n')));
  }
}

std::pair<torch::Tensor, torch::Tensor> OwlVitDetector::Impl::rows(const QueryTokens& queries, int start,
                                                                    int count) const {
  const auto slice = [&](const std::vector<int64_t>& values) {
    const std::vector<int64_t> chunk(values.begin() + std::ptrdiff_t(start) * queries.length,
                                     values.begin() + std::ptrdiff_t(start + count) * queries.length);
    return torch::tensor(chunk, torch::kInt64).view({count, queries.length}).to(device);
  };
  return {slice(queries.inputIds), slice(queries.attentionMask)};
}

// Text embeddings [Q, D], kMaxQueryBatch rows per pass.
torch::Tensor OwlVitDetector::Impl::text(const QueryTokens& queries) const {
  std::vector<torch::Tensor> chunks;
  for (int start = 0; start < queries.count; start += kMaxQueryBatch) {
    const auto [ids, mask] = rows(queries, start, std::min(kMaxQueryBatch, queries.count - start));
    chunks.push_back(call("embed_text", {ids, mask}).toTensor());
  }
  return torch::cat(chunks, 0);
}

OwlVitDetector::OwlVitDetector(OwlVitManifest manifest, const RuntimeOptions& runtime)
    : impl_(std::make_unique<Impl>()) {
  impl_->device = selectDevice(runtime.device);
  configureThreads(runtime.threads);
  impl_->path = (fs::path(manifest.directory) / manifest.detectorFile).string();
  impl_->module = loadScriptModule(impl_->path, impl_->device);
  if (manifest.formatVersion >= 2) {
    for (const auto& method : kSplitInterface) {
      if (!impl_->module.find_method(method)) {
        throw Error("'" + impl_->path + "' is not an OWL detector of format 2: it has no method '" + method +
                    "' (docs/model-format.md)");
      }
    }
  }
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

DetectorOutput OwlVitDetector::detect(const cv::Mat& rgb, const QueryTokens& text, const cv::Mat& examples) const {
  if (text.count < 1 && examples.empty()) throw Error("the detector needs at least one query");
  const Impl& d = *impl_;
  DetectorOutput out;
  torch::InferenceMode guard;
  const torch::Tensor pixels = d.pixels(rgb, out.frame);
  if (d.manifest.formatVersion < 2) {
    // Examples come from embedExample, which format 1 refuses. One forward pass per chunk of
    // queries: the boxes depend on the image only.
    std::vector<torch::Tensor> logitChunks;
    torch::Tensor boxes;
    for (int start = 0; start < text.count; start += kMaxQueryBatch) {
      const int count = std::min(kMaxQueryBatch, text.count - start);
      const auto [ids, mask] = d.rows(text, start, count);
      const auto result = d.call("forward", {ids, mask, pixels});
      if (!result.isTuple() || result.toTuple()->elements().size() != 2) {
        throw Error("detector '" + d.path + "' does not return (logits, pred_boxes)");
      }
      const auto elements = result.toTuple()->elements();
      const torch::Tensor logits = elements[0].toTensor();
      const torch::Tensor chunkBoxes = elements[1].toTensor();
      const bool shapesOk = logits.dim() == 3 && logits.size(0) == 1 && logits.size(2) == count &&
                            chunkBoxes.dim() == 3 && chunkBoxes.size(0) == 1 &&
                            chunkBoxes.size(1) == logits.size(1) && chunkBoxes.size(2) == 4;
      if (!shapesOk) {
        throw Error("detector '" + d.path + "' returned logits " + c10::str(logits.sizes()) + " and boxes " +
                    c10::str(chunkBoxes.sizes()) + "; expected [1,P," + std::to_string(count) + "] and [1,P,4]");
      }
      logitChunks.push_back(logits);
      if (!boxes.defined()) boxes = chunkBoxes;
    }
    out.logits = toMat(torch::cat(logitChunks, 2));
    out.boxes = toMat(boxes);
    return out;
  }
  const torch::Tensor feats = d.call("image_features", {pixels}).toTensor();
  std::vector<torch::Tensor> queries;
  if (text.count > 0) queries.push_back(d.text(text));
  if (!examples.empty()) {
    queries.push_back(torch::from_blob(const_cast<float*>(examples.ptr<float>()), {examples.rows, examples.cols},
                                       torch::kFloat32)
                          .to(d.device));
  }
  const torch::Tensor logits = d.call("classify", {feats, torch::cat(queries, 0)}).toTensor();
  const torch::Tensor boxes = d.call("boxes", {feats}).toTensor();
  if (logits.dim() != 3 || boxes.dim() != 3 || logits.size(1) != boxes.size(1) || boxes.size(2) != 4) {
    throw Error("detector '" + d.path + "' returned logits " + c10::str(logits.sizes()) + " and boxes " +
                c10::str(boxes.sizes()) + "; expected [1,P,Q] and [1,P,4]");
  }
  out.logits = toMat(logits);
  out.boxes = toMat(boxes);
  if (d.manifest.objectness) out.objectness = toMat(d.call("objectness", {feats}).toTensor().unsqueeze(-1));
  return out;
}

cv::Mat OwlVitDetector::embedExample(const cv::Mat& rgb) const {
  const Impl& d = *impl_;
  if (d.manifest.formatVersion < 2) {
    throw Error("detector '" + d.path + "' is of format 1, which takes text only: export it again with "
                "weights/export_owlvit.py for example-image queries");
  }
  torch::InferenceMode guard;
  BoxFrame frame;
  const auto result = d.call("embed_query_image", {d.pixels(rgb, frame)});
  return toMat(result.toTuple()->elements()[0].toTensor());
}

}  // namespace samcli
