// Model manifests as untrusted input: every field checked for type and range, messages naming the
// manifest and the field.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "samcli/error.hpp"
#include "samcli/model.hpp"
#include "support/temp_dir.hpp"

using namespace samcli;
namespace fs = std::filesystem;

namespace {

const nlohmann::json kSam = nlohmann::json::parse(R"({"format": "samcli-sam", "format_version": 1,
  "model_type": "fixture", "image_size": 1024, "pixel_mean": [123.675, 116.28, 103.53],
  "pixel_std": [58.395, 57.12, 57.375], "mask_threshold": 0.0, "embedding_shape": [256, 64, 64],
  "low_res_mask_size": 256, "files": {"image_encoder": "e.pt", "prompt_decoder": "d.pt"}})");

const char* kOwlVitManifest = R"({"format": "samcli-owlvit", "format_version": 1, "model_type": "test",
  "image_size": 768, "image_mean": [0.48145466, 0.4578275, 0.40821073],
  "image_std": [0.26862954, 0.26130258, 0.27577711], "max_text_length": 16,
  "bos_id": 49406, "eos_id": 49407, "pad_id": 0,
  "files": {"detector": "detector.pt", "bpe_merges": "merges.txt"}})";

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

TEST_CASE("readOwlVitManifest reads the documented fields and names what is wrong", "[model]") {
  const samcli::test::TempDir dir;
  dir.write("det/manifest.json", kOwlVitManifest);
  dir.write("det/detector.pt", "x");
  dir.write("det/merges.txt", "#version: 0.2\n");
  const std::string det = (dir.path / "det").string();
  const OwlVitManifest m = readOwlVitManifest(det);
  CHECK(m.imageSize == 768);
  CHECK(m.imageStd[2] == Approx(0.27577711f));
  CHECK(m.maxTextLength == 16);
  CHECK(m.eosId == 49407);
  CHECK(m.bpeMergesFile == "merges.txt");

  fs::remove(dir.path / "det" / "merges.txt");
  CHECK_THROWS_WITH(readOwlVitManifest(det),
                    "detector model directory '" + det + "' lacks 'merges.txt' named in its manifest");

  // A manifest never leads a read out of its directory.
  dir.write("merges.txt", "#version: 0.2\n");
  for (const std::string& outside :
       std::vector<std::string>{"../merges.txt", "sub/../../merges.txt", (dir.path / "merges.txt").string()}) {
    std::string manifest = kOwlVitManifest;
    manifest.replace(manifest.find("\"merges.txt\""), 12, "\"" + outside + "\"");
    dir.write("det/manifest.json", manifest);
    CHECK_THROWS_WITH(readOwlVitManifest(det), "model manifest '" + det + "/manifest.json': files.bpe_merges '" +
                                                   outside + "' is not inside the model directory (expected a path "
                                                   "relative to it)");
  }

  dir.write("sam/manifest.json", R"({"format": "samcli-sam", "format_version": 1})");
  CHECK_THROWS_WITH(readOwlVitManifest((dir.path / "sam").string()),
                    Catch::Contains("is not an OWL-ViT detector (format \"samcli-sam\")"));
  nlohmann::json j = nlohmann::json::parse(kOwlVitManifest);
  j["image_std"] = {0.2, 0, 0.2};
  dir.write("det/manifest.json", j.dump());
  CHECK_THROWS_WITH(readOwlVitManifest(det), "model manifest '" + (dir.path / "det/manifest.json").string() +
                                                 "': field \"image_std\" must be 3 numbers in [1e-06, 1e+06], got [0.2,0,0.2]");
  j = nlohmann::json::parse(kOwlVitManifest);
  j["max_text_length"] = 2;
  dir.write("det/manifest.json", j.dump());
  CHECK_THROWS_WITH(readOwlVitManifest(det), Catch::EndsWith("field \"max_text_length\" must be an integer in [3, 4096], got 2"));
}

TEST_CASE("resolveDetectorDir finds owlvit-<name> under $SAMCLI_WEIGHTS", "[model]") {
  const samcli::test::TempDir dir;
  dir.write("owlvit-base-patch32/manifest.json", kOwlVitManifest);
  ::setenv("SAMCLI_WEIGHTS", dir.path.c_str(), 1);
  CHECK(resolveDetectorDir("base-patch32") == (dir.path / "owlvit-base-patch32").string());
  CHECK(resolveDetectorDir("owlvit-base-patch32") == (dir.path / "owlvit-base-patch32").string());
  CHECK_THROWS_WITH(resolveDetectorDir("large"), Catch::StartsWith("detector model 'large' not found (looked in"));
  CHECK_THROWS_WITH(resolveDetectorDir("/no/such/dir"), "detector model directory '/no/such/dir' does not exist");
  ::unsetenv("SAMCLI_WEIGHTS");
  ::unsetenv("SAMCLI_DETECTOR_TEST");
  CHECK_THROWS_WITH(resolveDetectorDir("", "SAMCLI_DETECTOR_TEST"),
                    Catch::StartsWith("no detector model given: pass --detector-model DIR|NAME or set "
                                      "SAMCLI_DETECTOR_TEST"));
}
