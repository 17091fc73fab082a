#include "samcli/semantic.hpp"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "samcli/error.hpp"
#include "samcli/image_io.hpp"
#include "samcli/log.hpp"
#include "samcli/resample.hpp"
#include "samcli/text_input.hpp"

namespace samcli {
namespace {

std::vector<std::vector<float>> poolAll(const std::vector<MaskRecord>& records, const ImageEmbedding& embedding,
                                        const PoolingOptions& pooling) {
  std::vector<std::vector<float>> vectors;
  for (const auto& r : records) vectors.push_back(poolEmbedding(embedding, maskGridWeights(maskOf(r), embedding, pooling)));
  return vectors;
}

// Classes from per-record ids, with the label map painted largest mask first so that small
// objects lying on larger ones keep their own class.
void finishClasses(const std::vector<MaskRecord>& records, cv::Size imageSize, SemanticResult& result) {
  const int maxId = result.classIds.empty() ? 0 : *std::max_element(result.classIds.begin(), result.classIds.end());
  result.labelMap = cv::Mat::zeros(imageSize, maxId > 255 ? CV_16UC1 : CV_8UC1);
  for (size_t i : largestFirst(records)) {
    if (result.classIds[i] > 0) result.labelMap.setTo(cv::Scalar(result.classIds[i]), maskOf(records[i]));
  }
  result.classes.clear();
  for (int id = 1; id <= maxId; ++id) {
    SemanticClass c;
    c.id = id;
    double iouSum = 0;
    for (size_t i = 0; i < records.size(); ++i) {
      if (result.classIds[i] != id) continue;
      c.members.push_back(i);
      iouSum += records[i].predictedIou;
    }
    c.area = cv::countNonZero(result.labelMap == id);
    c.meanPredictedIou = c.members.empty() ? 0.0 : iouSum / double(c.members.size());
    result.classes.push_back(std::move(c));
  }
}

}  // namespace

cv::Mat maskGridWeights(const cv::Mat& mask, const ImageEmbedding& embedding, const PoolingOptions& options) {
  // Same geometry as the encoder input: resize to the input size, pad to the square.
  const cv::Mat binary = mask > 0;
  const cv::Mat resized = resizePil(binary, embedding.inputSize, ResampleFilter::Bilinear);
  cv::Mat padded = cv::Mat::zeros(embedding.paddedSize, embedding.paddedSize, CV_8UC1);
  resized.copyTo(padded(cv::Rect(0, 0, resized.cols, resized.rows)));
  const int cell = embedding.paddedSize / embedding.width;
  cv::Mat weights(embedding.height, embedding.width, CV_32FC1);
  if (options.mode == PoolingMode::Notebook) {
    // Count resized mask pixels per cell; a cell with at least 2 counts fully.
    cv::Mat inside;
    cv::Mat(padded > 127).convertTo(inside, CV_32FC1, 1.0 / 255.0);
    cv::resize(inside, weights, weights.size(), 0, 0, cv::INTER_AREA);  // exact block means
    cv::threshold(weights * double(cell * cell), weights, 1.5, 1.0, cv::THRESH_BINARY);
    return weights;
  }
  cv::Mat coverage;
  padded.convertTo(coverage, CV_32FC1, 1.0 / 255.0);
  cv::resize(coverage, weights, weights.size(), 0, 0, cv::INTER_AREA);  // exact block means: cell divides the side
  weights.setTo(0.0f, weights < std::max(options.minCoverage, 1e-9));
  return weights;
}

std::vector<float> poolEmbedding(const ImageEmbedding& embedding, const cv::Mat& weights) {
  const int cells = embedding.height * embedding.width;
  const float* w = weights.ptr<float>();
  const double total = cv::sum(weights)[0];
  if (total <= 0.0) return {};
  std::vector<float> pooled(size_t(embedding.channels), 0.0f);
  for (int c = 0; c < embedding.channels; ++c) {
    const float* channel = embedding.data.data() + size_t(c) * size_t(cells);
    double acc = 0.0;
    for (int i = 0; i < cells; ++i) acc += double(w[i]) * channel[i];
    pooled[size_t(c)] = float(acc / total);
  }
  return pooled;
}

void validateSemanticOptions(const SemanticOptions& o) {
  if (o.method == ClusterMethod::Dbscan) {
    if (!(o.eps > 0.0)) throw InvalidParameter({"eps"}, "eps must be greater than 0 (got " + formatNumber(o.eps) + ")");
    if (o.minSamples < 1) throw InvalidParameter({"min_samples"}, "min_samples must be at least 1");
  } else if (o.clusters < 1) {
    throw InvalidParameter({"clusters"}, "clusters must be at least 1 (got " + std::to_string(o.clusters) + ")");
  }
  if (o.pooling.minCoverage < 0.0 || o.pooling.minCoverage > 1.0) {
    throw InvalidParameter({"min_coverage"}, "min_coverage must be between 0 and 1 (got " + formatNumber(o.pooling.minCoverage) + ")");
  }
}

SemanticResult classifyMasks(const std::vector<MaskRecord>& records, const ImageEmbedding& embedding,
                             cv::Size imageSize, const SemanticOptions& options) {
  validateSemanticOptions(options);
  SemanticResult result;
  result.embeddings = poolAll(records, embedding, options.pooling);
  std::vector<std::vector<float>> points;
  std::vector<size_t> pointRecord;
  for (size_t i = 0; i < records.size(); ++i) {
    if (result.embeddings[i].empty()) continue;
    points.push_back(result.embeddings[i]);
    pointRecord.push_back(i);
  }
  result.classIds.assign(records.size(), 0);
  if (!points.empty()) {
    std::vector<int> labels;
    if (options.method == ClusterMethod::Kmeans) {
      labels = kmeans(points, std::min<int>(options.clusters, int(points.size())), options.seed);
    } else if (options.metric == Metric::Euclidean) {
      labels = dbscan(l2Normalize(points), options.eps, options.minSamples, Metric::Euclidean);
    } else {
      labels = dbscan(points, options.eps, options.minSamples, Metric::Cosine);
    }
    for (size_t k = 0; k < labels.size(); ++k) result.classIds[pointRecord[k]] = labels[k] + 1;  // noise -1 -> 0
  }
  finishClasses(records, imageSize, result);
  return result;
}

SemanticResult selectSimilar(const std::vector<MaskRecord>& records, const ImageEmbedding& embedding,
                             cv::Size imageSize, size_t exemplar, double minSimilarity,
                             const PoolingOptions& pooling) {
  SemanticResult result;
  result.embeddings = poolAll(records, embedding, pooling);
  if (result.embeddings[exemplar].empty()) throw Error("the selected mask covers no patch of the encoder grid");
  result.classIds.assign(records.size(), 0);
  for (size_t i = 0; i < records.size(); ++i) {
    if (!result.embeddings[i].empty() &&
        cosineSimilarity(result.embeddings[i], result.embeddings[exemplar]) >= minSimilarity) {
      result.classIds[i] = 1;
    }
  }
  finishClasses(records, imageSize, result);
  return result;
}

std::optional<size_t> maskAtPoint(const std::vector<MaskRecord>& records, PointXY point) {
  std::optional<size_t> best;
  const int x = int(std::floor(point.x));
  const int y = int(std::floor(point.y));
  for (size_t i = 0; i < records.size(); ++i) {
    const cv::Mat m = maskOf(records[i]);
    if (x < 0 || y < 0 || x >= m.cols || y >= m.rows || m.at<uint8_t>(y, x) == 0) continue;
    if (!best || records[i].area < records[*best].area) best = i;
  }
  return best;
}

std::optional<size_t> maskForBox(const std::vector<MaskRecord>& records, const BoxXyxy& box) {
  std::optional<size_t> best;
  double bestIou = 0.0;
  const double boxArea = (box.x1 - box.x0) * (box.y1 - box.y0);
  for (size_t i = 0; i < records.size(); ++i) {
    // Mask boxes hold inclusive pixel indices; as pixel extents they end one further.
    const auto& b = records[i].bbox;
    const double x0 = b[0], y0 = b[1], x1 = b[0] + b[2] + 1, y1 = b[1] + b[3] + 1;
    const double iw = std::max(0.0, std::min(x1, box.x1) - std::max(x0, box.x0));
    const double ih = std::max(0.0, std::min(y1, box.y1) - std::max(y0, box.y0));
    const double inter = iw * ih;
    const double iou = inter / ((x1 - x0) * (y1 - y0) + boxArea - inter);
    if (iou > bestIou) {
      bestIou = iou;
      best = i;
    }
  }
  return best;
}

cv::Mat renderClasses(const cv::Mat& rgb, const SemanticResult& result) {
  cv::Mat canvas = rgb.clone();
  for (const auto& c : result.classes) {
    const cv::Vec3b colour = maskColour(size_t(c.id - 1));
    tintMasked(canvas, result.labelMap == c.id, cv::Scalar(colour[0], colour[1], colour[2]), 0.6);
  }
  const int row = 24;
  const int columns = std::max(1, canvas.cols / 180);
  const int rows = std::max(1, int((result.classes.size() + size_t(columns) - 1) / size_t(columns)));
  cv::Mat framed(canvas.rows + rows * row + 6, canvas.cols, CV_8UC3, cv::Scalar(255, 255, 255));
  canvas.copyTo(framed(cv::Rect(0, 0, canvas.cols, canvas.rows)));
  if (result.classes.empty()) {
    cv::putText(framed, "no class", cv::Point(6, canvas.rows + 18), cv::FONT_HERSHEY_SIMPLEX, 0.5, cv::Scalar(0, 0, 0),
                1, cv::LINE_AA);
  }
  for (size_t k = 0; k < result.classes.size(); ++k) {
    const auto& c = result.classes[k];
    const int x = int(k % size_t(columns)) * 180 + 6;
    const int y = canvas.rows + int(k / size_t(columns)) * row + 6;
    const cv::Vec3b colour = maskColour(size_t(c.id - 1));
    cv::rectangle(framed, cv::Rect(x, y, 16, 16), cv::Scalar(colour[0], colour[1], colour[2]), cv::FILLED);
    cv::putText(framed,
                "class " + std::to_string(c.id) + ": " + std::to_string(c.members.size()) + " mask(s)",
                cv::Point(x + 22, y + 13), cv::FONT_HERSHEY_SIMPLEX, 0.45, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  }
  return framed;
}

SemanticEvaluation evaluateClasses(const SemanticResult& result, const std::string& groundTruthPath,
                                   const std::string& imagePath) {
  const cv::Mat gt = readLabelMap(groundTruthPath);
  if (gt.size() != result.labelMap.size()) {
    throw Error("ground truth '" + groundTruthPath + "' is not the size of '" + imagePath + "'");
  }
  SemanticEvaluation evaluation{groundTruthPath, matchLabelMaps(result.labelMap, gt), 0.0};
  evaluation.meanIou = meanMatchedIou(evaluation.matches);
  return evaluation;
}

namespace {

nlohmann::ordered_json classesJson(const SemanticResult& result) {
  auto classes = nlohmann::ordered_json::array();
  for (const auto& c : result.classes) {
    classes.push_back({{"id", c.id}, {"members", c.members}, {"area", c.area},
                       {"mean_predicted_iou", c.meanPredictedIou}});
  }
  return classes;
}

nlohmann::ordered_json evaluationJson(const SemanticEvaluation& evaluation) {
  auto perClass = nlohmann::ordered_json::array();
  for (const auto& m : evaluation.matches) {
    perClass.push_back({{"gt_class", m.gtClass}, {"class", m.predictedClass}, {"iou", m.iou}});
  }
  return {{"ground_truth", evaluation.groundTruth}, {"matched_miou", evaluation.meanIou}, {"per_class", perClass}};
}

// Rows of an N x C float32 array; masks without a vector get a zero row (their JSON says so).
cv::Mat embeddingMatrix(const SemanticResult& result, int channels) {
  cv::Mat m = cv::Mat::zeros(int(result.embeddings.size()), channels, CV_32FC1);
  for (size_t i = 0; i < result.embeddings.size(); ++i) {
    if (!result.embeddings[i].empty()) std::copy(result.embeddings[i].begin(), result.embeddings[i].end(), m.ptr<float>(int(i)));
  }
  return m;
}

}  // namespace

ImageOutcome semanticImageResult(const std::string& imagePath, const cv::Mat& rgb, std::vector<MaskRecord> records,
                                 SemanticResult result, const std::optional<SemanticEvaluation>& evaluation,
                                 bool saveEmbeddings, int channels) {
  for (size_t i = 0; i < records.size(); ++i) {
    auto& extra = records[i].extra;
    extra["class"] = result.classIds[i];
    if (result.embeddings[i].empty()) {
      extra["embedding_norm"] = nullptr;
      Log::warning("mask " + std::to_string(i) + " of '" + imagePath + "' covers no encoder patch: left unlabelled");
    } else {
      double norm = 0;
      for (float v : result.embeddings[i]) norm += double(v) * v;
      extra["embedding_norm"] = std::sqrt(norm);
    }
  }
  nameMaskFiles(records);
  ImageOutcome outcome;
  outcome.doc = imageResultJson(imagePath, rgb.size(), records);
  outcome.doc["classes"] = classesJson(result);
  if (evaluation) outcome.doc["evaluation"] = evaluationJson(*evaluation);
  const cv::Mat embeddings = saveEmbeddings ? embeddingMatrix(result, channels) : cv::Mat();
  outcome.write = [rgb, records = std::move(records), result = std::move(result), embeddings,
                   json = dumpJson(outcome.doc)](ImageOutputDir& out) {
    out.writeMasks(records);
    out.writePng("classes.png", result.labelMap);
    out.writePng("classes_vis.png", renderClasses(rgb, result));
    for (const auto& c : result.classes) out.writePng("class_" + std::to_string(c.id) + ".png", result.labelMap == c.id);
    if (!embeddings.empty()) writeNpy(out.pathFor("embeddings.npy"), embeddings);
    out.writeText("masks.json", json);
  };
  return outcome;
}

}  // namespace samcli
