#include "sam_model.hpp"

#include <filesystem>
#include <fstream>

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

}  // namespace

SamModel::SamModel(SamManifest manifest, const RuntimeOptions& runtime)
    : manifest_(std::move(manifest)), device_(selectDevice(runtime.device)) {
  configureThreads(runtime.threads);
  encoder_ = loadModule(manifest_, manifest_.imageEncoderFile, device_);
  if (!runtime.embeddingCache.empty()) cache_ = std::make_unique<EmbeddingCache>(runtime.embeddingCache, encoderIdentity(manifest_));
  decoder_ = loadModule(manifest_, manifest_.promptDecoderFile, device_);
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
  return encoder_.forward({preprocessed}).toTensor();
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

DecodedPrompts SamModel::decode(const PreparedEmbedding& image, const torch::Tensor& coords,
                                const torch::Tensor& labels, const torch::Tensor& maskInput, bool multimask) const {
  torch::InferenceMode guard;
  using torch::indexing::None;
  using torch::indexing::Slice;
  // The decoder returns all four outputs; the official MaskDecoder keeps 1..3 for multimask output
  // and output 0 otherwise.
  const auto candidates = multimask ? Slice(1, None) : Slice(0, 1);
  const bool hasMask = maskInput.defined();
  DecodedPrompts decoded;
  if (manifest_.formatVersion >= 2) {
    const torch::IValue mask = hasMask ? torch::IValue(maskInput.to(device_)) : torch::IValue();
    const auto out = decoder_.get_method("decode")({image.decoderContext, coords.to(device_), labels.to(device_), mask})
                         .toTuple();
    decoded.iouPredictions = out->elements()[0].toTensor().index({Slice(), candidates});
    decoded.hypernetwork = out->elements()[1].toTensor().index({Slice(), candidates});
    decoded.imageSide = out->elements()[2].toTensor();
    return decoded;
  }
  const int64_t low = manifest_.lowResMaskSize;
  const auto fopts = torch::TensorOptions().dtype(torch::kFloat32).device(device_);
  // Without a mask input one zero mask broadcasts over the batch: the decoder then skips
  // downscaling B empty masks into a [B,256,64,64] tensor it would discard (same outputs, bit for bit).
  const torch::Tensor mask = hasMask ? maskInput.to(device_) : torch::zeros({1, 1, low, low}, fopts);
  const torch::Tensor hasMaskFlag = torch::full({1}, hasMask ? 1.0f : 0.0f, fopts);
  const auto out =
      decoder_.forward({image.embedding, coords.to(device_), labels.to(device_), mask, hasMaskFlag}).toTuple();
  decoded.lowResLogits = out->elements()[0].toTensor().index({Slice(), candidates});
  decoded.iouPredictions = out->elements()[1].toTensor().index({Slice(), candidates});
  return decoded;
}

torch::Tensor SamModel::lowResLogits(const DecodedPrompts& decoded, const torch::Tensor& prompts) const {
  torch::InferenceMode guard;
  if (decoded.lowResLogits.defined()) {
    return prompts.defined() ? decoded.lowResLogits.index_select(0, prompts.to(device_)) : decoded.lowResLogits;
  }
  // Upscaling takes ~30 MB of intermediates per prompt: a few prompts at a time bound the memory of
  // a 64-prompt batch without making the matrix products small.
  constexpr int64_t kUpscaleChunk = 8;
  const torch::Tensor index = prompts.defined() ? prompts.to(device_)
                                                : torch::arange(decoded.imageSide.size(0), torch::TensorOptions()
                                                                                                .dtype(torch::kInt64)
                                                                                                .device(device_));
  std::vector<torch::Tensor> parts;
  for (int64_t first = 0; first < index.size(0); first += kUpscaleChunk) {
    const torch::Tensor chunk = index.slice(0, first, first + kUpscaleChunk);
    parts.push_back(decoder_.get_method("upscale")({decoded.imageSide.index_select(0, chunk),
                                                     decoded.hypernetwork.index_select(0, chunk)})
                        .toTensor());
  }
  if (parts.empty()) {
    const int64_t low = manifest_.lowResMaskSize;
    return torch::empty({0, decoded.hypernetwork.size(1), low, low}, torch::TensorOptions().device(device_));
  }
  return parts.size() == 1 ? parts.front() : torch::cat(parts);
}

torch::Tensor SamModel::upscaleLogits(const torch::Tensor& lowRes, cv::Size inputSize, cv::Size originalSize) const {
  torch::InferenceMode guard;
  using torch::indexing::Slice;
  const auto bilinear = [](const torch::Tensor& x, int64_t h, int64_t w) {
    return F::interpolate(x, F::InterpolateFuncOptions()
                                 .size(std::vector<int64_t>{h, w})
                                 .mode(torch::kBilinear)
                                 .align_corners(false));
  };
  torch::Tensor x = bilinear(lowRes, manifest_.imageSize, manifest_.imageSize);
  x = x.index({"...", Slice(0, inputSize.height), Slice(0, inputSize.width)});
  return bilinear(x, originalSize.height, originalSize.width);
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

torch::Tensor stabilityScore(const torch::Tensor& logits, float threshold, float offset) {
  const auto intersections = (logits > (threshold + offset)).sum({-1, -2}, false, torch::kInt64);
  const auto unions = (logits > (threshold - offset)).sum({-1, -2}, false, torch::kInt64);
  return intersections.to(torch::kFloat32) / unions.to(torch::kFloat32);
}

cv::Mat tensorToMask(const torch::Tensor& mask) {
  const torch::Tensor u8 = (mask.to(torch::kCPU).to(torch::kUInt8) * 255).contiguous();
  return cv::Mat(static_cast<int>(u8.size(0)), static_cast<int>(u8.size(1)), CV_8UC1, u8.data_ptr<uint8_t>()).clone();
}

}  // namespace samcli
