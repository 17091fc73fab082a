// Compressed strings: pycocotools is not installed here, so expected strings were computed with an
// independent Python transcription of pycocotools' rleToString/rleFrString, and agree with strings
// pycocotools produced elsewhere: "61X13mN000`0" and "e75S10000000ST1" are the expected values in
// cocotools-rs' test suite (hoel-bagard/cocotools-rs, converters/masks.rs), and the 50x70 string is
// a pycocotools.mask.encode output quoted in armengot/COCOtoolsFORK's README. Uncompressed RLEs of
// real masks are the official mask_to_rle_pytorch outputs stored in predictor.json.
#include <catch2/catch.hpp>

#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "samcli/error.hpp"
#include "samcli/image_io.hpp"
#include "samcli/rle.hpp"
#include "support/mask_literals.hpp"

using namespace samcli;
using Counts = std::vector<uint32_t>;

namespace {

cv::Mat mask(const std::vector<std::vector<int>>& rows) { return test::maskFromRows(rows); }

using test::sameMask;

const std::string kCocoFork50x70 =
    "0g05b08J4M2N2NA^O1`0OCO=0E090H080IO68DH;>@C>a0_O_O`0j0OWOF<:CM72I24NL43JM92FN;1ENKO72L0LO91J0MO92"
    "INO0NO122OO0M031O000NO31OO11MO40N011MO41MO21L06OL021L06OL021L06OL021L060J040L060J040L060J040L060J"
    "040L060J040L060J040L060KO31L060KO31L06OL021L06OL021L06OL021MO41MO21MO40N100NO310O00M0310O00NO1220"
    "NO92IONO91KOMO72M0<1EO:2GN63KM34OLM73JF<;=1G_O_Ob0=AC`07EH=1IO71H090F0:1DO>1_O1b0>2N2N3L6H]O";

}  // namespace

TEST_CASE("encodeRle is column-major and starts with the background run", "[rle]") {
  SECTION("square") {
    const Rle r = encodeRle(mask({{0, 0, 0, 0}, {0, 1, 1, 0}, {0, 1, 1, 0}, {0, 0, 0, 0}}));
    CHECK(r.height == 4);
    CHECK(r.width == 4);
    CHECK(r.counts == Counts{5, 2, 2, 2, 5});
  }
  SECTION("a horizontal line is one run per column") {
    const Rle r = encodeRle(mask({{0, 0, 0, 0, 0}, {1, 1, 1, 1, 1}, {0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}}));
    CHECK(r.height == 4);
    CHECK(r.width == 5);
    CHECK(r.counts == Counts{1, 1, 3, 1, 3, 1, 3, 1, 3, 1, 2});
  }
  SECTION("a vertical line is a single run") {
    CHECK(encodeRle(mask({{0, 0, 1, 0, 0}, {0, 0, 1, 0, 0}, {0, 0, 1, 0, 0}, {0, 0, 1, 0, 0}})).counts ==
          Counts{8, 4, 8});
  }
  SECTION("foreground at the first pixel gives an empty first run") {
    const cv::Mat m = mask({{1, 1, 0, 0, 1}, {1, 0, 0, 0, 1}, {0, 0, 1, 0, 1}, {0, 0, 1, 1, 1}});
    CHECK(encodeRle(m).counts == Counts{0, 2, 2, 1, 5, 2, 3, 5});
  }
  SECTION("empty and full masks") {
    CHECK(encodeRle(cv::Mat::zeros(3, 7, CV_8UC1)).counts == Counts{21});
    CHECK(encodeRle(cv::Mat(3, 7, CV_8UC1, cv::Scalar(1))).counts == Counts{0, 21});
  }
  SECTION("any non-zero value is inside") {
    CHECK(encodeRle(mask({{0, 1}}) / 255 * 7).counts == Counts{1, 1});
  }
  SECTION("a region of interest is read through its stride") {
    const cv::Mat big = mask({{1, 1, 1, 1}, {1, 0, 1, 1}, {1, 1, 0, 1}, {1, 1, 1, 1}});
    const cv::Mat roi = big(cv::Rect(1, 1, 2, 2));
    CHECK(encodeRle(roi).counts == Counts{1, 2, 1});
  }
  REQUIRE_THROWS_AS(encodeRle(cv::Mat(2, 2, CV_8UC3)), Error);
}

TEST_CASE("decodeRle inverts encodeRle and rejects inconsistent counts", "[rle]") {
  const cv::Mat m = mask({{1, 1, 0, 0, 1}, {1, 0, 0, 0, 1}, {0, 0, 1, 0, 1}, {0, 0, 1, 1, 1}});
  const cv::Mat d = decodeRle({4, 5, {0, 2, 2, 1, 5, 2, 3, 5}});
  CHECK(sameMask(d, m));

  cv::Mat noise(37, 23, CV_8UC1);
  cv::randu(noise, 0, 2);
  noise *= 255;
  CHECK(sameMask(decodeRle(encodeRle(noise)), noise));

  const Rle empty = encodeRle(cv::Mat(0, 0, CV_8UC1));
  CHECK(empty.counts == Counts{0});
  CHECK(decodeRle(empty).empty());

  CHECK_THROWS_AS(decodeRle({4, 5, {0, 2, 2, 1, 5, 2, 3, 4}}), Error);   // 19 of 20 pixels
  CHECK_THROWS_AS(decodeRle({4, 5, {0, 2, 2, 1, 5, 2, 3, 6}}), Error);   // 21 of 20 pixels
  CHECK_THROWS_AS(decodeRle({4, 5, {}}), Error);
  CHECK_THROWS_AS(decodeRle({-1, 5, {}}), Error);
  CHECK_THROWS_WITH(decodeRle({2, 2, {1, 1}}),
                    Catch::Contains("counts cover 2 pixels") && Catch::Contains("2x2 has 4"));
}

TEST_CASE("rleCountsToString matches pycocotools", "[rle]") {
  CHECK(rleCountsToString({6, 1, 40, 4, 5, 4, 5, 4, 21}) == "61X13mN000`0");
  CHECK(rleCountsToString({245, 5, 35, 5, 35, 5, 35, 5, 35, 5, 1190}) == "e75S10000000ST1");
  CHECK(rleCountsToString({0, 2, 2, 1, 5, 2, 3, 5}) == "022O31N3");
  CHECK(rleCountsToString({20}) == "d0");  // 20 has bit 4 set, so a zero sign character follows
  CHECK(rleCountsToString({0, 20}) == "0d0");
  CHECK(rleCountsToString({}).empty());
  // Counts at the 32-bit limit, and the largest negative difference.
  CHECK(rleCountsToString({4294967295u, 1, 0, 4294967295u, 7, 4294967295u}) == "oooooo310nooooo370");
  CHECK(rleCountsToString({5, 4294967295u, 3, 0, 2}) == "5oooooo33QPPPPPLO");
}

TEST_CASE("a drawn mask encodes to pycocotools' string", "[rle]") {
  // 40x40 with a 5x5 square at rows 5..9, columns 6..10 (cocotools-rs' "test1").
  cv::Mat m = cv::Mat::zeros(40, 40, CV_8UC1);
  m(cv::Rect(6, 5, 5, 5)).setTo(255);
  const Rle r = encodeRle(m);
  CHECK(r.counts == Counts{245, 5, 35, 5, 35, 5, 35, 5, 35, 5, 1190});
  CHECK(rleCountsToString(r.counts) == "e75S10000000ST1");
}

TEST_CASE("rleCountsFromString inverts rleCountsToString", "[rle]") {
  CHECK(rleCountsFromString("61X13mN000`0") == Counts{6, 1, 40, 4, 5, 4, 5, 4, 21});
  CHECK(rleCountsFromString("oooooo310nooooo370") == Counts{4294967295u, 1, 0, 4294967295u, 7, 4294967295u});
  CHECK(rleCountsFromString("5oooooo33QPPPPPLO") == Counts{5, 4294967295u, 3, 0, 2});
  CHECK(rleCountsFromString("").empty());

  SECTION("a pycocotools string of a 50x70 mask") {
    const Counts c = rleCountsFromString(kCocoFork50x70);
    REQUIRE(c.size() == 366);
    CHECK(c[0] == 0);
    CHECK(Counts(c.begin(), c.begin() + 6) == Counts{0, 23, 5, 41, 13, 35});
    uint64_t total = 0;
    for (uint32_t v : c) total += v;
    CHECK(total == 50 * 70);
    CHECK(rleCountsToString(c) == kCocoFork50x70);
    const cv::Mat m = decodeRle({50, 70, c});
    CHECK(encodeRle(m).counts == c);
    CHECK(rleArea({50, 70, c}) == cv::countNonZero(m));
  }
  SECTION("malformed strings") {
    CHECK_THROWS_AS(rleCountsFromString("0d"), Error);  // ends while 'd' says more follows
    CHECK_THROWS_AS(rleCountsFromString("0 1"), Error);
    CHECK_THROWS_AS(rleCountsFromString("0p"), Error);   // 'p' is past the 64-character alphabet
    CHECK_THROWS_AS(rleCountsFromString("oooooooo0"), Error);  // longer than any 32-bit count
    CHECK_THROWS_AS(rleCountsFromString("O"), Error);    // first count negative
  }
}

TEST_CASE("rleArea sums the foreground runs", "[rle]") {
  CHECK(rleArea({4, 5, {0, 2, 2, 1, 5, 2, 3, 5}}) == 10);
  CHECK(rleArea({3, 7, {21}}) == 0);
  CHECK(rleArea({3, 7, {0, 21}}) == 21);
  CHECK(rleArea({65536, 65536, {0, 4294967295u, 1}}) == 4294967295LL);
}

TEST_CASE("RLE round-trips the official masks of the reference runs", "[rle]") {
  int masks = 0;
  for (const char* image : {"astronaut", "coffee", "coffee_portrait"}) {
    const std::string path = std::string(SAMCLI_TEST_DATA_DIR "/reference/out/") + image + "/predictor.json";
    std::ifstream in(path);
    REQUIRE(in.good());
    const nlohmann::json j = nlohmann::json::parse(in);
    for (const auto& prompt : j.at("prompts")) {
      for (const auto& m : prompt.at("masks")) {
        INFO(image << " " << prompt.at("name").get<std::string>());
        const Rle rle{m.at("rle").at("size")[0].get<int>(), m.at("rle").at("size")[1].get<int>(),
                      m.at("rle").at("counts").get<Counts>()};
        const cv::Mat decoded = decodeRle(rle);
        REQUIRE(decoded.size() == cv::Size(rle.width, rle.height));
        CHECK(cv::countNonZero(decoded) == m.at("area").get<int>());
        CHECK(rleArea(rle) == m.at("area").get<int64_t>());
        const Rle again = encodeRle(decoded);
        CHECK(again.counts == rle.counts);
        CHECK(rleCountsFromString(rleCountsToString(rle.counts)) == rle.counts);
        ++masks;
      }
    }
  }
  CHECK(masks >= 12);
}

TEST_CASE("decodeRle refuses sizes over the pixel limit before allocating", "[rle]") {
  samcli::Rle rle;
  rle.height = 99999;
  rle.width = 99999;
  rle.counts = {4294967295u, 4294967295u, 1409865411u};  // counts that do cover 99999 x 99999
  CHECK_THROWS_WITH(samcli::decodeRle(rle), "RLE is 99999x99999 (9.9998e+09 pixels), more than the limit of 178956970 pixels");
}
