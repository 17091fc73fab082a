#include "samcli/amg.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <mutex>
#include <thread>

#include <ATen/Parallel.h>

#include "sam_model.hpp"
#include "samcli/error.hpp"
#include "samcli/mask_postprocess.hpp"
#include "samcli/mask_utils.hpp"
#include "samcli/rle.hpp"

namespace samcli {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Candidates kept so far as parallel columns (the official MaskData): every stage filters or
// appends rows, so each stays a few lines. Boxes are XYXY with inclusive maxima, as
// batched_mask_to_box gives them.
struct MaskCandidates {
  std::vector<Rle> rles;
  std::vector<BoxXyxy> boxes;
  std::vector<float> iouPreds;
  std::vector<float> stability;
  std::vector<PointXY> points;
  std::vector<std::array<int, 4>> cropBoxes;

  size_t size() const { return rles.size(); }

  // Keeps the rows in `indices`, in that order (NMS returns them best first).
  void keep(const std::vector<int>& indices) {
    MaskCandidates kept;
    for (int i : indices) kept.pushRow(*this, static_cast<size_t>(i));
    *this = std::move(kept);
  }

  void append(MaskCandidates&& other) {
    for (size_t i = 0; i < other.size(); ++i) pushRow(other, i);
  }

 private:
  void pushRow(MaskCandidates& from, size_t i) {
    rles.push_back(std::move(from.rles[i]));
    boxes.push_back(from.boxes[i]);
    iouPreds.push_back(from.iouPreds[i]);
    stability.push_back(from.stability[i]);
    points.push_back(from.points[i]);
    cropBoxes.push_back(from.cropBoxes[i]);
  }
};

BoxXyxy inclusiveBox(const cv::Mat& mask) {
  const auto b = maskBboxXywh(mask);
  return {double(b[0]), double(b[1]), double(b[0] + b[2]), double(b[1] + b[3])};
}

// Official is_box_near_crop_edge: a box (crop frame) within 20 px of a crop edge that is not also
// an image edge was cut by the crop, so its mask is incomplete.
bool isBoxNearCropEdge(const BoxXyxy& box, const std::array<int, 4>& crop, cv::Size image) {
  const float b[4] = {float(box.x0 + crop[0]), float(box.y0 + crop[1]), float(box.x1 + crop[0]), float(box.y1 + crop[1])};
  const float c[4] = {float(crop[0]), float(crop[1]), float(crop[2]), float(crop[3])};
  const float o[4] = {0.0f, 0.0f, float(image.width), float(image.height)};
  for (int k = 0; k < 4; ++k) {
    if (std::abs(b[k] - c[k]) <= 20.0f && !(std::abs(b[k] - o[k]) <= 20.0f)) return true;
  }
  return false;
}

// RLE of a crop-frame mask placed into the full image (official uncrop_masks + mask_to_rle).
Rle encodeUncropped(const cv::Mat& cropMask, const std::array<int, 4>& crop, cv::Size image) {
  if (crop[0] == 0 && crop[1] == 0 && crop[2] == image.width && crop[3] == image.height) return encodeRle(cropMask);
  cv::Mat full = cv::Mat::zeros(image, CV_8UC1);
  cropMask.copyTo(full(cv::Rect(crop[0], crop[1], cropMask.cols, cropMask.rows)));
  return encodeRle(full);
}

struct CropContext {
  PreparedEmbedding image;
  cv::Size cropSize;
  cv::Size inputSize;
  std::array<int, 4> cropBox;
  cv::Size imageSize;
};

MaskCandidates processBatch(const SamModel& model, const AmgOptions& o, const CropContext& crop,
                            const std::vector<PointXY>& points, AmgTimings& t) {
  const SamManifest& m = model.manifest();
  std::vector<float> coords;
  std::vector<float> codes;
  for (const auto& p : points) {
    appendPromptSequence({applyCoords(p, crop.cropSize, m.imageSize)}, {1}, std::nullopt, coords, codes);
  }
  const auto batch = static_cast<int64_t>(points.size());
  auto start = Clock::now();
  // The official IoU filter (off at 0; NaN fails). Masks only for points with a candidate passing
  // it: the official generator computes and upscales every candidate's mask, then filters.
  const auto passesIou = [&](float v) { return o.predIouThresh <= 0.0 || v > o.predIouThresh; };
  const auto anyAboveThreshold = [&](const float* iou, int64_t count) { return std::any_of(iou, iou + count, passesIou); };
  const DecodedPrompts decoded = model.decode(crop.image, torch::tensor(coords).view({batch, 2, 2}),
                                              torch::tensor(codes).view({batch, 2}), torch::Tensor(), true,
                                              anyAboveThreshold);
  const torch::Tensor iou = decoded.iouPredictions.flatten(0, 1).to(torch::kCPU).contiguous();  // point-major
  const int64_t perPoint = decoded.iouPredictions.size(1);
  t.candidates += static_cast<int>(iou.size(0));
  // [masked points * perPoint, L, L]: row r * perPoint + c is candidate c of decoded.maskedPrompts[r].
  const torch::Tensor lowRes = decoded.lowResLogits.flatten(0, 1);
  std::vector<int64_t> survivors;  // candidate indices, point-major
  std::vector<int64_t> rows;       // their rows in lowRes
  const float* iouData = iou.data_ptr<float>();
  for (size_t r = 0; r < decoded.maskedPrompts.size(); ++r) {
    for (int64_t c = 0; c < perPoint; ++c) {
      const int64_t i = decoded.maskedPrompts[r] * perPoint + c;
      if (!passesIou(iouData[i])) continue;
      survivors.push_back(i);
      rows.push_back(int64_t(r) * perPoint + c);
    }
  }
  t.upscaled += static_cast<int>(survivors.size());
  t.decoderSeconds += secondsSince(start);
  start = Clock::now();

  MaskCandidates data;
  torch::InferenceMode guard;
  const torch::Tensor survivorLogits =
      lowRes.index_select(0, torch::tensor(rows).to(lowRes.device())).to(torch::kCPU).contiguous();
  const int low = m.lowResMaskSize;
  const LogitFrame frame{m.imageSize, crop.inputSize, crop.cropSize};
  // One candidate at a time, straight to its 8-bit mask: no float logits at crop size are stored
  // (48 MB per candidate for a 4000x3000 crop), whatever --points-per-batch is.
  for (size_t k = 0; k < survivors.size(); ++k) {
    const cv::Mat logits(low, low, CV_32FC1, survivorLogits[int64_t(k)].data_ptr<float>());
    const ThresholdedMask t = thresholdUpscaledLogits(logits, frame, m.maskThreshold, float(o.stabilityScoreOffset));
    const float s = t.stabilityScore;
    // NaN (empty union) fails like the official comparison does.
    if (o.stabilityScoreThresh > 0.0 && !(s >= o.stabilityScoreThresh)) continue;
    const BoxXyxy box = inclusiveBox(t.mask);
    if (isBoxNearCropEdge(box, crop.cropBox, crop.imageSize)) continue;
    data.rles.push_back(encodeUncropped(t.mask, crop.cropBox, crop.imageSize));
    data.boxes.push_back(box);
    data.iouPreds.push_back(iouData[survivors[k]]);
    data.stability.push_back(s);
    data.points.push_back(points[size_t(survivors[k] / perPoint)]);
    data.cropBoxes.push_back(crop.cropBox);
  }
  t.postprocessSeconds += secondsSince(start);
  return data;
}

// Decodes the grid points batch by batch, on every core at once: one batch per worker, each worker
// single-threaded. The decoder's many small operations use two cores poorly within one batch
// (4.0 s per 64-point batch on 2 threads vs 6.3 s on 1 thread, measured with the stand-in vit_b),
// so running batches side by side decodes ~1.3x faster. Results keep the batch order, so the
// output is the sequential one (up to float rounding of the single-threaded kernels, ~1e-6).
std::vector<MaskCandidates> decodeBatches(const SamModel& model, const AmgOptions& o, const CropContext& crop,
                                          const std::vector<PointXY>& points, AmgTimings& t) {
  const size_t perBatch = size_t(o.pointsPerBatch);
  const size_t count = (points.size() + perBatch - 1) / perBatch;
  std::vector<MaskCandidates> results(count);
  std::vector<AmgTimings> timings(count);
  const auto run = [&](size_t b) {
    const size_t first = b * perBatch;
    const size_t last = std::min(points.size(), first + perBatch);
    results[b] = processBatch(model, o, crop, {points.begin() + first, points.begin() + last}, timings[b]);
  };
  const int threads = at::get_num_threads();
  const size_t workers = std::min(count, size_t(std::max(1, threads)));
  if (workers <= 1) {
    for (size_t b = 0; b < count; ++b) run(b);
  } else {
    std::atomic<size_t> next{0};
    std::mutex failure;
    std::exception_ptr error;
    std::vector<std::thread> pool;
    for (size_t w = 0; w < workers; ++w) {
      pool.emplace_back([&] {
        at::set_num_threads(1);  // this thread's OpenMP team; the caller's count is restored below
        for (size_t b = next++; b < count; b = next++) {
          try {
            run(b);
          } catch (...) {
            const std::lock_guard<std::mutex> lock(failure);
            if (!error) error = std::current_exception();
          }
        }
      });
    }
    for (auto& worker : pool) worker.join();
    at::set_num_threads(threads);
    if (error) std::rethrow_exception(error);
  }
  for (const AmgTimings& bt : timings) {
    t.decoderSeconds += bt.decoderSeconds;
    t.postprocessSeconds += bt.postprocessSeconds;
    t.candidates += bt.candidates;
    t.upscaled += bt.upscaled;
  }
  return results;
}

void copyEmbedding(const torch::Tensor& embedding, cv::Size inputSize, int paddedSize, ImageEmbedding& out) {
  const torch::Tensor cpu = embedding.to(torch::kCPU).contiguous();
  out.channels = int(cpu.size(1));
  out.height = int(cpu.size(2));
  out.width = int(cpu.size(3));
  out.data.assign(cpu.data_ptr<float>(), cpu.data_ptr<float>() + cpu.numel());
  out.inputSize = inputSize;
  out.paddedSize = paddedSize;
}

// Official postprocess_small_regions: fill small holes, drop small islands, then NMS preferring
// masks that did not need either.
void removeSmallRegionsAndDuplicates(MaskCandidates& data, int minArea, double nmsThresh) {
  if (data.size() == 0) return;
  std::vector<float> scores;
  std::vector<BoxXyxy> boxes;
  std::vector<Rle> changedRles(data.size());
  for (size_t i = 0; i < data.size(); ++i) {
    auto [filled, holesChanged] = removeSmallRegions(decodeRle(data.rles[i]), minArea, SmallRegionMode::Holes);
    auto [cleaned, islandsChanged] = removeSmallRegions(filled, minArea, SmallRegionMode::Islands);
    const bool unchanged = !holesChanged && !islandsChanged;
    scores.push_back(unchanged ? 1.0f : 0.0f);
    boxes.push_back(inclusiveBox(cleaned));
    if (!unchanged) changedRles[i] = encodeRle(cleaned);
  }
  const std::vector<int> keep = nmsBoxes(boxes, scores, nmsThresh);
  for (int i : keep) {
    if (scores[size_t(i)] == 0.0f) {
      data.rles[size_t(i)] = std::move(changedRles[size_t(i)]);
      data.boxes[size_t(i)] = boxes[size_t(i)];
    }
  }
  data.keep(keep);
}

}  // namespace

AutomaticMaskGenerator::AutomaticMaskGenerator(std::shared_ptr<SamModel> model, AmgOptions options)
    : model_(std::move(model)), options_(std::move(options)) {
  validateAmgOptions(options_);
}

std::vector<MaskRecord> AutomaticMaskGenerator::generate(const cv::Mat& rgb, AmgTimings* timings,
                                                         ImageEmbedding* wholeImageEmbedding) const {
  const AmgOptions& o = options_;
  AmgTimings local;
  AmgTimings& t = timings ? *timings : local;
  const cv::Size imageSize = rgb.size();
  const auto grids = o.pointGrids.empty()
                         ? buildAllLayerPointGrids(o.pointsPerSide, o.cropNLayers, o.cropNPointsDownscaleFactor)
                         : o.pointGrids;
  const std::vector<CropBox> crops = generateCropBoxes(imageSize, o.cropNLayers, o.cropOverlapRatio);

  MaskCandidates data;
  for (const CropBox& crop : crops) {
    const auto& b = crop.xyxy;
    // An image smaller than its crop grid (1x1 with crop layers) yields crops without pixels; the
    // official generator would fail on them, and they hold nothing to segment.
    if (b[2] <= b[0] || b[3] <= b[1]) continue;
    CropContext ctx;
    ctx.cropBox = b;
    ctx.imageSize = imageSize;
    const cv::Mat cropped = rgb(cv::Rect(b[0], b[1], b[2] - b[0], b[3] - b[1])).clone();
    ctx.cropSize = cropped.size();
    auto start = Clock::now();
    ctx.image = model_->prepare(model_->encodeImage(cropped, &ctx.inputSize));
    t.encoderSeconds += secondsSince(start);
    if (wholeImageEmbedding && crop.layer == 0) {
      copyEmbedding(ctx.image.embedding, ctx.inputSize, model_->manifest().imageSize, *wholeImageEmbedding);
    }

    // Grid points scaled to this crop's pixels (official: grid * [w, h]).
    std::vector<PointXY> points;
    for (const auto& g : grids[size_t(crop.layer)]) points.push_back({g.x * ctx.cropSize.width, g.y * ctx.cropSize.height});
    MaskCandidates cropData;
    for (MaskCandidates& batch : decodeBatches(*model_, o, ctx, points, t)) cropData.append(std::move(batch));
    start = Clock::now();
    // Remove duplicates within this crop, then return to the image frame.
    cropData.keep(nmsBoxes(cropData.boxes, cropData.iouPreds, o.boxNmsThresh));
    for (size_t i = 0; i < cropData.size(); ++i) {
      BoxXyxy& box = cropData.boxes[i];
      box = {box.x0 + b[0], box.y0 + b[1], box.x1 + b[0], box.y1 + b[1]};
      cropData.points[i] = {cropData.points[i].x + b[0], cropData.points[i].y + b[1]};
    }
    data.append(std::move(cropData));
    t.postprocessSeconds += secondsSince(start);
  }

  const auto start = Clock::now();
  if (crops.size() > 1) {
    // Prefer masks from smaller crops.
    std::vector<float> scores;
    for (const auto& c : data.cropBoxes) scores.push_back(1.0f / float((c[2] - c[0]) * (c[3] - c[1])));
    data.keep(nmsBoxes(data.boxes, scores, o.cropNmsThresh));
  }
  if (o.minMaskRegionArea > 0) {
    removeSmallRegionsAndDuplicates(data, o.minMaskRegionArea, std::max(o.boxNmsThresh, o.cropNmsThresh));
  }

  std::vector<MaskRecord> records;
  for (size_t i = 0; i < data.size(); ++i) {
    MaskRecord r;
    r.rle = std::move(data.rles[i]);
    r.area = rleArea(r.rle);
    const BoxXyxy& box = data.boxes[i];
    r.bbox = {int(box.x0), int(box.y0), int(box.x1 - box.x0), int(box.y1 - box.y0)};
    r.predictedIou = data.iouPreds[i];
    r.stabilityScore = data.stability[i];
    r.pointCoords = {data.points[i]};
    const auto& c = data.cropBoxes[i];
    r.cropBox = {c[0], c[1], c[2] - c[0], c[3] - c[1]};
    records.push_back(std::move(r));
  }
  t.postprocessSeconds += secondsSince(start);
  return records;
}

}  // namespace samcli
