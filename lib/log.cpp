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
thread_local std::vector<std::string>* t_heldWarnings = nullptr;

constexpr size_t kMaxMessageBytes = 1000;  // a 10 MB file name echoed back helps nobody

// The length of the valid UTF-8 sequence of 2 to 4 bytes at `at`, 0 if there is none.
size_t utf8Sequence(const std::string& s, size_t at) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char lead = byte(at);
  const size_t length = lead >= 0xC2 && lead <= 0xDF ? 2 : lead >= 0xE0 && lead <= 0xEF ? 3 : lead >= 0xF0 && lead <= 0xF4 ? 4 : 0;
  if (length == 0 || at + length > s.size()) return 0;
  for (size_t i = 1; i < length; ++i) {
    if ((byte(at + i) & 0xC0) != 0x80) return 0;
  }
  // Overlong three-byte forms, UTF-16 surrogates and code points past U+10FFFF are not text.
  if ((lead == 0xE0 && byte(at + 1) < 0xA0) || (lead == 0xED && byte(at + 1) >= 0xA0) ||
      (lead == 0xF0 && byte(at + 1) < 0x90) || (lead == 0xF4 && byte(at + 1) >= 0x90)) {
    return 0;
  }
  return length;
}

}  // namespace

std::string Log::printable(const std::string& message) {
  std::string out;
  size_t i = 0;
  while (i < message.size() && out.size() < kMaxMessageBytes) {
    const unsigned char c = static_cast<unsigned char>(message[i]);
    if (c >= 0x20 && c < 0x7F) {
      out += char(c);
      ++i;
    } else if (const size_t n = c >= 0x80 ? utf8Sequence(message, i) : 0; n > 0) {
      out.append(message, i, n);
      i += n;
    } else {
      static const char* hex = "0123456789abcdef";
      out += c == '\t' ? std::string("\\t") : c == '\n' ? std::string("\\n") : std::string("\\x") + hex[c >> 4] + hex[c & 15];
      ++i;
    }
  }
  if (i < message.size()) out += "... (" + std::to_string(message.size() - i) + " more bytes)";
  return out;
}

void Log::holdWarnings(std::vector<std::string>& held, const std::function<void()>& work) {
  struct Hold {
    std::vector<std::string>* previous;
    ~Hold() { t_heldWarnings = previous; }
  } hold{t_heldWarnings};
  t_heldWarnings = &held;
  work();
}

void Log::setTool(std::string name) { g_tool = std::move(name); }
void Log::setQuiet(bool quiet) { g_quiet = quiet; }
bool Log::quiet() { return g_quiet; }
void Log::info(const std::string& message) {
  if (g_quiet) return;
  const std::string line = printable(message);
  std::lock_guard<std::mutex> lock(g_mutex);
  std::cerr << g_tool << ": " << line << '\n';
}
void Log::warning(const std::string& message) {
  if (t_heldWarnings != nullptr) return t_heldWarnings->push_back(message);
  const std::string line = printable(message);
  std::lock_guard<std::mutex> lock(g_mutex);
  std::cerr << g_tool << ": warning: " << line << '\n';
}
void Log::error(const std::string& message) {
  const std::string line = printable(message);
  std::lock_guard<std::mutex> lock(g_mutex);
  std::cerr << g_tool << ": error: " << line << '\n';
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
