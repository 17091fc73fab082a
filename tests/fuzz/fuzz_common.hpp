#pragma once
// Shared by the libFuzzer targets in this folder (docs/hardening.md).
//
// What counts as a finding: a sanitizer report, a timeout or an out-of-memory, and any exception
// other than samcli::Error. samcli::Error (and UsageError) is the library's way of refusing bad
// input with a message for the user; anything else would reach the user as "internal error".
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>

#include "samcli/error.hpp"

namespace samcli::fuzz {

// Runs a parser; returns normally on success or on samcli::Error, aborts (a finding) on anything else.
template <typename F>
void guarded(F&& parse) {
  try {
    parse();
  } catch (const samcli::Error&) {
    // Refused with a message: the expected outcome for bad input.
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz: exception other than samcli::Error: %s\n", e.what());
    std::abort();
  }
}

// Nesting depth of [ and { outside JSON strings. Parsers of untrusted JSON recurse in nlohmann (and
// in our own walkers); the bound on nesting is another part of the hardening work, so until every
// reader enforces one, the targets leave deeper inputs out rather than stop at that known finding.
inline int jsonNesting(const uint8_t* data, size_t size) {
  int depth = 0, deepest = 0;
  bool inString = false, escaped = false;
  for (size_t i = 0; i < size; ++i) {
    const char c = static_cast<char>(data[i]);
    if (inString) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') inString = false;
    } else if (c == '"') {
      inString = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}
constexpr int kMaxFuzzedNesting = 64;

// A private folder for the files the path-taking readers need, removed at exit.
inline const std::string& scratchDir() {
  static const std::string dir = [] {
    char name[] = "/tmp/samcli-fuzz-XXXXXX";
    if (!mkdtemp(name)) {
      std::perror("fuzz: mkdtemp");
      std::abort();
    }
    static std::string path = name;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    });
    return path;
  }();
  return dir;
}

inline void writeFile(const std::string& path, const uint8_t* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) {
    std::perror(("fuzz: cannot write " + path).c_str());
    std::abort();
  }
}

}  // namespace samcli::fuzz
