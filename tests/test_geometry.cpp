// Expected values were computed with the official segment_anything.utils.transforms.
// ResizeLongestSide (get_preprocess_shape, apply_coords, apply_boxes) under /usr/bin/python3 and
// printed with repr(), so the literals are the exact doubles; the photograph prompts and digests are
// those the official SamPredictor recorded in tests/data/reference/out/<image>/predictor.json.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "samcli/error.hpp"
#include "samcli/geometry.hpp"
#include "samcli/sha256.hpp"

using namespace samcli;

namespace {

// Original size is given as (height, width), like the official code and predictor.json.
cv::Size hw(int h, int w) { return {w, h}; }

}  // namespace

TEST_CASE("preprocessShape follows get_preprocess_shape", "[geometry]") {
  struct Case {
    int h, w, longSide, newH, newW;
  };
  const std::vector<Case> cases = {
      {400, 600, 1024, 683, 1024},  {1500, 1000, 1024, 1024, 683}, {512, 512, 1024, 1024, 1024},
      {1025, 2048, 1024, 513, 1024},  // 512.5 rounds up
      {2, 3, 1024, 683, 1024},        {1, 1000, 1024, 1, 1024},    {333, 777, 1024, 439, 1024},
      {480, 640, 256, 192, 256},      {7, 5, 3, 3, 2},
  };
  for (const Case& c : cases) {
    INFO(c.h << "x" << c.w << " long side " << c.longSide);
    REQUIRE(preprocessShape(hw(c.h, c.w), c.longSide) == hw(c.newH, c.newW));
  }
  REQUIRE_THROWS_AS(preprocessShape({0, 10}, 1024), Error);
}

TEST_CASE("applyCoords scales each axis by new/old, ratio first", "[geometry]") {
  struct Case {
    cv::Size original;
    PointXY in, out;
  };
  const std::vector<Case> cases = {
      {hw(400, 600), {100.5, 37.25}, {171.52, 63.604375}},
      {hw(400, 600), {599.0, 399.0}, {1022.2933333333334, 681.2925}},
      {hw(400, 600), {1, 1}, {1.7066666666666668, 1.7075}},
      {hw(1500, 1000), {100.5, 37.25}, {68.64150000000001, 25.429333333333332}},
      {hw(1500, 1000), {599.0, 399.0}, {409.117, 272.384}},
      {hw(333, 777), {100.5, 37.25}, {132.44787644787644, 49.10735735735736}},
      {hw(333, 777), {1, 1}, {1.3178893178893178, 1.3183183183183182}},
      {hw(333, 777), {0, 0}, {0, 0}},
      // Prompts of the reference runs (predictor.json: point_coords -> point_coords_model_frame).
      {hw(512, 512), {230, 282}, {460, 564}},
      {hw(400, 600), {180, 160}, {307.20000000000005, 273.2}},
      {hw(400, 600), {360, 200}, {614.4000000000001, 341.5}},
      {hw(400, 600), {210, 140}, {358.40000000000003, 239.05}},
      {hw(1500, 1000), {450, 825}, {307.35, 563.1999999999999}},
      {hw(1500, 1000), {300, 600}, {204.9, 409.59999999999997}},
      {hw(1500, 1000), {800, 300}, {546.4000000000001, 204.79999999999998}},
  };
  for (const Case& c : cases) {
    INFO(c.original << " (" << c.in.x << ", " << c.in.y << ")");
    const PointXY p = applyCoords(c.in, c.original, 1024);
    REQUIRE(p.x == c.out.x);
    REQUIRE(p.y == c.out.y);
  }
}

TEST_CASE("applyBox maps both corners like apply_boxes", "[geometry]") {
  const BoxXyxy a = applyBox({10.0, 20.0, 300.5, 250.25}, hw(333, 777), 1024);
  CHECK(a.x0 == 13.178893178893178);
  CHECK(a.y0 == 26.366366366366364);
  CHECK(a.x1 == 396.02574002574);
  CHECK(a.y1 == 329.9091591591591);
  // predictor.json, prompt "box" of coffee and "box_point" of coffee_portrait.
  const BoxXyxy b = applyBox({120, 100, 420, 320}, hw(400, 600), 1024);
  CHECK(b.x0 == 204.8);
  CHECK(b.y0 == 170.75);
  CHECK(b.x1 == 716.8000000000001);
  CHECK(b.y1 == 546.4);
  const BoxXyxy c = applyBox({100, 150, 600, 900}, hw(1500, 1000), 1024);
  CHECK(c.x0 == 68.30000000000001);
  CHECK(c.y0 == 102.39999999999999);
  CHECK(c.x1 == 409.8);
  CHECK(c.y1 == 614.4);
}

TEST_CASE("normalizeBox orders corners; boxXyxyToXywh uses w = x1 - x0", "[geometry]") {
  const BoxXyxy n = normalizeBox({30, 5, 10, 25});
  CHECK(n.x0 == 10);
  CHECK(n.y0 == 5);
  CHECK(n.x1 == 30);
  CHECK(n.y1 == 25);
  const BoxXyxy same = normalizeBox({1, 2, 3, 4});
  CHECK((same.x0 == 1 && same.y0 == 2 && same.x1 == 3 && same.y1 == 4));

  const auto xywh = boxXyxyToXywh({10, 5, 30, 25.5});
  CHECK(xywh == std::array<double, 4>{10, 5, 20, 20.5});
  CHECK(boxXyxyToXywh({7, 7, 7, 7}) == std::array<double, 4>{7, 7, 0, 0});
}

TEST_CASE("resizeLongestSide reproduces the official apply_image on photographs", "[geometry]") {
  struct Case {
    const char* image;
    cv::Size resized;
    const char* sha256;  // predictor.json: preprocess.resized_uint8_sha256 (HxWx3 RGB bytes)
  };
  const std::vector<Case> cases = {
      // 600x400: enlarged.
      {"coffee", {1024, 683}, "62c25c5ba96b52fc27e8998d8e516b899e9d466d219d01b56671f5259f13ffd6"},
      // 512x512: enlarged exactly 2x on both axes.
      {"astronaut", {1024, 1024}, "acc15009f3807d5fc4df041f1b75883ff06ad080ae1d1b58eaeb930924e35b44"},
      // 1000x1500: shrunk, the anti-aliased path.
      {"coffee_portrait", {683, 1024}, "117c288de9466e3ef258c804c4c6b25ac8fe4f967a26834dcb5b74cb4ae3bc26"},
  };
  for (const Case& c : cases) {
    INFO(c.image);
    const std::string path = std::string(SAMCLI_TEST_DATA_DIR "/reference/images/") + c.image + ".png";
    const cv::Mat bgr = cv::imread(path, cv::IMREAD_COLOR);
    REQUIRE_FALSE(bgr.empty());
    cv::Mat rgb;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    const cv::Mat resized = resizeLongestSide(rgb, 1024);
    REQUIRE(resized.size() == c.resized);
    REQUIRE(resized.type() == CV_8UC3);
    CHECK(sha256Hex(resized) == c.sha256);
  }
}
