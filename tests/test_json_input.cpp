// The one JSON reader: depth and size bounds, messages with file, line and column, typed fields.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "samcli/error.hpp"
#include "samcli/json_input.hpp"
#include "support/temp_dir.hpp"
#include "support/message_of.hpp"

using namespace samcli;
using samcli::test::TempDir;

namespace {


std::string nested(int levels) { return std::string(size_t(levels), '[') + std::string(size_t(levels), ']'); }

}  // namespace

TEST_CASE("parseJson bounds the nesting depth instead of overflowing the stack", "[json_input]") {
  CHECK(parseJson(nested(kMaxJsonDepth), "'a.json'").is_array());
  CHECK(test::messageOf<Error>([] { (void)parseJson(nested(kMaxJsonDepth + 1), "'a.json'"); }) ==
        "'a.json': malformed JSON at line 1, column 65: nested deeper than 64 levels");
  // 100,000 levels crashed every reader (SIGSEGV); objects count as levels too.
  CHECK(test::messageOf<Error>([] { (void)parseOrderedJson(std::string(100000, '['), "'b.json'"); }) ==
        "'b.json': malformed JSON at line 1, column 65: nested deeper than 64 levels");
  std::string objects;
  for (int i = 0; i < 100000; ++i) objects += "{\"a\":";
  CHECK(test::messageOf<Error>([&] { (void)parseJson("\n" + objects, "'c.json'", 5); }) ==
        "'c.json': malformed JSON at line 6, column 321: nested deeper than 64 levels");
  // Brackets inside strings are not nesting.
  CHECK(parseJson("[\"" + std::string(1000, '[') + "\"]", "'d.json'").size() == 1);
}

TEST_CASE("parseJson reports syntax errors by line and column, never nlohmann's text", "[json_input]") {
  CHECK(test::messageOf<Error>([] { (void)parseJson("[1,\n 2,, 3]", "'a.json'"); }) ==
        "'a.json': malformed JSON at line 2, column 4: unexpected ','; expected '[', '{', or a literal");
  CHECK(test::messageOf<Error>([] { (void)parseJson("", "'a.json'"); }) ==
        "'a.json': malformed JSON at line 1, column 1: unexpected end of input; expected '[', '{', or a literal");
  // A JSONL record: its line number in the file.
  CHECK(test::messageOf<Error>([] { (void)parseJson("{\"a\": tru}", "'p.jsonl'", 7); }) ==
        "'p.jsonl': malformed JSON at line 7, column 10: invalid literal; last read: '\"a\": tru}'");
  CHECK_THAT(test::messageOf<Error>([] { (void)parseJson("[\"\xc3\x28\"]", "'a.json'"); }),
             Catch::StartsWith("'a.json': malformed JSON at line 1, column 4: invalid string: ill-formed UTF-8"));
  CHECK_THAT(test::messageOf<Error>([] { (void)parseJson("[1] 2", "'a.json'"); }), !Catch::Contains("json.exception"));
}

TEST_CASE("parseJson places numbers out of range, NaN and a NUL byte", "[json_input]") {
  CHECK(test::messageOf<Error>([] { (void)parseJson("{\"points\": [[1,\n 1e309]]}", "'a.json'"); }) ==
        "'a.json': malformed JSON at line 2, column 2: the number 1e309 is out of range (beyond a double's 1.8e308)");
  const std::string huge = "[" + std::string(1000, '9') + "]";
  CHECK(test::messageOf<Error>([&] { (void)parseOrderedJson(huge, "standard input", 4); }) ==
        "standard input: malformed JSON at line 4, column 2: the number " + std::string(37, '9') +
            "... is out of range (beyond a double's 1.8e308)");
  CHECK_THAT(test::messageOf<Error>([] { (void)parseJson("[NaN]", "'a.json'"); }),
             Catch::StartsWith("'a.json': malformed JSON at line 1, column 2: invalid literal"));
  // nlohmann's reader stops at a NUL: what follows it must not pass unread.
  CHECK(test::messageOf<Error>([] { (void)parseJson(std::string("{}\0{\"x\"", 7), "'a.json'"); }) ==
        "'a.json': malformed JSON at line 1, column 3: a NUL byte (not text)");
}

TEST_CASE("readJsonFile refuses what it cannot read to the end", "[json_input]") {
  TempDir dir;
  CHECK(readJsonFile(dir.write("ok.json", R"({"a": [1, 2]})"))["a"][1] == 2);
  CHECK(readOrderedJsonFile(dir.write("order.json", R"({"b": 1, "a": 2})")).begin().key() == "b");
  CHECK(test::messageOf<Error>([&] { (void)readJsonFile(dir / "missing.json"); }) ==
        "cannot read '" + (dir / "missing.json") + "': no such file");
  CHECK(test::messageOf<Error>([&] { (void)readJsonFile(dir.path.string()); }) ==
        "cannot read '" + dir.path.string() + "': is a directory");
  // A FIFO without a writer would block forever.
  REQUIRE(::mkfifo((dir / "fifo.json").c_str(), 0600) == 0);
  CHECK(test::messageOf<Error>([&] { (void)readJsonFile(dir / "fifo.json"); }) ==
        "cannot read '" + (dir / "fifo.json") + "': not a regular file");
  CHECK(test::messageOf<Error>([&] { (void)readJsonFile(dir.write("deep.json", nested(500))); }) ==
        "'" + (dir / "deep.json") + "': malformed JSON at line 1, column 65: nested deeper than 64 levels");
}

TEST_CASE("typed fields name the source, the record and the field", "[json_input]") {
  const nlohmann::json j = nlohmann::json::parse(
      R"({"n": 3, "f": 2.5, "whole": 4.0, "s": "x", "neg": -1, "big": 1e300, "huge": 18446744073709551615})");
  const std::string w = "'m.json' images[2]";
  CHECK(jsonInteger(j, "n", w, 0, 10) == 3);
  CHECK(jsonInteger(j, "whole", w, 0, 10) == 4);
  CHECK(jsonNumber(j, "f", w, 0, 10) == 2.5);
  CHECK(jsonString(j, "s", w) == "x");
  CHECK(test::messageOf<Error>([&] { jsonInteger(j, "missing", w, 0, 10); }) == "'m.json' images[2]: field \"missing\" is missing");
  CHECK(test::messageOf<Error>([&] { jsonInteger(j, "f", w, 0, 10); }) ==
        "'m.json' images[2]: field \"f\" must be an integer in [0, 10], got 2.5");
  CHECK(test::messageOf<Error>([&] { jsonInteger(j, "neg", w, 0, 10); }) ==
        "'m.json' images[2]: field \"neg\" must be an integer in [0, 10], got -1");
  CHECK(test::messageOf<Error>([&] { jsonInteger(j, "big", w, 0, INT64_MAX); }) ==
        "'m.json' images[2]: field \"big\" must be an integer in [0, 9223372036854775807], got 1e+300");
  CHECK(test::messageOf<Error>([&] { jsonInteger(j, "huge", w, INT64_MIN, INT64_MAX); }) ==
        "'m.json' images[2]: field \"huge\" must be an integer, got 18446744073709551615");
  CHECK(test::messageOf<Error>([&] { jsonNumber(j, "s", w, 0, 1); }) == "'m.json' images[2]: field \"s\" must be a number in [0, 1], got \"x\"");
  CHECK(test::messageOf<Error>([&] { jsonString(j, "n", w); }) == "'m.json' images[2]: field \"n\" must be a string, got 3");
  CHECK(test::messageOf<Error>([&] { jsonString(nlohmann::json::array(), "n", w); }) == "'m.json' images[2] is not a JSON object (got [])");
}

TEST_CASE("jsonSnippet is short and survives bytes that are not UTF-8", "[json_input]") {
  CHECK(jsonSnippet(nlohmann::json("\xff" "a")) == "\"\xEF\xBF\xBD" "a\"");
  CHECK(jsonSnippet(nlohmann::json(std::string(500, 'x'))).size() == 60);
}
