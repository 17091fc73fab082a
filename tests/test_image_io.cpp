// Image reading as untrusted input: size limits read from the header before decoding, truncated
// files refused, non-regular files refused without blocking, decoder chatter kept off stderr.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include <catch2/catch.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "samcli/error.hpp"
#include "samcli/image_io.hpp"
#include "support/temp_dir.hpp"

using namespace samcli;
using samcli::test::TempDir;

namespace {

std::string encoded(const std::string& ext, int width, int height) {
  cv::Mat image(height, width, CV_8UC3, cv::Scalar(30, 60, 220));
  cv::circle(image, {width / 2, height / 2}, std::min(width, height) / 3, cv::Scalar(10, 200, 10), -1);
  std::vector<uchar> bytes;
  REQUIRE(cv::imencode(ext, image, bytes));
  return std::string(bytes.begin(), bytes.end());
}

// What fd 2 receives while `f` runs, and the error `f` threw.
std::pair<std::string, std::string> stderrAndError(const std::function<void()>& f) {
  std::fflush(stderr);
  std::FILE* sink = std::tmpfile();
  const int saved = ::dup(2);
  ::dup2(::fileno(sink), 2);
  std::string error = "(no error)";
  try {
    f();
  } catch (const Error& e) {
    error = e.what();
  }
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  std::rewind(sink);
  std::string text;
  char chunk[4096];
  for (size_t n; (n = std::fread(chunk, 1, sizeof chunk, sink)) > 0;) text.append(chunk, n);
  std::fclose(sink);
  return {text, error};
}

// Restores the default limit when a test changed it.
struct PixelLimit {
  explicit PixelLimit(int64_t limit) { setMaxImagePixels(limit, "raise it"); }
  ~PixelLimit() { setMaxImagePixels(kDefaultMaxPixels); }
};

void putBe32(std::string& s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) s[at + size_t(i)] = char((v >> (24 - 8 * i)) & 0xff);
}

}  // namespace

TEST_CASE("checkImageSize enforces the pixel limit without overflowing", "[image_io]") {
  setMaxImagePixels(kDefaultMaxPixels);  // the library's own state, whatever tests that declared options left
  CHECK(maxImagePixels() == kDefaultMaxPixels);
  CHECK_NOTHROW(checkImageSize(16000, 11000, "'a.png'"));
  CHECK_THROWS_WITH(checkImageSize(16000, 16000, "'a.png'"),
                    "'a.png' is 16000x16000 (2.56e+08 pixels), more than the limit of 178956970 pixels");
  CHECK_THROWS_WITH(checkImageSize(int64_t(1) << 40, int64_t(1) << 40, "RLE"), Catch::StartsWith("RLE is 1099511627776x"));
  CHECK_THROWS_WITH(checkImageSize(-1, 5, "'a.npy'"), "'a.npy' has an invalid size -1x5");
  PixelLimit limit(100);
  CHECK_THROWS_WITH(checkImageSize(11, 10, "'b.png'"),
                    "'b.png' is 11x10 (110 pixels), more than the limit of 100 pixels; raise it");
}

TEST_CASE("image sizes are read from the header before decoding (decompression bombs)", "[image_io]") {
  TempDir dir;
  PixelLimit limit(32 * 24);
  for (const std::string ext : {".png", ".jpg", ".bmp", ".tiff", ".webp", ".ppm"}) {
    INFO(ext);
    const std::string fits = dir.write("fits" + ext, encoded(ext, 32, 24));
    CHECK(readImageRgb(fits).size() == cv::Size(32, 24));
    const std::string big = dir.write("big" + ext, encoded(ext, 33, 24));
    CHECK_THROWS_WITH(readImageRgb(big), "'" + big + "' is 33x24 (792 pixels), more than the limit of 768 pixels; raise it");
  }
  // A PNG whose header claims 16000x16000: refused on the header, nothing decoded (the real bomb,
  // 275 KB of one colour, took 10 GB).
  std::string bomb = encoded(".png", 8, 8);
  putBe32(bomb, 16, 16000);
  putBe32(bomb, 20, 16000);
  const std::string path = dir.write("bomb.png", bomb);
  setMaxImagePixels(kDefaultMaxPixels);
  CHECK_THROWS_WITH(readImageRgb(path), Catch::Contains("is 16000x16000 (2.56e+08 pixels), more than the limit"));
  CHECK_THROWS_WITH(readMask(path), Catch::Contains("is 16000x16000"));
  CHECK_THROWS_WITH(readLabelMap(path), Catch::Contains("is 16000x16000"));
}

TEST_CASE("truncated and corrupt images are refused with one line and nothing else on stderr", "[image_io]") {
  TempDir dir;
  const std::string jpeg = encoded(".jpg", 64, 48);
  const std::string half = dir.write("half.jpg", jpeg.substr(0, jpeg.size() / 2));
  // libjpeg decodes half a JPEG as an image padded with grey and only warns.
  auto [err, error] = stderrAndError([&] { readImageRgb(half); });
  CHECK(error == "cannot read '" + half + "': truncated image (the file ends before the image does)");
  CHECK(err.empty());
  const std::string png = encoded(".png", 64, 48);
  const std::string cut = dir.write("cut.png", png.substr(0, png.size() - 30));
  std::tie(err, error) = stderrAndError([&] { readImageRgb(cut); });
  CHECK_THAT(error, Catch::StartsWith("cannot read '" + cut + "': not a supported image or corrupt"));
  CHECK(err.empty());  // libpng's own "libpng error: ..." line is captured
  std::string flipped = png;
  flipped[flipped.size() / 2] = char(flipped[flipped.size() / 2] ^ 0x55);
  const std::string crc = dir.write("crc.png", flipped);
  std::tie(err, error) = stderrAndError([&] { readImageRgb(crc); });
  CHECK_THAT(error, Catch::StartsWith("cannot read '" + crc + "': not a supported image or corrupt"));
  CHECK(err.empty());
  CHECK(readImageRgb(dir.write("whole.jpg", jpeg)).size() == cv::Size(64, 48));
}

TEST_CASE("non-regular files are refused instead of blocking", "[image_io]") {
  TempDir dir;
  REQUIRE(::mkfifo((dir / "fifo.png").c_str(), 0600) == 0);
  CHECK_THROWS_WITH(readImageRgb(dir / "fifo.png"), "cannot read '" + (dir / "fifo.png") + "': not a regular file");
  CHECK_THROWS_WITH(readMask("/dev/zero"), "cannot read '/dev/zero': not a regular file");
  CHECK_THROWS_WITH(readLabelMap(dir.path.string()), "cannot read '" + dir.path.string() + "': is a directory");
}
