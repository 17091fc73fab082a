#include "samcli/log.hpp"

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <mutex>

namespace samcli {
namespace {

std::string g_tool = "samcli";
bool g_quiet = false;
std::mutex g_mutex;  // images are written on a background thread that may warn too

}  // namespace

void Log::setTool(std::string name) { g_tool = std::move(name); }
void Log::setQuiet(bool quiet) { g_quiet = quiet; }
bool Log::quiet() { return g_quiet; }
void Log::info(const std::string& message) {
  if (g_quiet) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  std::cerr << g_tool << ": " << message << '\n';
}
void Log::warning(const std::string& message) {
  std::lock_guard<std::mutex> lock(g_mutex);
  std::cerr << g_tool << ": warning: " << message << '\n';
}
void Log::error(const std::string& message) {
  std::lock_guard<std::mutex> lock(g_mutex);
  std::cerr << g_tool << ": error: " << message << '\n';
}

std::string Log::captureStderr(const std::function<void()>& work) {
  std::lock_guard<std::mutex> lock(g_mutex);
  std::FILE* sink = std::tmpfile();
  const int saved = sink != nullptr ? ::dup(STDERR_FILENO) : -1;
  if (saved < 0 || ::dup2(::fileno(sink), STDERR_FILENO) < 0) {
    // No temporary file (read-only /tmp, no descriptors): decode with stderr as it is.
    if (saved >= 0) ::close(saved);
    if (sink != nullptr) std::fclose(sink);
    work();
    return "";
  }
  const auto restore = [&] {
    std::fflush(stderr);
    std::cerr.flush();
    ::dup2(saved, STDERR_FILENO);
    ::close(saved);
  };
  try {
    work();
  } catch (...) {
    restore();
    std::fclose(sink);
    throw;
  }
  restore();
  std::string captured;
  std::rewind(sink);
  char chunk[4096];
  for (size_t n; (n = std::fread(chunk, 1, sizeof chunk, sink)) > 0 && captured.size() < 65536;) {
    captured.append(chunk, n);
  }
  std::fclose(sink);
  return captured;
}

}  // namespace samcli
