// sam-semantic: semantic classes from SAM alone (automatic masks + mean patch embedding per mask +
// clustering), and one-shot "more like this" selection.
#include <samcli/amg.hpp>
#include <samcli/batch_run.hpp>
#include <samcli/cli.hpp>
#include <samcli/error.hpp>
#include <samcli/image_io.hpp>
#include <samcli/outputs.hpp>
#include <samcli/predictor.hpp>
#include <samcli/semantic.hpp>
#include <samcli/text_input.hpp>

#include <filesystem>

using namespace samcli;

int main(int argc, char** argv) {
  CLI::App app{
      "Find semantic classes with SAM alone: segment everything (the automatic generator, all its options),\n"
      "give each mask the mean of the SAM image-encoder patch embeddings it covers, cluster the vectors, and\n"
      "call each cluster a class (e.g. every pepperoni on a pizza). No prompt, no training. With --like,\n"
      "select instead every mask similar to the one under a click (\"click one, get all of them\").\n\n"
      "Writes, per image, <out>/<stem>/: classes.png (0 = unlabelled, k = class k; 16-bit beyond 255\n"
      "classes), classes_vis.png (colours + legend), class_<k>.png (one binary mask per class), the masks\n"
      "0.png..N-1.png, and masks.json (the generator's records plus \"class\" and \"embedding_norm\", and\n"
      "\"classes\": id, members, area, mean_predicted_iou). --save-embeddings adds embeddings.npy (N x 256).\n\n"
      "Defaults: the notebook's generator settings (--preset notebook: " + describeAmgPreset("notebook") +
      ")\nand DBSCAN with cosine distance, eps " + formatNumber(SemanticOptions{}.eps) + ", min-samples " +
      std::to_string(SemanticOptions{}.minSamples) + ". Noise masks stay unlabelled (0).\n"
      "Results are deterministic (k-means is seeded).\n\n"
      "Examples:\n"
      "  sam-semantic pizza.jpg\n"
      "  sam-semantic pizza.jpg --like 412,230                   # all masks like the one clicked\n"
      "  sam-semantic pizza.jpg --clusters 4                     # k-means with 4 classes\n"
      "  sam-semantic scene.png --preset fast --gt-dir labels/   # score against labels/scene.png",
      "sam-semantic"};
  CommonOptions common;
  addCommonOptions(app, common);
  AmgCli amg;
  addAmgOptions(app, amg, "notebook");
  SemanticOptions semantic;
  std::string metric = "cosine";
  std::string pooling = "coverage";
  std::string like;
  std::string likeBox;
  double similarity = 0.94;
  bool saveEmbeddings = false;
  std::string gtDir;
  app.add_option("--eps", semantic.eps, "DBSCAN neighbourhood radius (cosine distance)")->capture_default_str()->group("Classes");
  app.add_option("--min-samples", semantic.minSamples, "DBSCAN: masks needed to form a class")->capture_default_str()->group("Classes");
  app.add_option("--metric", metric, "DBSCAN distance: cosine, or euclidean on L2-normalised vectors")
      ->capture_default_str()
      ->check(CLI::IsMember({"cosine", "euclidean"}))
      ->group("Classes");
  auto* clustersOpt = app.add_option("--clusters", semantic.clusters, "Use k-means with this many classes instead of DBSCAN")
                          ->group("Classes");
  app.add_option("--seed", semantic.seed, "k-means seed")->capture_default_str()->group("Classes");
  app.add_option("--pooling", pooling,
                 "coverage: weight each 16x16 patch by the fraction the mask covers; notebook: weight 1 for patches "
                 "with at least 2 mask pixels (the original notebook)")
      ->capture_default_str()
      ->check(CLI::IsMember({"coverage", "notebook"}))
      ->group("Classes");
  app.add_option("--min-coverage", semantic.pooling.minCoverage, "coverage pooling: ignore patches covered less than this")
      ->capture_default_str()
      ->group("Classes");
  auto* likeOpt = app.add_option("--like", like, "Select every mask similar to the (smallest) mask under X,Y")
                      ->type_name("X,Y")
                      ->group("Selection");
  app.add_option("--like-box", likeBox, "Select every mask similar to the mask best matching this box")
      ->type_name("X0,Y0,X1,Y1")
      ->excludes(likeOpt)
      ->group("Selection");
  app.add_option("--similarity", similarity, "Cosine similarity to the exemplar needed to be selected (1 - eps)")
      ->capture_default_str()
      ->group("Selection");
  app.add_flag("--save-embeddings", saveEmbeddings, "Also write embeddings.npy (one row per mask)")->group("Output");
  app.add_option("--gt-dir", gtDir,
                 "Score the classes against ground-truth label maps (0 = ignore) named like the output "
                 "folders: <DIR>/<output name>.png, e.g. DIR/scene.png for scene.png, DIR/sub/scene.png for "
                 "data/sub/scene.png under 'data/ -r'. Hungarian-matched IoU per class, in masks.json under "
                 "\"evaluation\"")
      ->group("Output");

  return runTool(app, argc, argv, [&] {
    Log::setQuiet(common.quiet);
    const AmgOptions amgOptions = resolveAmgOptions(amg);
    if (clustersOpt->count() > 0) semantic.method = ClusterMethod::Kmeans;
    semantic.metric = metric == "euclidean" ? Metric::Euclidean : Metric::Cosine;
    semantic.pooling.mode = pooling == "notebook" ? PoolingMode::Notebook : PoolingMode::Coverage;
    validateSemanticOptions(semantic);
    std::optional<PointXY> likePoint;
    std::optional<BoxXyxy> likeBoxValue;
    if (!like.empty()) likePoint = parsePoint(like, "--like");
    if (!likeBox.empty()) likeBoxValue = parseBox(likeBox, "--like-box");
    if (similarity < -1.0 || similarity > 1.0) throw UsageError("--similarity must be between -1 and 1");

    const std::vector<InputImage> inputs = resolveInputs(common);
    const AutomaticMaskGenerator generator(loadSamModel(resolveModelDir(common.model), common.runtime), amgOptions);
    return processImages(common, inputs, [&](const InputImage& input, const cv::Mat& rgb) {
      const std::string& path = input.path;
      if (likePoint && (likePoint->x < 0 || likePoint->y < 0 || likePoint->x >= rgb.cols || likePoint->y >= rgb.rows)) {
        throw Error("--like " + like + " is outside '" + path + "' (" + std::to_string(rgb.cols) + "x" +
                    std::to_string(rgb.rows) + ")");
      }
      ImageEmbedding embedding;
      std::vector<MaskRecord> records = generator.generate(rgb, nullptr, &embedding);
      SemanticResult result;
      if (likePoint || likeBoxValue) {
        const auto exemplar = likePoint ? maskAtPoint(records, *likePoint) : maskForBox(records, *likeBoxValue);
        if (!exemplar) throw Error("no mask under --like" + std::string(likePoint ? " " + like : "-box " + likeBox) + " in '" + path + "'");
        result = selectSimilar(records, embedding, rgb.size(), *exemplar, similarity, semantic.pooling);
        Log::info(path + ": " + std::to_string(result.classes.empty() ? 0 : result.classes[0].members.size()) +
                  " mask(s) like mask " + std::to_string(*exemplar));
      } else {
        result = classifyMasks(records, embedding, rgb.size(), semantic);
      }
      std::optional<SemanticEvaluation> evaluation;
      if (!gtDir.empty()) {
        evaluation = evaluateClasses(result, (std::filesystem::path(gtDir) / (input.outputName + ".png")).string(), path);
        Log::info(path + ": matched mIoU " + formatNumber(evaluation->meanIou) + " over " +
                  std::to_string(evaluation->matches.size()) + " ground-truth class(es)");
      }
      return semanticImageResult(path, rgb, std::move(records), std::move(result), evaluation, saveEmbeddings,
                                 embedding.channels);
    });
  });
}
