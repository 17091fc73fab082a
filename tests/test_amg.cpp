// Grid, crop and option logic of the automatic mask generator. Expected values were printed by the
// official segment_anything.utils.amg functions (generate_crop_boxes, build_all_layer_point_grids).
#include <catch2/catch.hpp>

#include "samcli/amg.hpp"
#include "samcli/error.hpp"
#include "support/temp_dir.hpp"

using namespace samcli;

TEST_CASE("point grids match build_all_layer_point_grids", "[amg]") {
  const auto grids = buildAllLayerPointGrids(3, 1, 2);
  REQUIRE(grids.size() == 2);
  REQUIRE(grids[0].size() == 9);
  const double third = 0.16666666666666666;
  CHECK(grids[0][0].x == third);
  CHECK(grids[0][0].y == third);
  CHECK(grids[0][1].x == 0.5);  // x varies fastest
  CHECK(grids[0][1].y == third);
  CHECK(grids[0][8].x == 0.8333333333333334);
  CHECK(grids[0][8].y == 0.8333333333333334);
  REQUIRE(grids[1].size() == 1);
  CHECK(grids[1][0].x == 0.5);

  const auto dense = buildPointGrid(32);
  REQUIRE(dense.size() == 1024);
  CHECK(dense[33].x == 0.046875);
  CHECK(dense[33].y == 0.046875);
  CHECK(dense.back().x == 0.984375);
}

TEST_CASE("crop boxes match generate_crop_boxes", "[amg]") {
  const auto crops = generateCropBoxes({600, 400}, 1, 512.0 / 1500.0);
  const std::vector<std::array<int, 4>> expected = {
      {0, 0, 600, 400}, {0, 0, 368, 268}, {0, 132, 368, 400}, {232, 0, 600, 268}, {232, 132, 600, 400}};
  REQUIRE(crops.size() == expected.size());
  for (size_t i = 0; i < crops.size(); ++i) {
    CHECK(crops[i].xyxy == expected[i]);
    CHECK(crops[i].layer == (i == 0 ? 0 : 1));
  }
  const auto two = generateCropBoxes({4000, 3000}, 2, 512.0 / 1500.0);
  REQUIRE(two.size() == 1 + 4 + 16);
  CHECK(two[1].xyxy == std::array<int, 4>{0, 0, 2512, 2012});
  CHECK(two[4].xyxy == std::array<int, 4>{1488, 988, 4000, 3000});
  CHECK(two[5].xyxy == std::array<int, 4>{0, 0, 1384, 1134});
  CHECK(two[6].xyxy == std::array<int, 4>{0, 622, 1384, 1756});
  CHECK(two[7].xyxy == std::array<int, 4>{0, 1244, 1384, 2378});
  CHECK(two[20].layer == 2);
}

TEST_CASE("presets set the documented values", "[amg]") {
  const AmgOptions official = amgPreset("default");
  CHECK(official.pointsPerSide == 32);
  CHECK(official.pointsPerBatch == 64);
  CHECK(official.predIouThresh == 0.88);
  CHECK(official.stabilityScoreThresh == 0.95);
  CHECK(official.stabilityScoreOffset == 1.0);
  CHECK(official.boxNmsThresh == 0.7);
  CHECK(official.cropNLayers == 0);
  CHECK(official.cropNmsThresh == 0.7);
  CHECK(official.cropOverlapRatio == 512.0 / 1500.0);
  CHECK(official.cropNPointsDownscaleFactor == 1);
  CHECK(official.minMaskRegionArea == 0);

  const AmgOptions samPy = amgPreset("sam-py");
  CHECK(samPy.pointsPerSide == 10);
  CHECK(samPy.predIouThresh == 0.995);
  CHECK(samPy.stabilityScoreThresh == 0.95);
  CHECK(samPy.cropNLayers == 1);
  CHECK(samPy.cropNPointsDownscaleFactor == 2);
  CHECK(samPy.minMaskRegionArea == 100);
  CHECK(amgPreset("fast").pointsPerSide == 16);
  CHECK(amgPreset("fine").cropNLayers == 1);
  const AmgOptions notebook = amgPreset("notebook");
  CHECK(notebook.pointsPerSide == 51);
  CHECK(notebook.predIouThresh == 0.86);
  CHECK(notebook.stabilityScoreThresh == 0.92);
  CHECK(notebook.minMaskRegionArea == 100);
  CHECK_THROWS_AS(amgPreset("quick"), UsageError);
}

TEST_CASE("invalid generator options are rejected with the option's name", "[amg]") {
  const auto rejects = [](auto change, const std::string& needle) {
    AmgOptions o;
    change(o);
    try {
      validateAmgOptions(o);
      FAIL("accepted: " << needle);
    } catch (const UsageError& e) {
      CHECK_THAT(e.what(), Catch::Contains(needle));
    }
  };
  rejects([](AmgOptions& o) { o.pointsPerSide = 0; }, "points_per_side");
  rejects([](AmgOptions& o) { o.pointsPerBatch = 0; }, "points_per_batch");
  rejects([](AmgOptions& o) { o.predIouThresh = -0.1; }, "pred_iou_thresh");
  rejects([](AmgOptions& o) { o.stabilityScoreThresh = 1.5; }, "stability_score_thresh");
  rejects([](AmgOptions& o) { o.stabilityScoreOffset = -1; }, "stability_score_offset");
  rejects([](AmgOptions& o) { o.boxNmsThresh = -1; }, "box_nms_thresh");
  rejects([](AmgOptions& o) { o.cropNLayers = -1; }, "crop_n_layers");
  rejects([](AmgOptions& o) { o.cropOverlapRatio = 1.0; }, "crop_overlap_ratio");
  rejects([](AmgOptions& o) { o.cropNPointsDownscaleFactor = 0; }, "crop_n_points_downscale_factor");
  rejects([](AmgOptions& o) { o.minMaskRegionArea = -5; }, "min_mask_region_area");
  rejects(
      [](AmgOptions& o) {
        o.pointsPerSide = 2;
        o.cropNLayers = 2;
        o.cropNPointsDownscaleFactor = 2;
      },
      "crop layer 2");
  rejects(
      [](AmgOptions& o) {
        o.pointGrids = {{{0.5, 0.5}}};
        o.cropNLayers = 1;
      },
      "point_grids");
  CHECK_NOTHROW(validateAmgOptions(amgPreset("sam-py")));
  // 100000 per side ended in bad_alloc.
  rejects([](AmgOptions& o) { o.pointsPerSide = 100000; }, "points_per_side must be between 1 and 1024 (got 100000)");
  rejects([](AmgOptions& o) { o.predIouThresh = 1e308; }, "pred_iou_thresh must be between 0 and 1 (got 1e+308)");
}

TEST_CASE("readPointGrids names the file, the grid and the point", "[amg]") {
  samcli::test::TempDir dir;
  const auto grids = readPointGrids(dir.write("g.json", "[[[0.5, 0.25], [0, 1]]]"));
  REQUIRE(grids.size() == 1);
  REQUIRE(grids[0].size() == 2);
  CHECK((grids[0][0].x == 0.5 && grids[0][0].y == 0.25 && grids[0][1].x == 0 && grids[0][1].y == 1));
  const std::string path = dir / "g.json";
  const std::string expected = " (expected JSON [[[x,y],...], ...] per crop layer, x,y in [0,1])";
  dir.write("g.json", "[[[0.5, 0.5]], [[2, 0.5]]]");
  CHECK_THROWS_WITH(readPointGrids(path), "invalid point grids '" + path + "': grid 2 point 1 is [2,0.5]" + expected);
  dir.write("g.json", "[[[0.5]]]");
  CHECK_THROWS_WITH(readPointGrids(path), "invalid point grids '" + path + "': grid 1 point 1 is [0.5]" + expected);
  dir.write("g.json", "[[]]");
  CHECK_THROWS_WITH(readPointGrids(path), "invalid point grids '" + path + "': grid 1 is not a non-empty list of points" + expected);
  dir.write("g.json", std::string(1000, '['));
  CHECK_THROWS_WITH(readPointGrids(path), "'" + path + "': malformed JSON at line 1, column 65: nested deeper than 64 levels");
}
