// Prompt files for batch runs (--prompts): JSON, JSONL and CSV entries, defaults, relative paths,
// output names, and one precise message per mistake.
#include <catch2/catch.hpp>

#include <filesystem>
#include <sstream>
#include <string>

#include "samcli/error.hpp"
#include "samcli/prompt_file.hpp"
#include "support/temp_dir.hpp"

using namespace samcli;
namespace fs = std::filesystem;
using test::TempDir;

namespace {

PromptFile parse(const std::string& text, PromptFormat format, const std::string& path = "data/p.txt") {
  std::istringstream in(text);
  return PromptFile::parse(in, format, path);
}

// The UsageError message of parsing `text`, or "" when it parses.
std::string errorOf(const std::string& text, PromptFormat format, const std::string& path = "p.txt") {
  try {
    parse(text, format, path);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("JSON prompt file: a list of entries with every field", "[prompt_file]") {
  const PromptFile file = parse(R"([
    {"image": "a.png", "points": [[10, 20], [30.5, 40]], "labels": [1, 0]},
    {"image": "sub/b.png", "boxes": [[50, 60, 5, 6]], "text": "dog, cat"},
    {"image": "/abs/c.png", "text": ["red", "blue box"], "points": null}
  ])",
                                PromptFormat::Json);
  REQUIRE(file.entries().size() == 3);
  const PromptEntry& a = file.entries()[0];
  CHECK(a.image == "data/a.png");
  REQUIRE(a.points.size() == 2);
  CHECK(a.points[1].x == 30.5);
  CHECK(a.points[1].y == 40);
  CHECK(a.labels == std::vector<int>{1, 0});
  CHECK(a.boxes.empty());
  CHECK(a.where == "prompt file 'data/p.txt' entry 1");

  const PromptEntry& b = file.entries()[1];
  CHECK(b.image == "data/sub/b.png");
  REQUIRE(b.boxes.size() == 1);  // corners ordered
  CHECK((b.boxes[0].x0 == 5 && b.boxes[0].y0 == 6 && b.boxes[0].x1 == 50 && b.boxes[0].y1 == 60));
  CHECK(b.texts == std::vector<std::string>{"dog, cat"});
  CHECK(b.points.empty());
  CHECK(b.labels.empty());

  const PromptEntry& c = file.entries()[2];
  CHECK(c.image == "/abs/c.png");  // absolute paths stay
  CHECK(c.texts == std::vector<std::string>{"red", "blue box"});

  CHECK(file.find("data/sub/b.png") == &b);
  CHECK(file.find("sub/b.png") == nullptr);
}

TEST_CASE("JSONL prompt file: one object per line, blank lines skipped, labels default to 1", "[prompt_file]") {
  const PromptFile file = parse("{\"image\": \"a.png\", \"points\": [[1, 2], [3, 4]]}\r\n"
                                "\n"
                                "   \n"
                                "{\"image\": \"b.png\", \"boxes\": [[0, 0, 9, 9], [1, 1, 5, 5]]}\n",
                                PromptFormat::Jsonl, "p.jsonl");
  REQUIRE(file.entries().size() == 2);
  CHECK(file.entries()[0].image == "a.png");  // the file is in the current folder
  CHECK(file.entries()[0].labels == std::vector<int>{1, 1});
  CHECK(file.entries()[1].boxes.size() == 2);
  CHECK(file.entries()[1].where == "prompt file 'p.jsonl' line 4");
}

TEST_CASE("CSV prompt file: header in any order, quoted cells, ';'-separated lists", "[prompt_file]") {
  const PromptFile file = parse("\xEF\xBB\xBFtext,Image,points,labels,boxes\r\n"
                                ",a.png,\"10,20;30,40\",1;0,\n"
                                "\n"
                                "\"dog, \"\"big\"\" cat\",b.png,,,\"1,2,3,4;9,9,5,5\"\n"
                                "red,c.png\n",
                                PromptFormat::Csv, "dir/p.csv");
  REQUIRE(file.entries().size() == 3);
  const PromptEntry& a = file.entries()[0];
  CHECK(a.image == "dir/a.png");
  REQUIRE(a.points.size() == 2);
  CHECK((a.points[0].x == 10 && a.points[0].y == 20 && a.points[1].x == 30 && a.points[1].y == 40));
  CHECK(a.labels == std::vector<int>{1, 0});
  CHECK(a.texts.empty());
  const PromptEntry& b = file.entries()[1];
  CHECK(b.texts == std::vector<std::string>{"dog, \"big\" cat"});
  REQUIRE(b.boxes.size() == 2);
  CHECK((b.boxes[1].x0 == 5 && b.boxes[1].y0 == 5 && b.boxes[1].x1 == 9 && b.boxes[1].y1 == 9));
  CHECK(b.where == "prompt file 'dir/p.csv' line 4");
  CHECK(file.entries()[2].texts == std::vector<std::string>{"red"});  // missing trailing cells are empty
}

TEST_CASE("Prompt file format follows the extension", "[prompt_file]") {
  CHECK(PromptFile::formatOf("a/p.json") == PromptFormat::Json);
  CHECK(PromptFile::formatOf("p.JSONL") == PromptFormat::Jsonl);
  CHECK(PromptFile::formatOf("p.Csv") == PromptFormat::Csv);
  CHECK_THROWS_WITH(PromptFile::formatOf("p.txt"),
                    "prompt file 'p.txt': unknown format '.txt' (the extension chooses it: .json, .jsonl or .csv)");
  CHECK_THROWS_AS(PromptFile::formatOf("prompts"), UsageError);
}

TEST_CASE("Prompt file read from disk resolves images against its folder", "[prompt_file]") {
  TempDir dir;
  const std::string path = dir.write("set/p.jsonl", "{\"image\": \"img/a.png\", \"points\": [[1, 1]]}\n");
  const PromptFile file = PromptFile::read(path);
  CHECK(file.path() == path);
  CHECK(file.entries()[0].image == (dir.path / "set/img/a.png").string());

  CHECK_THROWS_WITH(PromptFile::read((dir.path / "none.json").string()),
                    "cannot read prompt file '" + (dir.path / "none.json").string() + "': no such file");
  fs::create_directories(dir.path / "folder.csv");
  CHECK_THROWS_AS(PromptFile::read((dir.path / "folder.csv").string()), UsageError);
}

TEST_CASE("Prompt file inputs: flat names for one folder, the tree below the common folder otherwise",
          "[prompt_file]") {
  const PromptFile flat = parse(R"([{"image": "x/b.png"}, {"image": "x/./a.jpg"}])", PromptFormat::Json, "p.json");
  std::vector<InputImage> inputs = flat.inputs();
  REQUIRE(inputs.size() == 2);  // sorted by path
  CHECK(inputs[0].path == "x/a.jpg");
  CHECK(inputs[0].outputName == "a");
  CHECK(inputs[1].path == "x/b.png");
  CHECK(inputs[1].outputName == "b");

  const PromptFile nested = parse(R"([{"image": "imgs/salmon/a.png"}, {"image": "imgs/trout/a.png"},
                                     {"image": "imgs/c.png"}])",
                                  PromptFormat::Json, "root/p.json");
  inputs = nested.inputs();
  CHECK(inputs[0].outputName == "c");
  CHECK(inputs[1].outputName == "salmon/a");
  CHECK(inputs[2].outputName == "trout/a");
  CHECK(inputs[1].path == "root/imgs/salmon/a.png");

  const PromptFile one = parse(R"([{"image": "deep/down/only.png"}])", PromptFormat::Json);
  CHECK(one.inputs()[0].outputName == "only");

  const PromptFile clash = parse(R"([{"image": "x/a.png"}, {"image": "x/a.jpg"}])", PromptFormat::Json, "p.json");
  CHECK_THROWS_WITH(clash.inputs(), Catch::StartsWith("prompt file 'p.json': inputs 'x/a.jpg' and 'x/a.png' would both write 'a'"));
}

TEST_CASE("Prompt file errors name the file and the line or entry", "[prompt_file]") {
  const auto J = PromptFormat::Json;
  const auto L = PromptFormat::Jsonl;
  const auto C = PromptFormat::Csv;

  // Whole-file problems.
  CHECK(errorOf("[]", J) == "prompt file 'p.txt' has no entry");
  CHECK(errorOf("\n\n", L) == "prompt file 'p.txt' has no entry");
  CHECK(errorOf("", C) == "prompt file 'p.txt' is empty (expected a header: image, points, labels, boxes, text, query_images, query_boxes)");
  CHECK(errorOf("image\n", C) == "prompt file 'p.txt' has no entry");
  CHECK(errorOf(R"({"image": "a.png"})", J) ==
        "prompt file 'p.txt': expected a list of entries [{\"image\": ..., ...}, ...]");
  CHECK(errorOf("[{\"image\": \"a.png\",]", J) ==
        "prompt file 'p.txt': malformed JSON at line 1, column 20: unexpected ']'; expected string literal");
  CHECK_THAT(errorOf("{\"image\": \"a.png\"}\n{\"image\": \n", L),
             Catch::StartsWith("prompt file 'p.txt': malformed JSON at line 2, column 11: "));
  // 100,000 levels of nesting crashed the tools (stack overflow); the depth is bounded.
  CHECK(errorOf(std::string(100000, '['), J) ==
        "prompt file 'p.txt': malformed JSON at line 1, column 65: nested deeper than 64 levels");
  CHECK(errorOf("{\"image\": \"a.png\"}\n" + std::string(100000, '['), L) ==
        "prompt file 'p.txt': malformed JSON at line 2, column 65: nested deeper than 64 levels");
  // A record line is bounded (16 MiB), so /dev/zero as a prompt file fails at once.
  CHECK(errorOf("image\n" + std::string((16 << 20) + 1, '\0'), C) == "prompt file 'p.txt' line 2 is longer than 16 MiB");

  // Entry contents (JSON and JSONL).
  CHECK(errorOf(R"([{"image": "a.png"}, 3])", J) ==
        "prompt file 'p.txt' entry 2: expected an object {\"image\": ..., ...}, got 3");
  CHECK(errorOf(R"([{"points": [[1, 2]]}])", J) ==
        "prompt file 'p.txt' entry 1: no \"image\" (fields: image, points, labels, boxes, text, query_images, query_boxes)");
  CHECK(errorOf(R"([{"image": "  "}])", J) == "prompt file 'p.txt' entry 1: \"image\" is empty");
  CHECK(errorOf(R"([{"image": 7}])", J) == "prompt file 'p.txt' entry 1: \"image\" must be a path string, got 7");
  CHECK(errorOf(R"([{"image": "imgs/"}])", J) ==
        "prompt file 'p.txt' entry 1: \"image\" 'imgs/' names a folder, not an image file");
  CHECK(errorOf(R"([{"image": "a.png", "point": [[1, 2]]}])", J) ==
        "prompt file 'p.txt' entry 1: unknown field \"point\" (fields: image, points, labels, boxes, text, query_images, query_boxes)");
  CHECK(errorOf(R"({"image": "a.png", "points": [1, 2]})", L) ==
        "prompt file 'p.txt' line 1: \"points\" must be [[x, y], ...], got [1,2]");
  CHECK(errorOf(R"({"image": "a.png", "points": [[1, "2"]]})", L) ==
        "prompt file 'p.txt' line 1: \"points\" must be [[x, y], ...], got \"2\"");
  CHECK(errorOf(R"({"image": "a.png", "points": [[1, 2, 3]]})", L) ==
        "prompt file 'p.txt' line 1: \"points\" must be [[x, y], ...], got [[1,2,3]]");
  CHECK(errorOf(R"({"image": "a.png", "boxes": [[1, 2, 3]]})", L) ==
        "prompt file 'p.txt' line 1: \"boxes\" must be [[x0, y0, x1, y1], ...], got [[1,2,3]]");
  CHECK(errorOf(R"({"image": "a.png", "points": [[1, 2]], "labels": 1})", L) ==
        "prompt file 'p.txt' line 1: \"labels\" must be [1, 0, ...], got 1");
  CHECK(errorOf(R"({"image": "a.png", "points": [[1, 2]], "labels": [2]})", L) ==
        "prompt file 'p.txt' line 1: label 2 is neither 1 (foreground) nor 0 (background)");
  CHECK(errorOf(R"({"image": "a.png", "points": [[1, 2]], "labels": [true]})", L) ==
        "prompt file 'p.txt' line 1: \"labels\" must be [1, 0, ...], got true");
  CHECK(errorOf(R"({"image": "a.png", "points": [[1, 2]], "labels": [1, 0]})", L) ==
        "prompt file 'p.txt' line 1: 2 label(s) for 1 point(s): give one label per point, or none (all foreground)");
  CHECK(errorOf(R"({"image": "a.png", "labels": [1]})", L) ==
        "prompt file 'p.txt' line 1: 1 label(s) for 0 point(s): give one label per point, or none (all foreground)");
  CHECK(errorOf(R"({"image": "a.png", "text": 5})", L) ==
        "prompt file 'p.txt' line 1: \"text\" must be a string or a list of strings, got 5");
  CHECK(errorOf(R"({"image": "a.png", "text": ["dog", 5]})", L) ==
        "prompt file 'p.txt' line 1: \"text\" must be a string or a list of strings, got [\"dog\",5]");

  // CSV.
  CHECK(errorOf("image,point\na.png,1\n", C) ==
        "prompt file 'p.txt' line 1: unknown column 'point' in the header (columns: image, points, labels, boxes, "
        "text, query_images, query_boxes)");
  CHECK(errorOf("points,labels\n\"1,2\",1\n", C) ==
        "prompt file 'p.txt' line 1: the header has no 'image' column (the first line names the columns: image, "
        "points, labels, boxes, text, query_images, query_boxes)");
  CHECK(errorOf("image,boxes,IMAGE\n", C) == "prompt file 'p.txt' line 1: column 'image' appears twice in the header");
  CHECK(errorOf("image,points\na.png,1,2\n", C) ==
        "prompt file 'p.txt' line 2: 3 cells for 2 columns (quote cells holding commas: \"x,y;x,y\")");
  CHECK(errorOf("image,points\na.png,\"1,2\n", C) ==
        "prompt file 'p.txt' line 2: unterminated quoted cell (cells cannot span lines)");
  CHECK(errorOf("image,points\na.png,1\"2\n", C) ==
        "prompt file 'p.txt' line 2: stray '\"' in cell 2 (quote a whole cell: \"x,y;x,y\", with \"\" for a literal "
        "quote)");
  CHECK(errorOf("image,points\na.png,\"1,2\"x\n", C) ==
        "prompt file 'p.txt' line 2: stray '\"' in cell 2 (quote a whole cell: \"x,y;x,y\", with \"\" for a literal "
        "quote)");
  CHECK(errorOf("image,points\n\n,\"1,2\"\n", C) ==
        "prompt file 'p.txt' line 3: no \"image\" (fields: image, points, labels, boxes, text, query_images, query_boxes)");
  CHECK(errorOf("image,points\na.png,\"1,x\"\n", C) ==
        "prompt file 'p.txt' line 2: invalid points '1,x' (expected \"x,y;x,y;...\")");
  CHECK(errorOf("image,points\na.png,\"1,2;3\"\n", C) ==
        "prompt file 'p.txt' line 2: invalid points '1,2;3' (expected \"x,y;x,y;...\")");
  CHECK(errorOf("image,points\na.png,\"1,2;\"\n", C) ==
        "prompt file 'p.txt' line 2: invalid points '1,2;' (expected \"x,y;x,y;...\")");
  CHECK(errorOf("image,points\na.png,\"1,nan\"\n", C) ==
        "prompt file 'p.txt' line 2: invalid points '1,nan' (expected \"x,y;x,y;...\")");
  CHECK(errorOf("image,boxes\na.png,\"1,2,3,4,\"\n", C) ==
        "prompt file 'p.txt' line 2: invalid boxes '1,2,3,4,' (expected \"x0,y0,x1,y1;...\")");
  CHECK(errorOf("image,points,labels\na.png,\"1,2\",1;1\n", C) ==
        "prompt file 'p.txt' line 2: 2 label(s) for 1 point(s): give one label per point, or none (all foreground)");
  CHECK(errorOf("image,points,labels\na.png,\"1,2\",-1\n", C) ==
        "prompt file 'p.txt' line 2: label -1 is neither 1 (foreground) nor 0 (background)");

  // The same image twice, however it is spelled.
  CHECK(errorOf("{\"image\": \"a.png\"}\n{\"image\": \"b.png\"}\n{\"image\": \"./a.png\"}\n", L) ==
        "prompt file 'p.txt' line 3: image 'a.png' is already listed (line 1): give all of an image's prompts in one "
        "entry");
  CHECK(errorOf(R"([{"image": "x/../a.png"}, {"image": "a.png"}])", J) ==
        "prompt file 'p.txt' entry 2: image 'a.png' is already listed (entry 1): give all of an image's prompts in "
        "one entry");

  // Every error is a usage error (exit code 2).
  CHECK_THROWS_AS(parse("[{}]", J), UsageError);
}

TEST_CASE("Prompt entry errors from the tools name the entry", "[prompt_file]") {
  const PromptFile file = parse("{\"image\": \"a.png\"}\n", PromptFormat::Jsonl, "p.jsonl");
  CHECK_THROWS_WITH(throwPromptError(file.entries()[0], "no \"points\""), "prompt file 'p.jsonl' line 1: no \"points\"");
}
