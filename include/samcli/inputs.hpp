#pragma once
// Which images a run processes, and where each one's results go. Arguments may be files,
// directories (--recursive for subfolders), glob patterns, @list files and "-" (paths on stdin);
// the expanded list is sorted, so runs, resumes and shards see the same order everywhere.
#include <string>
#include <vector>

#include "samcli/scheduler.hpp"

namespace samcli {

struct InputImage {
  std::string path;        // as it will be opened
  std::string outputName;  // result folder relative to --out: the path inside a directory argument
                           // without extension (mirroring the input tree), else the file stem
};

// Expands command-line arguments. Paths that do not exist are kept (they fail, with their own
// error, when processed). Throws UsageError when an @list cannot be read, a pattern matches nothing,
// or two inputs would write the same output folder.
std::vector<InputImage> expandInputs(const std::vector<std::string>& arguments, bool recursive);

// The order and checks expandInputs applies, for inputs listed otherwise (a prompt file): sorted by
// path, repeated paths dropped, UsageError when two inputs would write the same output folder.
std::vector<InputImage> sortInputs(std::vector<InputImage> inputs);

// The output name of an image at `relativePath` below its input root ("sub/a.png" -> "sub/a"): the
// path without its extension, except where that would leave "." or ".." ("..png" stays "..png").
std::string outputNameFor(const std::string& relativePath);

// Whether a file name has an image extension samcli reads (png, jpg, jpeg, bmp, tif, tiff, webp).
bool hasImageExtension(const std::string& path);

// --shard I/N: the inputs whose position in the sorted list is I modulo N (0 <= I < N), so that N
// array jobs (Slurm, Kubernetes indexed Jobs, GNU parallel) cover every input exactly once.
struct Shard {
  int index = 0;
  int count = 1;
  std::string origin;  // --shard auto: the scheduler's variables it came from (scheduler.hpp)
};
// "I/N"; "auto": I and N of this Slurm array task; "auto/N": I of this Slurm array task or
// Kubernetes indexed Job pod, N given. Throws UsageError saying what is missing or out of range.
Shard parseShard(const std::string& text, const Environment& env = processEnvironment());
std::vector<InputImage> selectShard(const std::vector<InputImage>& inputs, Shard shard);

}  // namespace samcli
