// Bounded line and file reads, and numbers in messages.
#include <sstream>

#include <catch2/catch.hpp>

#include "samcli/error.hpp"
#include "samcli/text_input.hpp"
#include "support/temp_dir.hpp"

using namespace samcli;

TEST_CASE("LineReader returns lines and numbers them", "[text_input]") {
  std::istringstream in("a\n\nlast without newline");
  LineReader lines(in, "'l.txt'");
  std::string line;
  REQUIRE(lines.next(line));
  CHECK(line == "a");
  REQUIRE(lines.next(line));
  CHECK(line.empty());
  REQUIRE(lines.next(line));
  CHECK(line == "last without newline");
  CHECK(lines.lineNumber() == 3);
  CHECK_FALSE(lines.next(line));
}

TEST_CASE("LineReader bounds line length and line count", "[text_input]") {
  // What @/dev/zero or --queries-from /dev/zero would feed: no newline, ever.
  std::istringstream zeros("ok\n" + std::string(kMaxLineBytes + 1, '\0'));
  LineReader lines(zeros, "input list '/dev/zero'");
  std::string line;
  REQUIRE(lines.next(line));
  CHECK_THROWS_WITH(lines.next(line), "input list '/dev/zero' line 2 is longer than 64 KiB");
  std::istringstream exact(std::string(kMaxLineBytes, 'x'));
  LineReader fits(exact, "x");
  CHECK(fits.next(line));
  std::istringstream many("1\n2\n3\n");
  LineReader few(many, "'n.txt'", 10, 2);
  CHECK(few.next(line));
  CHECK(few.next(line));
  CHECK_THROWS_WITH(few.next(line), "'n.txt' has more than 2 lines");
}

TEST_CASE("readBounded and readTextFile stop at their limit", "[text_input]") {
  std::istringstream in(std::string(100, 'a'));
  CHECK_THROWS_WITH(readBounded(in, "'big.json'", 99), "'big.json' is larger than 99 bytes: not read");
  samcli::test::TempDir dir;
  const std::string path = dir.write("t.txt", "hello");
  CHECK(readTextFile(path) == "hello");
  CHECK_THROWS_WITH(readTextFile(path, 4), "'" + path + "' is larger than 4 bytes: not read");
  CHECK_THROWS_WITH(readTextFile("/dev/zero"), "cannot read '/dev/zero': not a regular file");
}

TEST_CASE("formatNumber prints user numbers readably", "[text_input]") {
  CHECK(formatNumber(420) == "420");
  CHECK(formatNumber(12.5) == "12.5");
  CHECK(formatNumber(1e308) == "1e+308");  // was a 31-digit cut of 309 digits
  CHECK(formatNumber(-0.000123) == "-0.000123");
  CHECK(formatBytes(64 << 10) == "64 KiB");
  CHECK(formatBytes(16 << 20) == "16 MiB");
}
