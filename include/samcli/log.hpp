#pragma once
// Progress and diagnostics, always on stderr so stdout stays data-only: "<tool>: message",
// "<tool>: warning: ...", "<tool>: error: ...".
#include <functional>
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

  // Runs `work` with the process's stderr (file descriptor 2) sent to a temporary file, holding the
  // lock every line above takes, and returns what was written there. Image decoders (libpng,
  // libjpeg) print their own diagnostics straight to stderr; this keeps them off the user's
  // terminal so that a failure reads as samcli's one line. Calls are serialised.
  static std::string captureStderr(const std::function<void()>& work);
};

}  // namespace samcli
