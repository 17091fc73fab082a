#pragma once
// Per-image prompts for batch runs (--prompts FILE of sam-point, sam-box and text-sam): one entry
// per image with its clicks, boxes and text queries, so one process handles a whole dataset.
//
// Formats, chosen by the file's extension:
//   .json   a list of objects: [{"image": "a.jpg", "points": [[420, 310]], "labels": [1]}, ...]
//   .jsonl  one such object per line (blank lines skipped)
//   .csv    a header naming the columns (the fields below; any order, only image
//           required), then one row per image; lists inside a cell are ';'-separated:
//             image,points,labels,boxes,text
//             a.jpg,"420,310;500,200",1;0,,
//             b.jpg,,,"10,20,200,180;300,40,400,90",
//             c.jpg,,,,"dog, person"
//           Cells holding a comma are quoted ("..."; "" is a literal quote); an empty cell is an
//           absent field.
// Fields (any other key or column is an error, so a typo cannot silently drop a prompt):
//   image   the image path (required); relative paths are resolved against the prompt file's folder
//   points  clicks [[x, y], ...] in original-image pixels
//   labels  one per point, 1 = foreground, 0 = background (default: all 1)
//   boxes   [[x0, y0, x1, y1], ...] in pixels, any corner order
//   text    text queries for text-sam: a string, or a list of strings (each split on commas as --text)
//   query_images  example images for text-sam: a path or a list of paths (CSV: ';'-separated),
//                 relative to the prompt file's folder like image
//   query_boxes   example boxes for text-sam, cut from the image itself, as boxes
// An image may be listed only once (give all of its prompts in one entry). Every message names the
// file and the line (JSONL, CSV) or the entry (JSON, 1-based) it is about.
#include <istream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "samcli/geometry.hpp"
#include "samcli/inputs.hpp"

namespace samcli {

struct PromptEntry {
  std::string image;  // resolved path, as the image will be opened
  std::vector<PointXY> points;
  std::vector<int> labels;  // one per point
  std::vector<BoxXyxy> boxes;  // corners ordered (normalizeBox)
  std::vector<std::string> texts;  // as written; text-sam splits each on commas
  std::vector<std::string> queryImages;  // resolved paths of example images (text-sam)
  std::vector<BoxXyxy> queryBoxes;       // example boxes in this image (text-sam), corners ordered
  std::string where;  // "prompt file 'p.jsonl' line 3" (JSON: "entry 3"), for messages
};

enum class PromptFormat { Json, Jsonl, Csv };

class PromptFile {
 public:
  // Reads and validates the whole file. Throws UsageError naming the file (and line or entry) when
  // it is missing, has an unknown extension, is malformed, holds no entry or lists an image twice.
  static PromptFile read(const std::string& path);
  // The same from text already in memory; `path` names the file in messages and its folder
  // resolves relative image paths.
  static PromptFile parse(std::istream& in, PromptFormat format, const std::string& path);
  // .json / .jsonl / .csv (case-insensitive), else UsageError.
  static PromptFormat formatOf(const std::string& path);

  const std::string& path() const { return path_; }
  const std::vector<PromptEntry>& entries() const { return entries_; }
  // The entry of an image, by its resolved path (InputImage::path of inputs()); nullptr if none.
  const PromptEntry* find(const std::string& imagePath) const;

  // The run's inputs, one per entry, sorted by path. Each output folder is the image's path relative
  // to the deepest folder holding every image of the file, without extension: <out>/<stem>/ when all
  // images share a folder, the tree below their common folder otherwise (as when that folder is
  // given as IMAGE). Throws UsageError when two images would write the same folder (a.png, a.jpg).
  std::vector<InputImage> inputs() const;

 private:
  std::string path_;
  std::vector<PromptEntry> entries_;
  std::map<std::string, size_t> byImage_;
};

// One entry from its JSON object (the fields above); `where` names it in messages and a relative
// image path is resolved against `folder`. Throws UsageError("<where>: <message>").
PromptEntry promptEntryFromJson(const nlohmann::json& object, const std::string& where, const std::string& folder);

// An error about one entry: UsageError("<where>: <message>").
[[noreturn]] void throwPromptError(const PromptEntry& entry, const std::string& message);

}  // namespace samcli
