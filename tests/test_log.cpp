// Diagnostics: one printable line per message, whatever bytes an input put in it, and warnings
// held back by the batch run until their image's turn.
#include <catch2/catch.hpp>

#include <iostream>
#include <string>
#include <vector>

#include "samcli/error.hpp"
#include "samcli/log.hpp"
#include "support/capture.hpp"

using namespace samcli;
using samcli::test::Capture;

TEST_CASE("log: messages escape control bytes and invalid UTF-8, keep valid UTF-8, and are cut", "[log]") {
  CHECK(Log::printable("cannot read 'a.png'") == "cannot read 'a.png'");
  CHECK(Log::printable(std::string("last read: '\x89PNG\r\n\x1a\n'")) == "last read: '\\x89PNG\\x0d\\n\\x1a\\n'");
  CHECK(Log::printable(std::string("save \"a\0b\"", 10)) == "save \"a\\x00b\"");
  CHECK(Log::printable("tab\there") == "tab\\there");
  CHECK(Log::printable("caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x90\x88") == "caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x90\x88");
  // A lone continuation byte, a cut sequence, an overlong form and a surrogate are bytes, not text.
  CHECK(Log::printable("\x80 \xc3 \xe0\x80\x80 \xed\xa0\x80") == "\\x80 \\xc3 \\xe0\\x80\\x80 \\xed\\xa0\\x80");
  CHECK(Log::printable("\x7f") == "\\x7f");
  const std::string huge = "cannot read '" + std::string(10 * 1000 * 1000, 'x') + "'";
  const std::string line = Log::printable(huge);
  CHECK(line.size() < 1100);
  CHECK(line.rfind("cannot read 'xxx", 0) == 0);
  CHECK(line.find("... (" + std::to_string(huge.size() - 1000) + " more bytes)") != std::string::npos);
}

TEST_CASE("log: held warnings are kept in order instead of printed, also when the work throws", "[log]") {
  std::vector<std::string> held;
  Capture stderrText(std::cerr);
  Log::holdWarnings(held, [] {
    Log::warning("first");
    Log::info("progress is not held");
    Log::warning("second");
  });
  Log::warning("after");
  const std::string printed = stderrText.text();
  CHECK(held == std::vector<std::string>{"first", "second"});
  CHECK(printed.find("progress is not held") != std::string::npos);
  CHECK(printed.find("warning: after") != std::string::npos);
  CHECK(printed.find("first") == std::string::npos);

  std::vector<std::string> failed;
  CHECK_THROWS_AS(Log::holdWarnings(failed, [] {
                    Log::warning("before the failure");
                    throw Error("image failed");
                  }),
                  Error);
  CHECK(failed == std::vector<std::string>{"before the failure"});
  Log::warning("printed again");
  CHECK(stderrText.text().find("warning: printed again") != std::string::npos);
}
