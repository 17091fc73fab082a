#include "samcli/json_input.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>

#include "samcli/text_input.hpp"

namespace samcli {
namespace {

// Thrown from the parser callback: the parser unwinds, dropping what it built so far.
struct TooDeep {};

// Line and column (1-based) of the byte at `offset` of `text`.
std::pair<std::size_t, std::size_t> lineAndColumn(const std::string& text, std::size_t offset) {
  offset = std::min(offset, text.size());
  std::size_t line = 1;
  std::size_t lineStart = 0;
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      lineStart = i + 1;
    }
  }
  return {line, offset - lineStart + 1};
}

// Where the container opening level kMaxJsonDepth + 1 starts. Only called on text the parser
// accepted up to that point, so a plain bracket count outside strings finds it.
std::size_t offsetOfTooDeep(const std::string& text) {
  int depth = 0;
  bool inString = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (inString) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        inString = false;
      }
    } else if (c == '"') {
      inString = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) return i;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return text.size();
}

std::string at(const std::string& text, std::size_t offset, std::size_t firstLine) {
  const auto [line, column] = lineAndColumn(text, offset);
  return "line " + std::to_string(line + firstLine - 1) + ", column " + std::to_string(column);
}

// nlohmann's "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error while
// parsing value - invalid literal; last read: 'x'" -> "invalid literal; last read: 'x'".
std::string parseErrorDetail(const std::string& what) {
  std::string detail = what;
  if (const auto colon = detail.find(": "); colon != std::string::npos) detail = detail.substr(colon + 2);
  if (detail.rfind("[json.exception.", 0) == 0) detail = detail.substr(detail.find("] ") + 2);
  if (const auto dash = detail.find(" - "); detail.rfind("syntax error", 0) == 0 && dash != std::string::npos) {
    detail = detail.substr(dash + 3);
  }
  if (detail.size() > 120) detail = detail.substr(0, 117) + "...";
  return detail;
}

template <class Json>
Json parseBounded(const std::string& text, const std::string& where, std::size_t firstLine) {
  if (text.size() > kMaxTextFileBytes) throw Error(where + " is larger than " + formatBytes(kMaxTextFileBytes) + ": not read");
  const typename Json::parser_callback_t limitDepth = [](int depth, nlohmann::json::parse_event_t event, Json&) {
    const bool opens = event == nlohmann::json::parse_event_t::object_start ||
                       event == nlohmann::json::parse_event_t::array_start;
    if (opens && depth >= kMaxJsonDepth) throw TooDeep{};
    return true;
  };
  Json parsed;
  try {
    parsed = Json::parse(text, limitDepth);
  } catch (const TooDeep&) {
    throw Error(where + ": malformed JSON at " + at(text, offsetOfTooDeep(text), firstLine) + ": nested deeper than " +
                std::to_string(kMaxJsonDepth) + " levels");
  } catch (const nlohmann::json::parse_error& e) {
    const std::size_t offset = e.byte > 0 ? e.byte - 1 : 0;
    throw Error(where + ": malformed JSON at " + at(text, offset, firstLine) + ": " + parseErrorDetail(e.what()));
  } catch (const nlohmann::json::out_of_range& e) {
    // "number overflow parsing '1e309'" (406) carries no position: the number's first spelling gives it.
    const std::string what = e.what();
    const auto open = what.find("parsing '");
    const auto close = what.rfind('\'');
    if (e.id != 406 || open == std::string::npos || close <= open + 9) throw Error(where + ": malformed JSON: " + parseErrorDetail(what));
    const std::string number = what.substr(open + 9, close - open - 9);
    const std::string shown = number.size() > 40 ? number.substr(0, 37) + "..." : number;
    throw Error(where + ": malformed JSON at " + at(text, text.find(number), firstLine) + ": the number " + shown +
                " is out of range (beyond a double's 1.8e308)");
  } catch (const nlohmann::json::exception& e) {
    throw Error(where + ": malformed JSON: " + parseErrorDetail(e.what()));
  }
  // nlohmann's reader takes a NUL byte for the end of the input: what followed one went unread.
  if (const auto nul = text.find('\0'); nul != std::string::npos) {
    throw Error(where + ": malformed JSON at " + at(text, nul, firstLine) + ": a NUL byte (not text)");
  }
  return parsed;
}

template <class Json>
std::string snippet(const Json& value) {
  std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

template <class Json>
[[noreturn]] void wrongType(const Json& value, const std::string& key, const std::string& where,
                            const std::string& expected) {
  throwFieldError(where, key, "must be " + expected + ", got " + snippet(value));
}

}  // namespace

nlohmann::json parseJson(const std::string& text, const std::string& where, std::size_t firstLine) {
  return parseBounded<nlohmann::json>(text, where, firstLine);
}

nlohmann::ordered_json parseOrderedJson(const std::string& text, const std::string& where, std::size_t firstLine) {
  return parseBounded<nlohmann::ordered_json>(text, where, firstLine);
}

nlohmann::json readJsonFile(const std::string& path) {
  return parseJson(readTextFile(path), "'" + path + "'");
}

nlohmann::ordered_json readOrderedJsonFile(const std::string& path) {
  return parseOrderedJson(readTextFile(path), "'" + path + "'");
}

std::string jsonSnippet(const nlohmann::json& value) { return snippet(value); }
std::string jsonSnippet(const nlohmann::ordered_json& value) { return snippet(value); }

void throwFieldError(const std::string& where, const std::string& key, const std::string& message) {
  throw Error(where + ": field \"" + key + "\" " + message);
}

template <class Json>
const Json& jsonField(const Json& record, const std::string& key, const std::string& where) {
  if (!record.is_object()) throw Error(where + " is not a JSON object (got " + snippet(record) + ")");
  const auto it = record.find(key);
  if (it == record.end()) throwFieldError(where, key, "is missing");
  return *it;
}

template <class Json>
int64_t jsonInteger(const Json& record, const std::string& key, const std::string& where, int64_t lo, int64_t hi) {
  const Json& value = jsonField(record, key, where);
  const std::string expected = lo == INT64_MIN && hi == INT64_MAX
                                   ? std::string("an integer")
                                   : "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  // 3.0 is accepted as 3: JSON writers differ in how they print whole numbers.
  if (!value.is_number()) wrongType(value, key, where, expected);
  const double d = value.template get<double>();
  if (value.is_number_float() && (d != std::floor(d) || !std::isfinite(d))) wrongType(value, key, where, expected);
  int64_t v = 0;
  if (value.is_number_unsigned()) {
    const uint64_t u = value.template get<uint64_t>();
    if (u > uint64_t(std::numeric_limits<int64_t>::max())) wrongType(value, key, where, expected);
    v = int64_t(u);
  } else if (value.is_number_integer()) {
    v = value.template get<int64_t>();
  } else {
    if (d < -9.2e18 || d > 9.2e18) wrongType(value, key, where, expected);
    v = int64_t(d);
  }
  if (v < lo || v > hi) wrongType(value, key, where, expected);
  return v;
}

template <class Json>
double jsonNumber(const Json& record, const std::string& key, const std::string& where, double lo, double hi) {
  const Json& value = jsonField(record, key, where);
  const std::string expected = "a number in [" + formatNumber(lo) + ", " + formatNumber(hi) + "]";
  if (!value.is_number()) wrongType(value, key, where, expected);
  const double v = value.template get<double>();
  if (!(v >= lo && v <= hi)) wrongType(value, key, where, expected);
  return v;
}

template <class Json>
std::string jsonString(const Json& record, const std::string& key, const std::string& where) {
  const Json& value = jsonField(record, key, where);
  if (!value.is_string()) wrongType(value, key, where, "a string");
  return value.template get<std::string>();
}

template const nlohmann::json& jsonField(const nlohmann::json&, const std::string&, const std::string&);
template const nlohmann::ordered_json& jsonField(const nlohmann::ordered_json&, const std::string&,
                                                 const std::string&);
template int64_t jsonInteger(const nlohmann::json&, const std::string&, const std::string&, int64_t, int64_t);
template int64_t jsonInteger(const nlohmann::ordered_json&, const std::string&, const std::string&, int64_t, int64_t);
template double jsonNumber(const nlohmann::json&, const std::string&, const std::string&, double, double);
template double jsonNumber(const nlohmann::ordered_json&, const std::string&, const std::string&, double, double);
template std::string jsonString(const nlohmann::json&, const std::string&, const std::string&);
template std::string jsonString(const nlohmann::ordered_json&, const std::string&, const std::string&);

}  // namespace samcli
