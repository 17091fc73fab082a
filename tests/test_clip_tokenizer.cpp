// Reference ids come from openai/CLIP's clip/simple_tokenizer.py with ftfy 6.3.1: the stored cases
// in tests/data/clip/clip_token_cases.json, and the extra cases below, which exercise the Unicode
// and ftfy rules the shared ones do not reach (computed the same way, printed with json.dumps).
#include <catch2/catch.hpp>

#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "samcli/clip_tokenizer.hpp"
#include "samcli/error.hpp"
#include "support/temp_dir.hpp"

using samcli::ClipTokenizer;
namespace fs = std::filesystem;

namespace {

std::string clipData(const std::string& name) {
  return std::string(SAMCLI_TEST_DATA_DIR "/clip/") + name;
}

const std::string& bpePath() {
  static const std::string path = clipData("clip_bpe_simple_vocab_16e6.txt.gz");
  return path;
}

const ClipTokenizer& tokenizer() {
  static const ClipTokenizer instance = ClipTokenizer::fromBpeFile(bpePath());
  return instance;
}

nlohmann::json loadReference() {
  std::ifstream in(clipData("clip_token_cases.json"));
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string gunzip(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  REQUIRE(file != nullptr);
  std::string out;
  char buffer[1 << 16];
  int n = 0;
  while ((n = gzread(file, buffer, sizeof buffer)) > 0) out.append(buffer, static_cast<std::size_t>(n));
  gzclose(file);
  return out;
}

// The message is one line and names the file.
void requireLoadError(const std::string& path, const std::string& detail) {
  try {
    ClipTokenizer::fromBpeFile(path);
    FAIL("no error for " << path);
  } catch (const samcli::Error& e) {
    const std::string message = e.what();
    INFO(message);
    CHECK(message.find(path) != std::string::npos);
    CHECK(message.find(detail) != std::string::npos);
    CHECK(message.find('\n') == std::string::npos);
  }
}

}  // namespace

TEST_CASE("ClipTokenizer reproduces every stored reference case", "[clip_tokenizer]") {
  const nlohmann::json reference = loadReference();
  REQUIRE(reference.at("bos_id") == ClipTokenizer::kStartOfText);
  REQUIRE(reference.at("eos_id") == ClipTokenizer::kEndOfText);
  REQUIRE(reference.at("pad_id") == ClipTokenizer::kOwlVitPad);
  REQUIRE(reference.at("max_length") == ClipTokenizer::kOwlVitMaxLength);
  REQUIRE(reference.at("vocab_size") == tokenizer().vocabSize());
  REQUIRE(tokenizer().token(0) == reference.at("pad_token").get<std::string>());
  const nlohmann::json& cases = reference.at("cases");
  REQUIRE(cases.size() >= 28);

  for (std::size_t i = 0; i < cases.size(); ++i) {
    const nlohmann::json& c = cases[i];
    const std::string text = c.at("text");
    DYNAMIC_SECTION("case " << i << ": " << nlohmann::json(text).dump()) {
      CHECK(ClipTokenizer::cleanText(text) == c.at("cleaned_openai").get<std::string>());
      const std::vector<int> ids = tokenizer().encode(text);
      REQUIRE(ids == c.at("bpe_ids").get<std::vector<int>>());
      std::vector<std::string> tokens;
      for (int id : ids) tokens.push_back(tokenizer().token(id));
      CHECK(tokens == c.at("bpe_tokens").get<std::vector<std::string>>());

      const ClipTokenizer::TokenizedText row = ClipTokenizer::packForModel(ids);
      CHECK(row.inputIds == c.at("input_ids").get<std::vector<int64_t>>());
      CHECK(row.attentionMask == c.at("attention_mask").get<std::vector<int64_t>>());
      CHECK(row.truncated == c.at("truncated").get<bool>());
      CHECK(row.inputIds.at(c.at("eos_index").get<std::size_t>()) == ClipTokenizer::kEndOfText);

      if (ids.empty()) {
        CHECK_THROWS_AS(tokenizer().tokenizeForModel(text), samcli::Error);
      } else {
        const ClipTokenizer::TokenizedText model = tokenizer().tokenizeForModel(text);
        CHECK(model.inputIds == row.inputIds);
        CHECK(model.attentionMask == row.attentionMask);
        CHECK(model.truncated == row.truncated);
      }
    }
  }
}

TEST_CASE("ClipTokenizer follows simple_tokenizer on ftfy, HTML and Unicode corner cases",
          "[clip_tokenizer]") {
  struct Case {
    const char* name;
    std::string text;
    std::string cleaned;
    std::vector<int> ids;
  };
  const std::vector<Case> cases = {
      {"NFD accents compose (NFC)", "cafe\u0301", "caf\u00e9", {15304}},
      {"full-width forms fold", "\uff24\uff2f\uff27", "dog", {1929}},
      {"Latin ligature splits", "\ufb01sh", "fish", {2759}},
      {"single curly quote", "it\u2019s", "it's", {585, 568}},
      {"Greek final sigma",
       "\u039f\u0394\u039f\u03a3",
       "\u03bf\u03b4\u03bf\u03c2",
       {138, 123, 138, 112, 138, 123, 139, 480}},
      {"dotted capital I lower-cases to two code points", "\u0130", "i\u0307", {328, 16384}},
      {"long s matches the 's contraction (IGNORECASE)", "x'\u017f", "x'\u017f", {343, 6, 129, 379}},
      {"special tokens in the text are kept", "a<|endoftext|>b", "a<|endoftext|>b", {320, 49407, 321}},
      {"C1 controls read as Windows-1252", "x\xc2\x93y\xc2\x94", "x\"y\"", {343, 257, 344, 257}},
      {"HTML5 entities", "&bigstar; &NewLine;x", "\u2605 x", {10643, 343}},
      {"all-caps entity (ftfy)", "P&EACUTE;REZ", "p\u00e9rez", {43167, 15192}},
      {"entities without a semicolon",
       "&copy2024 &ampersand",
       "\u00a92024 &ersand",
       {5811, 273, 271, 273, 275, 261, 4840, 537}},
      {"a line with < stops ftfy unescaping from there on",
       "&amp;amp;amp;\n<b>&amp;amp;amp;\n&amp;amp;amp;",
       "& <b>&amp; &amp;",
       {261, 283, 321, 29, 261, 6259, 282, 261, 6259, 282}},
      {"numeric references", "&#65;&#x42;&#128;&#0;&#59;", "ab\u20ac\ufffd;", {3937, 34919, 47356, 282}},
      {"terminal escapes and control characters go", "\x1b[31mred\x1b[0m\x07", "red", {736}},
      {"U+0345 matches no pre-tokenizer class", "a\u0345b", "a\u0345b", {320, 321}},
      {"conjoining jamo compose", "\u1100\u1161\u11a8", "\uac01", {21122, 479}},
      {"emoji ZWJ sequence",
       "\U0001F468\u200D\U0001F469\u200D\U0001F467",
       "\U0001F468\u200D\U0001F469\u200D\U0001F467",
       {25023, 26304, 964, 356}},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.name) {
      CHECK(ClipTokenizer::cleanText(c.text) == c.cleaned);
      CHECK(tokenizer().encode(c.text) == c.ids);
    }
  }
}

TEST_CASE("tokenizeForModel keeps EOS when it truncates, and says so", "[clip_tokenizer]") {
  const ClipTokenizer& tok = tokenizer();

  const std::vector<int> fourteen = tok.encode("12345678901234");  // one id per digit
  REQUIRE(fourteen.size() == 14);
  const ClipTokenizer::TokenizedText full = tok.tokenizeForModel("12345678901234");
  CHECK_FALSE(full.truncated);
  CHECK(full.inputIds.front() == ClipTokenizer::kStartOfText);
  CHECK(full.inputIds.back() == ClipTokenizer::kEndOfText);
  CHECK(full.attentionMask == std::vector<int64_t>(16, 1));

  const ClipTokenizer::TokenizedText cut = tok.tokenizeForModel("123456789012345");
  CHECK(cut.truncated);
  CHECK(cut.inputIds == full.inputIds);
  CHECK(cut.attentionMask == full.attentionMask);

  const std::string sentence =
      "a photo of a very large brown dog sitting next to a small white cat on a green lawn";
  const std::vector<int> ids = tok.encode(sentence);
  REQUIRE(ids.size() == 19);
  const ClipTokenizer::TokenizedText row = tok.tokenizeForModel(sentence);
  std::vector<int64_t> expected = {ClipTokenizer::kStartOfText};
  expected.insert(expected.end(), ids.begin(), ids.begin() + 14);
  expected.push_back(ClipTokenizer::kEndOfText);
  CHECK(row.truncated);
  CHECK(row.inputIds == expected);

  // Other lengths and special ids, as for CLIP's own 77-position context.
  const ClipTokenizer::TokenizedText clip = tok.tokenizeForModel("a photo of a dog", 77, 1, 2, 3);
  REQUIRE(clip.inputIds.size() == 77);
  std::vector<int64_t> head(clip.inputIds.begin(), clip.inputIds.begin() + 8);
  CHECK(head == std::vector<int64_t>{1, 320, 1125, 539, 320, 1929, 2, 3});
  CHECK(std::count(clip.attentionMask.begin(), clip.attentionMask.end(), 1) == 7);
  CHECK_FALSE(clip.truncated);
  const ClipTokenizer::TokenizedText tiny = ClipTokenizer::packForModel({5, 6, 7}, 3);
  CHECK(tiny.inputIds == std::vector<int64_t>{ClipTokenizer::kStartOfText, 5, ClipTokenizer::kEndOfText});
  CHECK(tiny.truncated);
  CHECK_THROWS_AS(ClipTokenizer::packForModel({1}, 1), std::invalid_argument);
}

TEST_CASE("tokenizeForModel rejects a prompt with no text, not one of punctuation", "[clip_tokenizer]") {
  for (const std::string text : {"", "   ", " \t\r\n\u3000 ", "\x01\x02", "&#1;"}) {
    INFO(nlohmann::json(text).dump());
    CHECK(tokenizer().encode(text).empty());
    try {
      tokenizer().tokenizeForModel(text);
      FAIL("no error");
    } catch (const samcli::Error& e) {
      CHECK(std::string(e.what()).find('\n') == std::string::npos);
    }
  }
  CHECK(tokenizer().tokenizeForModel("???").inputIds[1] == 3824);
  CHECK(tokenizer().tokenizeForModel("!").inputIds[1] == 256);
}

TEST_CASE("ClipTokenizer reads a plain-text merges file like the gzipped one", "[clip_tokenizer]") {
  const samcli::test::TempDir dir;
  const ClipTokenizer plain = ClipTokenizer::fromBpeFile(dir.write("merges.txt", gunzip(bpePath())));
  REQUIRE(plain.vocabSize() == tokenizer().vocabSize());
  for (const std::string text : {"pepperoni pizza slice", "na\u00efve fa\u00e7ade", "\U0001F600 3 cars"})
    CHECK(plain.encode(text) == tokenizer().encode(text));
}

TEST_CASE("ClipTokenizer names the file of a missing or corrupt vocabulary", "[clip_tokenizer]") {
  const samcli::test::TempDir dir;
  requireLoadError((dir.path / "absent.txt.gz").string(), "cannot open");
  requireLoadError(dir.path.string(), "cannot read");
  requireLoadError(dir.write("notes.txt", "hello\nworld\n"), "no '#version' header");
  requireLoadError(dir.write("short.txt", "#version: 0.2\ni n\nt h\na n\n"), "has 3 merges, expected 48894");
  requireLoadError(dir.write("bad_line.txt", "#version: 0.2\ni n\nt h e\n"), "line 3 is not a merge");
  requireLoadError(dir.write("binary.txt", "#version: 0.2\n\xff\xfe x\n"), "not UTF-8");
  const std::string gz = readFile(bpePath());
  requireLoadError(dir.write("cut.txt.gz", gz.substr(0, gz.size() / 2)), "cannot read");
}

TEST_CASE("ClipTokenizer gives the same ids from a warm cache and from several threads", "[clip_tokenizer]") {
  const ClipTokenizer tok = ClipTokenizer::fromBpeFile(bpePath());
  const std::vector<std::string> texts = {"red shoes", "pepperoni pizza slice", "\u65e5\u672c\u8a9e",
                                          "don't"};
  std::vector<std::vector<int>> first;
  for (const std::string& text : texts) first.push_back(tok.encode(text));
  std::vector<std::vector<std::vector<int>>> perThread(4);
  std::vector<std::thread> threads;
  for (auto& results : perThread)
    threads.emplace_back([&tok, &texts, &results] {
      for (int round = 0; round < 50; ++round)
        for (const std::string& text : texts) results.push_back(tok.encode(text));
    });
  for (std::thread& t : threads) t.join();
  for (const auto& results : perThread)
    for (std::size_t i = 0; i < results.size(); ++i) CHECK(results[i] == first[i % texts.size()]);
  CHECK_THROWS_AS(tok.token(-1), std::out_of_range);
  CHECK_THROWS_AS(tok.token(tok.vocabSize()), std::out_of_range);
}
