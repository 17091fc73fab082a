#include "samcli/outputs.hpp"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <algorithm>
#include <sstream>

#include <opencv2/imgproc.hpp>

#include "samcli/error.hpp"
#include "samcli/image_io.hpp"

namespace fs = std::filesystem;

namespace samcli {

void nameMaskFiles(std::vector<MaskRecord>& records, const std::string& prefix) {
  for (size_t i = 0; i < records.size(); ++i) records[i].maskFile = prefix + std::to_string(i) + ".png";
}

std::string outputPathUnder(const std::string& outDir, const std::string& name) {
  const fs::path relative(name);
  const fs::path target = fs::path(outDir) / relative;
  bool plain = !name.empty() && relative.is_relative() && !relative.has_root_name();
  for (const auto& part : relative) plain = plain && !part.empty() && part != "." && part != "..";
  if (!plain) throw Error("cannot write '" + target.string() + "': outside the output folder '" + outDir + "'");
  // The folders on the way may exist already; one of them being a symlink (made by someone else)
  // must not carry the write elsewhere.
  std::error_code ec;
  std::error_code ecParent;
  const fs::path root = fs::weakly_canonical(fs::absolute(outDir), ec);
  const fs::path parent = fs::weakly_canonical(fs::absolute(target.parent_path()), ecParent);
  if (!ec && !ecParent) {
    const fs::path inside = parent.lexically_relative(root);
    if (inside.empty() || *inside.begin() == "..") {
      throw Error("cannot write '" + target.string() + "': outside the output folder '" + outDir +
                  "' (a folder on the way is a symlink leading out of it)");
    }
  }
  return target.string();
}

ImageOutputDir::ImageOutputDir(const std::string& outDir, const std::string& name)
    : final_(outputPathUnder(outDir, name)) {
  const fs::path target(final_);
  temp_ = (target.parent_path() / ("." + target.filename().string() + ".tmp-" + std::to_string(::getpid()))).string();
  std::error_code ec;
  fs::remove_all(temp_, ec);
  fs::create_directories(temp_, ec);
  if (ec) throw Error("cannot create output folder '" + final_ + "': " + ec.message());
}

void ImageOutputDir::fill(const std::function<void(ImageOutputDir&)>& write) {
  try {
    write(*this);
  } catch (const Error& e) {
    std::string message = e.what();
    for (size_t at = message.find(temp_); at != std::string::npos; at = message.find(temp_, at + final_.size())) {
      message.replace(at, temp_.size(), final_);
    }
    throw Error(message);
  }
}

ImageOutputDir::~ImageOutputDir() {
  if (!committed_) {
    std::error_code ec;
    fs::remove_all(temp_, ec);
  }
}

std::string ImageOutputDir::pathFor(const std::string& file) const { return outputPathUnder(temp_, file); }

void ImageOutputDir::writeMasks(const std::vector<MaskRecord>& records) {
  for (const auto& r : records) writePngAtomic(pathFor(r.maskFile), maskOf(r));
}

void ImageOutputDir::writePng(const std::string& file, const cv::Mat& image) { writePngAtomic(pathFor(file), image); }

void ImageOutputDir::writeText(const std::string& file, const std::string& text) {
  writeFileAtomic(pathFor(file), text);
}

bool ImageOutputDir::commit(ExistingResult existing) {
  std::error_code ec;
  // A file of the user's where the folder goes (a session's "save": "notes.txt") is not a result
  // to replace; a planted symlink is (it is never followed).
  if (fs::is_regular_file(fs::symlink_status(final_, ec))) {
    throw Error("cannot write output folder '" + final_ + "': a file is in its place (not replaced)");
  }
  const auto finished = [&] { return fs::exists(fs::path(final_) / "masks.json", ec); };
  // renameat2 never removes a folder another process may have just finished: NOREPLACE fails
  // when the name is taken, EXCHANGE swaps both folders in one step.
  for (int attempt = 0; attempt < 8; ++attempt) {
    if (::renameat2(AT_FDCWD, temp_.c_str(), AT_FDCWD, final_.c_str(), RENAME_NOREPLACE) == 0) {
      committed_ = true;
      return true;
    }
    if (errno == EINVAL || errno == ENOSYS) break;  // a file system without renameat2's flags
    if (errno != EEXIST) {
      throw Error("cannot write output folder '" + final_ + "': " + std::strerror(errno));
    }
    if (existing == ExistingResult::Keep && finished()) return false;
    if (::renameat2(AT_FDCWD, temp_.c_str(), AT_FDCWD, final_.c_str(), RENAME_EXCHANGE) == 0) {
      committed_ = true;
      fs::remove_all(temp_, ec);  // the previous result, now under our temporary name
      return true;
    }
    if (errno != ENOENT) throw Error("cannot write output folder '" + final_ + "': " + std::strerror(errno));
    // Removed between the two calls: try again.
  }
  if (existing == ExistingResult::Keep && finished()) return false;
  fs::remove_all(final_, ec);
  fs::rename(temp_, final_, ec);
  if (ec) throw Error("cannot write output folder '" + final_ + "': " + ec.message());
  committed_ = true;
  return true;
}

void removeInterruptedOutputs(const std::string& outDir, const std::vector<std::string>& names) {
  std::map<fs::path, std::set<std::string>> byParent;  // parent folder -> output folder names in it
  for (const auto& name : names) {
    fs::path target;
    try {
      target = outputPathUnder(outDir, name);
    } catch (const Error&) {
      continue;  // refused when its image is written
    }
    byParent[target.parent_path()].insert(target.filename().string());
  }
  for (const auto& [parent, folders] : byParent) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(parent, ec)) {
      // ImageOutputDir's temporary name: "." + folder + ".tmp-" + pid.
      const std::string name = entry.path().filename().string();
      const auto tmp = name.rfind(".tmp-");
      if (name[0] != '.' || tmp == std::string::npos || tmp + 5 == name.size() ||
          name.find_first_not_of("0123456789", tmp + 5) != std::string::npos ||
          folders.count(name.substr(1, tmp - 1)) == 0) {
        continue;
      }
      const long pid = std::strtol(name.c_str() + tmp + 5, nullptr, 10);
      if (pid == ::getpid() || (pid > 0 && (::kill(pid_t(pid), 0) == 0 || errno == EPERM))) continue;
      std::error_code ignored;
      fs::remove_all(entry.path(), ignored);
    }
  }
}

cv::Vec3b maskColour(size_t index) {
  if (index == 0) return {30, 144, 255};
  std::mt19937 rng(static_cast<uint32_t>(index) * 2654435761u);
  std::uniform_int_distribution<int> channel(40, 255);
  return {static_cast<uchar>(channel(rng)), static_cast<uchar>(channel(rng)), static_cast<uchar>(channel(rng))};
}

namespace {

void drawStar(cv::Mat& img, cv::Point2d centre, double radius, const cv::Scalar& fill) {
  std::vector<cv::Point> pts;
  for (int i = 0; i < 10; ++i) {
    const double r = (i % 2 == 0) ? radius : radius * 0.45;
    const double a = -CV_PI / 2 + i * CV_PI / 5;
    pts.emplace_back(cvRound(centre.x + r * std::cos(a)), cvRound(centre.y + r * std::sin(a)));
  }
  cv::fillPoly(img, std::vector<std::vector<cv::Point>>{pts}, fill, cv::LINE_AA);
  cv::polylines(img, std::vector<std::vector<cv::Point>>{pts}, true, cv::Scalar(255, 255, 255),
                std::max(1, cvRound(radius / 8)), cv::LINE_AA);
}

}  // namespace

void tintMasked(cv::Mat& canvas, const cv::Mat& mask, const cv::Scalar& colour, double alpha) {
  const cv::Rect box = cv::boundingRect(mask);
  if (box.empty()) return;
  cv::Mat region = canvas(box);
  cv::Mat blended;
  cv::addWeighted(region, 1.0 - alpha, cv::Mat(box.size(), CV_8UC3, colour), alpha, 0.0, blended);
  blended.copyTo(region, mask(box));
}

namespace {

// The outer contours of a mask in image coordinates, traced in its bounding box only: the same
// contours as over the whole image (OpenCV pads what it is given), without copying the image.
std::vector<std::vector<cv::Point>> outerContours(const cv::Mat& mask) {
  const cv::Rect box = cv::boundingRect(mask);
  std::vector<std::vector<cv::Point>> contours;
  if (box.empty()) return contours;
  cv::findContours(mask(box).clone(), contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE, box.tl());
  return contours;
}

}  // namespace

cv::Mat renderOverlay(const cv::Mat& rgb, const std::vector<const MaskRecord*>& masks, const std::string& title,
                      bool drawPrompts) {
  cv::Mat canvas = rgb.clone();
  const double scale = std::max(rgb.cols, rgb.rows) / 1000.0;
  const int thickness = std::max(1, cvRound(2 * scale));
  // Fill first, then outlines, so a later mask's fill never hides an earlier outline. The outlines
  // are traced during the fill: a mask held only as RLE is decoded once, and only one at a time.
  std::vector<std::vector<std::vector<cv::Point>>> outlines;
  for (size_t i = 0; i < masks.size(); ++i) {
    const cv::Vec3b c = maskColour(i);
    const cv::Mat mask = maskOf(*masks[i]);
    tintMasked(canvas, mask, cv::Scalar(c[0], c[1], c[2]), 0.6);
    outlines.push_back(outerContours(mask));
  }
  for (size_t i = 0; i < masks.size(); ++i) {
    const cv::Vec3b c = maskColour(i);
    cv::drawContours(canvas, outlines[i], -1, cv::Scalar(c[0] / 2, c[1] / 2, c[2] / 2), thickness, cv::LINE_AA);
  }
  if (drawPrompts) {
    for (const MaskRecord* m : masks) {
      if (m->box) {
        cv::rectangle(canvas, cv::Point2d(m->box->x0, m->box->y0), cv::Point2d(m->box->x1, m->box->y1),
                      cv::Scalar(0, 255, 0), thickness + 1, cv::LINE_AA);
      }
      for (size_t p = 0; p < m->pointCoords.size(); ++p) {
        const bool positive = p >= m->pointLabels.size() || m->pointLabels[p] == 1;
        drawStar(canvas, {m->pointCoords[p].x, m->pointCoords[p].y}, 14 * std::max(scale, 0.6),
                 positive ? cv::Scalar(0, 200, 0) : cv::Scalar(220, 0, 0));
      }
    }
  }
  if (!title.empty()) {
    const double fontScale = std::max(0.5, 0.8 * scale);
    int baseline = 0;
    const cv::Size text = cv::getTextSize(title, cv::FONT_HERSHEY_SIMPLEX, fontScale, thickness, &baseline);
    const int strip = text.height + baseline + 12;
    cv::Mat framed(canvas.rows + strip, canvas.cols, CV_8UC3, cv::Scalar(255, 255, 255));
    canvas.copyTo(framed(cv::Rect(0, strip, canvas.cols, canvas.rows)));
    cv::putText(framed, title, cv::Point(6, text.height + 6), cv::FONT_HERSHEY_SIMPLEX, fontScale,
                cv::Scalar(0, 0, 0), thickness, cv::LINE_AA);
    canvas = framed;
  }
  return canvas;
}

cv::Mat sideBySide(const std::vector<cv::Mat>& panels) {
  if (panels.empty()) return {};
  const int gap = 8;
  int width = 0;
  int height = 0;
  for (const auto& p : panels) {
    width += p.cols;
    height = std::max(height, p.rows);
  }
  width += gap * static_cast<int>(panels.size() - 1);
  cv::Mat out(height, width, CV_8UC3, cv::Scalar(255, 255, 255));
  int x = 0;
  for (const auto& p : panels) {
    p.copyTo(out(cv::Rect(x, 0, p.cols, p.rows)));
    x += p.cols + gap;
  }
  return out;
}

nlohmann::ordered_json imageResultJson(const std::string& imagePath, cv::Size size,
                                       const std::vector<MaskRecord>& records) {
  nlohmann::ordered_json j;
  j["image"] = imagePath;
  j["width"] = size.width;
  j["height"] = size.height;
  auto masks = nlohmann::ordered_json::array();
  for (const auto& r : records) masks.push_back(recordToJson(r));
  j["masks"] = std::move(masks);
  return j;
}

std::string amgMetadataCsv(const std::vector<MaskRecord>& records) {
  // Python's str() of the official values: ints as ints, floats in shortest round-trip form,
  // which is also how nlohmann::json prints a double.
  const auto num = [](double v) { return nlohmann::json(v).dump(); };
  std::string csv =
      "id,area,bbox_x0,bbox_y0,bbox_w,bbox_h,point_input_x,point_input_y,predicted_iou,stability_score,"
      "crop_box_x0,crop_box_y0,crop_box_w,crop_box_h";
  for (size_t i = 0; i < records.size(); ++i) {
    const MaskRecord& r = records[i];
    const PointXY p = r.pointCoords.empty() ? PointXY{} : r.pointCoords.front();
    csv += "\n" + std::to_string(i) + "," + std::to_string(r.area);
    for (int v : r.bbox) csv += "," + std::to_string(v);
    csv += "," + num(p.x) + "," + num(p.y) + "," + num(r.predictedIou) + "," + num(r.stabilityScore);
    for (int v : r.cropBox) csv += "," + std::to_string(v);
  }
  return csv;
}

cv::Mat renderAnnotations(const cv::Mat& rgb, const std::vector<MaskRecord>& records, uint32_t seed) {
  cv::Mat canvas = rgb.clone();
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> channel(0, 255);
  for (size_t i : largestFirst(records)) {
    const cv::Scalar colour(channel(rng), channel(rng), channel(rng));
    tintMasked(canvas, maskOf(records[i]), colour, 0.35);
  }
  return canvas;
}

cv::Mat labelMap(const std::vector<MaskRecord>& records, cv::Size size) {
  const bool wide = records.size() > 255;
  cv::Mat labels = cv::Mat::zeros(size, wide ? CV_16UC1 : CV_8UC1);
  for (size_t i : largestFirst(records)) labels.setTo(cv::Scalar(double(i + 1)), maskOf(records[i]));
  return labels;
}

ImageOutcome amgResult(const std::string& imagePath, const cv::Mat& rgb, std::vector<MaskRecord> records,
                       uint32_t seed) {
  nameMaskFiles(records);
  ImageOutcome outcome;
  outcome.doc = imageResultJson(imagePath, rgb.size(), records);
  outcome.write = [rgb, records = std::move(records), json = dumpJson(outcome.doc), seed](ImageOutputDir& out) {
    out.writeMasks(records);
    out.writeText("metadata.csv", amgMetadataCsv(records));
    out.writePng("overlay.png", renderAnnotations(rgb, records, seed));
    out.writePng("labels.png", labelMap(records, rgb.size()));
    out.writeText("masks.json", json);
  };
  return outcome;
}

void writeNpy(const std::string& path, const cv::Mat& floats) {
  CV_Assert(floats.type() == CV_32FC1);
  const cv::Mat m = floats.isContinuous() ? floats : floats.clone();
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(m.rows) + ", " +
                       std::to_string(m.cols) + "), }";
  // Version 1.0 layout: magic, version, 2-byte header length, header padded to a 64-byte boundary.
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  std::string bytes("\x93NUMPY\x01\x00", 8);
  bytes.push_back(static_cast<char>(header.size() & 0xff));
  bytes.push_back(static_cast<char>(header.size() >> 8));
  bytes += header;
  bytes.append(reinterpret_cast<const char*>(m.ptr<float>()), m.total() * sizeof(float));
  writeFileAtomic(path, bytes);
}

cv::Mat readNpy(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    throw Error("cannot read '" + path + "': " + (fs::exists(path, ec) ? "not a regular file" : "no such file"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read '" + path + "': no such file");
  char magic[10];
  in.read(magic, 10);
  if (!in || std::memcmp(magic, "\x93NUMPY", 6) != 0 || magic[6] != 1) {
    throw Error("cannot read '" + path + "': not a NumPy .npy file (version 1)");
  }
  const size_t headerLen = static_cast<unsigned char>(magic[8]) | (static_cast<unsigned char>(magic[9]) << 8);
  std::string header(headerLen, '\0');
  in.read(header.data(), static_cast<std::streamsize>(headerLen));
  if (!in) throw Error("cannot read '" + path + "': truncated .npy header");
  if (header.find("'<f4'") == std::string::npos || header.find("'fortran_order': False") == std::string::npos) {
    throw Error("cannot read '" + path + "': expected little-endian float32 in C order");
  }
  // 'shape': (H, W) or (1, H, W): decimal numbers only, checked before anything is allocated.
  const auto bad = [&] { return Error("cannot read '" + path + "': malformed .npy header field 'shape'"); };
  const auto key = header.find("'shape'");
  const auto open = header.find('(', key == std::string::npos ? 0 : key);
  const auto close = header.find(')', open == std::string::npos ? 0 : open);
  if (key == std::string::npos || open == std::string::npos || close == std::string::npos) throw bad();
  std::vector<int64_t> shape;
  std::stringstream dims(header.substr(open + 1, close - open - 1));
  std::string d;
  while (std::getline(dims, d, ',')) {
    const auto first = d.find_first_not_of(' ');
    if (first == std::string::npos) continue;
    const auto last = d.find_last_not_of(' ');
    if (last - first + 1 > 12 || d.substr(first, last - first + 1).find_first_not_of("0123456789") != std::string::npos) {
      throw bad();
    }
    shape.push_back(std::stoll(d.substr(first, last - first + 1)));
  }
  if (shape.size() == 3 && shape[0] == 1) shape.erase(shape.begin());
  if (shape.size() != 2) throw Error("cannot read '" + path + "': expected a 2-D array");
  checkImageSize(shape[1], shape[0], "'" + path + "'");
  const uint64_t bytes = uint64_t(shape[0]) * uint64_t(shape[1]) * sizeof(float);
  const uint64_t size = fs::file_size(path, ec);
  if (ec || size < 10 + headerLen + bytes) throw Error("cannot read '" + path + "': truncated data");
  cv::Mat m(static_cast<int>(shape[0]), static_cast<int>(shape[1]), CV_32FC1);
  in.read(reinterpret_cast<char*>(m.ptr<float>()), static_cast<std::streamsize>(m.total() * sizeof(float)));
  if (!in) throw Error("cannot read '" + path + "': truncated data");
  return m;
}

}  // namespace samcli
