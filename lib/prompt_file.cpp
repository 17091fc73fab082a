#include "samcli/prompt_file.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "samcli/error.hpp"
#include "samcli/json_input.hpp"
#include "samcli/text_input.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace samcli {
namespace {

const char* kFields = "image, points, labels, boxes, text, query_images, query_boxes";

bool isField(const std::string& name) {
  return name == "image" || name == "points" || name == "labels" || name == "boxes" || name == "text" ||
         name == "query_images" || name == "query_boxes";
}

std::string lowercase(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

// A malformed or over-long prompt file is a usage error (exit 2), as every other problem of the file.
template <class Read>
auto asUsageError(Read read) -> decltype(read()) {
  try {
    return read();
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
}

// What an entry is built from, before validation; `where` names it in messages.
class EntryBuilder {
 public:
  explicit EntryBuilder(std::string where) { entry_.where = std::move(where); }

  [[noreturn]] void fail(const std::string& message) const { throwPromptError(entry_, message); }

  void setImage(const std::string& image) {
    if (trim(image).empty()) fail("\"image\" is empty");
    image_ = image;
  }
  void addPoint(double x, double y) { entry_.points.push_back({x, y}); }
  void addLabel(double label) {
    if (label != 0.0 && label != 1.0) {
      fail("label " + number(label) + " is neither 1 (foreground) nor 0 (background)");
    }
    entry_.labels.push_back(static_cast<int>(label));
    labelsGiven_ = true;
  }
  void addBox(double x0, double y0, double x1, double y1) { entry_.boxes.push_back(normalizeBox({x0, y0, x1, y1})); }
  void addText(const std::string& text) { entry_.texts.push_back(text); }
  void addQueryImage(const std::string& path) {
    if (trim(path).empty()) fail("\"query_images\" holds an empty path");
    queryImages_.push_back(path);
  }
  void addQueryBox(double x0, double y0, double x1, double y1) {
    entry_.queryBoxes.push_back(normalizeBox({x0, y0, x1, y1}));
  }

  void checkFinite(double v, const char* field) const {
    if (!std::isfinite(v)) fail(std::string("\"") + field + "\" holds a value that is not a finite number");
  }

  // The finished entry: image resolved against `folder`, labels defaulted and counted.
  PromptEntry finish(const fs::path& folder) {
    if (image_.empty()) fail(std::string("no \"image\" (fields: ") + kFields + ")");
    const fs::path image(image_);
    if (image.filename().empty() || image.filename() == "." || image.filename() == "..") {
      fail("\"image\" '" + image_ + "' names a folder, not an image file");
    }
    entry_.image = (image.is_absolute() ? image : folder / image).lexically_normal().string();
    for (const auto& q : queryImages_) {
      const fs::path example(q);
      entry_.queryImages.push_back((example.is_absolute() ? example : folder / example).lexically_normal().string());
    }
    if (!labelsGiven_) {
      entry_.labels.assign(entry_.points.size(), 1);
    } else if (entry_.labels.size() != entry_.points.size()) {
      fail(std::to_string(entry_.labels.size()) + " label(s) for " + std::to_string(entry_.points.size()) +
           " point(s): give one label per point, or none (all foreground)");
    }
    return std::move(entry_);
  }

  static std::string number(double v) { return formatNumber(v); }

 private:
  PromptEntry entry_;
  std::string image_;
  std::vector<std::string> queryImages_;  // as written, resolved by finish()
  bool labelsGiven_ = false;
};

// ---- JSON and JSONL ------------------------------------------------------------------------------

double jsonNumber(const json& v, EntryBuilder& b, const char* field, const char* shape) {
  if (!v.is_number()) b.fail(std::string("\"") + field + "\" must be " + shape + ", got " + jsonSnippet(v));
  const double d = v.get<double>();
  b.checkFinite(d, field);
  return d;
}

// [[a, b, ...], ...] with `width` numbers per item.
std::vector<std::vector<double>> jsonTuples(const json& v, EntryBuilder& b, const char* field, size_t width,
                                            const char* shape) {
  const auto bad = [&] { b.fail(std::string("\"") + field + "\" must be " + shape + ", got " + jsonSnippet(v)); };
  if (!v.is_array()) bad();
  std::vector<std::vector<double>> tuples;
  for (const auto& item : v) {
    if (!item.is_array() || item.size() != width) bad();
    std::vector<double> values;
    for (const auto& x : item) values.push_back(jsonNumber(x, b, field, shape));
    tuples.push_back(std::move(values));
  }
  return tuples;
}

}  // namespace

PromptEntry promptEntryFromJson(const nlohmann::json& object, const std::string& where, const std::string& folder) {
  EntryBuilder b(where);
  if (!object.is_object()) b.fail("expected an object {\"image\": ..., ...}, got " + jsonSnippet(object));
  for (const auto& [key, value] : object.items()) {
    if (!isField(key)) b.fail("unknown field \"" + key + "\" (fields: " + kFields + ")");
    if (value.is_null()) continue;
    if (key == "image") {
      if (!value.is_string()) b.fail("\"image\" must be a path string, got " + jsonSnippet(value));
      b.setImage(value.get<std::string>());
    } else if (key == "points") {
      for (const auto& p : jsonTuples(value, b, "points", 2, "[[x, y], ...]")) b.addPoint(p[0], p[1]);
    } else if (key == "labels") {
      if (!value.is_array()) b.fail("\"labels\" must be [1, 0, ...], got " + jsonSnippet(value));
      for (const auto& l : value) b.addLabel(jsonNumber(l, b, "labels", "[1, 0, ...]"));
    } else if (key == "boxes") {
      for (const auto& x : jsonTuples(value, b, "boxes", 4, "[[x0, y0, x1, y1], ...]")) b.addBox(x[0], x[1], x[2], x[3]);
    } else if (key == "query_boxes") {
      for (const auto& x : jsonTuples(value, b, "query_boxes", 4, "[[x0, y0, x1, y1], ...]")) {
        b.addQueryBox(x[0], x[1], x[2], x[3]);
      }
    } else if (key == "query_images") {
      const bool strings = value.is_string() || (value.is_array() && std::all_of(value.begin(), value.end(), [](const json& t) {
                                                   return t.is_string();
                                                 }));
      if (!strings) b.fail("\"query_images\" must be a path or a list of paths, got " + jsonSnippet(value));
      if (value.is_string()) {
        b.addQueryImage(value.get<std::string>());
      } else {
        for (const auto& t : value) b.addQueryImage(t.get<std::string>());
      }
    } else if (value.is_string()) {  // text
      b.addText(value.get<std::string>());
    } else if (value.is_array() && std::all_of(value.begin(), value.end(), [](const json& t) { return t.is_string(); })) {
      for (const auto& t : value) b.addText(t.get<std::string>());
    } else {
      b.fail("\"text\" must be a string or a list of strings, got " + jsonSnippet(value));
    }
  }
  return b.finish(folder);
}

namespace {

std::vector<PromptEntry> parseJsonArray(std::istream& in, const std::string& name, const fs::path& folder) {
  const std::string where = "prompt file '" + name + "'";
  const json doc = asUsageError([&] { return parseJson(readBounded(in, where), where); });
  if (!doc.is_array()) {
    throw UsageError("prompt file '" + name + "': expected a list of entries [{\"image\": ..., ...}, ...]");
  }
  std::vector<PromptEntry> entries;
  for (size_t i = 0; i < doc.size(); ++i) {
    entries.push_back(promptEntryFromJson(doc[i], "prompt file '" + name + "' entry " + std::to_string(i + 1), folder));
  }
  return entries;
}

std::vector<PromptEntry> parseJsonl(std::istream& in, const std::string& name, const fs::path& folder) {
  std::vector<PromptEntry> entries;
  std::string line;
  LineReader lines(in, "prompt file '" + name + "'", kMaxRecordLineBytes);
  while (asUsageError([&] { return lines.next(line); })) {
    const size_t number = lines.lineNumber();
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (trim(line).empty()) continue;
    const std::string where = "prompt file '" + name + "' line " + std::to_string(number);
    const json object = asUsageError([&] { return parseJson(line, "prompt file '" + name + "'", number); });
    entries.push_back(promptEntryFromJson(object, where, folder));
  }
  return entries;
}

// ---- CSV -----------------------------------------------------------------------------------------

// One CSV record (RFC 4180 quoting, no line breaks inside quotes). Throws on a stray quote.
std::vector<std::string> splitCsvLine(const std::string& line, const std::string& where) {
  std::vector<std::string> cells(1);
  bool quoted = false;
  bool wasQuoted = false;  // the current cell had a quoted part: only spaces may follow it
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c != '"') {
        cells.back() += c;
      } else if (i + 1 < line.size() && line[i + 1] == '"') {
        cells.back() += '"';
        ++i;
      } else {
        quoted = false;
      }
    } else if (c == ',') {
      cells.emplace_back();
      wasQuoted = false;
    } else if (c == '"' && trim(cells.back()).empty() && !wasQuoted) {
      cells.back().clear();
      quoted = wasQuoted = true;
    } else if (c == '"' || (wasQuoted && c != ' ' && c != '\t')) {
      throw UsageError(where + ": stray '\"' in cell " + std::to_string(cells.size()) +
                       " (quote a whole cell: \"x,y;x,y\", with \"\" for a literal quote)");
    } else {
      cells.back() += c;
    }
  }
  if (quoted) throw UsageError(where + ": unterminated quoted cell (cells cannot span lines)");
  for (auto& cell : cells) cell = trim(cell);
  return cells;
}

// "a,b;c,d" -> {{a,b},{c,d}} with `width` numbers per item (empty items between ';' are errors).
std::vector<std::vector<double>> csvTuples(const std::string& cell, EntryBuilder& b, const char* field, size_t width,
                                           const char* shape) {
  const auto bad = [&] { b.fail(std::string("invalid ") + field + " '" + cell + "' (expected " + shape + ")"); };
  std::vector<std::vector<double>> tuples;
  std::stringstream items(cell);
  std::string item;
  while (std::getline(items, item, ';')) {
    std::vector<double> values;
    std::stringstream numbers(item);
    std::string text;
    while (std::getline(numbers, text, ',')) {
      size_t used = 0;
      double v = 0;
      try {
        v = std::stod(text, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0 || text.find_first_not_of(" \t", used) != std::string::npos || !std::isfinite(v)) bad();
      values.push_back(v);
    }
    if (values.size() != width || item.back() == ',') bad();
    tuples.push_back(std::move(values));
  }
  if (cell.back() == ';') bad();
  return tuples;
}

std::vector<PromptEntry> parseCsv(std::istream& in, const std::string& name, const fs::path& folder) {
  const std::string prefix = "prompt file '" + name + "'";
  std::vector<std::string> columns;
  std::vector<PromptEntry> entries;
  std::string line;
  LineReader lines(in, prefix, kMaxRecordLineBytes);
  while (asUsageError([&] { return lines.next(line); })) {
    const size_t number = lines.lineNumber();
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (number == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);  // UTF-8 BOM (spreadsheets)
    if (trim(line).empty()) continue;
    const std::string where = prefix + " line " + std::to_string(number);
    std::vector<std::string> cells = splitCsvLine(line, where);
    if (columns.empty()) {
      for (auto& cell : cells) {
        const std::string column = lowercase(cell);
        if (!isField(column)) {
          throw UsageError(where + ": unknown column '" + cell + "' in the header (columns: " + kFields + ")");
        }
        if (std::find(columns.begin(), columns.end(), column) != columns.end()) {
          throw UsageError(where + ": column '" + column + "' appears twice in the header");
        }
        columns.push_back(column);
      }
      if (std::find(columns.begin(), columns.end(), "image") == columns.end()) {
        throw UsageError(where + ": the header has no 'image' column (the first line names the columns: " + kFields +
                         ")");
      }
      continue;
    }
    EntryBuilder b(where);
    if (cells.size() > columns.size()) {
      b.fail(std::to_string(cells.size()) + " cells for " + std::to_string(columns.size()) +
             " columns (quote cells holding commas: \"x,y;x,y\")");
    }
    for (size_t i = 0; i < cells.size(); ++i) {
      const std::string& cell = cells[i];
      const std::string& column = columns[i];
      if (cell.empty()) continue;
      if (column == "image") {
        b.setImage(cell);
      } else if (column == "points") {
        for (const auto& p : csvTuples(cell, b, "points", 2, "\"x,y;x,y;...\"")) b.addPoint(p[0], p[1]);
      } else if (column == "labels") {
        for (const auto& l : csvTuples(cell, b, "labels", 1, "\"1;0;...\"")) b.addLabel(l[0]);
      } else if (column == "boxes") {
        for (const auto& x : csvTuples(cell, b, "boxes", 4, "\"x0,y0,x1,y1;...\"")) b.addBox(x[0], x[1], x[2], x[3]);
      } else if (column == "query_boxes") {
        for (const auto& x : csvTuples(cell, b, "query_boxes", 4, "\"x0,y0,x1,y1;...\"")) {
          b.addQueryBox(x[0], x[1], x[2], x[3]);
        }
      } else if (column == "query_images") {
        std::stringstream paths(cell);
        std::string path;
        while (std::getline(paths, path, ';')) b.addQueryImage(trim(path));
      } else {
        b.addText(cell);
      }
    }
    entries.push_back(b.finish(folder));
  }
  if (columns.empty()) throw UsageError(prefix + " is empty (expected a header: " + std::string(kFields) + ")");
  return entries;
}

// The key two spellings of one image share ("a.png", "./a.png", "/abs/dir/a.png").
std::string identity(const std::string& path) {
  std::error_code ec;
  const fs::path absolute = fs::absolute(path, ec);
  return (ec ? fs::path(path) : absolute).lexically_normal().string();
}

}  // namespace

void throwPromptError(const PromptEntry& entry, const std::string& message) {
  throw UsageError(entry.where + ": " + message);
}

PromptFormat PromptFile::formatOf(const std::string& path) {
  const std::string ext = lowercase(fs::path(path).extension().string());
  if (ext == ".json") return PromptFormat::Json;
  if (ext == ".jsonl") return PromptFormat::Jsonl;
  if (ext == ".csv") return PromptFormat::Csv;
  throw UsageError("prompt file '" + path + "': unknown format '" + ext +
                   "' (the extension chooses it: .json, .jsonl or .csv)");
}

PromptFile PromptFile::read(const std::string& path) {
  const PromptFormat format = formatOf(path);
  std::error_code ec;
  std::ifstream in(path);
  if (!in || fs::is_directory(path, ec)) throw UsageError("cannot read prompt file '" + path + "': no such file");
  return parse(in, format, path);
}

PromptFile PromptFile::parse(std::istream& in, PromptFormat format, const std::string& path) {
  PromptFile file;
  file.path_ = path;
  const fs::path folder = fs::path(path).parent_path();
  switch (format) {
    case PromptFormat::Json: file.entries_ = parseJsonArray(in, path, folder); break;
    case PromptFormat::Jsonl: file.entries_ = parseJsonl(in, path, folder); break;
    case PromptFormat::Csv: file.entries_ = parseCsv(in, path, folder); break;
  }
  if (file.entries_.empty()) throw UsageError("prompt file '" + path + "' has no entry");
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < file.entries_.size(); ++i) {
    const PromptEntry& entry = file.entries_[i];
    const auto [it, fresh] = seen.emplace(identity(entry.image), i);
    if (!fresh) {
      // "prompt file 'p.csv' line 3" -> "line 3"
      const std::string first = file.entries_[it->second].where.substr(("prompt file '" + path + "' ").size());
      throwPromptError(entry, "image '" + entry.image + "' is already listed (" + first +
                                  "): give all of an image's prompts in one entry");
    }
    file.byImage_.emplace(entry.image, i);
  }
  return file;
}

const PromptEntry* PromptFile::find(const std::string& imagePath) const {
  const auto it = byImage_.find(imagePath);
  return it == byImage_.end() ? nullptr : &entries_[it->second];
}

std::vector<InputImage> PromptFile::inputs() const {
  // The deepest folder holding every image, compared on absolute paths.
  std::vector<fs::path> absolute;
  for (const auto& entry : entries_) absolute.emplace_back(identity(entry.image));
  fs::path common = absolute.front().parent_path();
  for (const auto& path : absolute) {
    const fs::path folder = path.parent_path();
    fs::path shared;
    for (auto a = common.begin(), b = folder.begin(); a != common.end() && b != folder.end() && *a == *b; ++a, ++b) {
      shared /= *a;
    }
    common = shared;
  }
  std::vector<InputImage> inputs;
  for (size_t i = 0; i < entries_.size(); ++i) {
    inputs.push_back({entries_[i].image, outputNameFor(absolute[i].lexically_relative(common).generic_string())});
  }
  try {
    return sortInputs(std::move(inputs));
  } catch (const UsageError& e) {
    throw UsageError("prompt file '" + path_ + "': " + e.what());
  }
}

}  // namespace samcli
