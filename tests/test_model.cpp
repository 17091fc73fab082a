// Model manifests as untrusted input: every field checked for type and range, messages naming the
// manifest and the field.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "samcli/error.hpp"
#include "samcli/model.hpp"
#include "support/temp_dir.hpp"

using namespace samcli;

namespace {

const nlohmann::json kSam = nlohmann::json::parse(R"({"format": "samcli-sam", "format_version": 1,
  "model_type": "fixture", "image_size": 1024, "pixel_mean": [123.675, 116.28, 103.53],
  "pixel_std": [58.395, 57.12, 57.375], "mask_threshold": 0.0, "embedding_shape": [256, 64, 64],
  "low_res_mask_size": 256, "files": {"image_encoder": "e.pt", "prompt_decoder": "d.pt"}})");

}  // namespace

TEST_CASE("readSamManifest validates every field with its range", "[model]") {
  samcli::test::TempDir dir;
  dir.write("m/e.pt", "x");
  dir.write("m/d.pt", "x");
  const std::string model = dir / "m";
  const std::string where = "model manifest '" + (dir / "m/manifest.json") + "'";
  const auto errorWith = [&](const std::string& field, const nlohmann::json& value) {
    nlohmann::json j = kSam;
    if (value.is_discarded()) {
      j.erase(field);
    } else {
      j[field] = value;
    }
    dir.write("m/manifest.json", j.dump());
    try {
      readSamManifest(model);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  dir.write("m/manifest.json", kSam.dump());
  CHECK(readSamManifest(model).lowResMaskSize == 256);
  CHECK(readSamManifest(model).formatVersion == 1);
  CHECK(errorWith("format_version", 2) == "(no error)");
  CHECK(readSamManifest(model).formatVersion == 2);
  // low_res_mask_size 0 ended in an OpenCV assertion, pixel_std 0 divided by zero, image_size 1e6
  // asked for terabytes.
  CHECK(errorWith("low_res_mask_size", 0) ==
        where + ": field \"low_res_mask_size\" must be an integer in [1, 4096], got 0");
  CHECK(errorWith("pixel_std", {0, 0, 0}) == where + ": field \"pixel_std\" must be 3 numbers in [1e-06, 1e+06], got [0,0,0]");
  CHECK(errorWith("image_size", 1e6) == where + ": field \"image_size\" must be an integer in [1, 4096], got 1000000.0");
  CHECK(errorWith("embedding_shape", {256, 64}) ==
        where + ": field \"embedding_shape\" must be 3 numbers in [1, 4096], got [256,64]");
  CHECK(errorWith("embedding_shape", {256, 64.5, 64}) ==
        where + ": field \"embedding_shape\" must be 3 numbers in [1, 4096], got [256,64.5,64]");
  CHECK(errorWith("mask_threshold", "0") == where + ": field \"mask_threshold\" must be a number in [-1e+06, 1e+06], got \"0\"");
  CHECK(errorWith("model_type", nlohmann::json(nlohmann::json::value_t::discarded)) ==
        where + ": field \"model_type\" is missing");
  CHECK(errorWith("files", {{"image_encoder", "e.pt"}}) == where + " \"files\": field \"prompt_decoder\" is missing");
  CHECK(errorWith("format_version", 3) == where + " has format_version 3; this samcli reads versions 1 to 2");
  CHECK(errorWith("format_version", 0) == where + " has format_version 0; this samcli reads versions 1 to 2");
  CHECK(errorWith("format", "samcli-owlvit") == where + " is not a SAM model (format \"samcli-owlvit\")");
  dir.write("m/manifest.json", std::string(200, '[') + std::string(200, ']'));
  CHECK_THROWS_WITH(readSamManifest(model), where + ": malformed JSON at line 1, column 65: nested deeper than 64 levels");
  dir.write("m/manifest.json", "{\"format\": ");
  CHECK_THROWS_WITH(readSamManifest(model), Catch::StartsWith(where + ": malformed JSON at line 1, column 12: "));
}

TEST_CASE("resolveModelDir finds sam_<type> under $SAMCLI_WEIGHTS for every model name and its short form",
          "[model]") {
  const samcli::test::TempDir dir;
  for (const char* type : {"vit_b", "vit_l", "vit_h", "vit_t"}) dir.write(std::string("sam_") + type + "/manifest.json", "{}");
  ::setenv("SAMCLI_WEIGHTS", dir.path.c_str(), 1);
  for (const auto& [name, folder] : std::vector<std::pair<std::string, std::string>>{
           {"vit_b", "sam_vit_b"}, {"b", "sam_vit_b"}, {"vit_l", "sam_vit_l"}, {"l", "sam_vit_l"},
           {"vit_h", "sam_vit_h"}, {"h", "sam_vit_h"}, {"vit_t", "sam_vit_t"}, {"t", "sam_vit_t"}}) {
    INFO(name);
    CHECK(resolveModelDir(name) == (dir.path / folder).string());
  }
  CHECK_THROWS_WITH(resolveModelDir("x"), Catch::StartsWith("model 'x' not found (looked in " + (dir.path / "sam_x").string()));
  ::unsetenv("SAMCLI_WEIGHTS");
}
