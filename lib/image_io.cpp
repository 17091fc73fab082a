#include "samcli/image_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/imgproc.hpp>

#include "samcli/error.hpp"
#include "samcli/log.hpp"
#include "samcli/text_input.hpp"

namespace fs = std::filesystem;

namespace samcli {

namespace {

std::atomic<int64_t> g_maxPixels{kDefaultMaxPixels};
std::string g_howToRaise;  // set once at start-up, before any image is read

// cv::imread only says "empty"; these say why.
void checkReadableFile(const std::string& path) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (!fs::exists(status)) throw Error("cannot read '" + path + "': no such file");
  if (fs::is_directory(status)) throw Error("cannot read '" + path + "': is a directory");
  // A FIFO without a writer would block forever; a device may never end.
  if (!fs::is_regular_file(status)) throw Error("cannot read '" + path + "': not a regular file");
  if (fs::file_size(path, ec) == 0) throw Error("cannot read '" + path + "': file is empty");
}

uint32_t be16(const unsigned char* p) { return uint32_t(p[0]) << 8 | p[1]; }
uint32_t be32(const unsigned char* p) { return be16(p) << 16 | be16(p + 2); }
uint32_t le16(const unsigned char* p) { return uint32_t(p[1]) << 8 | p[0]; }
uint32_t le32(const unsigned char* p) { return le16(p + 2) << 16 | le16(p); }

// What the header of an image file says before any pixel is decoded.
struct Header {
  bool known = false;      // a format whose header is read here
  int64_t width = 0;
  int64_t height = 0;
  bool truncated = false;  // the data ends before the image does
};

std::string readAt(std::ifstream& in, std::streamoff offset, size_t n) {
  std::string bytes(n, '\0');
  in.clear();
  in.seekg(offset);
  in.read(bytes.data(), std::streamsize(n));
  bytes.resize(size_t(std::max<std::streamsize>(in.gcount(), 0)));
  return bytes;
}

const unsigned char* u(const std::string& s) { return reinterpret_cast<const unsigned char*>(s.data()); }

// JPEG: the frame header (SOFn) gives the size; the entropy-coded data after the first scan
// header (SOS) must reach the end-of-image marker, or libjpeg pads the missing part with grey and
// merely warns.
Header jpegHeader(std::ifstream& in) {
  Header h;
  h.known = true;
  std::streamoff pos = 2;
  for (int segments = 0; segments < 10000; ++segments) {
    std::string m = readAt(in, pos, 4);
    if (m.size() < 2 || u(m)[0] != 0xFF) return h.truncated = m.size() < 2, h;
    const unsigned marker = u(m)[1];
    if (marker == 0xFF) {  // fill byte
      ++pos;
      continue;
    }
    if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {  // no length
      pos += 2;
      continue;
    }
    if (m.size() < 4) return h.truncated = true, h;
    const uint32_t length = be16(u(m) + 2);
    const bool sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (sof) {
      const std::string f = readAt(in, pos + 4, 5);
      if (f.size() < 5) return h.truncated = true, h;
      h.height = be16(u(f) + 1);
      h.width = be16(u(f) + 3);
    }
    if (marker == 0xDA) {  // start of scan: look for the end-of-image marker after it
      in.clear();
      in.seekg(pos + 2 + length);
      char chunk[1 << 16];
      bool previousFF = false;
      while (in) {
        in.read(chunk, sizeof chunk);
        for (std::streamsize i = 0; i < in.gcount(); ++i) {
          const auto c = static_cast<unsigned char>(chunk[i]);
          if (previousFF && c == 0xD9) return h;
          previousFF = c == 0xFF;
        }
      }
      h.truncated = true;
      return h;
    }
    if (marker == 0xD9) return h;
    pos += 2 + length;
  }
  return h;
}

// TIFF: ImageWidth (256) and ImageLength (257) of the first directory, the page OpenCV decodes.
Header tiffHeader(std::ifstream& in, bool little) {
  Header h;
  const auto r16 = [&](const unsigned char* p) { return little ? le16(p) : be16(p); };
  const auto r32 = [&](const unsigned char* p) { return little ? le32(p) : be32(p); };
  const std::string start = readAt(in, 4, 4);
  if (start.size() < 4) return h;
  const uint32_t ifd = r32(u(start));
  const std::string count = readAt(in, ifd, 2);
  if (count.size() < 2) return h;
  const uint32_t n = std::min<uint32_t>(r16(u(count)), 4096);
  const std::string entries = readAt(in, std::streamoff(ifd) + 2, size_t(n) * 12);
  for (size_t i = 0; i + 12 <= entries.size(); i += 12) {
    const unsigned char* e = u(entries) + i;
    const uint32_t tag = r16(e);
    const uint32_t type = r16(e + 2);
    const int64_t value = type == 3 ? r16(e + 8) : type == 4 ? r32(e + 8) : -1;
    if (tag == 256 && value >= 0) h.width = value;
    if (tag == 257 && value >= 0) h.height = value;
  }
  h.known = h.width > 0 && h.height > 0;
  return h;
}

// Netpbm (P1..P6): width and height are the first two decimal numbers after the magic.
Header pnmHeader(const std::string& head) {
  Header h;
  std::vector<int64_t> numbers;
  for (size_t i = 2; i < head.size() && numbers.size() < 2;) {
    const char c = head[i];
    if (c == '#') {
      while (i < head.size() && head[i] != '\n') ++i;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      int64_t v = 0;
      while (i < head.size() && std::isdigit(static_cast<unsigned char>(head[i])) && v < (int64_t(1) << 40)) {
        v = v * 10 + (head[i++] - '0');
      }
      numbers.push_back(v);
    } else {
      ++i;
    }
  }
  if (numbers.size() == 2) {
    h.known = true;
    h.width = numbers[0];
    h.height = numbers[1];
  }
  return h;
}

// The formats a photo or mask comes in; others (EXR, HDR, JPEG 2000, ...) are checked after
// decoding, where OpenCV's own 2^30-pixel cap bounds them.
Header readHeader(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string head = readAt(in, 0, 64);
  const unsigned char* p = u(head);
  Header h;
  if (head.size() >= 24 && head.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0 && head.compare(12, 4, "IHDR") == 0) {
    h.known = true;
    h.width = be32(p + 16);
    h.height = be32(p + 20);
  } else if (head.size() >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) {
    h = jpegHeader(in);
  } else if (head.size() >= 26 && head.compare(0, 2, "BM") == 0) {
    h.known = true;
    if (le32(p + 14) == 12) {  // BITMAPCOREHEADER
      h.width = le16(p + 18);
      h.height = le16(p + 20);
    } else {
      h.width = int32_t(le32(p + 18));
      h.height = std::abs(int64_t(int32_t(le32(p + 22))));  // negative: top-down rows
    }
  } else if (head.size() >= 30 && head.compare(0, 4, "RIFF") == 0 && head.compare(8, 4, "WEBP") == 0) {
    h.known = true;
    if (head.compare(12, 4, "VP8 ") == 0) {
      h.width = le16(p + 26) & 0x3fff;
      h.height = le16(p + 28) & 0x3fff;
    } else if (head.compare(12, 4, "VP8L") == 0) {
      const uint32_t bits = le32(p + 21);
      h.width = (bits & 0x3fff) + 1;
      h.height = ((bits >> 14) & 0x3fff) + 1;
    } else if (head.compare(12, 4, "VP8X") == 0) {
      h.width = int64_t(p[24] | p[25] << 8 | p[26] << 16) + 1;
      h.height = int64_t(p[27] | p[28] << 8 | p[29] << 16) + 1;
    } else {
      h.known = false;
    }
  } else if (head.size() >= 8 && (head.compare(0, 4, std::string("II*\0", 4)) == 0 ||
                                  head.compare(0, 4, std::string("MM\0*", 4)) == 0)) {
    h = tiffHeader(in, head[0] == 'I');
  } else if (head.size() >= 3 && head[0] == 'P' && head[1] >= '1' && head[1] <= '6') {
    h = pnmHeader(readAt(in, 0, 4096));
  }
  return h;
}

// The last non-empty line a decoder printed, for the error message: "libpng error: IDAT: CRC
// error" -> "IDAT: CRC error".
std::string decoderReason(const std::string& captured) {
  std::string last;
  size_t start = 0;
  while (start < captured.size()) {
    size_t end = captured.find('\n', start);
    if (end == std::string::npos) end = captured.size();
    std::string line = captured.substr(start, end - start);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    if (!line.empty()) last = line;
    start = end + 1;
  }
  for (const char* prefix : {"libpng error: ", "libpng warning: "}) {
    if (last.rfind(prefix, 0) == 0) last = last.substr(std::strlen(prefix));
  }
  if (last.size() > 160) last = last.substr(0, 157) + "...";
  return last;
}

cv::Mat imreadOrThrow(const std::string& path, int flags) {
  checkReadableFile(path);
  const Header header = readHeader(path);
  if (header.known) checkImageSize(header.width, header.height, "'" + path + "'");
  if (header.truncated) throw Error("cannot read '" + path + "': truncated image (the file ends before the image does)");
  static std::once_flag quietOpenCv;
  std::call_once(quietOpenCv, [] { cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT); });
  cv::Mat image;
  std::string failure;
  const std::string captured = Log::captureStderr([&] {
    try {
      image = cv::imread(path, flags);
    } catch (const cv::Exception& e) {
      failure = e.msg;
    }
  });
  if (failure.empty() && image.empty()) failure = decoderReason(captured);
  if (!failure.empty() || image.empty()) {
    throw Error("cannot read '" + path + "': not a supported image or corrupt" +
                (failure.empty() ? std::string() : " (" + failure + ")"));
  }
  if (captured.find("Premature end of JPEG file") != std::string::npos) {
    throw Error("cannot read '" + path + "': truncated image (the file ends before the image does)");
  }
  checkImageSize(image.cols, image.rows, "'" + path + "'");
  return image;
}

}  // namespace

void setMaxImagePixels(int64_t limit, std::string howToRaise) {
  g_maxPixels = limit;
  g_howToRaise = std::move(howToRaise);
}

int64_t maxImagePixels() { return g_maxPixels; }

void checkImageSize(int64_t width, int64_t height, const std::string& what) {
  if (width < 0 || height < 0) {
    throw Error(what + " has an invalid size " + std::to_string(width) + "x" + std::to_string(height));
  }
  const int64_t limit = g_maxPixels;
  // width * height may not fit in 64 bits.
  if (static_cast<__int128>(width) * height > limit) {
    throw Error(what + " is " + std::to_string(width) + "x" + std::to_string(height) + " (" +
                formatNumber(double(width) * double(height)) + " pixels), more than the limit of " +
                std::to_string(limit) + " pixels" + (g_howToRaise.empty() ? "" : "; " + g_howToRaise));
  }
}

cv::Mat readImageRgb(const std::string& path) {
  // IMREAD_COLOR applies the EXIF orientation, replicates grey, drops alpha and scales 16-bit
  // samples to 8 bits: the same RGB view of the file that PIL's convert("RGB") gives SAM.
  const cv::Mat bgr = imreadOrThrow(path, cv::IMREAD_COLOR);
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return rgb;
}

cv::Mat readMask(const std::string& path) {
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
  const cv::Mat labels = imreadOrThrow(path, cv::IMREAD_UNCHANGED);
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
