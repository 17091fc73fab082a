#pragma once
// The message of the exception of type E (samcli::Error, UsageError, ...) that `f` throws, or ""
// when it throws none, so that a test can compare a message with its expected text in one CHECK.
#include <string>
#include <utility>

namespace samcli::test {

template <typename E, typename F>
std::string messageOf(F&& f) {
  try {
    std::forward<F>(f)();
  } catch (const E& e) {
    return e.what();
  }
  return "";
}

}  // namespace samcli::test
