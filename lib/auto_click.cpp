#include "samcli/auto_click.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "samcli/error.hpp"
#include "samcli/evaluation.hpp"

namespace fs = std::filesystem;

namespace samcli {
namespace {

bool hasPngExtension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return ext == ".png";
}

std::string lastComponent(const std::string& name) { return name.substr(name.rfind('/') + 1); }

std::string sizeText(cv::Size s) { return std::to_string(s.width) + "x" + std::to_string(s.height); }

}  // namespace

GroundTruthMasks::GroundTruthMasks(std::string path) : path_(std::move(path)) {
  std::error_code ec;
  if (!fs::exists(path_, ec)) throw InvalidParameter({"auto_click"}, "auto_click '" + path_ + "': no such file or folder");
  folder_ = fs::is_directory(path_, ec);
  if (!folder_) return;
  for (fs::recursive_directory_iterator it(path_, ec), end; it != end && !ec; it.increment(ec)) {
    if (!it->is_regular_file(ec) || !hasPngExtension(it->path())) continue;
    fs::path relative = it->path().lexically_relative(path_);
    relative.replace_extension();
    const std::string name = relative.generic_string();
    byName_.emplace(name, it->path().string());
    byStem_[lastComponent(name)].push_back(name);
  }
  if (ec) throw InvalidParameter({"auto_click"}, "auto_click: cannot list ground-truth folder '" + path_ + "': " + ec.message());
  for (auto& [stem, names] : byStem_) std::sort(names.begin(), names.end());
  if (byName_.empty()) throw InvalidParameter({"auto_click"}, "auto_click: no ground-truth masks (*.png) under '" + path_ + "'");
}

std::string GroundTruthMasks::maskFor(const InputImage& input) const {
  if (!folder_) return path_;
  if (const auto it = byName_.find(input.outputName); it != byName_.end()) return it->second;
  const std::string stemName = lastComponent(input.outputName);
  if (const auto it = byName_.find(stemName); it != byName_.end()) return it->second;  // flat ground truth
  const std::string expected = (fs::path(path_) / (input.outputName + ".png")).string();
  // Flat outputs, nested ground truth: the one mask with the stem. A nested output name is never
  // paired with another folder's mask.
  const auto stem = stemName == input.outputName ? byStem_.find(stemName) : byStem_.end();
  if (stem == byStem_.end()) {
    throw Error("no ground truth for '" + input.path + "': '" + expected + "' does not exist");
  }
  if (stem->second.size() > 1) {
    throw Error("no ground truth for '" + input.path + "': '" + expected + "' does not exist and " +
                std::to_string(stem->second.size()) + " masks are named '" + stem->first + "' ('" +
                stem->second[0] + "', '" + stem->second[1] +
                "'...); pass the images' folder so their outputs mirror the ground-truth tree");
  }
  return byName_.at(stem->second.front());
}

PointXY autoClick(const cv::Mat& gtMask, const std::string& gtPath, cv::Size imageSize) {
  if (gtMask.size() != imageSize) {
    throw Error("ground truth '" + gtPath + "' is " + sizeText(gtMask.size()) + " but its image is " +
                sizeText(imageSize));
  }
  if (cv::countNonZero(gtMask) == 0) {
    throw Error("ground truth '" + gtPath + "' is empty (no object pixel): no click can be placed");
  }
  const cv::Point p = farthestFromBoundary(gtMask);
  return {double(p.x), double(p.y)};
}

}  // namespace samcli
