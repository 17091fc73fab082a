#include "samcli/text_input.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "samcli/error.hpp"

namespace fs = std::filesystem;

namespace samcli {

LineReader::LineReader(std::istream& in, std::string where, std::size_t maxLineBytes, std::size_t maxLines)
    : in_(in), where_(std::move(where)), maxLineBytes_(maxLineBytes), maxLines_(maxLines) {}

bool LineReader::next(std::string& line) {
  line.clear();
  std::streambuf* buf = in_.rdbuf();
  if (buf == nullptr || !in_.good()) return false;
  using Traits = std::char_traits<char>;
  Traits::int_type c = buf->sbumpc();
  if (Traits::eq_int_type(c, Traits::eof())) {
    in_.setstate(std::ios::eofbit);
    return false;
  }
  if (number_ == maxLines_) throw Error(where_ + " has more than " + std::to_string(maxLines_) + " lines");
  ++number_;
  while (!Traits::eq_int_type(c, Traits::eof()) && Traits::to_char_type(c) != '\n') {
    if (line.size() == maxLineBytes_) {
      throw Error(where_ + " line " + std::to_string(number_) + " is longer than " + formatBytes(maxLineBytes_));
    }
    line.push_back(Traits::to_char_type(c));
    c = buf->sbumpc();
  }
  if (Traits::eq_int_type(c, Traits::eof())) in_.setstate(std::ios::eofbit);
  return true;
}

std::string readBounded(std::istream& in, const std::string& where, std::size_t maxBytes) {
  std::string text;
  char chunk[1 << 16];
  while (in) {
    in.read(chunk, sizeof chunk);
    const auto got = static_cast<std::size_t>(in.gcount());
    if (text.size() + got > maxBytes) throw Error(where + " is larger than " + formatBytes(maxBytes) + ": not read");
    text.append(chunk, got);
  }
  if (in.bad()) throw Error("cannot read " + where + ": " + std::strerror(errno));
  return text;
}

std::string readTextFile(const std::string& path, std::size_t maxBytes) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (!fs::exists(status)) throw Error("cannot read '" + path + "': no such file");
  if (fs::is_directory(status)) throw Error("cannot read '" + path + "': is a directory");
  // A FIFO or device would block or never end.
  if (!fs::is_regular_file(status)) throw Error("cannot read '" + path + "': not a regular file");
  if (fs::file_size(path, ec) > maxBytes && !ec) {
    throw Error("'" + path + "' is larger than " + formatBytes(maxBytes) + ": not read");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read '" + path + "': " + std::strerror(errno));
  return readBounded(in, "'" + path + "'", maxBytes);
}

std::string formatNumber(double v) {
  std::ostringstream s;
  s.precision(6);
  s << v;
  return s.str();
}

std::string formatBox(const BoxXyxy& box) {
  return formatNumber(box.x0) + "," + formatNumber(box.y0) + "," + formatNumber(box.x1) + "," + formatNumber(box.y1);
}

std::string formatBytes(std::size_t bytes) {
  if (bytes >= (std::size_t(1) << 30) && bytes % (std::size_t(1) << 30) == 0) return std::to_string(bytes >> 30) + " GiB";
  if (bytes >= (std::size_t(1) << 20) && bytes % (std::size_t(1) << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= (std::size_t(1) << 10) && bytes % (std::size_t(1) << 10) == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

}  // namespace samcli
