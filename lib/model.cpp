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

// What differs between kinds of model directory when resolving and reading them.
struct ModelKind {
  std::string noun;        // "model", "detector model"
  std::string option;      // "--model"
  std::string exportHint;  // where to get one
  std::string prefix;      // "sam_": a name is looked up as <prefix><name>, then <name>
};

const ModelKind kSam{"model", "--model", "see weights/README.md to export one", "sam_"};
const ModelKind kOwlVit{"detector model", "--detector-model", "export one with weights/export_owlvit.py", "owlvit-"};

// An existing directory as is, else `name` looked up under weightRoots(). `arg` is the user's text.
std::string resolveDir(const std::string& arg, const ModelKind& kind, const std::string& name) {
  std::error_code ec;
  if (fs::is_directory(arg, ec)) return arg;
  if (arg.find('/') != std::string::npos) throw Error(kind.noun + " directory '" + arg + "' does not exist");
  std::string searched;
  for (const auto& root : weightRoots()) {
    for (const std::string& candidate : {kind.prefix + name, name}) {
      const fs::path p = root / candidate;
      if (fs::is_directory(p, ec)) return p.string();
      searched += (searched.empty() ? "" : ", ") + p.string();
    }
  }
  throw Error(kind.noun + " '" + arg + "' not found (looked in " + searched + ")");
}

std::string argumentOrEnv(const std::string& dirOrName, const std::string& defaultEnv, const ModelKind& kind) {
  const std::string arg = dirOrName.empty() ? envOr(defaultEnv.c_str(), "") : dirOrName;
  if (arg.empty()) {
    throw Error("no " + kind.noun + " given: pass " + kind.option + " DIR|NAME or set " + defaultEnv + " (" +
                kind.exportHint + ")");
  }
  return arg;
}

std::string manifestPath(const std::string& dir) { return (fs::path(dir) / "manifest.json").string(); }

// The manifest's JSON, checked to be `format` (described as `what`) version 1.
nlohmann::json readManifestJson(const std::string& dir, const std::string& format, const std::string& what) {
  const std::string path = manifestPath(dir);
  std::ifstream in(path);
  if (!in) throw Error("cannot read model manifest '" + path + "': no such file (not a samcli model directory?)");
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception&) {
    throw Error("cannot read model manifest '" + path + "': invalid JSON");
  }
  try {
    if (j.value("format", "") != format) {
      throw Error("model manifest '" + path + "' is not " + what + " (format '" + j.value("format", "") + "')");
    }
    const int version = j.at("format_version").get<int>();
    if (version != 1) {
      throw Error("model manifest '" + path + "' has format_version " + std::to_string(version) +
                  "; this samcli reads version 1");
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error("model manifest '" + path + "' is incomplete: " + e.what());
  }
  return j;
}

// The files a manifest names ({field below "files", path}): inside the model directory (relative,
// no ".." leading out once normalised), so a manifest cannot make a tool read files elsewhere.
void requireFiles(const std::string& dir, const ModelKind& kind,
                  const std::vector<std::pair<std::string, std::string>>& files) {
  std::error_code ec;
  for (const auto& [field, file] : files) {
    const fs::path normal = fs::path(file).lexically_normal();
    if (file.empty() || !fs::path(file).is_relative() || normal.empty() || *normal.begin() == "..") {
      throw Error("model manifest '" + manifestPath(dir) + "': files." + field + " '" + file +
                  "' is not inside the model directory (expected a path relative to it)");
    }
    if (!fs::exists(fs::path(dir) / file, ec)) {
      throw Error(kind.noun + " directory '" + dir + "' lacks '" + file + "' named in its manifest");
    }
  }
}

}  // namespace

std::string resolveModelDir(const std::string& dirOrName, const std::string& defaultEnv) {
  const std::string arg = argumentOrEnv(dirOrName, defaultEnv, kSam);
  return resolveDir(arg, kSam, canonicalModelName(arg));
}

std::string resolveDetectorDir(const std::string& dirOrName, const std::string& defaultEnv) {
  const std::string arg = argumentOrEnv(dirOrName, defaultEnv, kOwlVit);
  return resolveDir(arg, kOwlVit, arg);
}

SamManifest readSamManifest(const std::string& dir) {
  const nlohmann::json j = readManifestJson(dir, "samcli-sam", "a SAM model");
  SamManifest m;
  m.directory = dir;
  try {
    m.formatVersion = j.at("format_version").get<int>();
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
    throw Error("model manifest '" + manifestPath(dir) + "' is incomplete: " + e.what());
  }
  requireFiles(dir, kSam, {{"image_encoder", m.imageEncoderFile}, {"prompt_decoder", m.promptDecoderFile}});
  return m;
}

OwlVitManifest readOwlVitManifest(const std::string& dir) {
  const nlohmann::json j = readManifestJson(dir, "samcli-owlvit", "an OWL-ViT detector");
  const std::string path = manifestPath(dir);
  OwlVitManifest m;
  m.directory = dir;
  try {
    m.formatVersion = j.at("format_version").get<int>();
    m.modelType = j.at("model_type").get<std::string>();
    m.imageSize = j.at("image_size").get<int>();
    m.imageMean = j.at("image_mean").get<std::array<float, 3>>();
    m.imageStd = j.at("image_std").get<std::array<float, 3>>();
    m.maxTextLength = j.at("max_text_length").get<int>();
    m.bosId = j.at("bos_id").get<int>();
    m.eosId = j.at("eos_id").get<int>();
    m.padId = j.at("pad_id").get<int>();
    m.detectorFile = j.at("files").at("detector").get<std::string>();
    m.bpeMergesFile = j.at("files").at("bpe_merges").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    throw Error("model manifest '" + path + "' is incomplete: " + e.what());
  }
  const bool positiveStd = m.imageStd[0] > 0 && m.imageStd[1] > 0 && m.imageStd[2] > 0;
  // BOS, at least one content id and EOS must fit in a query row.
  if (m.imageSize < 1 || m.maxTextLength < 3 || !positiveStd || m.bosId < 0 || m.eosId < 0 || m.padId < 0) {
    throw Error("model manifest '" + path + "' has out-of-range values (image_size, max_text_length, image_std or "
                "token ids)");
  }
  requireFiles(dir, kOwlVit, {{"detector", m.detectorFile}, {"bpe_merges", m.bpeMergesFile}});
  return m;
}

}  // namespace samcli
