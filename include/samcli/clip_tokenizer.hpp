#pragma once
// CLIP's byte-level BPE tokenizer, matching openai/CLIP clip/simple_tokenizer.py (SimpleTokenizer)
// id for id, as OWL-ViT's text tower expects. The text goes through the same steps as there:
// ftfy.fix_text, html.unescape twice, white space collapsed, Python's str.lower(), the
// pre-tokenizer regex, then BPE over UTF-8 bytes. Character classes, lower-casing, NFC and HTML
// entities come from tables generated from Python 3.11 (Unicode 14.0) and the `regex` module by
// scripts/gen_clip_unicode_tables.py; a Python on another Unicode version can differ on characters
// assigned since.
//
// Known differences from the Python original, both on input that is already broken:
//  - ftfy's mojibake repair (fix_encoding: "cafÃ©" -> "café") is not reproduced; text is taken to
//    be correctly decoded. Every other ftfy 6.3.1 default fix is (HTML entities, C1 controls,
//    Latin ligatures, full/half-width forms, curly quotes, line breaks, terminal escapes, control
//    characters, NFC).
//  - Invalid UTF-8 bytes become U+FFFD (Python would not have accepted the string at all).
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace samcli {

class ClipTokenizer {
 public:
  static constexpr int kStartOfText = 49406;
  static constexpr int kEndOfText = 49407;
  static constexpr int kOwlVitPad = 0;         // OWL-ViT's pad_token_id ("!"): mask it out
  static constexpr int kOwlVitMaxLength = 16;  // OWL-ViT's max_position_embeddings

  struct TokenizedText {
    std::vector<int64_t> inputIds;       // maxLength ids: BOS, content, EOS, then padding
    std::vector<int64_t> attentionMask;  // 1 on BOS..EOS, 0 on padding
    bool truncated = false;              // content ids were dropped to fit maxLength
  };

  // Reads the merges file CLIP ships (bpe_simple_vocab_16e6.txt.gz), gzipped or plain text, and
  // builds the 49408-entry vocabulary as simple_tokenizer does: the 256 byte characters, the same
  // with "</w>", one entry per merge, then <|startoftext|> and <|endoftext|>. Throws samcli::Error
  // naming the file when it is missing, unreadable or not such a merges file.
  static ClipTokenizer fromBpeFile(const std::string& path);

  ClipTokenizer(ClipTokenizer&&) noexcept;
  ClipTokenizer& operator=(ClipTokenizer&&) noexcept;
  ~ClipTokenizer();

  // SimpleTokenizer.encode: the BPE ids of UTF-8 text, without BOS/EOS. Faithful to the original
  // also where a prompt might not expect it: "" and white space give no ids, punctuation alone
  // does ("???" -> [40017]), and a literal "<|endoftext|>" in the text is the special token.
  // Thread-safe; results per pre-token are cached, as in the original.
  std::vector<int> encode(const std::string& utf8) const;

  // The model input row for one text query: encode(text) packed by packForModel. A query must
  // have some text to look for, so one that gives no ids (empty, or only white space or control
  // characters) throws samcli::Error; a punctuation-only one is tokenized like any other.
  TokenizedText tokenizeForModel(const std::string& text, int maxLength = kOwlVitMaxLength,
                                 int bos = kStartOfText, int eos = kEndOfText, int pad = kOwlVitPad) const;

  // [bos] + ids + [eos], right-padded with pad to maxLength. Longer content keeps its first
  // maxLength-2 ids and still ends in EOS (what clip.tokenize(truncate=True) and the Hugging Face
  // tokenizer with truncation=True produce), and sets truncated so the caller can warn.
  static TokenizedText packForModel(const std::vector<int>& ids, int maxLength = kOwlVitMaxLength,
                                    int bos = kStartOfText, int eos = kEndOfText, int pad = kOwlVitPad);

  // The text as simple_tokenizer hands it to the pre-tokenizer:
  // whitespace_clean(basic_clean(text)).lower(), as UTF-8.
  static std::string cleanText(const std::string& utf8);

  // The vocabulary entry of an id, in the byte-character spelling of the merges file
  // ("dog</w>", "Ã¼" for the first byte pair of "ü"). Throws std::out_of_range for a bad id.
  const std::string& token(int id) const;
  int vocabSize() const { return static_cast<int>(vocab_.size()); }

 private:
  struct Merge {
    int rank;
    int merged;
  };
  struct Cache;

  ClipTokenizer();
  std::vector<int> bpe(const std::string& pretoken) const;

  std::vector<std::string> vocab_;
  std::unordered_map<uint64_t, Merge> merges_;  // key: (left id << 32) | right id
  int byteIds_[256] = {};
  int byteEndOfWordIds_[256] = {};
  std::unique_ptr<Cache> cache_;
};

// True when `text` is well-formed UTF-8 (no stray, overlong or surrogate sequences): the one
// check samcli applies to text that must be UTF-8 (text queries).
bool isValidUtf8(const std::string& text);

}  // namespace samcli
