// Tensor-level steps shared by the predictor and the generator (lib/sam_model.hpp).
#include <cmath>

#include "sam_model.hpp"
// LibTorch's glog headers define CHECK; Catch2's must win in this file.
#undef CHECK
#include <catch2/catch.hpp>

using namespace samcli;

TEST_CASE("prompt sequences follow the official prompt encoder", "[sam_model]") {
  std::vector<float> coords;
  std::vector<float> codes;
  appendPromptSequence({{10, 20}, {30, 40}}, {1, 0}, std::nullopt, coords, codes);
  CHECK(coords == std::vector<float>{10, 20, 30, 40, 0, 0});
  CHECK(codes == std::vector<float>{1, 0, -1});  // padding point when there is no box
  coords.clear();
  codes.clear();
  appendPromptSequence({{5, 6}}, {1}, BoxXyxy{1, 2, 3, 4}, coords, codes);
  CHECK(coords == std::vector<float>{5, 6, 1, 2, 3, 4});
  CHECK(codes == std::vector<float>{1, 2, 3});  // box corners instead of the padding point
}
