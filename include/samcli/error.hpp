#pragma once
// The one exception type that reaches a user: its message is a complete, single-line explanation
// that names the offending input ("cannot read 'x.png': not an image"). Tools print it as
// "<tool>: error: <message>" and exit non-zero.
#include <stdexcept>
#include <string>

namespace samcli {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An option value the user must change (malformed, out of range, contradictory): exit code 2,
// like a parse error, so scripts can tell "called wrongly" from "failed on this input".
class UsageError : public Error {
 public:
  using Error::Error;
};

// Standard output's reader has gone (`| head`): not a failure of the run, so tools stop quietly
// with exit code 0, as ripgrep and the traditional SIGPIPE death do without a message.
class BrokenPipe : public Error {
 public:
  using Error::Error;
};

}  // namespace samcli
