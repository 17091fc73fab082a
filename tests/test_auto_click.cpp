// sam-point --auto-click: where each input's ground-truth mask is found (GroundTruthMasks) and where
// its first click goes (autoClick, the GT pixel farthest from the mask boundary).
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include <opencv2/core.hpp>

#include "samcli/auto_click.hpp"
#include "samcli/error.hpp"
#include "samcli/image_io.hpp"
#include "support/temp_dir.hpp"

using namespace samcli;
namespace fs = std::filesystem;

namespace {

// A ground-truth folder:
//   gt/top.png  gt/salmon/a.PNG  gt/salmon/c.png  gt/trout/b.png  gt/trout/c.png  gt/notes.txt
struct GroundTruthTree {
  test::TempDir dir;
  GroundTruthTree() {
    const cv::Mat mask = cv::Mat::zeros(4, 6, CV_8UC1);
    for (const char* name : {"gt/top.png", "gt/salmon/a.PNG", "gt/salmon/c.png", "gt/trout/b.png", "gt/trout/c.png"}) {
      fs::create_directories((dir.path / name).parent_path());
      writePngAtomic(dir / name, mask);
    }
    dir.write("gt/notes.txt", "not a mask");
  }
  std::string operator/(const std::string& relative) const { return dir / relative; }
};

// The message of the Error that `maskFor` throws, checking it is not a usage error: one image
// without ground truth is that image's failure (exit 1), not a wrong command line.
std::string maskForError(const GroundTruthMasks& gt, const InputImage& input) {
  try {
    gt.maskFor(input);
  } catch (const UsageError& e) {
    return std::string("UsageError: ") + e.what();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// The object pixels (x, y) with (x - cx)^2 + (y - cy)^2 <= r^2.
cv::Mat disk(cv::Size size, int cx, int cy, int r) {
  cv::Mat m = cv::Mat::zeros(size, CV_8UC1);
  for (int y = 0; y < size.height; ++y) {
    for (int x = 0; x < size.width; ++x) {
      if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r) m.at<uint8_t>(y, x) = 255;
    }
  }
  return m;
}

}  // namespace

TEST_CASE("Ground-truth folder: every PNG below it, named by its relative path", "[auto_click]") {
  const GroundTruthTree tree;
  const GroundTruthMasks gt(tree / "gt");
  CHECK(gt.isFolder());
  CHECK(gt.path() == tree / "gt");
  // <folder>/<outputName>.png, the extension in any case.
  CHECK(gt.maskFor({"img/top.jpg", "top"}) == tree / "gt/top.png");
  CHECK(gt.maskFor({"img/salmon/a.jpg", "salmon/a"}) == tree / "gt/salmon/a.PNG");
  CHECK(gt.maskFor({"img/salmon/c.jpg", "salmon/c"}) == tree / "gt/salmon/c.png");
  CHECK(gt.maskFor({"img/trout/c.jpg", "trout/c"}) == tree / "gt/trout/c.png");
  // Not a PNG: never a mask.
  CHECK(maskForError(gt, {"img/notes.jpg", "notes"}) ==
        "no ground truth for 'img/notes.jpg': '" + tree / "gt/notes.png" + "' does not exist");
}

TEST_CASE("Ground-truth folder: a nested output name falls back to <folder>/<stem>.png", "[auto_click]") {
  const GroundTruthTree tree;
  const GroundTruthMasks gt(tree / "gt");
  // Nested outputs, flat ground truth.
  CHECK(gt.maskFor({"x/sub/top.jpg", "sub/top"}) == tree / "gt/top.png");
  CHECK(gt.maskFor({"x/a/b/top.jpg", "a/b/top"}) == tree / "gt/top.png");
  // But never another folder's mask with that stem, even a unique one.
  CHECK(maskForError(gt, {"x/other/b.jpg", "other/b"}) ==
        "no ground truth for 'x/other/b.jpg': '" + tree / "gt/other/b.png" + "' does not exist");
  CHECK(maskForError(gt, {"x/salmon/b.jpg", "salmon/b"}) ==
        "no ground truth for 'x/salmon/b.jpg': '" + tree / "gt/salmon/b.png" + "' does not exist");
}

TEST_CASE("Ground-truth folder: a flat output name takes the only mask with its stem anywhere", "[auto_click]") {
  const GroundTruthTree tree;
  const GroundTruthMasks gt(tree / "gt");
  CHECK(gt.maskFor({"x/a.jpg", "a"}) == tree / "gt/salmon/a.PNG");
  CHECK(gt.maskFor({"b.png", "b"}) == tree / "gt/trout/b.png");
  // A mask at the top wins over the stem search.
  CHECK(gt.maskFor({"x/top.jpg", "top"}) == tree / "gt/top.png");
  // No mask has the stem: the message names the file looked for.
  CHECK(maskForError(gt, {"x/d.jpg", "d"}) ==
        "no ground truth for 'x/d.jpg': '" + tree / "gt/d.png" + "' does not exist");
  // Several have it: the message lists the candidates (sorted) and how to disambiguate.
  CHECK(maskForError(gt, {"x/c.jpg", "c"}) ==
        "no ground truth for 'x/c.jpg': '" + tree / "gt/c.png" +
            "' does not exist and 2 masks are named 'c' ('salmon/c', 'trout/c'...); pass the images' folder so "
            "their outputs mirror the ground-truth tree");
}

TEST_CASE("Ground truth given as one file serves every input", "[auto_click]") {
  const GroundTruthTree tree;
  const GroundTruthMasks one(tree / "gt/salmon/a.PNG");
  CHECK_FALSE(one.isFolder());
  CHECK(one.path() == tree / "gt/salmon/a.PNG");
  CHECK(one.maskFor({"anything.jpg", "anything"}) == tree / "gt/salmon/a.PNG");
  CHECK(one.maskFor({"x/y/top.jpg", "y/top"}) == tree / "gt/salmon/a.PNG");
}

TEST_CASE("Ground truth that does not exist or holds no PNG is a usage error", "[auto_click]") {
  const GroundTruthTree tree;
  CHECK_THROWS_AS(GroundTruthMasks(tree / "nope"), UsageError);
  CHECK_THROWS_WITH(GroundTruthMasks(tree / "nope"), "auto_click '" + tree / "nope" + "': no such file or folder");
  fs::create_directories(tree.dir.path / "empty/sub");
  tree.dir.write("empty/sub/mask.jpg", "not a png");
  CHECK_THROWS_AS(GroundTruthMasks(tree / "empty"), UsageError);
  CHECK_THROWS_WITH(GroundTruthMasks(tree / "empty"),
                    "auto_click: no ground-truth masks (*.png) under '" + tree / "empty" + "'");
}

TEST_CASE("autoClick: the object pixel farthest from the boundary, as (x, y)", "[auto_click]") {
  SECTION("odd square: its centre is the unique maximum") {
    cv::Mat gt = cv::Mat::zeros(40, 60, CV_8UC1);
    gt(cv::Rect(20, 10, 21, 21)).setTo(255);  // x 20..40, y 10..30
    const PointXY click = autoClick(gt, "gt/a.png", {60, 40});
    CHECK(click.x == 30);
    CHECK(click.y == 20);
  }
  SECTION("rectangle: ties go to the first pixel in row-major order") {
    // 21x11, x 10..30, y 5..15. Only the middle row y = 10 is 6 from the top and bottom background
    // rows (4 and 16); along it x 15..25 are at least 6 from the left and right background columns
    // (9 and 31), so the first of them is chosen.
    cv::Mat gt = cv::Mat::zeros(30, 50, CV_8UC1);
    gt(cv::Rect(10, 5, 21, 11)).setTo(255);
    const PointXY click = autoClick(gt, "gt/r.png", {50, 30});
    CHECK(click.x == 15);
    CHECK(click.y == 10);
  }
  SECTION("disk of radius 10: its centre, about 10.6 from the nearest background pixel (8, 7) away") {
    const PointXY click = autoClick(disk({50, 40}, 27, 18, 10), "gt/d.png", {50, 40});
    CHECK(click.x == 27);
    CHECK(click.y == 18);
  }
  SECTION("L-shape: inside the thick part, not the bounding box centre") {
    // A 15x15 block (x 4..18, y 4..18) with a 5-pixel-high foot to the right along its bottom
    // (x 19..36, y 14..18). The block's centre (11, 11) is 8 from the background on all four sides
    // (x 3 and 19, y 3 and 19); every foot pixel is within 3 of y 13 or 19. The bounding box centre
    // (20, 11) is background.
    cv::Mat gt = cv::Mat::zeros(24, 40, CV_8UC1);
    gt(cv::Rect(4, 4, 15, 15)).setTo(255);
    gt(cv::Rect(19, 14, 18, 5)).setTo(255);
    REQUIRE(gt.at<uint8_t>(11, 20) == 0);
    const PointXY click = autoClick(gt, "gt/l.png", {40, 24});
    CHECK(click.x == 11);
    CHECK(click.y == 11);
  }
  SECTION("an object touching the image border: the border counts as boundary") {
    cv::Mat gt = cv::Mat::zeros(20, 30, CV_8UC1);
    gt(cv::Rect(0, 0, 9, 9)).setTo(1);  // non-zero is object, 1 as well as 255
    const PointXY click = autoClick(gt, "gt/corner.png", {30, 20});
    CHECK(click.x == 4);
    CHECK(click.y == 4);
  }
}

TEST_CASE("autoClick rejects an empty or mis-sized ground truth, naming the file", "[auto_click]") {
  cv::Mat gt = cv::Mat::zeros(40, 60, CV_8UC1);
  gt(cv::Rect(20, 10, 21, 21)).setTo(255);
  CHECK_THROWS_WITH(autoClick(gt, "gt/a.png", {61, 40}), "ground truth 'gt/a.png' is 60x40 but its image is 61x40");
  CHECK_THROWS_WITH(autoClick(gt, "gt/a.png", {60, 39}), "ground truth 'gt/a.png' is 60x40 but its image is 60x39");
  CHECK_THROWS_WITH(autoClick(cv::Mat::zeros(40, 60, CV_8UC1), "gt/e.png", {60, 40}),
                    "ground truth 'gt/e.png' is empty (no object pixel): no click can be placed");
  CHECK_THROWS_AS(autoClick(cv::Mat::zeros(40, 60, CV_8UC1), "gt/e.png", {60, 40}), Error);
}
