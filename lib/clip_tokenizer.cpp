#include "samcli/clip_tokenizer.hpp"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "samcli/error.hpp"

namespace samcli {
namespace {

struct CpRange {
  char32_t lo, hi;
};
struct CpMap {
  char32_t from, to;
};
struct LowerRun {  // first, first+stride, ... (count of them) lower-case to cp + delta
  char32_t first;
  int count, delta, stride;
};
struct CpString {
  char32_t cp;
  const char32_t* text;
};
struct Decomposition {  // canonical, one level; second == 0 for a singleton
  char32_t cp, first, second;
  int composes;  // 0 for composition exclusions: NFC never produces cp
};
struct CccRange {
  char32_t lo, hi;
  int ccc;
};
struct NamedString {
  const char* name;
  const char32_t* text;
};

#include "clip_unicode_tables.inc"

// ftfy.chardata.LIGATURES: ligatures and legacy digraphs of Latin letters (ftfy 6.3.1).
const CpString kLatinLigatures[] = {
    {0x132, U"IJ"},      {0x133, U"ij"},  {0x149, U"\x2BCn"}, {0x1C4, U"D\x17D"}, {0x1C5, U"D\x17E"},
    {0x1C6, U"d\x17E"},  {0x1C7, U"LJ"},  {0x1C8, U"Lj"},     {0x1C9, U"lj"},     {0x1CA, U"NJ"},
    {0x1CB, U"Nj"},      {0x1CC, U"nj"},  {0x1F1, U"DZ"},     {0x1F2, U"Dz"},     {0x1F3, U"dz"},
    {0xFB00, U"ff"},     {0xFB01, U"fi"}, {0xFB02, U"fl"},    {0xFB03, U"ffi"},   {0xFB04, U"ffl"},
    {0xFB05, U"\x17Ft"}, {0xFB06, U"st"},
};

constexpr int kMergeCount = 49152 - 256 - 2;  // simple_tokenizer reads lines 1..48894
constexpr std::size_t kFtfyMaxSegment = 1000000;

template <std::size_t N>
bool inRanges(const CpRange (&table)[N], char32_t c) {
  auto it = std::upper_bound(std::begin(table), std::end(table), c,
                             [](char32_t v, const CpRange& r) { return v < r.lo; });
  return it != std::begin(table) && c <= std::prev(it)->hi;
}

template <typename T, std::size_t N>
const T* findByCp(const T (&table)[N], char32_t c) {
  auto it = std::lower_bound(std::begin(table), std::end(table), c,
                             [](const T& e, char32_t v) { return e.cp < v; });
  return it != std::end(table) && it->cp == c ? &*it : nullptr;
}

template <std::size_t N>
const char32_t* findByName(const NamedString (&table)[N], const std::u32string& name) {
  std::string ascii;
  for (char32_t c : name) {
    if (c >= 0x80) return nullptr;
    ascii += static_cast<char>(c);
  }
  auto it = std::lower_bound(std::begin(table), std::end(table), ascii,
                             [](const NamedString& e, const std::string& v) { return e.name < v; });
  return it != std::end(table) && ascii == it->name ? it->text : nullptr;
}

// ---- UTF-8 ----

// Decodes UTF-8; each byte that does not start a valid sequence becomes U+FFFD. Returns false if
// there was any.
bool decodeUtf8(const std::string& s, std::u32string& out) {
  bool valid = true;
  out.clear();
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      out += b;
      ++i;
      continue;
    }
    std::size_t len = 0;
    char32_t cp = 0;
    if (b >= 0xC2 && b <= 0xDF) {
      len = 2, cp = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
      len = 3, cp = b & 0x0F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      len = 4, cp = b & 0x07;
    }
    std::size_t j = 1;
    for (; len && j < len && i + j < s.size(); ++j) {
      const auto c = static_cast<unsigned char>(s[i + j]);
      if ((c & 0xC0) != 0x80) break;
      cp = (cp << 6) | (c & 0x3F);
    }
    const bool ok = len && j == len && !(len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) &&
                    !(len == 4 && (cp < 0x10000 || cp > 0x10FFFF));
    if (ok) {
      out += cp;
      i += len;
    } else {
      out += char32_t{0xFFFD};
      valid = false;
      ++i;
    }
  }
  return valid;
}

void appendUtf8(char32_t c, std::string& out) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

std::string encodeUtf8(const std::u32string& s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) appendUtf8(c, out);
  return out;
}

// ---- html.unescape (Python 3) ----

bool isAsciiDigit(char32_t c) { return c >= U'0' && c <= U'9'; }
bool isAsciiHexDigit(char32_t c) {
  return isAsciiDigit(c) || (c >= U'a' && c <= U'f') || (c >= U'A' && c <= U'F');
}
bool isAsciiLetter(char32_t c) { return (c >= U'a' && c <= U'z') || (c >= U'A' && c <= U'Z'); }
bool isAsciiAlnum(char32_t c) { return isAsciiDigit(c) || isAsciiLetter(c); }

std::u32string numericCharref(const std::u32string& digits, int base) {
  char32_t num = 0;
  for (char32_t c : digits) {
    const int v = isAsciiDigit(c) ? c - U'0' : (c | 0x20) - U'a' + 10;
    num = num * base + v;
    if (num > 0x10FFFF) return U"\xFFFD";
  }
  if (const CpString* fixed = findByCp(kInvalidCharrefs, num)) return fixed->text;
  if (num >= 0xD800 && num <= 0xDFFF) return U"\xFFFD";
  if (std::binary_search(std::begin(kInvalidCodepoints), std::end(kInvalidCodepoints), num)) return U"";
  return std::u32string(1, num);
}

std::u32string namedCharref(const std::u32string& name) {
  if (const char32_t* text = findByName(kHtmlEntities, name)) return text;
  // The longest prefix that is an entity (only the legacy names without ";" can be).
  for (std::size_t len = name.size() - 1; len > 1; --len) {
    if (const char32_t* text = findByName(kHtmlEntities, name.substr(0, len))) return text + name.substr(len);
  }
  return U"&" + name;
}

// re.sub(r'&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)', ...)
std::u32string htmlUnescape(const std::u32string& s) {
  if (s.find(U'&') == std::u32string::npos) return s;
  std::u32string out;
  std::size_t i = 0;
  while (i < s.size()) {
    if (s[i] != U'&') {
      out += s[i++];
      continue;
    }
    std::size_t j = i + 1;
    if (j < s.size() && s[j] == U'#') {
      int base = 10;
      std::size_t k = j + 1;
      if (k + 1 < s.size() && (s[k] == U'x' || s[k] == U'X') && isAsciiHexDigit(s[k + 1])) {
        base = 16;
        ++k;
      } else if (k >= s.size() || !isAsciiDigit(s[k])) {
        out += s[i++];
        continue;
      }
      std::size_t end = k;
      while (end < s.size() && (base == 16 ? isAsciiHexDigit(s[end]) : isAsciiDigit(s[end]))) ++end;
      out += numericCharref(s.substr(k, end - k), base);
      i = end < s.size() && s[end] == U';' ? end + 1 : end;
      continue;
    }
    std::size_t end = j;
    while (end < s.size() && end - j < 32 &&
           std::u32string_view(U"\t\n\f <&#;").find(s[end]) == std::u32string_view::npos)
      ++end;
    if (end == j) {
      out += s[i++];
      continue;
    }
    if (end < s.size() && s[end] == U';') ++end;
    out += namedCharref(s.substr(j, end - j));
    i = end;
  }
  return out;
}

// ---- ftfy.fix_text (6.3.1, default configuration, without fix_encoding) ----

// ftfy's HTML_ENTITIES also holds "&NAME;" for each all-lower-case "&name;" whose all-caps
// spelling html.unescape leaves alone, decoding to the upper-cased text ("&EACUTE;" -> "É").
const char32_t* ftfyUpperCaseEntity(const std::u32string& name) {
  std::u32string lower = name;
  for (char32_t& c : lower) c = c >= U'A' && c <= U'Z' ? c + 32 : c;
  if (lower == name ||
      std::any_of(name.begin(), name.end(), [](char32_t c) { return c >= U'a' && c <= U'z'; }))
    return nullptr;
  const char32_t* text = findByName(kHtmlEntities, lower);
  const std::u32string entity = U"&" + name;
  if (!text || htmlUnescape(entity) != entity) return nullptr;
  const char32_t* upper = findByName(kUpperCasedEntityTexts, lower);
  return upper ? upper : text;
}

// fixes.unescape_html: only complete "&name;" / "&#...;" references.
std::u32string ftfyUnescapeHtml(const std::u32string& s) {
  std::u32string out;
  std::size_t i = 0;
  while (i < s.size()) {
    if (s[i] == U'&') {
      const std::size_t start = i + 1 < s.size() && s[i + 1] == U'#' ? i + 2 : i + 1;
      std::size_t end = start;
      while (end < s.size() && end - start < 24 && isAsciiAlnum(s[end])) ++end;
      if (end > start && end < s.size() && s[end] == U';') {
        const std::u32string entity = s.substr(i, end + 1 - i);
        const std::u32string name = entity.substr(1);
        if (const char32_t* text = findByName(kHtmlEntities, name)) {
          out += text;
        } else if (const char32_t* upper = ftfyUpperCaseEntity(name)) {
          out += upper;
        } else if (name[0] == U'#') {
          // Accepted only when html.unescape consumes the whole reference, semicolon included.
          const std::u32string unescaped = htmlUnescape(entity);
          out += unescaped.find(U';') == std::u32string::npos ? unescaped : entity;
        } else {
          out += entity;
        }
        i = end + 1;
        continue;
      }
    }
    out += s[i++];
  }
  return out;
}

std::u32string ftfyFixCharacters(const std::u32string& s) {
  std::u32string out;
  out.reserve(s.size());
  for (char32_t c : s) {
    if (c >= 0x80 && c <= 0x9F) {
      out += findByCp(kInvalidCharrefs, c)->text;  // fix_c1_controls: Windows-1252, as browsers
    } else if (const CpString* lig = findByCp(kLatinLigatures, c)) {
      out += lig->text;
    } else {
      out += c;
    }
  }
  std::u32string folded;
  folded.reserve(out.size());
  for (char32_t c : out) {
    if (const CpString* narrow = findByCp(kWidthMap, c)) {
      folded += narrow->text;
    } else if (c == 0x2BC || (c >= 0x2018 && c <= 0x201B)) {
      folded += U'\'';
    } else if (c >= 0x201C && c <= 0x201F) {
      folded += U'"';
    } else {
      folded += c;
    }
  }
  return folded;
}

std::u32string ftfyFixLineBreaks(const std::u32string& s) {
  std::u32string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char32_t c = s[i];
    if (c == U'\r' && i + 1 < s.size() && s[i + 1] == U'\n') continue;
    out += c == U'\r' || c == 0x2028 || c == 0x2029 || c == 0x85 ? U'\n' : c;
  }
  return out;
}

bool isPyDecimal(char32_t c) { return inRanges(kPyDecimalRanges, c); }

bool isFtfyControl(char32_t c) {
  return c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F || (c >= 0x206A && c <= 0x206F) ||
         c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC);
}

// remove_terminal_escapes (ESC '[' [digits;]* letter), then remove_control_chars.
std::u32string ftfyRemoveEscapesAndControls(const std::u32string& s) {
  std::u32string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == 0x1B && i + 1 < s.size() && s[i + 1] == U'[') {
      std::size_t end = i + 2;
      while (end < s.size() && (isPyDecimal(s[end]) || s[end] == U';')) ++end;
      if (end < s.size() && isAsciiLetter(s[end])) {
        i = end;
        continue;
      }
    }
    if (!isFtfyControl(s[i])) out += s[i];
  }
  return out;
}

// ---- NFC ----

constexpr char32_t kHangulS = 0xAC00, kHangulL = 0x1100, kHangulV = 0x1161, kHangulT = 0x11A7;
constexpr int kHangulVCount = 21, kHangulTCount = 28, kHangulSCount = 11172;

int combiningClass(char32_t c) {
  auto it = std::upper_bound(std::begin(kCombiningClasses), std::end(kCombiningClasses), c,
                             [](char32_t v, const CccRange& r) { return v < r.lo; });
  return it != std::begin(kCombiningClasses) && c <= std::prev(it)->hi ? std::prev(it)->ccc : 0;
}

void decompose(char32_t c, std::u32string& out) {
  if (c >= kHangulS && c < kHangulS + kHangulSCount) {
    const int index = static_cast<int>(c - kHangulS);
    out += kHangulL + index / (kHangulVCount * kHangulTCount);
    out += kHangulV + index % (kHangulVCount * kHangulTCount) / kHangulTCount;
    if (index % kHangulTCount) out += kHangulT + index % kHangulTCount;
  } else if (const Decomposition* d = findByCp(kDecompositions, c)) {
    decompose(d->first, out);
    if (d->second) decompose(d->second, out);
  } else {
    out += c;
  }
}

char32_t compose(char32_t a, char32_t b) {
  if (a >= kHangulL && a < kHangulL + 19 && b >= kHangulV && b < kHangulV + kHangulVCount)
    return kHangulS + ((a - kHangulL) * kHangulVCount + (b - kHangulV)) * kHangulTCount;
  if (a >= kHangulS && a < kHangulS + kHangulSCount && (a - kHangulS) % kHangulTCount == 0 && b > kHangulT &&
      b < kHangulT + kHangulTCount)
    return a + (b - kHangulT);
  static const std::unordered_map<uint64_t, char32_t> pairs = [] {
    std::unordered_map<uint64_t, char32_t> map;
    for (const Decomposition& d : kDecompositions)
      if (d.composes) map.emplace(uint64_t{d.first} << 32 | d.second, d.cp);
    return map;
  }();
  auto it = pairs.find(uint64_t{a} << 32 | b);
  return it == pairs.end() ? 0 : it->second;
}

std::u32string nfc(const std::u32string& s) {
  // Below U+0300 nothing decomposes differently from how it composes back.
  if (std::all_of(s.begin(), s.end(), [](char32_t c) { return c < 0x300; })) return s;
  std::u32string d;
  for (char32_t c : s) decompose(c, d);
  for (std::size_t i = 0; i < d.size();) {  // canonical ordering of each run of marks
    if (!combiningClass(d[i])) {
      ++i;
      continue;
    }
    std::size_t end = i;
    while (end < d.size() && combiningClass(d[end])) ++end;
    std::stable_sort(d.begin() + i, d.begin() + end,
                     [](char32_t a, char32_t b) { return combiningClass(a) < combiningClass(b); });
    i = end;
  }
  if (d.empty()) return d;
  // Canonical composition (UAX #15): a mark joins the last starter unless blocked.
  std::size_t starter = 0, out = 1;
  int lastClass = combiningClass(d[0]) ? 256 : 0;
  for (std::size_t i = 1; i < d.size(); ++i) {
    const char32_t c = d[i];
    const int cls = combiningClass(c);
    const char32_t composite = compose(d[starter], c);
    if (composite && (lastClass < cls || lastClass == 0)) {
      d[starter] = composite;
      continue;
    }
    if (cls == 0) starter = out;
    lastClass = cls;
    d[out++] = c;
  }
  d.resize(out);
  return d;
}

std::u32string ftfyFixSegment(std::u32string text, bool unescapeHtml) {
  for (;;) {
    const std::u32string before = text;
    if (unescapeHtml) text = ftfyUnescapeHtml(text);
    text = nfc(ftfyRemoveEscapesAndControls(ftfyFixLineBreaks(ftfyFixCharacters(text))));
    if (text == before) return text;
  }
}

// ftfy.fix_text: line by line; once a line contains "<" (it may be HTML), entities are left to
// html.unescape from then on.
std::u32string ftfyFixText(const std::u32string& text) {
  std::u32string out;
  bool unescapeHtml = true;
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t newline = text.find(U'\n', pos);
    const std::size_t end =
        std::min(newline == std::u32string::npos ? text.size() : newline + 1, pos + kFtfyMaxSegment);
    const std::u32string segment = text.substr(pos, end - pos);
    if (segment.find(U'<') != std::u32string::npos) unescapeHtml = false;
    out += ftfyFixSegment(segment, unescapeHtml);
    pos = end;
  }
  return out;
}

// ---- Python str methods ----

bool isPySpace(char32_t c) { return inRanges(kPySpaceRanges, c); }

std::u32string pyStrip(const std::u32string& s) {
  std::size_t b = 0, e = s.size();
  while (b < e && isPySpace(s[b])) ++b;
  while (e > b && isPySpace(s[e - 1])) --e;
  return s.substr(b, e - b);
}

char32_t simpleLower(char32_t c) {
  if (c < 0x80) return c >= U'A' && c <= U'Z' ? c + 32 : c;
  auto it = std::upper_bound(std::begin(kLowerRuns), std::end(kLowerRuns), c,
                             [](char32_t v, const LowerRun& r) { return v < r.first; });
  if (it == std::begin(kLowerRuns)) return c;
  const LowerRun& run = *std::prev(it);
  const char32_t offset = c - run.first;
  if (offset % run.stride || offset / run.stride >= static_cast<char32_t>(run.count)) return c;
  return static_cast<char32_t>(static_cast<int64_t>(c) + run.delta);
}

// Python's Final_Sigma rule: a capital sigma after a cased letter and not before one (skipping
// case-ignorable characters both ways) becomes the final form.
bool isFinalSigma(const std::u32string& s, std::size_t i) {
  std::size_t j = i;
  while (j > 0 && inRanges(kCaseIgnorableRanges, s[j - 1])) --j;
  if (j == 0 || !inRanges(kCasedRanges, s[j - 1])) return false;
  j = i + 1;
  while (j < s.size() && inRanges(kCaseIgnorableRanges, s[j])) ++j;
  return j == s.size() || !inRanges(kCasedRanges, s[j]);
}

std::u32string pyLower(const std::u32string& s) {
  std::u32string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char32_t c = s[i];
    if (c == 0x3A3) {
      out += isFinalSigma(s, i) ? char32_t{0x3C2} : char32_t{0x3C3};
    } else if (const CpString* multi = findByCp(kMultiLower, c)) {
      out += multi->text;
    } else {
      out += simpleLower(c);
    }
  }
  return out;
}

// whitespace_clean(basic_clean(text)).lower()
std::u32string cleanU32(const std::u32string& text) {
  const std::u32string basic = pyStrip(htmlUnescape(htmlUnescape(ftfyFixText(text))));
  std::u32string collapsed;
  collapsed.reserve(basic.size());
  bool inSpace = false;
  for (char32_t c : basic) {
    const bool space = inRanges(kRegexSpaceRanges, c);
    if (!space) {
      collapsed += c;
    } else if (!inSpace) {
      collapsed += U' ';
    }
    inSpace = space;
  }
  return pyLower(pyStrip(collapsed));
}

// ---- pre-tokenizer ----

// Whether `literal` (ASCII) matches at s[pos], with IGNORECASE's case folding ("'ſ" is "'s").
bool matchesAt(const std::u32string& s, std::size_t pos, std::u32string_view literal) {
  if (s.size() - pos < literal.size()) return false;
  for (std::size_t k = 0; k < literal.size(); ++k) {
    const char32_t c = s[pos + k];
    if (c == literal[k]) continue;
    auto fold = std::find_if(std::begin(kIgnoreCaseFolds), std::end(kIgnoreCaseFolds),
                             [c](const CpMap& m) { return m.from == c; });
    if (fold == std::end(kIgnoreCaseFolds) || fold->to != literal[k]) return false;
  }
  return true;
}

enum class CharClass { kLetter, kNumber, kOther, kUnmatched };

CharClass classify(char32_t c) {
  if (inRanges(kLetterRanges, c)) return CharClass::kLetter;
  if (inRanges(kNumberRanges, c)) return CharClass::kNumber;
  if (inRanges(kUnmatchedRanges, c)) return CharClass::kUnmatched;
  return CharClass::kOther;
}

// re.findall(r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|
// [^\s\p{L}\p{N}]+", text, re.IGNORECASE), as UTF-8 pieces.
std::vector<std::string> pretokenize(const std::u32string& s) {
  static constexpr std::u32string_view kLiterals[] = {
      U"<|startoftext|>", U"<|endoftext|>", U"'s", U"'t", U"'re", U"'ve", U"'m", U"'ll", U"'d"};
  std::vector<std::string> pieces;
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t end = i;
    for (std::u32string_view literal : kLiterals) {
      if (matchesAt(s, i, literal)) {
        end = i + literal.size();
        break;
      }
    }
    if (end == i) {
      const CharClass cls = classify(s[i]);
      if (cls == CharClass::kUnmatched) {
        ++i;
        continue;
      }
      end = i + 1;
      if (cls != CharClass::kNumber)
        while (end < s.size() && classify(s[end]) == cls) ++end;
    }
    pieces.push_back(encodeUtf8(s.substr(i, end - i)));
    i = end;
  }
  return pieces;
}

// ---- vocabulary file ----

std::string readMaybeGzipped(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file) throw Error("cannot open CLIP BPE vocabulary '" + path + "': " + std::strerror(errno));
  std::string content;
  char buffer[1 << 16];
  int n = 0;
  while ((n = gzread(file, buffer, sizeof buffer)) > 0) content.append(buffer, static_cast<std::size_t>(n));
  int code = Z_OK;
  std::string why = gzerror(file, &code);
  if (code == Z_ERRNO) {
    why = std::strerror(errno);
  } else if (why.compare(0, path.size() + 2, path + ": ") == 0) {  // zlib prefixes the path
    why = "corrupt gzip data (" + why.substr(path.size() + 2) + ")";
  }
  gzclose(file);
  if (n < 0 || (code != Z_OK && code != Z_STREAM_END))
    throw Error("cannot read CLIP BPE vocabulary '" + path + "': " + why);
  return content;
}

std::vector<std::string> splitAsciiWhitespace(const std::string& line) {
  auto isSpace = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; };
  std::vector<std::string> parts;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && isSpace(line[i])) ++i;
    std::size_t end = i;
    while (end < line.size() && !isSpace(line[end])) ++end;
    if (end > i) parts.push_back(line.substr(i, end - i));
    i = end;
  }
  return parts;
}

// bytes_to_unicode(): printable Latin-1 bytes stand for themselves, the other 68 bytes for
// U+0100 onwards in byte order. Returned in simple_tokenizer's vocabulary order.
std::vector<std::pair<int, char32_t>> byteCharacters() {
  std::vector<std::pair<int, char32_t>> table;
  std::vector<bool> printable(256, false);
  for (int b = 0; b < 256; ++b) {
    printable[b] = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    if (printable[b]) table.emplace_back(b, static_cast<char32_t>(b));
  }
  char32_t next = 256;
  for (int b = 0; b < 256; ++b)
    if (!printable[b]) table.emplace_back(b, next++);
  return table;
}

}  // namespace

struct ClipTokenizer::Cache {
  std::mutex mutex;
  std::unordered_map<std::string, std::vector<int>> ids;  // pre-token bytes -> BPE ids
};

ClipTokenizer::ClipTokenizer() : cache_(std::make_unique<Cache>()) {}
ClipTokenizer::ClipTokenizer(ClipTokenizer&&) noexcept = default;
ClipTokenizer& ClipTokenizer::operator=(ClipTokenizer&&) noexcept = default;
ClipTokenizer::~ClipTokenizer() = default;

ClipTokenizer ClipTokenizer::fromBpeFile(const std::string& path) {
  const std::string content = readMaybeGzipped(path);
  auto corrupt = [&path](const std::string& why) {
    return Error("CLIP BPE vocabulary '" + path + "' " + why);
  };
  std::u32string decoded;
  if (!decodeUtf8(content, decoded)) throw corrupt("is not UTF-8 text");

  std::vector<std::pair<std::string, std::string>> merges;
  merges.reserve(kMergeCount);
  // The header line is skipped unread by simple_tokenizer; CLIP's own file has
  // '"bpe_simple_vocab_16e6.txt#version: 0.2' there, Hugging Face's merges.txt '#version: 0.2'.
  std::size_t pos = content.find('\n');
  if (pos == std::string::npos || content.substr(0, pos).find("#version") == std::string::npos)
    throw corrupt("is not a BPE merges file (no '#version' header line)");
  for (int lineNo = 2; static_cast<int>(merges.size()) < kMergeCount; ++lineNo) {
    if (pos + 1 >= content.size())  // no line, or only the empty one after a final newline
      throw corrupt("has " + std::to_string(merges.size()) + " merges, expected " +
                    std::to_string(kMergeCount) + " (truncated?)");
    const std::size_t next = std::min(content.find('\n', pos + 1), content.size());
    const std::vector<std::string> parts = splitAsciiWhitespace(content.substr(pos + 1, next - pos - 1));
    if (parts.size() != 2) throw corrupt("line " + std::to_string(lineNo) + " is not a merge ('a b')");
    merges.emplace_back(parts[0], parts[1]);
    pos = next;
  }

  ClipTokenizer tokenizer;
  std::vector<std::string>& vocab = tokenizer.vocab_;
  const auto bytes = byteCharacters();
  for (const auto& entry : bytes) vocab.push_back(encodeUtf8(std::u32string(1, entry.second)));
  for (const auto& entry : bytes) vocab.push_back(encodeUtf8(std::u32string(1, entry.second)) + "</w>");
  for (const auto& merge : merges) vocab.push_back(merge.first + merge.second);
  vocab.push_back("<|startoftext|>");
  vocab.push_back("<|endoftext|>");

  // dict(zip(...)) semantics: a repeated string or pair keeps its last id or rank.
  std::unordered_map<std::string, int> encoder;
  for (int id = 0; id < static_cast<int>(vocab.size()); ++id) encoder[vocab[id]] = id;
  for (int rank = 0; rank < kMergeCount; ++rank) {
    const auto left = encoder.find(merges[rank].first);
    const auto right = encoder.find(merges[rank].second);
    if (left == encoder.end() || right == encoder.end()) continue;  // can never apply
    const uint64_t key = uint64_t(uint32_t(left->second)) << 32 | uint32_t(right->second);
    tokenizer.merges_[key] = Merge{rank, encoder.at(merges[rank].first + merges[rank].second)};
  }
  for (const auto& entry : bytes) {
    const std::string character = encodeUtf8(std::u32string(1, entry.second));
    tokenizer.byteIds_[entry.first] = encoder.at(character);
    tokenizer.byteEndOfWordIds_[entry.first] = encoder.at(character + "</w>");
  }
  // simple_tokenizer seeds its cache with the special tokens: that is what gives them their ids.
  tokenizer.cache_->ids["<|startoftext|>"] = {encoder.at("<|startoftext|>")};
  tokenizer.cache_->ids["<|endoftext|>"] = {encoder.at("<|endoftext|>")};
  return tokenizer;
}

// SimpleTokenizer.bpe: repeatedly merge every occurrence (left to right) of the adjacent pair
// with the lowest merge rank. Symbols are vocabulary ids, which identify strings one to one.
std::vector<int> ClipTokenizer::bpe(const std::string& pretoken) const {
  std::vector<int> word;
  word.reserve(pretoken.size());
  for (std::size_t i = 0; i + 1 < pretoken.size(); ++i) word.push_back(byteIds_[uint8_t(pretoken[i])]);
  word.push_back(byteEndOfWordIds_[uint8_t(pretoken.back())]);
  while (word.size() > 1) {
    const Merge* best = nullptr;
    uint64_t bestKey = 0;
    for (std::size_t i = 0; i + 1 < word.size(); ++i) {
      const uint64_t key = uint64_t(uint32_t(word[i])) << 32 | uint32_t(word[i + 1]);
      auto it = merges_.find(key);
      if (it != merges_.end() && (!best || it->second.rank < best->rank)) {
        best = &it->second;
        bestKey = key;
      }
    }
    if (!best) break;
    const int left = int(bestKey >> 32), right = int(bestKey & 0xFFFFFFFFu);
    std::size_t out = 0;
    for (std::size_t i = 0; i < word.size();) {
      if (i + 1 < word.size() && word[i] == left && word[i + 1] == right) {
        word[out++] = best->merged;
        i += 2;
      } else {
        word[out++] = word[i++];
      }
    }
    word.resize(out);
  }
  return word;
}

std::vector<int> ClipTokenizer::encode(const std::string& utf8) const {
  std::u32string text;
  decodeUtf8(utf8, text);
  const std::vector<std::string> pieces = pretokenize(cleanU32(text));
  std::vector<int> ids;
  std::lock_guard<std::mutex> lock(cache_->mutex);
  for (const std::string& piece : pieces) {
    auto it = cache_->ids.find(piece);
    if (it == cache_->ids.end()) it = cache_->ids.emplace(piece, bpe(piece)).first;
    ids.insert(ids.end(), it->second.begin(), it->second.end());
  }
  return ids;
}

ClipTokenizer::TokenizedText ClipTokenizer::packForModel(const std::vector<int>& ids, int maxLength, int bos,
                                                         int eos, int pad) {
  if (maxLength < 2) throw std::invalid_argument("ClipTokenizer: maxLength must leave room for BOS and EOS");
  const std::size_t room = static_cast<std::size_t>(maxLength) - 2;
  const std::size_t kept = std::min(ids.size(), room);
  TokenizedText row;
  row.truncated = ids.size() > room;
  row.inputIds.assign(static_cast<std::size_t>(maxLength), pad);
  row.attentionMask.assign(static_cast<std::size_t>(maxLength), 0);
  row.inputIds[0] = bos;
  std::copy(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(kept), row.inputIds.begin() + 1);
  row.inputIds[kept + 1] = eos;
  std::fill(row.attentionMask.begin(), row.attentionMask.begin() + static_cast<std::ptrdiff_t>(kept + 2), 1);
  return row;
}

ClipTokenizer::TokenizedText ClipTokenizer::tokenizeForModel(const std::string& text, int maxLength, int bos,
                                                             int eos, int pad) const {
  const std::vector<int> ids = encode(text);
  if (ids.empty()) throw Error("the text prompt has nothing to look for: it is empty or only white space");
  return packForModel(ids, maxLength, bos, eos, pad);
}

std::string ClipTokenizer::cleanText(const std::string& utf8) {
  std::u32string text;
  decodeUtf8(utf8, text);
  return encodeUtf8(cleanU32(text));
}

const std::string& ClipTokenizer::token(int id) const {
  if (id < 0 || id >= vocabSize())
    throw std::out_of_range("ClipTokenizer: no token with id " + std::to_string(id));
  return vocab_[static_cast<std::size_t>(id)];
}

bool isValidUtf8(const std::string& text) {
  std::u32string ignored;
  return decodeUtf8(text, ignored);
}

}  // namespace samcli
