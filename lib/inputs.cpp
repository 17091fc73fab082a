#include "samcli/inputs.hpp"

#include <glob.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>

#include "samcli/error.hpp"
#include "samcli/text_input.hpp"

namespace fs = std::filesystem;

namespace samcli {
namespace {

void addFile(const fs::path& path, std::vector<InputImage>& out) {
  out.push_back({path.string(), outputNameFor(path.filename().string())});
}

void addDirectory(const fs::path& dir, bool recursive, std::vector<InputImage>& out) {
  std::error_code ec;
  const auto add = [&](const fs::directory_entry& entry) {
    // An entry that cannot be stat'ed (a dangling symlink) is no image. With the listing's error
    // code it aborted the run as "cannot list directory" whenever it came last in the listing.
    std::error_code notAnImage;
    if (entry.is_regular_file(notAnImage) && hasImageExtension(entry.path().string())) {
      // Lexically: fs::relative would resolve a symlink to its target's place, possibly outside `dir`.
      out.push_back({entry.path().string(), outputNameFor(entry.path().lexically_relative(dir).generic_string())});
    }
  };
  if (recursive) {
    for (const auto& entry : fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec)) add(entry);
  } else {
    for (const auto& entry : fs::directory_iterator(dir, ec)) add(entry);
  }
  if (ec) throw UsageError("cannot list directory '" + dir.string() + "': " + ec.message());
}

std::vector<std::string> readList(std::istream& in, const std::string& where) {
  std::vector<std::string> paths;
  std::string line;
  LineReader lines(in, where);  // bounded: `@/dev/zero` or `yes | tool -` must not fill memory
  while (lines.next(line)) {
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    paths.push_back(line.substr(first));
  }
  return paths;
}

void expandOne(const std::string& arg, bool recursive, std::vector<InputImage>& out) {
  std::error_code ec;
  if (fs::is_directory(arg, ec)) return addDirectory(arg, recursive, out);
  if (fs::exists(arg, ec)) return addFile(arg, out);
  if (arg.find_first_of("*?[") != std::string::npos) {
    glob_t matches{};
    const int rc = ::glob(arg.c_str(), 0, nullptr, &matches);
    if (rc == GLOB_NOMATCH) {
      globfree(&matches);
      throw UsageError("pattern '" + arg + "' matches no file");
    }
    for (size_t i = 0; i < matches.gl_pathc; ++i) {
      const std::string match = matches.gl_pathv[i];
      if (fs::is_regular_file(match, ec)) addFile(match, out);
    }
    globfree(&matches);
    return;
  }
  addFile(arg, out);  // missing: reported when processed
}

}  // namespace

std::string outputNameFor(const std::string& relativePath) {
  const fs::path p(relativePath);
  const std::string stem = p.stem().string();
  // "..png" has the stem "." and "...png" the stem "..": such names keep their extension.
  if (stem == "." || stem == "..") return p.generic_string();
  return (p.parent_path() / stem).generic_string();
}

bool hasImageExtension(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp" || ext == ".tif" || ext == ".tiff" ||
         ext == ".webp";
}

std::vector<InputImage> expandInputs(const std::vector<std::string>& arguments, bool recursive) {
  std::vector<InputImage> out;
  for (const auto& arg : arguments) {
    if (arg == "-") {
      for (const auto& p : readList(std::cin, "input list '-' (stdin)")) expandOne(p, recursive, out);
    } else if (arg.size() > 1 && arg[0] == '@') {
      std::ifstream list(arg.substr(1));
      if (!list) throw UsageError("cannot read input list '" + arg.substr(1) + "': no such file");
      for (const auto& p : readList(list, "input list '" + arg.substr(1) + "'")) expandOne(p, recursive, out);
    } else {
      expandOne(arg, recursive, out);
    }
  }
  return sortInputs(std::move(out));
}

std::vector<InputImage> sortInputs(std::vector<InputImage> out) {
  // Stable: a file reached twice (given and inside a directory argument) keeps the first one's output name.
  std::stable_sort(out.begin(), out.end(), [](const InputImage& a, const InputImage& b) { return a.path < b.path; });
  out.erase(std::unique(out.begin(), out.end(), [](const InputImage& a, const InputImage& b) { return a.path == b.path; }),
            out.end());
  std::map<std::string, std::string> owner;
  for (const auto& in : out) {
    const auto [it, fresh] = owner.emplace(in.outputName, in.path);
    if (!fresh) {
      throw UsageError("inputs '" + it->second + "' and '" + in.path + "' would both write '" + in.outputName +
                       "'; pass their common folder instead, so the output mirrors the input tree");
    }
  }
  return out;
}

namespace {

// "N" of "I/N" or "auto/N": digits, at most 9 of them; nullopt otherwise.
std::optional<int> shardNumber(const std::string& text) {
  if (text.empty() || text.size() > 9 || text.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::stoi(text);
}

Shard shardFromScheduler(const std::optional<int>& givenCount, const Environment& env) {
  const std::optional<ArrayTask> task = arrayTask(env);
  if (!task) {
    throw InvalidParameter({"shard"}, "shard auto: this is not a Slurm array task (SLURM_ARRAY_TASK_ID) nor a "
                                      "Kubernetes indexed Job's pod (JOB_COMPLETION_INDEX); give --shard I/N");
  }
  const std::optional<int> count = givenCount ? givenCount : task->count;
  if (!count) {
    throw InvalidParameter({"shard"}, "shard auto: the number of shards is not known from " + task->origin +
                                      " (only a Slurm array of IDs 0..N-1 tells it); give it: --shard auto/N");
  }
  if (*count < 1 || task->index >= *count) {
    throw InvalidParameter({"shard"}, "shard auto: task " + std::to_string(task->index) + " (" + task->origin +
                                      ") is not below the shard count " + std::to_string(*count) +
                                      " (task indices are 0-based: --array=0-" + std::to_string(*count - 1) + ")");
  }
  return Shard{task->index, *count, task->origin};
}

}  // namespace

Shard parseShard(const std::string& text, const Environment& env) {
  const auto slash = text.find('/');
  const std::string first = text.substr(0, slash);
  const std::optional<int> count = slash == std::string::npos ? std::nullopt : shardNumber(text.substr(slash + 1));
  if (first == "auto" && (slash == std::string::npos || count)) return shardFromScheduler(count, env);
  const std::optional<int> index = shardNumber(first);
  if (index && count && *count >= 1 && *index < *count) return Shard{*index, *count, ""};
  throw InvalidParameter({"shard"}, "invalid shard '" + text +
                                        "' (expected I/N with 0 <= I < N, e.g. 0/3, or auto in a Slurm array job)");
}

std::vector<InputImage> selectShard(const std::vector<InputImage>& inputs, Shard shard) {
  std::vector<InputImage> mine;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (int(i % size_t(shard.count)) == shard.index) mine.push_back(inputs[i]);
  }
  return mine;
}

}  // namespace samcli
