#include "samcli/image_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
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

namespace {

// Writes all of `bytes` to fd (short writes and EINTR retried). Returns 0 or the failing errno.
int writeAll(int fd, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    done += size_t(n);
  }
  return 0;
}

// Where a chain of symlinks ends (that file need not exist yet); relative targets resolve against
// the folder of their link, as the kernel does.
fs::path followLinks(const std::string& path) {
  fs::path p(path);
  for (int hops = 0;; ++hops) {
    std::error_code ec;
    if (!fs::is_symlink(fs::symlink_status(p, ec))) return p;
    if (hops == 40) throw Error("cannot write '" + path + "': too many levels of symbolic links");
    const fs::path target = fs::read_symlink(p, ec);
    if (ec) throw Error("cannot write '" + path + "': " + ec.message());
    p = target.is_absolute() ? target : p.parent_path() / target;
  }
}

}  // namespace

void writeFileAtomic(const std::string& path, const std::string& bytes) {
  const fs::path target(path);
  std::error_code ec;
  if (target.has_parent_path()) {
    fs::create_directories(target.parent_path(), ec);
    if (ec) throw Error("cannot write '" + path + "': " + ec.message());
  }
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) throw Error("cannot write '" + path + "': " + std::strerror(errno));
  int err = writeAll(fd, bytes);
  // close() is where some file systems (NFS, quotas) report a full disk.
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err == 0) {
    fs::rename(tmp, target, ec);
    if (!ec) return;
  }
  std::error_code ignored;
  fs::remove(tmp, ignored);
  throw Error("cannot write '" + path + "': " + (err != 0 ? std::string(std::strerror(err)) : ec.message()));
}

void writeOutputFile(const std::string& path, const std::string& bytes) {
  if (path == "-") return writeStdout(bytes);
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    if (S_ISDIR(st.st_mode)) throw Error("cannot write '" + path + "': is a directory");
    // A device, FIFO, pipe or socket: replacing it (a rename over /dev/null) is never what was meant.
    // Opened by the name given, so /dev/fd/N reaches a pipe whose link target ("pipe:[..]") is no path.
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) throw Error("cannot write '" + path + "': " + std::strerror(errno));
    int err = writeAll(fd, bytes);
    if (::close(fd) != 0 && err == 0) err = errno;
    if (err != 0) throw Error("cannot write '" + path + "': " + std::strerror(err));
    return;
  }
  // A regular or new file, through any symlinks: atomically, beside the file the links lead to, so
  // the links stay links.
  writeFileAtomic(followLinks(path).string(), bytes);
}

void writeStdout(const std::string& bytes) {
  std::cout.flush();  // anything already in the stream goes first
  const int err = writeAll(STDOUT_FILENO, bytes);
  if (err == EPIPE) throw BrokenPipe("standard output was closed by its reader");
  if (err != 0) throw Error("cannot write to standard output: " + std::string(std::strerror(err)));
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
