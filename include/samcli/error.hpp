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

}  // namespace samcli
