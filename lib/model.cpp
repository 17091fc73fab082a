#include "samcli/model.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <vector>

#include <nlohmann/json.hpp>

#include "samcli/error.hpp"

namespace fs = std::filesystem;

namespace samcli {
namespace {

std::string envOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return (v && *v) ? std::string(v) : fallback;
}

// Folders that may hold named models, most specific first.
std::vector<fs::path> weightRoots() {
  std::vector<fs::path> roots;
  if (const char* env = std::getenv("SAMCLI_WEIGHTS"); env && *env) roots.emplace_back(env);
  roots.emplace_back("weights");
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    // Installed (<prefix>/bin/tool -> <prefix>/share/samcli/weights) and build-tree
    // (<repo>/build/apps/tool -> <repo>/weights) layouts.
    roots.push_back(exe.parent_path().parent_path() / "share" / "samcli" / "weights");
    roots.push_back(exe.parent_path().parent_path().parent_path() / "weights");
  }
  return roots;
}

std::string canonicalModelName(const std::string& name) {
  static const std::map<std::string, std::string> aliases = {
      {"b", "vit_b"}, {"l", "vit_l"}, {"h", "vit_h"}};
  const auto it = aliases.find(name);
  return it == aliases.end() ? name : it->second;
}

}  // namespace

std::string resolveModelDir(const std::string& dirOrName, const std::string& defaultEnv) {
  const std::string arg = dirOrName.empty() ? envOr(defaultEnv.c_str(), "") : dirOrName;
  if (arg.empty()) {
    throw Error("no model given: pass --model DIR|NAME or set " + defaultEnv +
                " (see weights/README.md to export one)");
  }
  std::error_code ec;
  if (fs::is_directory(arg, ec)) return arg;
  if (arg.find('/') != std::string::npos) throw Error("model directory '" + arg + "' does not exist");
  const std::string name = canonicalModelName(arg);
  std::string searched;
  for (const auto& root : weightRoots()) {
    for (const std::string& candidate : {"sam_" + name, name}) {
      const fs::path p = root / candidate;
      if (fs::is_directory(p, ec)) return p.string();
      searched += (searched.empty() ? "" : ", ") + p.string();
    }
  }
  throw Error("model '" + arg + "' not found (looked in " + searched + ")");
}

SamManifest readSamManifest(const std::string& dir) {
  const std::string path = (fs::path(dir) / "manifest.json").string();
  std::ifstream in(path);
  if (!in) throw Error("cannot read model manifest '" + path + "': no such file (not a samcli model directory?)");
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception&) {
    throw Error("cannot read model manifest '" + path + "': invalid JSON");
  }
  SamManifest m;
  m.directory = dir;
  try {
    if (j.value("format", "") != "samcli-sam") {
      throw Error("model manifest '" + path + "' is not a SAM model (format '" + j.value("format", "") + "')");
    }
    m.formatVersion = j.at("format_version").get<int>();
    if (m.formatVersion != 1) {
      throw Error("model manifest '" + path + "' has format_version " + std::to_string(m.formatVersion) +
                  "; this samcli reads version 1");
    }
    m.modelType = j.at("model_type").get<std::string>();
    m.imageSize = j.at("image_size").get<int>();
    m.pixelMean = j.at("pixel_mean").get<std::array<float, 3>>();
    m.pixelStd = j.at("pixel_std").get<std::array<float, 3>>();
    m.maskThreshold = j.at("mask_threshold").get<float>();
    m.embeddingShape = j.at("embedding_shape").get<std::array<int, 3>>();
    m.lowResMaskSize = j.at("low_res_mask_size").get<int>();
    m.imageEncoderFile = j.at("files").at("image_encoder").get<std::string>();
    m.promptDecoderFile = j.at("files").at("prompt_decoder").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    throw Error("model manifest '" + path + "' is incomplete: " + e.what());
  }
  std::error_code ec;
  for (const auto& file : {m.imageEncoderFile, m.promptDecoderFile}) {
    if (!fs::exists(fs::path(dir) / file, ec)) {
      throw Error("model directory '" + dir + "' lacks '" + file + "' named in its manifest");
    }
  }
  return m;
}

}  // namespace samcli
