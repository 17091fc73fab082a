// Expected values come from Pillow 9.4 itself: Image.fromarray(a).resize((w, h), BILINEAR|BICUBIC)
// on the arrays below, run once with /usr/bin/python3 and pasted here. The digests are SHA-256 of
// numpy's tobytes() of the resized array, for images made by lcgImage (same generator in Python).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "samcli/error.hpp"
#include "samcli/resample.hpp"
#include "samcli/sha256.hpp"

using samcli::ResampleFilter;
using samcli::resizePil;

namespace {

cv::Mat gray(const std::vector<std::vector<int>>& rows) {
  cv::Mat m(static_cast<int>(rows.size()), static_cast<int>(rows[0].size()), CV_8UC1);
  for (int y = 0; y < m.rows; ++y) {
    for (int x = 0; x < m.cols; ++x) m.at<uint8_t>(y, x) = static_cast<uint8_t>(rows[y][x]);
  }
  return m;
}

// Rows of interleaved RGB values.
cv::Mat rgb(const std::vector<std::vector<int>>& rows) {
  cv::Mat m(static_cast<int>(rows.size()), static_cast<int>(rows[0].size() / 3), CV_8UC3);
  for (int y = 0; y < m.rows; ++y) {
    for (size_t i = 0; i < rows[y].size(); ++i) m.ptr<uint8_t>(y)[i] = static_cast<uint8_t>(rows[y][i]);
  }
  return m;
}

void requireEqual(const cv::Mat& actual, const cv::Mat& expected) {
  REQUIRE(actual.type() == expected.type());
  REQUIRE(actual.size() == expected.size());
  for (int y = 0; y < actual.rows; ++y) {
    for (int i = 0; i < actual.cols * actual.channels(); ++i) {
      INFO("row " << y << ", value " << i);
      REQUIRE(int(actual.ptr<uint8_t>(y)[i]) == int(expected.ptr<uint8_t>(y)[i]));
    }
  }
}

// Noise image: byte i (row-major, channels interleaved) is the top byte of the i-th state of the
// Numerical Recipes LCG started at `seed`. Noise makes every weight matter and, with bicubic
// overshoot, exercises clipping.
cv::Mat lcgImage(int w, int h, int cn, uint32_t seed) {
  cv::Mat m(h, w, CV_8UC(cn));
  uint32_t s = seed;
  uint8_t* p = m.ptr<uint8_t>();
  for (size_t i = 0; i < m.total() * cn; ++i) {
    s = s * 1664525u + 1013904223u;
    p[i] = static_cast<uint8_t>(s >> 24);
  }
  return m;
}

const cv::Mat kGray = gray({{0, 40, 80, 120, 160, 200},
                            {255, 255, 0, 0, 255, 255},
                            {10, 20, 30, 200, 210, 220},
                            {0, 255, 0, 255, 0, 255},
                            {90, 90, 90, 90, 90, 90}});

}  // namespace

TEST_CASE("resizePil bilinear matches Pillow on a small gray image", "[resample]") {
  const auto f = ResampleFilter::Bilinear;
  SECTION("shrink 6x5 -> 4x3") {
    requireEqual(resizePil(kGray, {4, 3}, f), gray({{118, 77, 110, 215}, {86, 70, 153, 212}, {93, 100, 112, 120}}));
  }
  SECTION("enlarge 6x5 -> 9x7") {
    requireEqual(resizePil(kGray, {9, 7}, f), gray({{0, 20, 47, 73, 100, 127, 153, 180, 200},
                                                    {146, 154, 141, 56, 43, 79, 187, 223, 231},
                                                    {185, 186, 158, 39, 33, 88, 211, 244, 245},
                                                    {10, 15, 22, 28, 115, 202, 208, 215, 220},
                                                    {3, 96, 158, 39, 124, 209, 90, 153, 245},
                                                    {39, 112, 160, 63, 112, 160, 63, 112, 184},
                                                    {90, 90, 90, 90, 90, 90, 90, 90, 90}}));
  }
  SECTION("to a single pixel") { requireEqual(resizePil(kGray, {1, 1}, f), gray({{119}})); }
  SECTION("vertical pass only") {
    requireEqual(resizePil(kGray, {6, 2}, f), gray({{107, 133, 32, 95, 203, 230}, {42, 149, 35, 178, 88, 195}}));
  }
  SECTION("horizontal pass only") {
    requireEqual(resizePil(kGray, {11, 5}, f),
                 gray({{0, 13, 35, 56, 78, 100, 122, 144, 165, 187, 200},
                       {255, 255, 255, 151, 12, 0, 12, 151, 255, 255, 255},
                       {10, 13, 19, 24, 30, 115, 200, 206, 211, 217, 220},
                       {0, 81, 220, 151, 12, 128, 243, 104, 35, 174, 255},
                       {90, 90, 90, 90, 90, 90, 90, 90, 90, 90, 90}}));
  }
}

TEST_CASE("resizePil bicubic matches Pillow on a small gray image", "[resample]") {
  const auto f = ResampleFilter::Bicubic;
  SECTION("shrink 6x5 -> 4x3") {
    requireEqual(resizePil(kGray, {4, 3}, f), gray({{118, 70, 106, 219}, {90, 61, 158, 218}, {88, 103, 112, 115}}));
  }
  SECTION("enlarge 6x5 -> 9x7, with overshoot clipped") {
    requireEqual(resizePil(kGray, {9, 7}, f), gray({{0, 2, 37, 75, 106, 133, 149, 180, 200},
                                                    {159, 166, 160, 50, 36, 61, 194, 226, 234},
                                                    {214, 211, 181, 25, 20, 67, 231, 254, 250},
                                                    {9, 14, 20, 19, 115, 211, 210, 216, 221},
                                                    {0, 102, 188, 13, 131, 246, 60, 144, 255},
                                                    {39, 123, 186, 50, 112, 173, 38, 100, 185},
                                                    {95, 87, 81, 94, 88, 81, 94, 88, 80}}));
  }
  SECTION("to a single pixel") { requireEqual(resizePil(kGray, {1, 1}, f), gray({{120}})); }
  SECTION("vertical pass only") {
    requireEqual(resizePil(kGray, {6, 2}, f), gray({{106, 129, 32, 94, 209, 233}, {41, 148, 36, 181, 84, 191}}));
  }
  SECTION("horizontal pass only") {
    requireEqual(resizePil(kGray, {11, 5}, f),
                 gray({{0, 9, 34, 56, 78, 100, 122, 144, 166, 191, 203},
                       {255, 255, 255, 156, 7, 0, 7, 156, 255, 255, 255},
                       {9, 12, 18, 16, 26, 115, 204, 214, 212, 218, 221},
                       {0, 74, 242, 162, 2, 128, 253, 93, 13, 181, 255},
                       {90, 90, 90, 90, 90, 90, 90, 90, 90, 90, 90}}));
  }
}

TEST_CASE("resizePil matches Pillow on RGB, channel by channel", "[resample]") {
  const cv::Mat src = rgb({{255, 0, 0, 0, 255, 0, 0, 0, 255}, {10, 20, 30, 200, 100, 50, 255, 255, 255}});
  SECTION("bilinear 3x2 -> 5x4") {
    requireEqual(resizePil(src, {5, 4}, ResampleFilter::Bilinear),
                 rgb({{255, 0, 0, 153, 102, 0, 0, 255, 0, 0, 102, 153, 0, 0, 255},
                      {194, 5, 8, 136, 90, 10, 50, 216, 13, 58, 125, 158, 64, 64, 255},
                      {71, 15, 23, 103, 65, 29, 150, 139, 38, 175, 170, 168, 191, 191, 255},
                      {10, 20, 30, 86, 52, 38, 200, 100, 50, 233, 193, 173, 255, 255, 255}}));
  }
  SECTION("bicubic 3x2 -> 5x4") {
    requireEqual(resizePil(src, {5, 4}, ResampleFilter::Bicubic),
                 rgb({{255, 0, 0, 174, 106, 0, 0, 255, 0, 0, 92, 164, 0, 0, 255},
                      {202, 3, 6, 147, 89, 6, 41, 223, 10, 51, 122, 170, 53, 53, 255},
                      {53, 11, 22, 93, 53, 22, 159, 132, 40, 193, 183, 180, 202, 202, 255},
                      {0, 15, 30, 66, 36, 30, 218, 86, 54, 255, 213, 186, 255, 255, 255}}));
  }
  SECTION("shrink 3x2 -> 2x1") {
    requireEqual(resizePil(src, {2, 1}, ResampleFilter::Bilinear), rgb({{120, 73, 19, 117, 147, 169}}));
    requireEqual(resizePil(src, {2, 1}, ResampleFilter::Bicubic), rgb({{120, 71, 15, 122, 152, 175}}));
  }
}

TEST_CASE("resizePil one-pixel edge cases match Pillow", "[resample]") {
  const cv::Mat col = gray({{0}, {100}, {200}, {50}, {255}});
  const cv::Mat row = col.t();
  for (auto f : {ResampleFilter::Bilinear, ResampleFilter::Bicubic}) {
    const bool bl = f == ResampleFilter::Bilinear;
    INFO((bl ? "bilinear" : "bicubic"));
    requireEqual(resizePil(gray({{77}}), {3, 2}, f), gray({{77, 77, 77}, {77, 77, 77}}));
    requireEqual(resizePil(col, {1, 2}, f), bl ? gray({{89}, {152}}) : gray({{83}, {160}}));
    requireEqual(resizePil(row, {2, 1}, f), bl ? gray({{89, 152}}) : gray({{83, 160}}));
    const cv::Mat wide = resizePil(col, {3, 8}, f);
    const std::vector<int> expected = bl ? std::vector<int>{0, 44, 106, 169, 153, 59, 165, 255}
                                         : std::vector<int>{0, 34, 107, 187, 160, 50, 167, 255};
    REQUIRE(wide.size() == cv::Size(3, 8));
    for (int y = 0; y < 8; ++y) {
      for (int x = 0; x < 3; ++x) REQUIRE(int(wide.at<uint8_t>(y, x)) == expected[y]);
    }
  }
}

TEST_CASE("resizePil matches Pillow digests on noise images", "[resample]") {
  struct Case {
    int w, h, cn, ow, oh;
    const char* bilinear;
    const char* bicubic;
  };
  // Seed of case i (from 1) is i.
  const std::vector<Case> cases = {
      {97, 61, 1, 13, 7, "3e857ab113bd7f26cf772aee735ce5b1ce2494fd28861b64c3441daf2247aea6",
       "69a0a8bdb21e8b59c8ef4a3838eb996c86fbb514431b08dacca76ba6ce0e0264"},
      {97, 61, 3, 13, 7, "fe2777d75db030dfefed2fc979c0cae8ceca710bb4c2b025fbbda8b813889d82",
       "b6bc337f0bbe21888daacdac7797dec7a47ed7012d058b1a53788bb7a380da7f"},
      {64, 48, 3, 200, 150, "334e1c7e55f554f16b6b39df055c79fa111b0853d1590fa4dda5260f8832bd05",
       "882b5f50f1b260659210ed859425ba3d7aba98059a6dbe10e78e28277e8b1f23"},
      {3, 200, 1, 50, 1, "fb83fdcf945d249b7eec0006383a0306916394c89db5c1451eead2bfaba6c764",
       "ad5a48b224a855468de1961271ededa807345ee3b0b1b920c77da4a3670f3725"},
      {200, 3, 3, 1, 50, "3ab35004e947472d6eddd3063fc57554f5925156850d659b0784b61aac1b1b69",
       "cdc5160b857286c7bf7031a8b1e08072e0e24ce6702524f060b7682d54bcfaef"},
      {31, 17, 3, 31, 40, "cc7f717ef92ff71d80fc0603156007bbac6b6a9e288359521a862b4d447ec0c8",
       "b3ca1ac2f074c82dc6e9706181b06233c74e3998c46fe1a31ad1eeac955d67b1"},
      {31, 17, 3, 77, 17, "e4eeea783a509045766e6c848794e193927c9a75c77c9eaebbabbbd9f0a203d8",
       "491425d22c580b9531088fbddaae9adff5a4f8b72c51e1ac2cb65c4855eebc03"},
      {1000, 10, 3, 7, 11, "b1ea8c70891b89d31dff870481ac24bf0b1177cd46147f9fa817d95cadd6fbdc",
       "a007d02a2ba819195b943513f35d2ba4aae4c9a923450d7a9194e26f311601d1"},
      {123, 77, 3, 122, 78, "87c5d319573b585ba54f4236c8f19e5c4b10247b7bab2bc2de1f2589150308e4",
       "15e468bfcc6318b010ffd7763e3392bf9b9d504cfbbc3aa42f0ec44af09f3ac4"},
      {640, 480, 3, 1024, 768, "e8d0f6f350ebcf8caba79e0c46ff6d2990b162cbeb4d05c4173e65c7effa0974",
       "3dc10d03b638c87cc5d5883bec2a7e02e367bdd516dc1f1cec951a5eddd23070"},
      {257, 129, 1, 64, 33, "3200675c8548fc09f6943fd034099c305f233cf6f27c7b718e8753cdec683ea5",
       "54cf241bd266570e42a8b65c57824aed7ef4e57bdbc74c1cf25aa6abe73086cf"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const cv::Mat src = lcgImage(c.w, c.h, c.cn, static_cast<uint32_t>(i + 1));
    INFO(c.w << "x" << c.h << "x" << c.cn << " -> " << c.ow << "x" << c.oh);
    const cv::Mat bl = resizePil(src, {c.ow, c.oh}, ResampleFilter::Bilinear);
    const cv::Mat bc = resizePil(src, {c.ow, c.oh}, ResampleFilter::Bicubic);
    REQUIRE(bl.size() == cv::Size(c.ow, c.oh));
    REQUIRE(bl.type() == src.type());
    CHECK(samcli::sha256Hex(bl) == c.bilinear);
    CHECK(samcli::sha256Hex(bc) == c.bicubic);
  }
}

TEST_CASE("resizePil keeps an image of the requested size unchanged", "[resample]") {
  const cv::Mat src = lcgImage(7, 5, 3, 42);
  const cv::Mat out = resizePil(src, src.size(), ResampleFilter::Bicubic);
  REQUIRE(cv::norm(out, src, cv::NORM_INF) == 0);
  REQUIRE(out.data != src.data);
}

TEST_CASE("resizePil reads regions of interest through their stride", "[resample]") {
  const cv::Mat big = lcgImage(40, 30, 3, 7);
  const cv::Rect roi(5, 3, 20, 15);
  const cv::Mat view = big(roi);
  REQUIRE_FALSE(view.isContinuous());
  const cv::Mat expected = resizePil(view.clone(), {13, 9}, ResampleFilter::Bilinear);
  REQUIRE(cv::norm(resizePil(view, {13, 9}, ResampleFilter::Bilinear), expected, cv::NORM_INF) == 0);
}

TEST_CASE("resizePil rejects what Pillow could not resize", "[resample]") {
  REQUIRE_THROWS_AS(resizePil(cv::Mat(), {3, 3}, ResampleFilter::Bilinear), samcli::Error);
  REQUIRE_THROWS_AS(resizePil(cv::Mat(4, 4, CV_8UC4, cv::Scalar::all(0)), {3, 3}, ResampleFilter::Bilinear),
                    samcli::Error);
  REQUIRE_THROWS_AS(resizePil(cv::Mat(4, 4, CV_32FC1, cv::Scalar::all(0)), {3, 3}, ResampleFilter::Bilinear),
                    samcli::Error);
  REQUIRE_THROWS_AS(resizePil(cv::Mat(4, 4, CV_8UC1, cv::Scalar::all(0)), {0, 3}, ResampleFilter::Bicubic),
                    samcli::Error);
}

// Expected values: scipy 1.10 (ndimage.gaussian_filter, then ndimage.zoom order 1, mode "mirror",
// grid_mode=True), the recipe of Owlv2ImageProcessor.resize, on the same float32 inputs.
TEST_CASE("resizeAntialiasedLinear shrinks as Owlv2ImageProcessor's Gaussian-then-zoom", "[resample]") {
  cv::Mat src(7, 5, CV_32FC1);
  for (int i = 0; i < 35; ++i) src.at<float>(i / 5, i % 5) = static_cast<float>(std::pow(float(i), 1.5f) / 50.0f);
  const cv::Mat out = samcli::resizeAntialiasedLinear(src, {2, 3});
  const float want[3][2] = {{0.26264795660972595f, 0.4171324372291565f},
                            {1.2897355556488037f, 1.5608552694320679f},
                            {2.7962279319763184f, 3.144930124282837f}};
  for (int y = 0; y < 3; ++y) {
    for (int x = 0; x < 2; ++x) CHECK(out.at<float>(y, x) == Approx(want[y][x]).epsilon(1e-6));
  }
}

TEST_CASE("resizeAntialiasedLinear enlarges with edges mirrored about the end samples", "[resample]") {
  const cv::Mat src = (cv::Mat_<float>(1, 3) << 0.0f, 1.0f, 4.0f);
  const cv::Mat out = samcli::resizeAntialiasedLinear(src, {7, 1});
  const std::vector<float> want{0.2857142984867096f, 0.1428571492433548f, 0.5714285969734192f, 1.0f,
                                2.2857143878936768f, 3.5714285373687744f, 3.142857074737549f};
  for (int x = 0; x < 7; ++x) CHECK(out.at<float>(0, x) == Approx(want[x]).epsilon(1e-6));
  // Three channels are resized alike, each on its own.
  cv::Mat rgb;
  cv::merge(std::vector<cv::Mat>{src, src * 2, src * 3}, rgb);
  std::vector<cv::Mat> channels;
  cv::split(samcli::resizeAntialiasedLinear(rgb, {7, 1}), channels);
  CHECK(cv::norm(channels[2], out * 3, cv::NORM_INF) < 1e-5);
  CHECK_THROWS_AS(samcli::resizeAntialiasedLinear(cv::Mat(4, 4, CV_8UC3, cv::Scalar::all(0)), {3, 3}), samcli::Error);
}
