// Lines of the --session protocol (sam-point/sam-box --session), with and without an open image.
// Unlike the other JSON targets, deep nesting is not left out: the session's reader must refuse it.
#include <string>

#include "fuzz_common.hpp"
#include "samcli/session_line.hpp"

using namespace samcli;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string line(reinterpret_cast<const char*>(data), size);
  for (const char* current : {"", "/fuzz/open.png"}) {
    fuzz::guarded([&] {
      const SessionRequest request = parseSessionLine(line, 7, current);
      // What the session relies on without checking again.
      bool consistent = request.prompt.is_object() && !request.prompts.empty() && !request.image.empty() &&
                        request.saveName.find('/') == std::string::npos;
      for (const Prompt& p : request.prompts) consistent = consistent && p.labels.size() == p.points.size();
      if (!consistent) {
        std::fprintf(stderr, "fuzz: an accepted session line gives an inconsistent request\n");
        std::abort();
      }
      // The answer echoes the line.
      (void)request.prompt.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    });
  }
  return 0;
}
