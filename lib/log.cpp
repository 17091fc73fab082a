#include "samcli/log.hpp"

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

}  // namespace samcli
