#pragma once
// Progress and diagnostics, always on stderr so stdout stays data-only: "<tool>: message",
// "<tool>: warning: ...", "<tool>: error: ...". Each is one line of printable text: the bytes of
// inputs quoted in a message (a binary file's, a name with a NUL or a line break) are escaped as
// \xNN (valid UTF-8 passes), and a message is cut after 1000 bytes.
#include <functional>
#include <string>
#include <vector>

namespace samcli {

class Log {
 public:
  static void setTool(std::string name);
  static void setQuiet(bool quiet);
  static bool quiet();
  static void info(const std::string& message);     // suppressed by --quiet
  static void warning(const std::string& message);
  static void error(const std::string& message);

  // Runs `work` with the warnings of this thread appended to `held` instead of printed (also when
  // `work` throws), for a caller that prints them where they belong: the batch run holds an image's
  // warnings until the line of the image before it is out.
  static void holdWarnings(std::vector<std::string>& held, const std::function<void()>& work);

  // `message` as a line prints it: escaped and cut as above.
  static std::string printable(const std::string& message);

  // Runs `work` with the process's stderr (file descriptor 2) sent to a temporary file, holding the
  // lock every line above takes, and returns what was written there. Image decoders (libpng,
  // libjpeg) print their own diagnostics straight to stderr; this keeps them off the user's
  // terminal so that a failure reads as samcli's one line. Calls are serialised.
  static std::string captureStderr(const std::function<void()>& work);
};

}  // namespace samcli
