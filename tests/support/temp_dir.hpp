#pragma once
// A temporary directory removed with everything in it at the end of a test.
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace samcli::test {

struct TempDir {
  std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("samcli_test_" + std::to_string(std::random_device{}()));
  TempDir() { std::filesystem::create_directories(path); }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  // Writes `bytes` to `name` below the directory (binary, parents created); returns the full path.
  std::string write(const std::string& name, const std::string& bytes) const {
    std::filesystem::create_directories((path / name).parent_path());
    std::ofstream(path / name, std::ios::binary) << bytes;
    return (path / name).string();
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

}  // namespace samcli::test
