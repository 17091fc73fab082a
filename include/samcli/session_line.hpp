#pragma once
// One line of the --session protocol (session.hpp), read and validated without a model: the whole
// reader of this untrusted input lives in the torch-free core, where it is unit-tested and fuzzed
// (tests/fuzz/fuzz_session_line.cpp) like every other parser.
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "samcli/predictor.hpp"

namespace samcli {

struct SessionRequest {
  nlohmann::ordered_json prompt;  // the line's object as given, echoed in the answer
  std::string image;              // the image to decode on (the current one when the line names none)
  std::vector<Prompt> prompts;    // one per box, each with the line's clicks; or one of the clicks
  std::optional<bool> multimask;  // unset: the caller's default (defaultMultimask)
  bool refine = false;
  bool save = false;
  std::string saveName;  // "" with save: the image's stem
};

// Parses line `number` of the session's input. JSON goes through the bounded reader of
// json_input.hpp (nesting depth, message style); the prompt fields are a prompt-file entry's
// (prompt_file.hpp). `currentImage` is the open image ("" when none), used when the line gives no
// "image". Throws Error with the message the session answers the line with.
SessionRequest parseSessionLine(const std::string& line, std::size_t number, const std::string& currentImage);

}  // namespace samcli
