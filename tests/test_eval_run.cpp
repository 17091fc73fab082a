// sam-eval's pure logic: reading COCO and folders into keyed items, pairing them with predictions,
// choosing among candidates, summaries per group, baselines and gate decisions.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "samcli/error.hpp"
#include "samcli/eval_run.hpp"
#include "samcli/image_io.hpp"
#include "support/temp_dir.hpp"

using namespace samcli;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

cv::Mat rectMask(cv::Rect r, cv::Size size = {8, 6}) {
  cv::Mat m = cv::Mat::zeros(size, CV_8UC1);
  m(r).setTo(255);
  return m;
}

json rleJson(const cv::Mat& mask) {
  const Rle rle = encodeRle(mask);
  return {{"size", {rle.height, rle.width}}, {"counts", rleCountsToString(rle.counts)}};
}

bool sameMask(const cv::Mat& a, const cv::Mat& b) { return a.size() == b.size() && cv::countNonZero(a != b) == 0; }

// Two images of 8x6; a.jpg has a salmon (compressed RLE) and a rock (list counts), b.png nothing.
json cocoGt() {
  json rock = rleJson(rectMask({6, 4, 2, 2}));
  rock["counts"] = encodeRle(rectMask({6, 4, 2, 2})).counts;
  return {{"images",
           {{{"id", 1}, {"file_name", "sub/a.jpg"}, {"width", 8}, {"height", 6}},
            {{"id", 2}, {"file_name", "./b.png"}, {"width", 8}, {"height", 6}}}},
          {"categories", {{{"id", 3}, {"name", "salmon"}}, {{"id", 4}, {"name", "rock"}}}},
          {"annotations",
           {{{"id", 10}, {"image_id", 1}, {"category_id", 3}, {"segmentation", rleJson(rectMask({0, 0, 2, 2}))}},
            {{"id", 11}, {"image_id", 1}, {"category_id", 4}, {"segmentation", rock}}}}};
}

GtItem item(const std::string& key, const std::string& category = "") {
  GtItem i;
  i.key = key;
  i.category = category;
  return i;
}

ImageResult result(const std::string& name, const std::string& group, double iou,
                   ImageResult::Status status = ImageResult::Status::Scored) {
  ImageResult r;
  r.name = name;
  r.group = group;
  r.status = status;
  r.scores = {iou, iou, iou};
  return r;
}

EvalReport fishReport() {
  return summarizeResults({result("trout/c", "trout", 0.5), result("salmon/a", "salmon", 0.25),
                           result("salmon/b", "salmon", 0.75), result("top", "", 1.0)},
                          EvalOptions{});
}

}  // namespace

TEST_CASE("eval_run: groundTruthFromCoco gives one item per image, the union of its annotations", "[eval_run]") {
  const auto items = groundTruthFromCoco(cocoGt(), "gt.json", false);
  REQUIRE(items.size() == 2);
  CHECK(items[0].key == "b");  // sorted by name; the extension never counts
  CHECK(items[0].group.empty());
  CHECK(cv::countNonZero(loadGtMask(items[0])) == 0);
  CHECK(items[0].size == cv::Size(8, 6));
  CHECK(items[1].key == "sub/a");
  CHECK(items[1].group == "sub");
  CHECK(sameMask(loadGtMask(items[1]), rectMask({0, 0, 2, 2}) | rectMask({6, 4, 2, 2})));
}

TEST_CASE("eval_run: groundTruthFromCoco per category, items only where the category occurs", "[eval_run]") {
  const auto items = groundTruthFromCoco(cocoGt(), "gt.json", true);
  REQUIRE(items.size() == 2);
  CHECK(itemName(items[0]) == "sub/a/rock");
  CHECK(items[0].group == "rock");
  CHECK(sameMask(loadGtMask(items[0]), rectMask({6, 4, 2, 2})));
  CHECK(itemName(items[1]) == "sub/a/salmon");
  CHECK(sameMask(loadGtMask(items[1]), rectMask({0, 0, 2, 2})));
}

TEST_CASE("eval_run: groundTruthFromCoco rejects what it cannot score, naming the place", "[eval_run]") {
  json coco = cocoGt();
  coco["annotations"][1]["segmentation"] = json::array({json::array({1, 1, 5, 1, 5, 5})});
  CHECK_THROWS_WITH(groundTruthFromCoco(coco, "gt.json", false),
                    Catch::Contains("'gt.json' annotation id 11 (image 'sub/a.jpg')") && Catch::Contains("polygon"));

  coco = cocoGt();
  coco["annotations"][0]["segmentation"] = rleJson(rectMask({0, 0, 2, 2}, {9, 6}));
  CHECK_THROWS_WITH(groundTruthFromCoco(coco, "gt.json", false), Catch::Contains("is 9x6, its image 8x6"));

  coco = cocoGt();
  coco["annotations"][0]["segmentation"]["counts"] = "!!";
  CHECK_THROWS_WITH(groundTruthFromCoco(coco, "gt.json", false), Catch::Contains("annotation id 10"));

  coco = cocoGt();
  coco["images"][1]["file_name"] = "sub/a.png";
  CHECK_THROWS_WITH(groundTruthFromCoco(coco, "gt.json", false), Catch::Contains("two images named 'sub/a'"));

  coco = cocoGt();
  coco["annotations"][0]["image_id"] = 99;
  CHECK_THROWS_WITH(groundTruthFromCoco(coco, "gt.json", false), Catch::Contains("image id 99"));

  coco = cocoGt();
  coco["annotations"][0]["category_id"] = 5;
  CHECK_NOTHROW(groundTruthFromCoco(coco, "gt.json", false));  // categories matter only per category
  CHECK_THROWS_WITH(groundTruthFromCoco(coco, "gt.json", true), Catch::Contains("category_id 5"));

  coco = cocoGt();
  coco["images"][1].erase("width");
  CHECK_THROWS_WITH(groundTruthFromCoco(coco, "gt.json", false), Catch::Contains("image './b.png'"));

  CHECK_THROWS_WITH(groundTruthFromCoco(json::array(), "r.json", false), Catch::Contains("results list"));
  CHECK_THROWS_WITH(groundTruthFromCoco(json{{"images", 1}}, "x.json", false), Catch::Contains("x.json"));
  CHECK_THROWS_AS(groundTruthFromCoco(json{{"images", {{{"id", 1}}}}}, "x.json", false), Error);
}

TEST_CASE("eval_run: COCO sizes and run lengths are validated before anything is allocated", "[eval_run]") {
  const auto errorOf = [](const json& coco) {
    try {
      groundTruthFromCoco(coco, "gt.json", false);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  const std::string first = "'gt.json' annotation id 10 (image 'sub/a.jpg') segmentation";
  json coco = cocoGt();
  // 2^40 was truncated to 0 ("cover 0 pixels") and -1 wrapped to 4294967295.
  coco["annotations"][0]["segmentation"]["counts"] = {int64_t(1) << 40};
  CHECK(errorOf(coco) == first + ": field \"counts\" holds 1099511627776 at index 0: counts are run lengths "
                                 "between 0 and height x width");
  coco["annotations"][0]["segmentation"]["counts"] = {-1, 49};
  CHECK(errorOf(coco) == first + ": field \"counts\" holds -1 at index 0: counts are run lengths between 0 and "
                                 "height x width");
  coco["annotations"][0]["segmentation"]["counts"] = {47, 1.5};
  CHECK_THAT(errorOf(coco), Catch::StartsWith(first + ": field \"counts\" holds 1.5 at index 1"));
  coco["annotations"][0]["segmentation"]["counts"] = {47};
  CHECK_THAT(errorOf(coco), Catch::Contains("inconsistent RLE: its counts cover 47 pixels, not 6x8"));
  coco["annotations"][0]["segmentation"]["counts"] = json::object();
  CHECK_THAT(errorOf(coco), Catch::StartsWith(first + ": field \"counts\" must be a compressed string or a list"));
  coco = cocoGt();
  coco["annotations"][0]["segmentation"]["size"] = {100000, 100000};
  CHECK(errorOf(coco) == first + " \"size\" is 100000x100000 (1e+10 pixels), more than the limit of 178956970 pixels");
  coco["annotations"][0]["segmentation"]["size"] = {6, "8"};
  CHECK(errorOf(coco) == first + ": field \"size\" must be [height, width] with positive integers, got [6,\"8\"]");
  coco = cocoGt();
  coco["images"][0]["width"] = 1000000;
  coco["images"][0]["height"] = 1000000;
  CHECK(errorOf(coco) == "'gt.json' images[0] ('sub/a.jpg') is 1000000x1000000 (1e+12 pixels), more than the limit "
                         "of 178956970 pixels");
  coco["images"][0]["width"] = -8;
  CHECK(errorOf(coco) == "'gt.json' images[0]: field \"width\" must be an integer in [1, 2147483647], got -8");
  coco = cocoGt();
  coco["images"][1].erase("file_name");
  CHECK(errorOf(coco) == "'gt.json' images[1]: field \"file_name\" is missing");
  coco = cocoGt();
  coco["annotations"][1]["image_id"] = "1";
  CHECK(errorOf(coco) == "'gt.json' annotations[1]: field \"image_id\" must be an integer, got \"1\"");
  coco = cocoGt();
  coco["categories"][0]["name"] = 3;
  CHECK(errorOf(coco) == "'gt.json' categories[0]: field \"name\" must be a string, got 3");
}

TEST_CASE("eval_run: predictionsFromCoco per image, and per category with empty entries", "[eval_run]") {
  json coco = cocoGt();
  coco["annotations"][0]["score"] = 0.7;
  const PredIndex perImage = predictionsFromCoco(coco, "pred.json", false);
  REQUIRE(perImage.size() == 2);
  CHECK(perImage.at("b").candidates.empty());
  const auto& a = perImage.at("sub/a").candidates;
  REQUIRE(a.size() == 2);
  CHECK(a[0].score == 0.7);
  CHECK(std::isinf(a[1].score));  // no score: ranks last

  const PredIndex perCategory = predictionsFromCoco(coco, "pred.json", true);
  CHECK(perCategory.size() == 4);
  CHECK(perCategory.at("sub/a/salmon").candidates.size() == 1);
  CHECK(perCategory.at("b/rock").candidates.empty());
}

TEST_CASE("eval_run: matchPredictions by name, else by the last name component when unique", "[eval_run]") {
  PredIndex index;
  index["salmon/a"].path = "exact";
  index["b"].path = "flat b";
  index["c"].path = "flat c";
  index["img/cat"].path = "flat per category";
  const std::vector<GtItem> items = {item("salmon/a"), item("salmon/b"), item("salmon/c"),
                                     item("trout/c"),  item("d"),        item("x/img", "cat")};
  const auto matches = matchPredictions(items, index);
  REQUIRE(matches.size() == items.size());
  CHECK(matches[0]->path == "exact");
  CHECK(matches[1]->path == "flat b");
  CHECK(matches[2] == nullptr);  // "c" would be salmon/c's or trout/c's: neither takes it
  CHECK(matches[3] == nullptr);
  CHECK(matches[4] == nullptr);
  CHECK(matches[5]->path == "flat per category");
}

TEST_CASE("eval_run: listGroundTruth and indexPredictions on folders", "[eval_run]") {
  const samcli::test::TempDir dir;
  writePngAtomic(dir / "gt/salmon/a.png", rectMask({0, 0, 2, 2}));
  writePngAtomic(dir / "gt/B.PNG", rectMask({0, 0, 1, 1}));
  writeFileAtomic(dir / "gt/notes.txt", "not a mask");
  const auto gt = listGroundTruth(dir / "gt", false);
  REQUIRE(gt.size() == 2);
  CHECK(gt[0].key == "B");
  CHECK(gt[1].key == "salmon/a");
  CHECK(gt[1].group == "salmon");
  CHECK(sameMask(loadGtMask(gt[1]), rectMask({0, 0, 2, 2})));
  CHECK_THROWS_AS(listGroundTruth(dir / "gt", true), UsageError);
  CHECK_THROWS_WITH(listGroundTruth(dir / "none", false), Catch::Contains("none"));
  fs::create_directories(dir / "empty");
  CHECK_THROWS_WITH(listGroundTruth(dir / "empty", false), Catch::Contains("no ground-truth masks"));

  writePngAtomic(dir / "pred/salmon/a.png", rectMask({0, 0, 2, 2}));
  writeFileAtomic(dir / "pred/B/masks.json", "{}");
  writePngAtomic(dir / "pred/B/0.png", rectMask({0, 0, 2, 2}));
  const PredIndex pred = indexPredictions(dir / "pred", false);
  CHECK(pred.at("salmon/a").kind == PredEntry::Kind::Png);
  CHECK(pred.at("B").kind == PredEntry::Kind::SamcliJson);
  CHECK(pred.at("B").path == dir / "pred/B/masks.json");

  writePngAtomic(dir / "pred/B.png", rectMask({0, 0, 2, 2}));
  CHECK_THROWS_WITH(indexPredictions(dir / "pred", false), Catch::Contains("are both for 'B'"));
}

TEST_CASE("eval_run: pickMask takes the best-scored, the first or the union", "[eval_run]") {
  const cv::Mat left = rectMask({0, 0, 2, 2}), right = rectMask({4, 0, 2, 2}), low = rectMask({0, 4, 2, 2});
  const std::vector<PredCandidate> candidates = {
      {encodeRle(left), 0.5}, {encodeRle(right), 0.9}, {encodeRle(low), 0.9}};
  CHECK(sameMask(pickMask(candidates, MaskPick::Best, {}), right));  // ties: the first
  CHECK(sameMask(pickMask(candidates, MaskPick::First, {}), left));
  CHECK(sameMask(pickMask(candidates, MaskPick::Union, {}), left | right | low));
  const cv::Mat none = pickMask({}, MaskPick::Best, {8, 6});
  CHECK(none.size() == cv::Size(8, 6));
  CHECK(cv::countNonZero(none) == 0);

  const json doc = {{"masks",
                     {{{"predicted_iou", 0.2}, {"segmentation", rleJson(left)}},
                      {{"predicted_iou", 0.8}, {"segmentation", rleJson(right)}}}}};
  const auto fromJson = candidatesFromMasksJson(doc, "masks.json");
  REQUIRE(fromJson.size() == 2);
  CHECK(sameMask(pickMask(fromJson, MaskPick::Best, {}), right));
  CHECK_THROWS_WITH(candidatesFromMasksJson(json::object(), "m.json"), Catch::Contains("'m.json'"));
}

TEST_CASE("eval_run: summarizeResults overall and per group, missing as 0, skipped left out", "[eval_run]") {
  const EvalReport r = summarizeResults(
      {result("trout/c", "trout", 0.5), result("salmon/a", "salmon", 0.25),
       result("salmon/b", "salmon", 0, ImageResult::Status::Missing),
       result("pike/d", "pike", 0, ImageResult::Status::Skipped)},
      EvalOptions{});
  REQUIRE(r.images.size() == 4);
  CHECK(r.images[0].name == "pike/d");  // sorted by name
  CHECK(r.missing == 1);
  CHECK(r.skipped == 1);
  CHECK(r.overall.iou.count == 3);
  CHECK(r.overall.iou.mean == Approx(0.25));
  REQUIRE(r.groups.size() == 3);
  CHECK(r.groups[0].group == "pike");
  CHECK(r.groups[0].metrics.iou.count == 0);
  CHECK(std::isnan(r.groups[0].metrics.iou.mean));
  CHECK(r.groups[1].group == "salmon");
  CHECK(r.groups[1].metrics.iou.mean == Approx(0.125));
  CHECK(r.groups[2].metrics.dice.mean == Approx(0.5));

  const EvalReport flat = summarizeResults({result("a", "", 1), result("b", "", 0)}, EvalOptions{});
  CHECK(flat.groups.empty());
  CHECK(flat.overall.iou.median == Approx(0.5));
}

TEST_CASE("eval_run: baselineFromJson reads the JSON report", "[eval_run]") {
  const EvalReport r = fishReport();
  const BaselineMeans b = baselineFromJson(json::parse(reportToJson(r).dump()), "base.json");
  CHECK(b.meanIou == r.overall.iou.mean);
  CHECK(b.groupMeanIou.size() == 3);
  CHECK(b.groupMeanIou.at("salmon") == 0.5);
  CHECK(b.groupMeanIou.at("") == 1.0);
  CHECK(checkGates(r, {std::nullopt, 0.0}, b).empty());  // an unchanged run never regresses

  CHECK_THROWS_WITH(baselineFromJson(json{{"images", json::array()}}, "b.json"),
                    Catch::Contains("'b.json'") && Catch::Contains("--format json"));
  CHECK_THROWS_WITH(baselineFromJson(json{{"summary", {{"iou", {{"mean", nullptr}}}}}}, "b.json"),
                    Catch::Contains("summary.iou.mean"));
}

TEST_CASE("eval_run: checkGates for --min-miou and --max-regression, overall and per group", "[eval_run]") {
  const EvalReport r = fishReport();  // mean IoU 0.625; salmon 0.5, trout 0.5, top level 1
  CHECK(checkGates(r, {}, std::nullopt).empty());
  CHECK(checkGates(r, {0.625, std::nullopt}, std::nullopt).empty());  // equal passes
  auto failures = checkGates(r, {0.7, std::nullopt}, std::nullopt);
  REQUIRE(failures.size() == 1);
  CHECK(failures[0] == "mean IoU 0.625 is below --min-miou 0.7 (4 images)");

  BaselineMeans base{0.7, {{"salmon", 0.55}, {"trout", 0.9}, {"eel", 1.0}}};
  failures = checkGates(r, {std::nullopt, 0.1}, base);
  REQUIRE(failures.size() == 1);  // overall drop 0.075 and salmon 0.05 are allowed; eel is not in the run
  CHECK(failures[0] == "group 'trout': mean IoU 0.5 dropped 0.4 from the baseline's 0.9 (--max-regression 0.1)");
  failures = checkGates(r, {0.7, 0.05}, base);
  REQUIRE(failures.size() == 3);  // salmon dropped exactly the 0.05 allowed
  CHECK(failures[0].rfind("mean IoU 0.625 is below", 0) == 0);
  CHECK(failures[1].rfind("mean IoU 0.625 dropped 0.075", 0) == 0);
  CHECK(failures[2].rfind("group 'trout'", 0) == 0);
  CHECK(checkGates(r, {std::nullopt, 0.5}, base).empty());

  const EvalReport nothing =
      summarizeResults({result("a", "", 0, ImageResult::Status::Skipped)}, EvalOptions{});
  CHECK(checkGates(nothing, {}, std::nullopt).empty());
  failures = checkGates(nothing, {0.1, std::nullopt}, std::nullopt);
  REQUIRE(failures.size() == 1);
  CHECK_THAT(failures[0], Catch::Contains("no image was scored"));
}

TEST_CASE("eval_run: formatReport CSV quotes names and leaves absent values empty", "[eval_run]") {
  const EvalReport r = summarizeResults(
      {result("a,\"b\"", "", 0.5), result("c", "", 0, ImageResult::Status::Skipped)}, EvalOptions{});
  const std::string csv = formatReport(r, ReportFormat::Csv);
  CHECK(csv ==
        "level,image,group,count,iou,dice,boundary_f,gt_area,pred_area,status\n"
        "image,\"a,\"\"b\"\"\",,,0.5,0.5,0.5,0,0,scored\n"
        "image,c,,,,,,0,,skipped\n"
        "all,,,1,0.5,0.5,0.5,,,\n");
}
