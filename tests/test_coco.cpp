// COCO export of a run's per-image documents and the merge of per-shard COCO files.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "samcli/coco.hpp"
#include "samcli/error.hpp"

using namespace samcli;
using Json = nlohmann::ordered_json;

namespace {

// A mask record as the tools write it (bbox with SAM's inclusive maxima: x, y, x1 - x0, y1 - y0).
Json mask(int area, std::vector<int> bbox, const std::string& counts = "abc") {
  return {{"segmentation", {{"size", {6, 8}}, {"counts", counts}}},
          {"area", area},
          {"bbox", bbox},
          {"predicted_iou", 0.875},
          {"stability_score", 0.5}};
}

Json imageDoc(const std::string& path, std::vector<Json> masks) {
  return {{"image", path}, {"width", 8}, {"height", 6}, {"masks", masks}};
}

Json withField(Json m, const std::string& key, Json value) {
  m[key] = std::move(value);
  return m;
}

std::vector<std::string> names(const Json& categories) {
  std::vector<std::string> out;
  for (const auto& c : categories) out.push_back(c.at("name").get<std::string>());
  return out;
}

}  // namespace

TEST_CASE("coco: cocoFromResults numbers images and annotations from 1 and links them", "[coco]") {
  const Json coco = cocoFromResults({imageDoc("data/a.png", {mask(4, {1, 2, 1, 1}), mask(2, {0, 0, 1, 0})}),
                                     imageDoc("data/sub/b.png", {}),
                                     imageDoc("data/c.png", {mask(3, {5, 5, 2, 0}, "xyz")})});
  REQUIRE(coco["images"].size() == 3);
  CHECK(coco["images"][0] == Json({{"id", 1}, {"file_name", "data/a.png"}, {"width", 8}, {"height", 6}}));
  CHECK(coco["images"][1]["id"] == 2);
  CHECK(coco["images"][1]["file_name"] == "data/sub/b.png");
  CHECK(coco["images"][2]["id"] == 3);
  REQUIRE(coco["annotations"].size() == 3);
  for (int i = 0; i < 3; ++i) CHECK(coco["annotations"][size_t(i)]["id"] == i + 1);
  CHECK(coco["annotations"][0]["image_id"] == 1);
  CHECK(coco["annotations"][1]["image_id"] == 1);
  CHECK(coco["annotations"][2]["image_id"] == 3);
  const Json& a = coco["annotations"][2];
  CHECK(a["segmentation"] == Json({{"size", {6, 8}}, {"counts", "xyz"}}));
  CHECK(a["area"] == 3);
  CHECK(a["iscrowd"] == 0);
  CHECK(a["score"] == 0.875);
  CHECK(a["stability_score"] == 0.5);
  CHECK(coco.contains("info"));
}

TEST_CASE("coco: bbox counts pixels (SAM's inclusive extent + 1); an empty mask has a 0x0 box", "[coco]") {
  const Json coco = cocoFromResults({imageDoc("a.png", {mask(4, {1, 2, 1, 1}), mask(1, {7, 5, 0, 0}),
                                                        mask(0, {0, 0, 0, 0})})});
  CHECK(coco["annotations"][0]["bbox"] == Json({1, 2, 2, 2}));
  CHECK(coco["annotations"][1]["bbox"] == Json({7, 5, 1, 1}));
  CHECK(coco["annotations"][2]["bbox"] == Json({0, 0, 0, 0}));
}

TEST_CASE("coco: categories come from label, else class k, else object; class 0 is left out", "[coco]") {
  const Json m = mask(4, {1, 2, 1, 1});
  const Json coco = cocoFromResults({imageDoc("a.png", {withField(m, "label", "cat"), m, withField(m, "class", 2),
                                                        withField(m, "class", 0), withField(m, "label", "cat")}),
                                     imageDoc("b.png", {withField(m, "class", 2), withField(m, "label", "dog")})});
  CHECK(coco["categories"] == Json::parse(R"([{"id":1,"name":"cat","supercategory":"object"},
                                             {"id":2,"name":"object","supercategory":"object"},
                                             {"id":3,"name":"class 2","supercategory":"object"},
                                             {"id":4,"name":"dog","supercategory":"object"}])"));
  std::vector<int> categoryIds;
  for (const auto& a : coco["annotations"]) categoryIds.push_back(a["category_id"].get<int>());
  CHECK(categoryIds == std::vector<int>{1, 2, 3, 1, 3, 4});  // the class-0 mask has no annotation
  CHECK(coco["annotations"].back()["id"] == 6);
  SECTION("a label wins over a class") {
    const Json both = cocoFromResults({imageDoc("a.png", {withField(withField(m, "class", 3), "label", "cup")})});
    CHECK(names(both["categories"]) == std::vector<std::string>{"cup"});
  }
  SECTION("no images: an empty but valid COCO object") {
    const Json empty = cocoFromResults({});
    CHECK(empty["images"] == Json::array());
    CHECK(empty["annotations"] == Json::array());
    CHECK(empty["categories"] == Json::array());
  }
}

TEST_CASE("coco: mergeCoco orders images by file_name, renumbers ids and unifies categories by name", "[coco]") {
  const Json first = Json::parse(R"({
    "info": {"description": "shard 0"},
    "images": [{"id": 7, "file_name": "a.png", "width": 8, "height": 6},
               {"id": 9, "file_name": "c.png", "width": 8, "height": 6}],
    "annotations": [{"id": 100, "image_id": 9, "category_id": 5, "area": 1},
                    {"id": 101, "image_id": 7, "category_id": 6, "area": 2}],
    "categories": [{"id": 5, "name": "cat"}, {"id": 6, "name": "object"}]})");
  const Json second = Json::parse(R"({
    "info": {"description": "shard 1"},
    "images": [{"id": 1, "file_name": "b.png", "width": 8, "height": 6}],
    "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "area": 3},
                    {"id": 2, "image_id": 1, "category_id": 2, "area": 4}],
    "categories": [{"id": 1, "name": "object"}, {"id": 2, "name": "dog"}]})");
  const Json merged = mergeCoco({{"p0.json", first}, {"p1.json", second}});
  CHECK(merged["info"]["description"] == "shard 0");
  REQUIRE(merged["images"].size() == 3);
  std::vector<std::string> files;
  for (size_t i = 0; i < 3; ++i) {
    CHECK(merged["images"][i]["id"] == i + 1);
    files.push_back(merged["images"][i]["file_name"].get<std::string>());
  }
  CHECK(files == std::vector<std::string>{"a.png", "b.png", "c.png"});
  CHECK(merged["images"][2]["width"] == 8);  // other fields kept
  // Categories numbered as first met along the images, as one run over a, b and c numbers them.
  CHECK(names(merged["categories"]) == std::vector<std::string>{"object", "dog", "cat"});
  // area tells the annotations apart: (id, image_id, category_id) after renumbering, image by image.
  const std::vector<std::vector<int>> expected = {{1, 1, 1, 2}, {2, 2, 1, 3}, {3, 2, 2, 4}, {4, 3, 3, 1}};
  REQUIRE(merged["annotations"].size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const Json& a = merged["annotations"][i];
    INFO("annotation " << i);
    CHECK(std::vector<int>{a["id"], a["image_id"], a["category_id"], a["area"]} == expected[i]);
  }
  SECTION("the order of the files does not matter") {
    CHECK(mergeCoco({{"p1.json", second}, {"p0.json", first}})["images"] == merged["images"]);
  }
  SECTION("merging one file renumbers it only") {
    const Json one = mergeCoco({{"p1.json", second}});
    CHECK(one["images"][0]["id"] == 1);
    CHECK(one["annotations"][1]["category_id"] == 2);
    CHECK(names(one["categories"]) == std::vector<std::string>{"object", "dog"});
  }
}

TEST_CASE("coco: merging per-shard exports gives the whole run's file", "[coco]") {
  std::vector<Json> docs;
  for (int i = 0; i < 5; ++i) {
    std::vector<Json> masks;
    for (int k = 0; k <= i % 3; ++k) masks.push_back(withField(mask(k + 1, {k, 0, 1, 1}), "class", k));
    docs.push_back(imageDoc("img" + std::to_string(i) + ".png", masks));
  }
  const Json whole = cocoFromResults(docs);
  std::vector<std::pair<std::string, Json>> parts;
  for (int shard = 0; shard < 2; ++shard) {
    std::vector<Json> mine;
    for (size_t i = size_t(shard); i < docs.size(); i += 2) mine.push_back(docs[i]);
    parts.emplace_back("part" + std::to_string(shard) + ".json", cocoFromResults(mine));
  }
  // Byte for byte: the same images, annotations, ids and categories, in the same order.
  CHECK(mergeCoco(parts).dump() == whole.dump());
  std::reverse(parts.begin(), parts.end());
  CHECK(mergeCoco(parts).dump() == whole.dump());
}

TEST_CASE("coco: mergeCoco names the file that is not COCO or is inconsistent", "[coco]") {
  const Json good = cocoFromResults({imageDoc("a.png", {mask(4, {1, 2, 1, 1})})});
  const auto failsNaming = [&](const Json& bad, const std::string& why) {
    INFO(bad.dump());
    CHECK_THROWS_AS(mergeCoco({{"good.json", good}, {"bad.json", bad}}), Error);
    CHECK_THROWS_WITH(mergeCoco({{"good.json", good}, {"bad.json", bad}}),
                      Catch::Contains("'bad.json'") && Catch::Contains(why));
  };
  failsNaming(Json::array(), "not a COCO file");
  failsNaming(Json({{"images", Json::array()}, {"annotations", Json::array()}}), "not a COCO file");
  failsNaming(Json::parse(R"({"images": [{"id": 1}], "categories": [{"id": 1, "name": "x"}],
                              "annotations": [{"id": 4, "image_id": 2, "category_id": 1}]})"),
              "missing image or category");
  failsNaming(Json::parse(R"({"images": [{"id": 1}], "categories": [{"id": 1, "name": "x"}],
                              "annotations": [{"id": 4, "image_id": 1, "category_id": 3}]})"),
              "missing image or category");
  // Entries without the fields the merge needs: still one error naming the file.
  failsNaming(Json::parse(R"({"images": [], "categories": [{"name": "x"}], "annotations": []})"), "malformed");
  failsNaming(Json::parse(R"({"images": [{"file_name": "a.png"}], "categories": [], "annotations": []})"),
              "malformed");
  failsNaming(Json::parse(R"({"images": [3], "categories": [], "annotations": []})"), "malformed");
}

TEST_CASE("coco: cocoFromResults names the image whose results document is incomplete", "[coco]") {
  // With --skip-existing the documents come from masks.json files on disk.
  Json edited = imageDoc("data/a.png", {mask(4, {1, 2, 1, 1})});
  edited["masks"][0].erase("area");
  CHECK_THROWS_WITH(cocoFromResults({edited}),
                    "cannot write the COCO file: the results of image \"data/a.png\" lack a field or have one of the "
                    "wrong type (an edited masks.json?)");
  edited = imageDoc("data/a.png", {mask(4, {1, 2, 1, 1})});
  edited["masks"][0]["bbox"] = "x";
  CHECK_THROWS_AS(cocoFromResults({edited}), Error);
}
