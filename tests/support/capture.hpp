#pragma once
// What a test's code under test writes to stderr or stdout, as a string.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>

namespace samcli::test {

// Redirects a stream into a string for the lifetime of the object.
class Capture {
 public:
  explicit Capture(std::ostream& stream) : stream_(stream), previous_(stream.rdbuf(text_.rdbuf())) {}
  ~Capture() { stream_.rdbuf(previous_); }
  std::string text() const { return text_.str(); }

 private:
  std::ostream& stream_;
  std::ostringstream text_;
  std::streambuf* previous_;
};

// What is written to file descriptor 1 meanwhile: writeStdout writes there, not through std::cout.
class StdoutCapture {
 public:
  StdoutCapture() : file_(std::tmpfile()) {
    std::cout.flush();
    saved_ = ::dup(STDOUT_FILENO);
    ::dup2(::fileno(file_), STDOUT_FILENO);
  }
  ~StdoutCapture() {
    restore();
    std::fclose(file_);
  }
  std::string text() {
    restore();
    std::string out;
    std::rewind(file_);
    for (int c; (c = std::fgetc(file_)) != EOF;) out.push_back(char(c));
    return out;
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    std::cout.flush();
    ::dup2(saved_, STDOUT_FILENO);
    ::close(saved_);
    saved_ = -1;
  }
  std::FILE* file_;
  int saved_ = -1;
};

}  // namespace samcli::test
