#pragma once
// The one exception type that reaches a user: its message is a complete, single-line explanation
// that names the offending input ("cannot read 'x.png': not an image"). Tools print it as
// "<tool>: error: <message>" and exit non-zero.
#include <cctype>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

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

// A library parameter given a value it cannot take. The message names parameters by their library
// names (the official snake_case ones: points_per_side, pred_iou_thresh); a front-end exposing them
// under other names, such as command-line flags, words the message with renamed().
class InvalidParameter : public UsageError {
 public:
  InvalidParameter(std::vector<std::string> parameters, const std::string& message)
      : UsageError(message), parameters_(std::move(parameters)) {}

  // The message with the first whole-word occurrence of each parameter's name replaced by
  // rename(name) (values quoted later in the message are left alone).
  template <typename Rename>
  std::string renamed(Rename rename) const {
    std::string text = what();
    const auto wordChar = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
    for (const std::string& name : parameters_) {
      for (size_t at = text.find(name); at != std::string::npos; at = text.find(name, at + 1)) {
        const size_t end = at + name.size();
        if ((at > 0 && wordChar(text[at - 1])) || (end < text.size() && wordChar(text[end]))) continue;
        text.replace(at, name.size(), rename(name));
        break;
      }
    }
    return text;
  }

 private:
  std::vector<std::string> parameters_;
};

// Standard output's reader has gone (`| head`): not a failure of the run, so tools stop quietly
// with exit code 0, as ripgrep and the traditional SIGPIPE death do without a message.
class BrokenPipe : public Error {
 public:
  using Error::Error;
};

}  // namespace samcli
