#pragma once
// Semantic classes from SAM alone ("SAM automatic semantic segmentation"): every automatic mask
// gets one vector, the mean of the image-encoder patch embeddings it covers, and the vectors are
// clustered; each cluster is a class (every pepperoni on a pizza) with no prompt and no training.
// The embedding is the one the generator computed for the whole image: one encoder pass.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "samcli/amg.hpp"
#include "samcli/clustering.hpp"
#include "samcli/evaluation.hpp"
#include "samcli/outputs.hpp"
#include "samcli/records.hpp"

namespace samcli {

// How a mask weighs the encoder-grid cells (16x16-pixel patches of the padded 1024 frame).
// Coverage: the covered fraction of the cell, cells under minCoverage ignored. Notebook: weight 1
// for every cell holding at least 2 mask pixels, as the original notebook pooled.
enum class PoolingMode { Coverage, Notebook };
struct PoolingOptions {
  PoolingMode mode = PoolingMode::Coverage;
  double minCoverage = 0.0;
};

// Cell weights (CV_32FC1, embedding grid size) of a full-resolution mask. The mask is mapped into
// the encoder's frame exactly as the image was (resized like the encoder input, then padded
// bottom/right), so a cell's weight is measured where its feature vector was computed.
cv::Mat maskGridWeights(const cv::Mat& mask, const ImageEmbedding& embedding, const PoolingOptions& options);

// Weighted mean of the grid's feature vectors; empty when every weight is 0.
std::vector<float> poolEmbedding(const ImageEmbedding& embedding, const cv::Mat& weights);

enum class ClusterMethod { Dbscan, Kmeans };

struct SemanticOptions {
  PoolingOptions pooling;
  ClusterMethod method = ClusterMethod::Dbscan;
  Metric metric = Metric::Cosine;  // DBSCAN; Euclidean runs on L2-normalised vectors
  double eps = 0.06;
  int minSamples = 2;
  int clusters = 0;  // k-means K
  uint64_t seed = 0;
};

// Throws InvalidParameter naming the parameter (eps <= 0, min_samples < 1, clusters < 1 for k-means...).
void validateSemanticOptions(const SemanticOptions& options);

struct SemanticClass {
  int id = 0;                   // 1.. (0 is "unlabelled" in label maps)
  std::vector<size_t> members;  // record indices
  int64_t area = 0;             // pixels carrying this class in the label map
  double meanPredictedIou = 0;
};

struct SemanticResult {
  std::vector<std::vector<float>> embeddings;  // per record; empty = the mask covers no grid cell
  std::vector<int> classIds;                   // per record; 0 = unlabelled (noise, no embedding)
  std::vector<SemanticClass> classes;          // by id
  cv::Mat labelMap;                            // 0 = unlabelled, k = class k; 16-bit beyond 255 classes
};

// Pools every record's mask and clusters the vectors.
SemanticResult classifyMasks(const std::vector<MaskRecord>& records, const ImageEmbedding& embedding,
                             cv::Size imageSize, const SemanticOptions& options);

// One-shot selection ("click one pepperoni, get all of them"): every mask whose vector has cosine
// similarity >= minSimilarity with the exemplar's becomes class 1, the rest stay unlabelled.
SemanticResult selectSimilar(const std::vector<MaskRecord>& records, const ImageEmbedding& embedding,
                             cv::Size imageSize, size_t exemplar, double minSimilarity,
                             const PoolingOptions& pooling);

// The exemplar under a point: the smallest mask containing it. For a box: the mask whose box has
// the highest IoU with it. Empty when none.
std::optional<size_t> maskAtPoint(const std::vector<MaskRecord>& records, PointXY point);
std::optional<size_t> maskForBox(const std::vector<MaskRecord>& records, const BoxXyxy& box);

// The class map in colour with a legend strip ("class k: n masks") under the image.
cv::Mat renderClasses(const cv::Mat& rgb, const SemanticResult& result);

// A result scored against a ground-truth label map (0 = ignore): Hungarian-matched IoU per class.
struct SemanticEvaluation {
  std::string groundTruth;  // the label map's path
  std::vector<ClassMatch> matches;
  double meanIou = 0;
};

// Reads the label map at `groundTruthPath` (it must be the image's size) and matches its classes.
SemanticEvaluation evaluateClasses(const SemanticResult& result, const std::string& groundTruthPath,
                                   const std::string& imagePath);

// sam-semantic's result for one image. The records gain "class" and "embedding_norm" (null, with a
// warning, for a mask covering no encoder patch); masks.json adds "classes" and, when scored,
// "evaluation". The folder holds the masks, classes.png (label map), classes_vis.png,
// class_<k>.png and, with `saveEmbeddings`, embeddings.npy (N x channels; zero rows for masks
// without a vector).
ImageOutcome semanticImageResult(const std::string& imagePath, const cv::Mat& rgb, std::vector<MaskRecord> records,
                                 SemanticResult result, const std::optional<SemanticEvaluation>& evaluation,
                                 bool saveEmbeddings, int channels);

}  // namespace samcli
