// What the tools leave on disk for an image: mask file names, the output folder assembled under a
// temporary name and committed whole, the clean-up after interrupted runs, metadata.csv, the label
// map, .npy files and the pictures' colours and layout.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "samcli/error.hpp"
#include "samcli/image_io.hpp"
#include "samcli/outputs.hpp"
#include "support/mask_literals.hpp"
#include "support/temp_dir.hpp"
#include "support/message_of.hpp"

using namespace samcli;
namespace fs = std::filesystem;
using Catch::Contains;

namespace {

// The names in a folder (hidden ones included).
std::set<std::string> entries(const fs::path& folder) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(folder)) names.insert(e.path().filename().string());
  return names;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The id of a process that has exited: a child reaped at once.
pid_t deadPid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  REQUIRE(child > 0);
  int status = 0;
  ::waitpid(child, &status, 0);
  return child;
}

MaskRecord recordOf(const cv::Mat& mask) {
  MaskRecord r;
  r.mask = mask;
  measureMask(r);
  return r;
}

// A 1-pixel mask at (x, y) of a `size` image.
cv::Mat dot(cv::Size size, int x, int y) {
  cv::Mat m = cv::Mat::zeros(size, CV_8UC1);
  m.at<uint8_t>(y, x) = 255;
  return m;
}

// A version 1.0 .npy file with the given header dictionary and data bytes.
std::string npyBytes(const std::string& dict, const std::string& data) {
  std::string header = dict;
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header.push_back('\n');
  std::string bytes("\x93NUMPY\x01\x00", 8);
  bytes.push_back(char(header.size() & 0xff));
  bytes.push_back(char(header.size() >> 8));
  return bytes + header + data;
}

std::string floatBytes(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}


}  // namespace

TEST_CASE("nameMaskFiles: 0.png..N-1.png, after an optional prefix", "[outputs]") {
  std::vector<MaskRecord> records(3);
  nameMaskFiles(records);
  CHECK(records[0].maskFile == "0.png");
  CHECK(records[1].maskFile == "1.png");
  CHECK(records[2].maskFile == "2.png");
  nameMaskFiles(records, "dog_");
  CHECK(records[0].maskFile == "dog_0.png");
  CHECK(records[2].maskFile == "dog_2.png");
  std::vector<MaskRecord> none;
  nameMaskFiles(none, "x");
  CHECK(none.empty());
}

TEST_CASE("ImageOutputDir: a failed write names the folder the user asked for, not its temporary name", "[outputs]") {
  const test::TempDir out;
  ImageOutputDir dir(out.path.string(), "img_001");
  const std::string message = test::messageOf<Error>([&] {
    dir.fill([](ImageOutputDir& d) {
      d.writeText("sub", "a file where a folder is wanted\n");
      d.writeText("sub/masks.json", "{}\n");
    });
  });
  CHECK_THAT(message, Catch::StartsWith("cannot write '" + (out / "img_001/sub/masks.json") + "': "));
  CHECK_THAT(message, !Catch::Contains(".tmp-"));
}

TEST_CASE("ImageOutputDir: written beside the result, which appears only on commit", "[outputs]") {
  const test::TempDir out;
  const std::string image = "salmon/deep/img_001";
  const fs::path parent = out.path / "salmon/deep";
  {
    ImageOutputDir dir(out.path.string(), image);
    CHECK(dir.finalPath() == out / image);
    // A temporary sibling: same parent folder, another name.
    const fs::path temp = fs::path(dir.pathFor("masks.json")).parent_path();
    CHECK(temp.parent_path() == parent);
    CHECK(temp.filename() != "img_001");
    CHECK(fs::is_directory(temp));

    dir.writeText("masks.json", "{}\n");
    dir.writePng("overlay.png", cv::Mat(4, 6, CV_8UC3, cv::Scalar(1, 2, 3)));
    std::vector<MaskRecord> records = {recordOf(dot({6, 4}, 1, 2)), recordOf(dot({6, 4}, 5, 3))};
    nameMaskFiles(records);
    records[1].mask.release();  // written from its RLE
    dir.writeMasks(records);
    CHECK_FALSE(fs::exists(out / image));
    CHECK(fs::exists(dir.pathFor("masks.json")));

    dir.commit();
    CHECK(entries(parent) == std::set<std::string>{"img_001"});  // the temporary folder is gone
    CHECK(entries(out / image) == std::set<std::string>{"masks.json", "overlay.png", "0.png", "1.png"});
    CHECK(readFile(out / (image + "/masks.json")) == "{}\n");
    CHECK(test::sameMask(readMask(out / (image + "/0.png")), dot({6, 4}, 1, 2)));
    CHECK(test::sameMask(readMask(out / (image + "/1.png")), dot({6, 4}, 5, 3)));
  }
  // Destroying a committed folder's writer leaves the result.
  CHECK(fs::exists(out / (image + "/masks.json")));
}

TEST_CASE("ImageOutputDir: commit replaces an earlier result; no commit leaves nothing", "[outputs]") {
  const test::TempDir out;
  out.write("img/stale.png", "old");
  {
    ImageOutputDir dir(out.path.string(), "img");
    dir.writeText("masks.json", "[]\n");
    dir.commit();
  }
  CHECK(entries(out / "img") == std::set<std::string>{"masks.json"});

  {
    ImageOutputDir dir(out.path.string(), "img");
    dir.writeText("masks.json", "half-written");
    // Interrupted before commit (an exception, a failing write): the destructor cleans up.
  }
  CHECK(entries(out.path) == std::set<std::string>{"img"});
  CHECK(readFile(out / "img/masks.json") == "[]\n");  // the earlier result is untouched

  {
    ImageOutputDir dir(out.path.string(), "new/img");
    dir.writeText("masks.json", "x");
  }
  CHECK_FALSE(fs::exists(out / "new/img"));
  CHECK((!fs::exists(out / "new") || fs::is_empty(out / "new")));
}

TEST_CASE("removeInterruptedOutputs: a dead process's temporary folder goes, a live one stays", "[outputs]") {
  const test::TempDir out;
  const std::string dead = std::to_string(deadPid());
  const std::string self = std::to_string(::getpid());
  const std::string parentPid = std::to_string(::getppid());
  for (const std::string& name : std::vector<std::string>{
           "a/.img1.tmp-" + dead + "/0.png", "a/.img2.tmp-" + self + "/0.png", "a/.img2.tmp-" + parentPid + "/0.png",
           ".top.tmp-" + dead + "/0.png", "a/.other.tmp-" + dead + "/0.png", "a/img1/masks.json", "a/.img1.tmp-x/0.png"}) {
    out.write(name, "x");
  }
  removeInterruptedOutputs(out.path.string(), {"a/img1", "a/img2", "top"});
  // Gone: the dead process's folders of listed images. Kept: folders of running processes (this one
  // and its parent), of images not in this run, finished results and names not ending in a pid.
  CHECK(entries(out / "a") ==
        std::set<std::string>{".img2.tmp-" + self, ".img2.tmp-" + parentPid, ".other.tmp-" + dead, "img1",
                              ".img1.tmp-x"});
  CHECK(entries(out.path) == std::set<std::string>{"a"});
  // An output folder that does not exist yet is no error.
  CHECK_NOTHROW(removeInterruptedOutputs((out.path / "none").string(), {"b/img"}));
}

TEST_CASE("amgMetadataCsv: the official header and Python's str() of each value", "[outputs]") {
  const std::string header =
      "id,area,bbox_x0,bbox_y0,bbox_w,bbox_h,point_input_x,point_input_y,predicted_iou,stability_score,"
      "crop_box_x0,crop_box_y0,crop_box_w,crop_box_h";
  CHECK(amgMetadataCsv({}) == header);  // no trailing newline, as "\n".join(...)

  MaskRecord a;
  a.area = 120;
  a.bbox = {3, 4, 10, 12};
  a.pointCoords = {{70, 80.5}};
  a.predictedIou = 0.1;
  a.stabilityScore = 0.1 + 0.2;
  a.cropBox = {0, 0, 320, 240};
  MaskRecord b;
  b.area = 7;
  b.bbox = {0, 1, 2, 3};
  b.pointCoords = {{12.25, 3}, {99, 99}};  // the first point is the one that made the mask
  b.predictedIou = 0.96875;
  b.stabilityScore = 1;
  b.cropBox = {160, 0, 160, 120};
  CHECK(amgMetadataCsv({a, b}) == header +
                                      "\n0,120,3,4,10,12,70.0,80.5,0.1,0.30000000000000004,0,0,320,240"
                                      "\n1,7,0,1,2,3,12.25,3.0,0.96875,1.0,160,0,160,120");
}

TEST_CASE("labelMap: 1 + record index per pixel, larger masks painted first", "[outputs]") {
  const cv::Size size(6, 4);
  cv::Mat small = cv::Mat::zeros(size, CV_8UC1);
  small(cv::Rect(1, 1, 2, 2)).setTo(255);
  cv::Mat large = cv::Mat::zeros(size, CV_8UC1);
  large(cv::Rect(0, 0, 4, 4)).setTo(255);
  cv::Mat apart = cv::Mat::zeros(size, CV_8UC1);
  apart(cv::Rect(5, 0, 1, 2)).setTo(255);
  // The small mask comes first but lies on the large one: it must stay visible.
  std::vector<MaskRecord> records = {recordOf(small), recordOf(large), recordOf(apart)};
  records[2].mask.release();  // painted from its RLE

  const cv::Mat labels = labelMap(records, size);
  REQUIRE(labels.type() == CV_8UC1);
  const cv::Mat expected = (cv::Mat_<uint8_t>(4, 6) << 2, 2, 2, 2, 0, 3,  //
                            2, 1, 1, 2, 0, 3,                             //
                            2, 1, 1, 2, 0, 0,                             //
                            2, 2, 2, 2, 0, 0);
  CHECK(cv::countNonZero(labels != expected) == 0);

  CHECK(labelMap({}, size).type() == CV_8UC1);
  CHECK(cv::countNonZero(labelMap({}, size)) == 0);
}

TEST_CASE("labelMap: 8-bit up to 255 masks, 16-bit beyond", "[outputs]") {
  const cv::Size size(16, 17);
  std::vector<MaskRecord> records;
  for (int i = 0; i < 256; ++i) records.push_back(recordOf(dot(size, i % 16, i / 16)));
  const cv::Mat wide = labelMap(records, size);
  REQUIRE(wide.type() == CV_16UC1);
  CHECK(wide.at<uint16_t>(0, 0) == 1);
  CHECK(wide.at<uint16_t>(15, 14) == 255);
  CHECK(wide.at<uint16_t>(15, 15) == 256);
  CHECK(wide.at<uint16_t>(16, 0) == 0);

  records.pop_back();
  const cv::Mat narrow = labelMap(records, size);
  REQUIRE(narrow.type() == CV_8UC1);
  CHECK(narrow.at<uint8_t>(15, 14) == 255);
  CHECK(narrow.at<uint8_t>(15, 15) == 0);
}

TEST_CASE("writeNpy and readNpy: a float32 array round-trips bit for bit", "[outputs]") {
  const test::TempDir dir;
  cv::Mat values(3, 5, CV_32FC1);
  for (int i = 0; i < 15; ++i) values.ptr<float>()[i] = float(i) * -0.7f + 1e-3f;
  values.at<float>(2, 4) = std::nanf("");
  values.at<float>(0, 0) = -INFINITY;
  const std::string path = dir / "logits.npy";
  writeNpy(path, values);

  // NumPy's format 1.0: magic, version, header length, a header padded to 64 bytes, the data.
  const std::string bytes = readFile(path);
  REQUIRE(bytes.size() > 10);
  CHECK(bytes.compare(0, 8, std::string("\x93NUMPY\x01\x00", 8)) == 0);
  const size_t headerLen = uint8_t(bytes[8]) | (uint8_t(bytes[9]) << 8);
  CHECK((10 + headerLen) % 64 == 0);
  CHECK_THAT(bytes.substr(10, headerLen), Contains("'shape': (3, 5)"));
  CHECK(bytes.size() == 10 + headerLen + 15 * sizeof(float));

  const cv::Mat back = readNpy(path);
  REQUIRE(back.type() == CV_32FC1);
  REQUIRE(back.size() == values.size());
  CHECK(std::memcmp(back.ptr<float>(), values.ptr<float>(), 15 * sizeof(float)) == 0);

  // A region of interest writes its own pixels.
  const cv::Mat roi = values(cv::Rect(1, 1, 3, 2));
  writeNpy(path, roi);
  const cv::Mat roiBack = readNpy(path);
  REQUIRE(roiBack.size() == cv::Size(3, 2));
  CHECK(cv::norm(roiBack, roi, cv::NORM_INF) == 0);
}

TEST_CASE("readNpy accepts a leading 1 dimension", "[outputs]") {
  const test::TempDir dir;
  const std::string path =
      dir.write("a.npy", npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3), }",
                                  floatBytes({1, 2, 3, 4, 5, 6})));
  const cv::Mat m = readNpy(path);
  REQUIRE(m.size() == cv::Size(3, 2));
  CHECK(m.at<float>(1, 0) == 4);
  CHECK(m.at<float>(1, 2) == 6);
}

TEST_CASE("readNpy: every unreadable file is an Error naming it", "[outputs]") {
  const test::TempDir dir;
  const std::string missing = dir / "none.npy";
  CHECK(test::messageOf<Error>([&] { readNpy(missing); }) == "cannot read '" + missing + "': no such file");

  const std::string text = dir.write("text.npy", "hello, not numpy");
  CHECK(test::messageOf<Error>([&] { readNpy(text); }) == "cannot read '" + text + "': not a NumPy .npy file (version 1)");

  const std::string doubles = dir.write(
      "f8.npy", npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }", std::string(16, '\0')));
  CHECK(test::messageOf<Error>([&] { readNpy(doubles); }) == "cannot read '" + doubles + "': expected little-endian float32 in C order");

  const std::string fortran = dir.write(
      "fortran.npy", npyBytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", floatBytes({1, 2, 3, 4})));
  CHECK(test::messageOf<Error>([&] { readNpy(fortran); }) == "cannot read '" + fortran + "': expected little-endian float32 in C order");

  const std::string cube = dir.write("cube.npy", npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1, 2), }",
                                                          floatBytes({1, 2, 3, 4})));
  CHECK(test::messageOf<Error>([&] { readNpy(cube); }) == "cannot read '" + cube + "': expected a 2-D array");

  const std::string truncated = dir.write(
      "short.npy", npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", floatBytes({1, 2, 3})));
  CHECK(test::messageOf<Error>([&] { readNpy(truncated); }) == "cannot read '" + truncated + "': truncated data");

  // A header whose shape makes no sense is the file's error too, not an exception of the parser.
  for (const char* shape : {"'shape': 5", "'shape': (a, 2)", "'shape': (-2, 3)", "'shape': (2, 3x)", "'shape': (2,"}) {
    const std::string bad = dir.write(
        "bad.npy", npyBytes(std::string("{'descr': '<f4', 'fortran_order': False, ") + shape + ", }", floatBytes({1, 2})));
    INFO(shape);
    CHECK(test::messageOf<Error>([&] { readNpy(bad); }) == "cannot read '" + bad + "': malformed .npy header field 'shape'");
  }
  // A shape beyond the file's data, or beyond the image size limit, is reported before anything is
  // allocated for it.
  const std::string beyond = dir.write(
      "beyond.npy", npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2000, 3000), }", floatBytes({1})));
  CHECK(test::messageOf<Error>([&] { readNpy(beyond); }) == "cannot read '" + beyond + "': truncated data");
  const std::string huge = dir.write(
      "huge.npy", npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (200000, 300000), }", floatBytes({1})));
  CHECK_THAT(test::messageOf<Error>([&] { readNpy(huge); }), Catch::Contains("'" + huge + "' is 300000x200000") &&
                                                  Catch::Contains("more than the limit of"));
}

TEST_CASE("maskColour: SAM.py's blue first, then the same colour for the same index every time", "[outputs]") {
  CHECK(maskColour(0) == cv::Vec3b(30, 144, 255));
  std::set<std::vector<int>> distinct;
  for (size_t i = 1; i < 8; ++i) {
    CHECK(maskColour(i) == maskColour(i));
    CHECK(maskColour(i) != maskColour(0));
    const cv::Vec3b c = maskColour(i);
    distinct.insert({c[0], c[1], c[2]});
  }
  CHECK(distinct.size() == 7);
}

TEST_CASE("sideBySide: panels left to right at the tallest height, separated by equal gaps", "[outputs]") {
  const cv::Mat a(20, 10, CV_8UC3, cv::Scalar(1, 1, 1));
  const cv::Mat b(15, 30, CV_8UC3, cv::Scalar(2, 2, 2));
  const cv::Mat c(20, 5, CV_8UC3, cv::Scalar(3, 3, 3));
  const cv::Mat two = sideBySide({a, b});
  REQUIRE(two.type() == CV_8UC3);
  CHECK(two.rows == 20);
  const int gap = two.cols - 40;
  CHECK(gap > 0);
  CHECK(gap <= 16);
  CHECK(two.at<cv::Vec3b>(0, 0) == cv::Vec3b(1, 1, 1));
  CHECK(two.at<cv::Vec3b>(0, 10) == cv::Vec3b(255, 255, 255));  // the white gap
  CHECK(two.at<cv::Vec3b>(0, 10 + gap) == cv::Vec3b(2, 2, 2));
  CHECK(two.at<cv::Vec3b>(19, 10 + gap) == cv::Vec3b(255, 255, 255));  // below the shorter panel

  const cv::Mat three = sideBySide({a, b, c});
  CHECK(three.size() == cv::Size(45 + 2 * gap, 20));
  CHECK(three.at<cv::Vec3b>(0, three.cols - 1) == cv::Vec3b(3, 3, 3));

  CHECK(sideBySide({a}).size() == a.size());
  CHECK(sideBySide({}).empty());
}

TEST_CASE("imageResultJson: image, size, then the records in order", "[outputs]") {
  std::vector<MaskRecord> records = {recordOf(dot({6, 4}, 1, 2)), recordOf(dot({6, 4}, 5, 3))};
  nameMaskFiles(records);
  const nlohmann::ordered_json j = imageResultJson("in/a.png", {6, 4}, records);
  std::vector<std::string> keys;
  for (const auto& item : j.items()) keys.push_back(item.key());
  CHECK(keys == std::vector<std::string>{"image", "width", "height", "masks"});
  CHECK(j["image"] == "in/a.png");
  CHECK(j["width"] == 6);
  CHECK(j["height"] == 4);
  REQUIRE(j["masks"].size() == 2);
  CHECK(j["masks"][0] == recordToJson(records[0]));
  CHECK(j["masks"][1]["mask_file"] == "1.png");
}

TEST_CASE("renderOverlay and renderAnnotations tint mask pixels only", "[outputs]") {
  const cv::Mat rgb(60, 80, CV_8UC3, cv::Scalar(100, 100, 100));
  cv::Mat square = cv::Mat::zeros(60, 80, CV_8UC1);
  square(cv::Rect(20, 20, 20, 20)).setTo(255);
  const MaskRecord r = recordOf(square);

  const cv::Mat overlay = renderOverlay(rgb, {&r}, "", false);
  REQUIRE(overlay.size() == rgb.size());
  CHECK(overlay.at<cv::Vec3b>(5, 70) == cv::Vec3b(100, 100, 100));
  const cv::Vec3b inside = overlay.at<cv::Vec3b>(30, 30);
  // Towards the first mask's colour (30, 144, 255) on every channel.
  CHECK(inside[0] < 100);
  CHECK(inside[1] > 100);
  CHECK(inside[2] > 100);
  // A title adds a strip above, the width is kept.
  const cv::Mat titled = renderOverlay(rgb, {&r}, "1 mask", false);
  CHECK(titled.cols == rgb.cols);
  CHECK(titled.rows > rgb.rows);
  // A record holding its mask as RLE only (sam-box, the session) is painted the same.
  MaskRecord released = r;
  released.mask.release();
  CHECK(cv::norm(renderOverlay(rgb, {&released}, "", false), overlay, cv::NORM_INF) == 0);

  const cv::Mat annotated = renderAnnotations(rgb, {r});
  REQUIRE(annotated.size() == rgb.size());
  CHECK(annotated.at<cv::Vec3b>(5, 70) == cv::Vec3b(100, 100, 100));
  CHECK(annotated.at<cv::Vec3b>(30, 30) != cv::Vec3b(100, 100, 100));
  CHECK(cv::countNonZero(annotated.reshape(1) != rgb.reshape(1)) <= 20 * 20 * 3);
  CHECK(cv::norm(renderAnnotations(rgb, {}), rgb, cv::NORM_INF) == 0);
}

TEST_CASE("tintMasked blends in the mask only, as addWeighted over the whole image would", "[outputs]") {
  cv::Mat rgb(50, 70, CV_8UC3);
  cv::randu(rgb, 0, 256);
  cv::Mat mask = cv::Mat::zeros(rgb.size(), CV_8UC1);
  cv::circle(mask, {60, 45}, 12, 255, cv::FILLED);  // cut by the right and bottom edges
  mask.at<uint8_t>(0, 0) = 255;                     // and a pixel in the far corner: a box spanning the image
  for (const cv::Mat& m : {mask, cv::Mat(mask.size(), CV_8UC1, cv::Scalar(0))}) {
    cv::Mat ours = rgb.clone();
    tintMasked(ours, m, cv::Scalar(30, 144, 255), 0.35);
    cv::Mat whole;
    cv::addWeighted(rgb, 0.65, cv::Mat(rgb.size(), CV_8UC3, cv::Scalar(30, 144, 255)), 0.35, 0.0, whole);
    cv::Mat expected = rgb.clone();
    whole.copyTo(expected, m);
    CHECK(cv::norm(ours, expected, cv::NORM_INF) == 0);
  }
}

TEST_CASE("renderOverlay outlines masks that touch the image border", "[outputs]") {
  const cv::Mat rgb(40, 60, CV_8UC3, cv::Scalar(200, 200, 200));
  cv::Mat edge = cv::Mat::zeros(rgb.size(), CV_8UC1);
  edge(cv::Rect(0, 10, 15, 20)).setTo(255);  // on the left edge
  const MaskRecord r = recordOf(edge);
  const cv::Mat overlay = renderOverlay(rgb, {&r}, "", false);
  // The contour, drawn in half the fill colour, runs along the mask's right side and down its
  // left side on the image edge, as findContours over the whole image gives it.
  std::vector<std::vector<cv::Point>> contours;
  cv::findContours(edge.clone(), contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
  cv::Mat expected = rgb.clone();
  tintMasked(expected, edge, cv::Scalar(30, 144, 255), 0.6);
  cv::drawContours(expected, contours, -1, cv::Scalar(15, 72, 127), 1, cv::LINE_AA);
  CHECK(cv::norm(overlay, expected, cv::NORM_INF) == 0);
}
