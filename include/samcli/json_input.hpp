#pragma once
// Every JSON document samcli reads (prompt files, COCO files, model manifests, --point-grids,
// masks.json of earlier runs, eval baselines, embedding-cache headers) is parsed here, so that one
// set of limits and one message style cover all of them:
//   - nesting deeper than kMaxJsonDepth levels is refused before it is built (deeply nested input
//     would otherwise exhaust the stack in recursive copies, comparisons and dumps);
//   - files larger than kMaxTextFileBytes (text_input.hpp) are refused without reading them;
//   - syntax errors read "<where>: malformed JSON at line L, column C: <what>", never nlohmann's
//     exception text;
//   - typed fields are read with messages naming the source, the record and the field.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "samcli/error.hpp"

namespace samcli {

constexpr int kMaxJsonDepth = 64;

// Parses `text`. `where` names the source in messages (e.g. "'gt.json'"); `firstLine` is the line
// number of the text's first line in its file (JSONL records). Throws Error.
nlohmann::json parseJson(const std::string& text, const std::string& where, std::size_t firstLine = 1);
nlohmann::ordered_json parseOrderedJson(const std::string& text, const std::string& where, std::size_t firstLine = 1);

// Reads a whole regular file (at most kMaxTextFileBytes) and parses it; messages name it as "'<path>'".
// Throws Error when the file is missing, a directory, not a regular file, too large or malformed.
nlohmann::json readJsonFile(const std::string& path);
nlohmann::ordered_json readOrderedJsonFile(const std::string& path);

// A value as it appears in messages: compact JSON, cut to about 60 characters, invalid UTF-8
// replaced. Never throws.
std::string jsonSnippet(const nlohmann::json& value);
std::string jsonSnippet(const nlohmann::ordered_json& value);

// Typed fields of a JSON object `record`, described as `where` ("'m/manifest.json'",
// "'gt.json' annotation id 7"). Each throws Error "<where>: field \"<key>\" is missing" or
// "<where>: field \"<key>\" must be <expected>, got <snippet>" (integers and numbers also when
// outside [lo, hi]).
template <class Json>
const Json& jsonField(const Json& record, const std::string& key, const std::string& where);
template <class Json>
int64_t jsonInteger(const Json& record, const std::string& key, const std::string& where, int64_t lo, int64_t hi);
template <class Json>
double jsonNumber(const Json& record, const std::string& key, const std::string& where, double lo, double hi);
template <class Json>
std::string jsonString(const Json& record, const std::string& key, const std::string& where);

// The error the typed readers throw, for checks they cannot express.
[[noreturn]] void throwFieldError(const std::string& where, const std::string& key, const std::string& message);

}  // namespace samcli
