#include "samcli/model.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <type_traits>
#include <filesystem>
#include <fstream>
#include <map>
#include <vector>

#include <nlohmann/json.hpp>

#include "samcli/error.hpp"
#include "samcli/json_input.hpp"
#include "samcli/text_input.hpp"

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
    const fs::path prefix = exe.parent_path().parent_path();
    // A build tree (<build>/apps/tool, <build>/CMakeCache.txt) looks in the source tree's weights/
    // beside it (<repo>/build -> <repo>/weights); an installed tool in <prefix>/share/samcli/weights
    // only (for /usr/bin/tool the build-tree rule would mean /weights).
    if (fs::exists(prefix / "CMakeCache.txt", ec)) {
      roots.push_back(prefix.parent_path() / "weights");
    } else {
      roots.push_back(prefix / "share" / "samcli" / "weights");
    }
  }
  return roots;
}

std::string canonicalModelName(const std::string& name) {
  static const std::map<std::string, std::string> aliases = {
      {"b", "vit_b"}, {"l", "vit_l"}, {"h", "vit_h"}, {"t", "vit_t"}};
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

// Ranges that keep every allocation derived from a manifest sane (a hand-edited image_size of 1e6
// would ask for terabytes); real models sit well inside them.
constexpr int64_t kMaxModelSide = 4096;
constexpr int64_t kMaxEmbeddingChannels = 4096;
constexpr int64_t kMaxTextLength = 4096;

std::string where(const std::string& dir) { return "model manifest '" + manifestPath(dir) + "'"; }

// The manifest's JSON, checked to be `format` (described as `what`) of a version from 1 to maxVersion.
nlohmann::json readManifestJson(const std::string& dir, const std::string& format, const std::string& what,
                                int maxVersion) {
  const std::string path = manifestPath(dir);
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    throw Error("cannot read model manifest '" + path + "': no such file (not a samcli model directory?)");
  }
  const nlohmann::json j = parseJson(readTextFile(path), where(dir));
  if (!j.is_object()) throw Error(where(dir) + " is not a JSON object");
  const auto format_ = j.find("format");
  if (format_ == j.end() || !format_->is_string() || format_->get<std::string>() != format) {
    throw Error(where(dir) + " is not " + what + " (format " +
                (format_ == j.end() ? std::string("missing") : jsonSnippet(*format_)) + ")");
  }
  const int64_t version = jsonInteger(j, "format_version", where(dir), 0, INT32_MAX);
  if (version < 1 || version > maxVersion) {
    throw Error(where(dir) + " has format_version " + std::to_string(version) + "; this samcli reads " +
                (maxVersion == 1 ? std::string("version 1") : "versions 1 to " + std::to_string(maxVersion)));
  }
  return j;
}

// `count` numbers in [lo, hi] as field `key`.
template <size_t N, class T>
std::array<T, N> numbers(const nlohmann::json& j, const std::string& key, const std::string& where, double lo,
                         double hi) {
  const nlohmann::json& value = jsonField(j, key, where);
  const std::string expected = std::to_string(N) + " numbers in [" + formatNumber(lo) + ", " + formatNumber(hi) + "]";
  if (!value.is_array() || value.size() != N) throwFieldError(where, key, "must be " + expected + ", got " + jsonSnippet(value));
  std::array<T, N> out{};
  for (size_t i = 0; i < N; ++i) {
    const nlohmann::json& x = value[i];
    const bool integral = std::is_integral<T>::value;
    if (!x.is_number() || (integral && x.get<double>() != std::floor(x.get<double>())) || !(x.get<double>() >= lo) ||
        !(x.get<double>() <= hi)) {
      throwFieldError(where, key, "must be " + expected + ", got " + jsonSnippet(value));
    }
    out[i] = static_cast<T>(x.get<double>());
  }
  return out;
}

std::string fileField(const nlohmann::json& j, const std::string& key, const std::string& where) {
  const std::string file = jsonString(jsonField(j, "files", where), key, where + " \"files\"");
  if (file.empty()) throwFieldError(where + " \"files\"", key, "is empty");
  return file;
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
  const nlohmann::json j = readManifestJson(dir, "samcli-sam", "a SAM model", kSamFormatVersion);
  const std::string w = where(dir);
  SamManifest m;
  m.directory = dir;
  m.formatVersion = int(j.at("format_version").get<int64_t>());
  m.modelType = jsonString(j, "model_type", w);
  m.imageSize = int(jsonInteger(j, "image_size", w, 1, kMaxModelSide));
  m.pixelMean = numbers<3, float>(j, "pixel_mean", w, -1e6, 1e6);
  m.pixelStd = numbers<3, float>(j, "pixel_std", w, 1e-6, 1e6);  // a divisor
  m.maskThreshold = float(jsonNumber(j, "mask_threshold", w, -1e6, 1e6));
  m.embeddingShape = numbers<3, int>(j, "embedding_shape", w, 1, double(kMaxEmbeddingChannels));
  m.lowResMaskSize = int(jsonInteger(j, "low_res_mask_size", w, 1, kMaxModelSide));
  m.imageEncoderFile = fileField(j, "image_encoder", w);
  m.promptDecoderFile = fileField(j, "prompt_decoder", w);
  requireFiles(dir, kSam, {{"image_encoder", m.imageEncoderFile}, {"prompt_decoder", m.promptDecoderFile}});
  return m;
}

OwlVitManifest readOwlVitManifest(const std::string& dir) {
  const nlohmann::json j = readManifestJson(dir, "samcli-owlvit", "an OWL-ViT detector", 2);
  const std::string w = where(dir);
  OwlVitManifest m;
  m.directory = dir;
  m.formatVersion = int(j.at("format_version").get<int64_t>());
  m.modelType = jsonString(j, "model_type", w);
  if (m.formatVersion >= 2) {
    const std::string preprocessing = jsonString(j, "preprocessing", w);
    if (preprocessing == "stretch") {
      m.preprocessing = DetectorPreprocessing::Stretch;
    } else if (preprocessing == "pad_square") {
      m.preprocessing = DetectorPreprocessing::PadSquare;
    } else {
      throw Error(w + ": \"preprocessing\" is '" + preprocessing + "'; expected 'stretch' (OWL-ViT) or 'pad_square' (OWLv2)");
    }
    const auto objectness = j.find("objectness");
    if (objectness == j.end() || !objectness->is_boolean()) throw Error(w + ": \"objectness\" must be true or false");
    m.objectness = objectness->get<bool>();
  }
  m.imageSize = int(jsonInteger(j, "image_size", w, 1, kMaxModelSide));
  m.imageMean = numbers<3, float>(j, "image_mean", w, -1e6, 1e6);
  m.imageStd = numbers<3, float>(j, "image_std", w, 1e-6, 1e6);  // a divisor
  // BOS, at least one content id and EOS must fit in a query row.
  m.maxTextLength = int(jsonInteger(j, "max_text_length", w, 3, kMaxTextLength));
  m.bosId = int(jsonInteger(j, "bos_id", w, 0, INT32_MAX));
  m.eosId = int(jsonInteger(j, "eos_id", w, 0, INT32_MAX));
  m.padId = int(jsonInteger(j, "pad_id", w, 0, INT32_MAX));
  m.detectorFile = fileField(j, "detector", w);
  m.bpeMergesFile = fileField(j, "bpe_merges", w);
  requireFiles(dir, kOwlVit, {{"detector", m.detectorFile}, {"bpe_merges", m.bpeMergesFile}});
  return m;
}

}  // namespace samcli
