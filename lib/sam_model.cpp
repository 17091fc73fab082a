#include "sam_model.hpp"

#include <filesystem>
#include <fstream>

#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/nn/functional.h>

#include "device.hpp"
#include "samcli/error.hpp"
#include "samcli/sha256.hpp"

namespace F = torch::nn::functional;
namespace fs = std::filesystem;

namespace samcli {
namespace {

torch::jit::Module loadModule(const SamManifest& manifest, const std::string& file, torch::Device device) {
  return loadScriptModule((fs::path(manifest.directory) / file).string(), device);
}

// Changes whenever the encoder or its preprocessing could: the manifest and the encoder file.
std::string encoderIdentity(const SamManifest& manifest) {
  const fs::path dir(manifest.directory);
  std::ifstream in(dir / "manifest.json", std::ios::binary);
  const std::string manifestBytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::error_code ec;
  const fs::path encoder = dir / manifest.imageEncoderFile;
  const auto size = fs::file_size(encoder, ec);
  const auto mtime = fs::last_write_time(encoder, ec).time_since_epoch().count();
  return sha256Hex(manifestBytes + "|" + std::to_string(size) + "|" + std::to_string(mtime));
}

std::string shapeText(const torch::Tensor& t) {
  std::string text = "[";
  for (int64_t d = 0; d < t.dim(); ++d) text += (d ? ", " : "") + std::to_string(t.size(d));
  return text + "]";
}

// A prompt decoder file of another kind (an encoder, another model) would fail at the first prompt
// with TorchScript's "Method 'prepare' is not defined": name the file and what it lacks at load.
void checkPromptDecoder(const torch::jit::Module& decoder, const SamManifest& manifest) {
  const std::vector<std::string> methods =
      manifest.formatVersion >= 2 ? std::vector<std::string>{"prepare", "decode", "upscale"} : std::vector<std::string>{"forward"};
  std::string list;
  for (const auto& method : methods) list += (list.empty() ? "" : ", ") + method;
  for (const auto& method : methods) {
    if (!decoder.find_method(method)) {
      throw Error("'" + (fs::path(manifest.directory) / manifest.promptDecoderFile).string() +
                  "' is not a SAM prompt decoder of format " + std::to_string(manifest.formatVersion) +
                  ": it has no method '" + method + "' (needs " + list + "; docs/model-format.md)");
    }
  }
}

}  // namespace

SamModel::SamModel(SamManifest manifest, const RuntimeOptions& runtime)
    : manifest_(std::move(manifest)), device_(selectDevice(runtime.device)) {
  configureThreads(runtime.threads);
  encoder_ = loadModule(manifest_, manifest_.imageEncoderFile, device_);
  if (!runtime.embeddingCache.empty()) cache_ = std::make_unique<EmbeddingCache>(runtime.embeddingCache, encoderIdentity(manifest_));
  decoder_ = loadModule(manifest_, manifest_.promptDecoderFile, device_);
  checkPromptDecoder(decoder_, manifest_);
  const auto opts = torch::TensorOptions().dtype(torch::kFloat32);
  pixelMean_ = torch::tensor(std::vector<float>(manifest_.pixelMean.begin(), manifest_.pixelMean.end()), opts)
                   .view({1, 3, 1, 1}).to(device_);
  pixelStd_ = torch::tensor(std::vector<float>(manifest_.pixelStd.begin(), manifest_.pixelStd.end()), opts)
                  .view({1, 3, 1, 1}).to(device_);
}

torch::Tensor SamModel::preprocess(const cv::Mat& rgb, cv::Size* inputSize) const {
  const cv::Mat resized = resizeLongestSide(rgb, manifest_.imageSize);
  *inputSize = resized.size();
  torch::Tensor x = torch::from_blob(const_cast<uchar*>(resized.ptr()), {resized.rows, resized.cols, 3}, torch::kUInt8)
                        .to(device_)
                        .permute({2, 0, 1})
                        .unsqueeze(0)
                        .to(torch::kFloat32);
  x = (x - pixelMean_) / pixelStd_;
  const int64_t padH = manifest_.imageSize - resized.rows;
  const int64_t padW = manifest_.imageSize - resized.cols;
  return F::pad(x, F::PadFuncOptions({0, padW, 0, padH})).contiguous();
}

torch::Tensor SamModel::encode(const torch::Tensor& preprocessed) const {
  torch::InferenceMode guard;
  // The encoder runs once per image, so the optimising executor's profiling runs and rewrites would
  // never pay off; on the scripted encoder (weights/sam_image_encoder.py) it unrolls the attention
  // loops and its first call took 100 s instead of 7.
  torch::jit::GraphOptimizerEnabledGuard unoptimised(false);
  torch::Tensor embedding = encoder_.forward({preprocessed}).toTensor();
  // The manifest's shape sizes the embedding cache and the decoder's inputs: a disagreement would
  // surface as a shape error deep in the decoder, or as cache entries of the wrong size.
  const auto& shape = manifest_.embeddingShape;
  if (embedding.dim() != 4 || embedding.size(1) != shape[0] || embedding.size(2) != shape[1] ||
      embedding.size(3) != shape[2]) {
    throw Error("model manifest '" + (fs::path(manifest_.directory) / "manifest.json").string() +
                "': embedding_shape [" + std::to_string(shape[0]) + ", " + std::to_string(shape[1]) + ", " +
                std::to_string(shape[2]) + "] disagrees with the image encoder's output " + shapeText(embedding));
  }
  return embedding;
}

torch::Tensor SamModel::encodeImage(const cv::Mat& rgb, cv::Size* inputSize) const {
  if (!cache_) return encode(preprocess(rgb, inputSize));
  const std::string key = cache_->keyFor(rgb);
  CachedEmbedding entry;
  if (cache_->load(key, manifest_.embeddingShape, entry)) {
    *inputSize = entry.inputSize;
    const auto& s = entry.shape;
    return torch::from_blob(entry.data.data(), {1, s[0], s[1], s[2]}, torch::kFloat32).clone().to(device_);
  }
  const torch::Tensor embedding = encode(preprocess(rgb, inputSize));
  const torch::Tensor cpu = embedding.to(torch::kCPU).contiguous();
  entry.shape = manifest_.embeddingShape;
  entry.inputSize = *inputSize;
  entry.data.assign(cpu.data_ptr<float>(), cpu.data_ptr<float>() + cpu.numel());
  cache_->store(key, entry);
  return embedding;
}

PreparedEmbedding SamModel::prepare(const torch::Tensor& embedding) const {
  PreparedEmbedding prepared{embedding, {}};
  if (manifest_.formatVersion >= 2) {
    torch::InferenceMode guard;
    prepared.decoderContext = decoder_.get_method("prepare")({embedding});
  }
  return prepared;
}

namespace {

// The rows of iou [B, C] (contiguous, on the CPU) that `wanted` accepts.
std::vector<int64_t> wantedPrompts(const torch::Tensor& iou, const MaskFilter& wanted) {
  std::vector<int64_t> prompts;
  for (int64_t p = 0; p < iou.size(0); ++p) {
    if (!wanted || wanted(iou[p].data_ptr<float>(), iou.size(1))) prompts.push_back(p);
  }
  return prompts;
}

torch::Tensor indexTensor(const std::vector<int64_t>& values, torch::Device device) {
  return torch::tensor(values, torch::TensorOptions().dtype(torch::kInt64)).to(device);
}

}  // namespace

DecodedPrompts SamModel::decode(const PreparedEmbedding& image, const torch::Tensor& coords,
                                const torch::Tensor& labels, const torch::Tensor& maskInput, bool multimask,
                                const MaskFilter& wanted) const {
  torch::InferenceMode guard;
  using torch::indexing::None;
  using torch::indexing::Slice;
  // The decoder returns all four outputs; the official MaskDecoder keeps 1..3 for multimask output
  // and output 0 otherwise.
  const auto candidates = multimask ? Slice(1, None) : Slice(0, 1);
  const bool hasMask = maskInput.defined();
  const int64_t batch = coords.size(0);
  const int64_t low = manifest_.lowResMaskSize;
  const auto fopts = torch::TensorOptions().dtype(torch::kFloat32).device(device_);
  DecodedPrompts decoded;
  if (manifest_.formatVersion >= 2) {
    // A few prompts at a time: each carries a [4096, 256] image side through the transformer, and
    // a few of them stay in the processor's cache between operations (2 prompts decoded ~1.8x
    // faster than 64 at once, measured on the stand-in vit_b). Masks are computed right away for
    // the prompts wanted, so no image side outlives its chunk.
    constexpr int64_t kDecodeChunk = 2;
    std::vector<torch::Tensor> ious;
    std::vector<torch::Tensor> masks;
    for (int64_t first = 0; first < batch; first += kDecodeChunk) {
      const int64_t count = std::min(kDecodeChunk, batch - first);
      const torch::IValue mask = hasMask ? torch::IValue(maskInput.slice(0, first, first + count).to(device_))
                                         : torch::IValue();
      const auto out = decoder_.get_method("decode")({image.decoderContext,
                                                      coords.slice(0, first, first + count).to(device_),
                                                      labels.slice(0, first, first + count).to(device_), mask})
                           .toTuple();
      const torch::Tensor iou = out->elements()[0].toTensor().index({Slice(), candidates});
      const torch::Tensor iouCpu = iou.to(torch::kCPU).contiguous();
      ious.push_back(iouCpu);
      const std::vector<int64_t> keep = wantedPrompts(iouCpu, wanted);
      if (keep.empty()) continue;
      const torch::Tensor index = indexTensor(keep, device_);
      const torch::Tensor hyper = out->elements()[1].toTensor().index({Slice(), candidates});
      masks.push_back(decoder_.get_method("upscale")({out->elements()[2].toTensor().index_select(0, index),
                                                       hyper.index_select(0, index)})
                          .toTensor());
      for (int64_t p : keep) decoded.maskedPrompts.push_back(first + p);
    }
    decoded.iouPredictions = torch::cat(ious);
    decoded.lowResLogits = masks.empty() ? torch::empty({0, decoded.iouPredictions.size(1), low, low}, fopts)
                                         : torch::cat(masks);
    return decoded;
  }
  // Without a mask input one zero mask broadcasts over the batch: the decoder then skips
  // downscaling B empty masks into a [B,256,64,64] tensor it would discard (same outputs, bit for bit).
  const torch::Tensor mask = hasMask ? maskInput.to(device_) : torch::zeros({1, 1, low, low}, fopts);
  const torch::Tensor hasMaskFlag = torch::full({1}, hasMask ? 1.0f : 0.0f, fopts);
  const auto out =
      decoder_.forward({image.embedding, coords.to(device_), labels.to(device_), mask, hasMaskFlag}).toTuple();
  decoded.iouPredictions = out->elements()[1].toTensor().index({Slice(), candidates}).to(torch::kCPU).contiguous();
  decoded.maskedPrompts = wantedPrompts(decoded.iouPredictions, wanted);
  const torch::Tensor lowRes = out->elements()[0].toTensor().index({Slice(), candidates});
  decoded.lowResLogits = decoded.maskedPrompts.size() == size_t(batch)
                             ? lowRes
                             : lowRes.index_select(0, indexTensor(decoded.maskedPrompts, device_));
  return decoded;
}

void appendPromptSequence(const std::vector<PointXY>& points, const std::vector<int>& labels,
                          const std::optional<BoxXyxy>& box, std::vector<float>& coords, std::vector<float>& codes) {
  for (size_t i = 0; i < points.size(); ++i) {
    coords.push_back(static_cast<float>(points[i].x));
    coords.push_back(static_cast<float>(points[i].y));
    codes.push_back(static_cast<float>(labels[i]));
  }
  if (box) {
    coords.insert(coords.end(), {static_cast<float>(box->x0), static_cast<float>(box->y0),
                                 static_cast<float>(box->x1), static_cast<float>(box->y1)});
    codes.insert(codes.end(), {2.0f, 3.0f});
  } else {
    coords.insert(coords.end(), {0.0f, 0.0f});
    codes.push_back(-1.0f);
  }
}

}  // namespace samcli
