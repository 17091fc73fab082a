#include "samcli/session_line.hpp"

#include <algorithm>
#include <vector>

#include "samcli/error.hpp"
#include "samcli/json_input.hpp"
#include "samcli/prompt_file.hpp"
#include "samcli/prompted.hpp"

namespace samcli {
namespace {

using ojson = nlohmann::ordered_json;

// Takes the session's own fields off the object, so that the rest reads as a prompt-file entry
// (which refuses unknown fields).
void takeControls(ojson& object, SessionRequest& request) {
  const auto take = [&](const char* key) {
    ojson value = object.contains(key) ? object[key] : ojson();
    object.erase(key);
    return value;
  };
  for (const char* key : {"multimask", "refine"}) {
    const ojson value = take(key);
    if (value.is_null()) continue;
    if (!value.is_boolean()) throw Error(std::string("\"") + key + "\" must be true or false, got " + jsonSnippet(value));
    (std::string(key) == "refine" ? request.refine : request.multimask.emplace()) = value.get<bool>();
  }
  const ojson save = take("save");
  if (save.is_boolean()) {
    request.save = save.get<bool>();
  } else if (save.is_string()) {
    request.save = true;
    request.saveName = save.get<std::string>();
    const std::string& name = request.saveName;
    const bool control = std::any_of(name.begin(), name.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; });
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == ".." || control) {
      throw Error("\"save\" must be a folder name without '/' or control characters, got " + jsonSnippet(save));
    }
  } else if (!save.is_null()) {
    throw Error("\"save\" must be true or a folder name, got " + jsonSnippet(save));
  }
}

// A field a session line may hold: a prompt-file entry's and the session's own ("text" is
// refused later, with a message saying where it belongs). Throws Error listing them otherwise.
void checkField(const std::string& key) {
  static const std::vector<std::string> fields = {"image", "points", "labels", "boxes", "multimask", "refine", "save"};
  if (key == "text" || std::find(fields.begin(), fields.end(), key) != fields.end()) return;
  std::string list;
  for (const auto& field : fields) list += (list.empty() ? "" : ", ") + field;
  throw Error("unknown field \"" + key + "\" (fields: " + list + ")");
}

}  // namespace

SessionRequest parseSessionLine(const std::string& line, std::size_t number, const std::string& currentImage) {
  SessionRequest request;
  ojson object = parseOrderedJson(line, "standard input", number);
  if (!object.is_object()) throw Error("expected an object {\"image\": ..., \"points\": ...}, got " + jsonSnippet(object));
  request.prompt = object;
  for (const auto& item : object.items()) checkField(item.key());
  takeControls(object, request);
  if (!object.contains("image")) {
    if (currentImage.empty()) throw Error("no \"image\" given yet");
    object["image"] = currentImage;
  }
  const PromptEntry entry = promptEntryFromJson(nlohmann::json(object), "line " + std::to_string(number), "");
  if (!entry.texts.empty()) throw Error("\"text\" needs text-sam; this session takes points and boxes");
  if (entry.boxes.empty()) {
    if (entry.points.empty()) throw Error("nothing to decode: give \"points\" or \"boxes\"");
    request.prompts.push_back(Prompt{entry.points, entry.labels, std::nullopt, cv::Mat()});
  } else {
    request.prompts = boxPrompts(entry.boxes, entry.points, entry.labels);
  }
  request.image = entry.image;
  return request;
}

}  // namespace samcli
