// The exceptions that reach a user (include/samcli/error.hpp).
#include <catch2/catch.hpp>

#include "samcli/error.hpp"

using namespace samcli;

TEST_CASE("InvalidParameter words its message with the front-end's names", "[error]") {
  const auto flag = [](const std::string& name) { return "<" + name + ">"; };
  const InvalidParameter e({"eps"}, "eps must be greater than 0 (got -1)");
  CHECK(std::string(e.what()) == "eps must be greater than 0 (got -1)");  // the library's own wording
  CHECK(e.renamed(flag) == "<eps> must be greater than 0 (got -1)");
  // Whole words only: a parameter inside a longer name is not one.
  CHECK(InvalidParameter({"clusters"}, "min_clusters and clusters").renamed(flag) == "min_clusters and <clusters>");
  // The first occurrence only: a value quoted later keeps its text.
  CHECK(InvalidParameter({"preset"}, "unknown preset 'preset'").renamed(flag) == "unknown <preset> 'preset'");
  CHECK(InvalidParameter({"a", "b"}, "a needs b").renamed(flag) == "<a> needs <b>");
  // Still a UsageError: exit code 2 wherever it is caught as one.
  CHECK_THROWS_AS(throw InvalidParameter({"x"}, "x is bad"), UsageError);
}
