#pragma once
// Bounded reads of untrusted text (lists of images, query sets, prompt files, JSON files) and the
// way numbers from such input are shown in messages. A line or file past its limit is an error
// naming the source and the line, never an unbounded allocation: `@/dev/zero` or
// `--queries-from /dev/zero` fail at once instead of filling memory.
#include <cstddef>
#include <istream>
#include <string>

#include "samcli/geometry.hpp"

namespace samcli {

constexpr std::size_t kMaxLineBytes = std::size_t(64) << 10;        // image lists, query sets
constexpr std::size_t kMaxRecordLineBytes = std::size_t(16) << 20;  // one JSONL/CSV prompt record
constexpr std::size_t kMaxLines = 10'000'000;                       // lines of a list or query file
constexpr std::size_t kMaxTextFileBytes = std::size_t(1) << 30;     // a whole prompt or JSON file

// Reads `in` line by line ('\n'-terminated; a final line without '\n' counts). `where` names the
// source in messages ("'list.txt'"). Throws Error "<where> line N is longer than ... KiB" or
// "<where> has more than ... lines".
class LineReader {
 public:
  LineReader(std::istream& in, std::string where, std::size_t maxLineBytes = kMaxLineBytes,
             std::size_t maxLines = kMaxLines);
  // The next line without its '\n' (a trailing '\r' is kept); false at the end of the input.
  bool next(std::string& line);
  // 1-based number of the line last returned.
  std::size_t lineNumber() const { return number_; }

 private:
  std::istream& in_;
  std::string where_;
  std::size_t maxLineBytes_;
  std::size_t maxLines_;
  std::size_t number_ = 0;
};

// The whole of `in`, at most `maxBytes` (else Error "<where> is larger than ... MiB: not read").
std::string readBounded(std::istream& in, const std::string& where, std::size_t maxBytes = kMaxTextFileBytes);

// The whole of a regular file. Throws Error "cannot read '<path>': no such file" / "is a directory"
// / "not a regular file" / "<strerror>", or the size error of readBounded.
std::string readTextFile(const std::string& path, std::size_t maxBytes = kMaxTextFileBytes);

// A number from user input as messages print it: at most 6 significant digits, "1e+308" rather
// than 309 digits, "nan"/"inf" as such.
std::string formatNumber(double v);

// A box as messages and labels print it: "x0,y0,x1,y1", each number as formatNumber prints it.
std::string formatBox(const BoxXyxy& box);

// A byte count as "64 KiB", "16 MiB".
std::string formatBytes(std::size_t bytes);

}  // namespace samcli
