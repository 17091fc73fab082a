// Which images a run processes: expanding files, directories, globs, @lists and stdin into a sorted,
// de-duplicated list with mirrored output names, and --shard I/N partitioning of that list.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "samcli/error.hpp"
#include "samcli/inputs.hpp"

using namespace samcli;
namespace fs = std::filesystem;

namespace {

// A fresh directory tree:
//   a.png  c.JPG  notes.txt  z.png/ (a directory)  sub/b.png  sub/deep/d.tif  other/x.png
class InputTree {
 public:
  InputTree() {
    std::string pattern = (fs::temp_directory_path() / "samcli-inputs-XXXXXX").string();
    root_ = ::mkdtemp(pattern.data());
    for (const char* file : {"a.png", "c.JPG", "notes.txt", "sub/b.png", "sub/deep/d.tif", "other/x.png"}) touch(file);
    fs::create_directories(root_ / "z.png");
  }
  ~InputTree() { fs::remove_all(root_); }

  std::string operator/(const std::string& rel) const { return (root_ / rel).string(); }
  std::string str() const { return root_.string(); }

  void touch(const std::string& rel) const {
    fs::create_directories((root_ / rel).parent_path());
    std::ofstream(root_ / rel) << "x";
  }
  std::string writeList(const std::string& rel, const std::string& text) const {
    std::ofstream(root_ / rel) << text;
    return (root_ / rel).string();
  }

 private:
  fs::path root_;
};

std::vector<std::string> paths(const std::vector<InputImage>& inputs) {
  std::vector<std::string> out;
  for (const auto& in : inputs) out.push_back(in.path);
  return out;
}

std::vector<std::string> outputNames(const std::vector<InputImage>& inputs) {
  std::vector<std::string> out;
  for (const auto& in : inputs) out.push_back(in.outputName);
  return out;
}

// Feeds text to std::cin for the lifetime of the object ("-" reads paths from stdin).
class StdinFrom {
 public:
  explicit StdinFrom(const std::string& text) : text_(text), previous_(std::cin.rdbuf(text_.rdbuf())) {}
  ~StdinFrom() {
    std::cin.rdbuf(previous_);
    std::cin.clear();
  }

 private:
  std::istringstream text_;
  std::streambuf* previous_;
};

std::vector<InputImage> numbered(size_t n) {
  std::vector<InputImage> inputs;
  for (size_t i = 0; i < n; ++i) inputs.push_back({"img" + std::to_string(i) + ".png", "img" + std::to_string(i)});
  return inputs;
}

}  // namespace

TEST_CASE("inputs: a file argument is processed as given, output named by its stem", "[inputs]") {
  const InputTree tree;
  const auto inputs = expandInputs({tree / "sub/b.png"}, false);
  REQUIRE(inputs.size() == 1);
  CHECK(inputs[0].path == tree / "sub/b.png");
  CHECK(inputs[0].outputName == "b");
}

TEST_CASE("inputs: a file given explicitly is taken whatever its extension", "[inputs]") {
  const InputTree tree;
  CHECK(paths(expandInputs({tree / "notes.txt"}, false)) == std::vector<std::string>{tree / "notes.txt"});
}

TEST_CASE("inputs: a directory gives its images only, sorted; --recursive adds subfolders, mirrored", "[inputs]") {
  const InputTree tree;
  SECTION("not recursive: top-level images, no subfolder, no text file, no directory named like an image") {
    const auto inputs = expandInputs({tree.str()}, false);
    CHECK(paths(inputs) == std::vector<std::string>{tree / "a.png", tree / "c.JPG"});
    CHECK(outputNames(inputs) == std::vector<std::string>{"a", "c"});
  }
  SECTION("recursive: output names keep the path inside the directory, without extension") {
    const auto inputs = expandInputs({tree.str()}, true);
    CHECK(paths(inputs) == std::vector<std::string>{tree / "a.png", tree / "c.JPG", tree / "other/x.png",
                                                    tree / "sub/b.png", tree / "sub/deep/d.tif"});
    CHECK(outputNames(inputs) == std::vector<std::string>{"a", "c", "other/x", "sub/b", "sub/deep/d"});
  }
  SECTION("a subdirectory argument mirrors the tree below it") {
    const auto inputs = expandInputs({tree / "sub"}, true);
    CHECK(outputNames(inputs) == std::vector<std::string>{"b", "deep/d"});
  }
}

TEST_CASE("inputs: a dangling symlink in a directory is skipped, not a failure to list it", "[inputs]") {
  const InputTree tree;
  const fs::path only = tree / "only_links";
  fs::create_directory(only);
  fs::create_symlink("../missing", only / "lnk");
  CHECK(expandInputs({only.string()}, false).empty());
  CHECK(expandInputs({only.string()}, true).empty());
  fs::create_symlink("../missing.png", tree / "sub/zz_dangling.png");
  CHECK(paths(expandInputs({tree / "sub"}, false)) == std::vector<std::string>{tree / "sub/b.png"});
}

TEST_CASE("inputs: image extensions are recognised case-insensitively", "[inputs]") {
  for (const char* name : {"a.png", "a.PNG", "a.jpg", "a.jpeg", "a.JPEG", "a.bmp", "a.tif", "a.tiff", "a.webp"}) {
    CHECK(hasImageExtension(name));
  }
  for (const char* name : {"a.txt", "a.json", "a", "png", "a.png.bak", "a.gif"}) CHECK_FALSE(hasImageExtension(name));
}

TEST_CASE("inputs: glob patterns expand to the matching files, sorted", "[inputs]") {
  const InputTree tree;
  const auto inputs = expandInputs({tree / "*/*.png"}, false);
  CHECK(paths(inputs) == std::vector<std::string>{tree / "other/x.png", tree / "sub/b.png"});
  CHECK(outputNames(inputs) == std::vector<std::string>{"x", "b"});
  SECTION("directories matched by a pattern are left out") {
    CHECK(paths(expandInputs({tree / "?.png"}, false)) == std::vector<std::string>{tree / "a.png"});
  }
  SECTION("a pattern matching nothing is a usage error naming it") {
    const std::string pattern = tree / "*.webp";
    CHECK_THROWS_WITH(expandInputs({pattern}, false), Catch::Contains(pattern) && Catch::Contains("matches no file"));
    CHECK_THROWS_AS(expandInputs({pattern}, false), UsageError);
  }
}

TEST_CASE("inputs: @list files hold one path per line; comments and blank lines are ignored", "[inputs]") {
  const InputTree tree;
  const std::string list = tree.writeList("list.txt", "# images to do\n\n" + (tree / "sub/b.png") + "\n   " +
                                                          (tree / "a.png") + "  \r\n\t# " + (tree / "c.JPG") +
                                                          "\n" + (tree / "other") + "\n");
  const auto inputs = expandInputs({"@" + list}, false);
  // Lines are trimmed; a listed directory is expanded like an argument.
  CHECK(paths(inputs) == std::vector<std::string>{tree / "a.png", tree / "other/x.png", tree / "sub/b.png"});
  SECTION("a missing list is a usage error naming it") {
    CHECK_THROWS_AS(expandInputs({"@" + (tree / "nope.txt")}, false), UsageError);
    CHECK_THROWS_WITH(expandInputs({"@" + (tree / "nope.txt")}, false), Catch::Contains(tree / "nope.txt"));
  }
  SECTION("lines are bounded: @/dev/zero fails at once instead of filling memory") {
    CHECK_THROWS_WITH(expandInputs({"@/dev/zero"}, false), "input list '/dev/zero' line 1 is longer than 64 KiB");
  }
}

TEST_CASE("inputs: '-' reads paths from stdin", "[inputs]") {
  const InputTree tree;
  const StdinFrom stdinText((tree / "sub/b.png") + "\n# skipped\n" + (tree / "a.png") + "\n");
  CHECK(paths(expandInputs({"-"}, false)) == std::vector<std::string>{tree / "a.png", tree / "sub/b.png"});
}

TEST_CASE("inputs: all arguments are merged, sorted and de-duplicated", "[inputs]") {
  const InputTree tree;
  const std::string list = tree.writeList("list.txt", (tree / "a.png") + "\n");
  const auto inputs = expandInputs({tree / "sub/b.png", "@" + list, tree.str(), tree / "a.png", tree / "?.png"}, false);
  CHECK(paths(inputs) == std::vector<std::string>{tree / "a.png", tree / "c.JPG", tree / "sub/b.png"});
}

TEST_CASE("inputs: a file also found through a directory keeps the first argument's output name", "[inputs]") {
  const InputTree tree;
  CHECK(outputNames(expandInputs({tree.str(), tree / "sub/b.png"}, true)) ==
        std::vector<std::string>{"a", "c", "other/x", "sub/b", "sub/deep/d"});
  CHECK(outputNames(expandInputs({tree / "sub/b.png", tree.str()}, true)) ==
        std::vector<std::string>{"a", "c", "other/x", "b", "sub/deep/d"});
}

TEST_CASE("inputs: missing files are kept, to fail with their own error when processed", "[inputs]") {
  const InputTree tree;
  const auto inputs = expandInputs({tree / "missing.png", tree / "a.png"}, false);
  CHECK(paths(inputs) == std::vector<std::string>{tree / "a.png", tree / "missing.png"});
  CHECK(inputs[1].outputName == "missing");
}

TEST_CASE("inputs: two inputs writing the same output folder are a usage error naming both", "[inputs]") {
  const InputTree tree;
  tree.touch("sub/x.png");
  const std::vector<std::string> args = {tree / "other/x.png", tree / "sub/x.png"};
  CHECK_THROWS_AS(expandInputs(args, false), UsageError);
  CHECK_THROWS_WITH(expandInputs(args, false), Catch::Contains(tree / "other/x.png") &&
                                                   Catch::Contains(tree / "sub/x.png") && Catch::Contains("'x'"));
  SECTION("same stem, different extension") {
    tree.touch("a.jpg");
    CHECK_THROWS_AS(expandInputs({tree.str()}, false), UsageError);
  }
  SECTION("passing the common folder instead mirrors the tree and resolves it") {
    CHECK(outputNames(expandInputs({tree.str()}, true)) ==
          std::vector<std::string>{"a", "c", "other/x", "sub/b", "sub/deep/d", "sub/x"});
  }
}

TEST_CASE("inputs: parseShard accepts I/N with 0 <= I < N", "[inputs]") {
  const Shard s = parseShard("2/3");
  CHECK(s.index == 2);
  CHECK(s.count == 3);
  CHECK(parseShard("0/1").count == 1);
  CHECK(parseShard("09/10").index == 9);
  for (const char* bad : {"3/3", "1/0", "0/0", "-1/3", "1", "/3", "1/", "a/b", "1/3 ", " 1/3", "1.5/3", "1/2/3",
                          "", "99999999999/3", "1:3"}) {
    INFO(bad);
    CHECK_THROWS_AS(parseShard(bad), UsageError);
  }
  CHECK_THROWS_WITH(parseShard("3/3"), Catch::Contains("'3/3'") && Catch::Contains("0 <= I < N"));
}

TEST_CASE("inputs: selectShard takes every N-th input from I; N shards cover all inputs once", "[inputs]") {
  const auto inputs = numbered(10);
  CHECK(paths(selectShard(inputs, {1, 3, ""})) == std::vector<std::string>{"img1.png", "img4.png", "img7.png"});
  CHECK(paths(selectShard(inputs, {0, 1, ""})) == paths(inputs));
  for (const size_t n : {size_t(0), size_t(1), size_t(2), size_t(5), size_t(10), size_t(11)}) {
    for (int count : {1, 2, 3, 4, 7, 12}) {
      INFO("inputs " << n << ", shards " << count);
      const auto all = numbered(n);
      std::multiset<std::string> seen;
      size_t smallest = n;
      size_t largest = 0;
      for (int index = 0; index < count; ++index) {
        const auto mine = selectShard(all, {index, count, ""});
        for (const auto& in : mine) seen.insert(in.path);
        smallest = std::min(smallest, mine.size());
        largest = std::max(largest, mine.size());
      }
      const auto expected = paths(all);
      CHECK(seen == std::multiset<std::string>(expected.begin(), expected.end()));  // union = all, disjoint
      CHECK(largest - smallest <= 1);
    }
  }
}
