#pragma once
// Progress and diagnostics, always on stderr so stdout stays data-only: "<tool>: message",
// "<tool>: warning: ...", "<tool>: error: ...".
#include <string>

namespace samcli {

class Log {
 public:
  static void setTool(std::string name);
  static void setQuiet(bool quiet);
  static bool quiet();
  static void info(const std::string& message);     // suppressed by --quiet
  static void warning(const std::string& message);
  static void error(const std::string& message);
};

}  // namespace samcli
