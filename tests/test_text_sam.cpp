// text-sam's queries (text_sam.hpp): --text and --queries-from as the sets every image is searched
// for, a prompt file's text as each image's own, and the messages that stop a run before any model
// loads.
#include <catch2/catch.hpp>

#include <sstream>
#include <string>
#include <vector>

#include "samcli/error.hpp"
#include "samcli/text_sam.hpp"
#include "support/message_of.hpp"
#include "support/temp_dir.hpp"

using namespace samcli;

TEST_CASE("queriesFromOptions: the --text values are one query set for every image", "[text_sam]") {
  const TextSamQueries run = queriesFromOptions({"dog, person", " cat "}, "");
  REQUIRE(run.shared.size() == 1);
  CHECK(run.shared[0].queries == std::vector<std::string>{"dog", "person", "cat"});
  CHECK(run.shared[0].folder.empty());
  CHECK(run.perImage.empty());

  CHECK(test::messageOf<UsageError>([] { queriesFromOptions({}, ""); }) ==
        "nothing to look for: give --text \"dog, person\", --queries-from FILE, --query-image FILE, --query-box "
        "X0,Y0,X1,Y1 or --prompts FILE");
  CHECK(test::messageOf<UsageError>([] { queriesFromOptions({"dog", "!!"}, ""); }) ==
        "query '!!' in --text is only punctuation: nothing to look for");
}

TEST_CASE("queriesFromOptions: a query file gives one set per non-blank line, set N in folder qN", "[text_sam]") {
  test::TempDir dir;
  const std::string path = dir.write("q.txt", "dog\n\ncat, bird\n");
  const TextSamQueries run = queriesFromOptions({}, path);
  REQUIRE(run.shared.size() == 2);
  CHECK(run.shared[0].queries == std::vector<std::string>{"dog"});
  CHECK(run.shared[0].folder == "q1");
  CHECK(run.shared[1].queries == std::vector<std::string>{"cat", "bird"});
  CHECK(run.shared[1].folder == "q2");
  CHECK(run.perImage.empty());

  for (const std::string& unreadable : {dir / "missing.txt", dir.path.string()}) {
    CHECK(test::messageOf<Error>([&] { queriesFromOptions({}, unreadable); }) ==
          "cannot read --queries-from '" + unreadable + "': no such file");
  }
  const std::string blank = dir.write("blank.txt", "\n \n");
  CHECK_THAT(test::messageOf<UsageError>([&] { queriesFromOptions({}, blank); }),
             Catch::Contains("--queries-from '" + blank + "' has no queries"));
}

TEST_CASE("queriesFromPromptFile: each entry's text is its image's one query set", "[text_sam]") {
  std::istringstream in(R"({"image": "a.png", "text": "dog, cat"}
{"image": "b.png", "text": ["bird", "red car, tree"]}
)");
  const PromptFile file = PromptFile::parse(in, PromptFormat::Jsonl, "data/p.jsonl");
  const TextSamQueries run = queriesFromPromptFile(file);
  CHECK(run.shared.empty());
  REQUIRE(run.perImage.size() == 2);
  const std::vector<QuerySet>& a = run.perImage.at(file.entries()[0].image);
  REQUIRE(a.size() == 1);
  CHECK(a[0].queries == std::vector<std::string>{"dog", "cat"});
  CHECK(a[0].folder.empty());
  const std::vector<QuerySet>& b = run.perImage.at(file.entries()[1].image);
  REQUIRE(b.size() == 1);
  CHECK(b[0].queries == std::vector<std::string>{"bird", "red car", "tree"});

  std::istringstream noText(R"({"image": "a.png", "text": "dog"}
{"image": "b.png", "boxes": [[1, 2, 3, 4]]}
)");
  const PromptFile without = PromptFile::parse(noText, PromptFormat::Jsonl, "data/p.jsonl");
  CHECK(test::messageOf<UsageError>([&] { queriesFromPromptFile(without); }) ==
        "prompt file 'data/p.jsonl' line 2: no \"text\", \"query_images\" or \"query_boxes\" for '" +
            without.entries()[1].image + "' (text-sam needs queries)");
  std::istringstream emptyQuery(R"({"image": "a.png", "text": " , "})");
  const PromptFile empty = PromptFile::parse(emptyQuery, PromptFormat::Jsonl, "data/p.jsonl");
  CHECK_THAT(test::messageOf<UsageError>([&] { queriesFromPromptFile(empty); }),
             Catch::Contains("prompt file 'data/p.jsonl' line 1 \"text\""));
}

TEST_CASE("example queries: --query-image and --query-box make one set, labelled by file or box", "[text_sam]") {
  const TextSamQueries run = queriesFromOptions({}, "", {"ex/screw.png", "nut.jpg"}, {{10, 20, 30.5, 40}});
  REQUIRE(run.shared.size() == 1);
  const QuerySet& set = run.shared[0];
  CHECK(set.queries == std::vector<std::string>{"screw.png", "nut.jpg", "box 10,20,30.5,40"});
  REQUIRE(set.examples.size() == 3);
  CHECK(set.examples[0].imagePath == "ex/screw.png");
  CHECK_FALSE(set.examples[0].box);
  REQUIRE(set.examples[2].box);
  CHECK(set.examples[2].box->x1 == 30.5);
  CHECK(set.folder.empty());
}

TEST_CASE("queriesFromPromptFile: an entry's query_images and query_boxes are its examples", "[text_sam]") {
  std::istringstream in(R"({"image": "a.png", "query_images": "ex/screw.png", "query_boxes": [[30, 40, 10, 20]]}
{"image": "b.png", "text": "dog"}
)");
  const PromptFile file = PromptFile::parse(in, PromptFormat::Jsonl, "data/p.jsonl");
  const TextSamQueries run = queriesFromPromptFile(file);
  const QuerySet& a = run.perImage.at(file.entries()[0].image).at(0);
  REQUIRE(a.examples.size() == 2);
  CHECK(a.examples[0].imagePath == "data/ex/screw.png");  // relative to the prompt file, as images are
  CHECK(a.queries == std::vector<std::string>{"screw.png", "box 10,20,30,40"});
  CHECK(run.perImage.at(file.entries()[1].image).at(0).examples.empty());

  std::istringstream both(R"({"image": "a.png", "text": "dog", "query_images": ["x.png"]})");
  const PromptFile mixed = PromptFile::parse(both, PromptFormat::Jsonl, "data/p.jsonl");
  CHECK(test::messageOf<UsageError>([&] { queriesFromPromptFile(mixed); }) ==
        "prompt file 'data/p.jsonl' line 1: give \"text\" or example queries (\"query_images\", \"query_boxes\"), not "
        "both");
  std::istringstream csv("image,query_images,query_boxes\na.png,x.png;y.png,\"1,2,3,4\"\n");
  const PromptFile table = PromptFile::parse(csv, PromptFormat::Csv, "p.csv");
  CHECK(table.entries()[0].queryImages == std::vector<std::string>{"x.png", "y.png"});
  REQUIRE(table.entries()[0].queryBoxes.size() == 1);
  std::istringstream bad(R"({"image": "a.png", "query_images": [1]})");
  CHECK(test::messageOf<UsageError>([&] { PromptFile::parse(bad, PromptFormat::Jsonl, "p.jsonl"); }) ==
        "prompt file 'p.jsonl' line 1: \"query_images\" must be a path or a list of paths, got [1]");
}
