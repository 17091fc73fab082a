#pragma once
// A fresh scratch folder (mkdtemp, so parallel tests never share one), removed with everything in
// it at scope exit.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace samcli::test {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "samcli-test") {
    std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& relative) const { return (path_ / relative).string(); }
  // Writes `bytes` to <dir>/<relative> (folders created); returns the file's path.
  std::string write(const std::string& relative, const std::string& bytes) const {
    const std::filesystem::path file = path_ / relative;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << bytes;
    return file.string();
  }

 private:
  std::filesystem::path path_;
};

}  // namespace samcli::test
