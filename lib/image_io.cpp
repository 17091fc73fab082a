#include "samcli/image_io.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "samcli/error.hpp"

namespace fs = std::filesystem;

namespace samcli {

namespace {

// cv::imread only says "empty"; these say why.
void checkReadableFile(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error("cannot read '" + path + "': no such file");
  if (fs::is_directory(path, ec)) throw Error("cannot read '" + path + "': is a directory");
  if (fs::file_size(path, ec) == 0) throw Error("cannot read '" + path + "': file is empty");
}

cv::Mat imreadOrThrow(const std::string& path, int flags) {
  cv::Mat image;
  try {
    image = cv::imread(path, flags);
  } catch (const cv::Exception& e) {
    throw Error("cannot read '" + path + "': " + e.msg);
  }
  if (image.empty()) throw Error("cannot read '" + path + "': not a supported image or corrupt");
  return image;
}

}  // namespace

cv::Mat readImageRgb(const std::string& path) {
  checkReadableFile(path);
  // IMREAD_COLOR applies the EXIF orientation, replicates grey, drops alpha and scales 16-bit
  // samples to 8 bits: the same RGB view of the file that PIL's convert("RGB") gives SAM.
  const cv::Mat bgr = imreadOrThrow(path, cv::IMREAD_COLOR);
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return rgb;
}

cv::Mat readMask(const std::string& path) {
  checkReadableFile(path);
  // IMREAD_UNCHANGED keeps 16-bit samples and every channel: a grey conversion would weigh colours
  // and could round a faint non-zero label to 0.
  const cv::Mat image = imreadOrThrow(path, cv::IMREAD_UNCHANGED);
  std::vector<cv::Mat> channels;
  cv::split(image, channels);
  if (channels.size() == 2 || channels.size() == 4) channels.pop_back();  // alpha
  cv::Mat mask = cv::Mat::zeros(image.size(), CV_8UC1);
  for (const cv::Mat& c : channels) mask |= c != 0;
  return mask;
}

cv::Mat readLabelMap(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error("cannot read '" + path + "': no such file");
  const cv::Mat labels = cv::imread(path, cv::IMREAD_UNCHANGED);
  if (labels.empty()) throw Error("cannot read '" + path + "': not a supported image or corrupt");
  if (labels.channels() != 1 || (labels.depth() != CV_8U && labels.depth() != CV_16U)) {
    throw Error("'" + path + "' is not a label map (expected one 8- or 16-bit channel)");
  }
  return labels;
}

void writeFileAtomic(const std::string& path, const std::string& bytes) {
  const fs::path target(path);
  std::error_code ec;
  if (target.has_parent_path()) {
    fs::create_directories(target.parent_path(), ec);
    if (ec) throw Error("cannot write '" + path + "': " + ec.message());
  }
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error("cannot write '" + path + "': " + std::strerror(errno));
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) {
      const std::string why = std::strerror(errno);
      fs::remove(tmp, ec);
      throw Error("cannot write '" + path + "': " + why);
    }
  }
  fs::rename(tmp, target, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw Error("cannot write '" + path + "': " + ec.message());
  }
}

void writePngAtomic(const std::string& path, const cv::Mat& image) {
  cv::Mat toEncode = image;
  if (image.type() == CV_8UC3) {
    cv::cvtColor(image, toEncode, cv::COLOR_RGB2BGR);
  } else if (image.type() != CV_8UC1 && image.type() != CV_16UC1) {
    throw Error("cannot write '" + path + "': unsupported image type for PNG");
  }
  std::vector<uchar> png;
  // Level 1: masks and overlays are written by the hundred; size barely differs from level 3.
  if (!cv::imencode(".png", toEncode, png, {cv::IMWRITE_PNG_COMPRESSION, 1})) {
    throw Error("cannot write '" + path + "': PNG encoding failed");
  }
  writeFileAtomic(path, std::string(png.begin(), png.end()));
}

}  // namespace samcli
