#!/usr/bin/env python3
"""Generates lib/clip_unicode_tables.inc, the Unicode data behind lib/clip_tokenizer.cpp.

CLIP's simple_tokenizer.py leans on Python for its text handling: the `regex` module classifies
characters for the pre-tokenizer, str.lower() lower-cases, and ftfy.fix_text uses unicodedata
(NFC, width folding) and html.entities. The C++ port reproduces those behaviours from tables
taken from the same sources, so the tables are generated rather than written by hand.

Run with the Python whose behaviour should be matched, with `regex` installed:
    python3 scripts/gen_clip_unicode_tables.py > lib/clip_unicode_tables.inc
"""
import html
import html.entities
import sys
import unicodedata

import regex

MAX_CP = 0x110000


def chars():
    for cp in range(MAX_CP):
        if not 0xD800 <= cp <= 0xDFFF:
            yield cp, chr(cp)


def ranges(pred):
    """Maximal code point ranges where pred holds; surrogates never reach the tokenizer."""
    out, start = [], None
    for cp in range(MAX_CP + 1):
        holds = cp < MAX_CP and not 0xD800 <= cp <= 0xDFFF and pred(chr(cp))
        if holds and start is None:
            start = cp
        elif not holds and start is not None:
            out.append((start, cp - 1))
            start = None
    return out


def cpp_u32string(s):
    """A C++ U"" literal of s; a hex escape is closed before a following hex digit."""
    out, escaped = [], False
    for c in s:
        if " " <= c <= "~" and c not in '"\\?':
            out.append(('""' if escaped and c in "0123456789abcdefABCDEF" else "") + c)
            escaped = False
        else:
            out.append("\\x%X" % ord(c))
            escaped = True
    return 'U"' + "".join(out) + '"'


def emit_rows(name, ctype, rows):
    print("const %s %s[] = {" % (ctype, name))
    line = "   "
    for r in rows:
        if len(line) + len(r) + 2 > 100:
            print(line)
            line = "   "
        line += " " + r + ","
    print(line)
    print("};")
    print()


def emit_ranges(name, rs):
    emit_rows(name, "CpRange", ["{0x%X, 0x%X}" % r for r in rs])


def main():
    # The pre-tokenizer's three character classes, exactly as CLIP compiles them (IGNORECASE).
    # A few characters match none of them although they are not white space (U+0345 folds to a
    # letter, which IGNORECASE then treats inconsistently): findall skips those like spaces.
    letter = regex.compile(r"[\p{L}]", regex.IGNORECASE)
    number = regex.compile(r"[\p{N}]", regex.IGNORECASE)
    other = regex.compile(r"[^\s\p{L}\p{N}]", regex.IGNORECASE)
    space = regex.compile(r"\s")
    for cp, c in chars():
        if sum(bool(p.match(c)) for p in (letter, number, other)) > 1:
            sys.exit("U+%04X is in more than one pre-tokenizer class" % cp)

    # Which lower-case characters IGNORECASE lets stand in for the ASCII letters of the
    # contractions and special tokens ("'ſ" matches "'s").
    folds = []
    for ascii_letter in sorted(set("strevmld" "startoftext" "endoftext")):
        pat = regex.compile(regex.escape(ascii_letter), regex.IGNORECASE)
        for cp, c in chars():
            if c != ascii_letter and c.lower() == c and pat.fullmatch(c):
                folds.append((cp, ord(ascii_letter)))

    # str.lower(): single code point mappings as (first, count, delta, stride) runs.
    runs = []
    for cp, c in chars():
        low = c.lower()
        if low == c or len(low) != 1:
            continue
        delta = ord(low) - cp
        if runs:
            first, count, d, stride = runs[-1]
            last = first + (count - 1) * stride
            step = cp - last
            if d == delta and (count == 1 and step in (1, 2) or count > 1 and step == stride):
                runs[-1] = (first, count + 1, d, step)
                continue
        runs.append((cp, 1, delta, 1))
    multi_lower = [(cp, c.lower()) for cp, c in chars() if len(c.lower()) != 1]

    # Final-sigma context of str.lower(): what a scan from a capital sigma skips over
    # (case-ignorable) and what it then needs to find (cased). Measured through str.lower itself.
    def cased(c):
        return (c + "\u03a3").lower()[-1] == "\u03c2"

    def case_ignorable(c):
        return not cased(c) and ("A" + c + "\u03a3").lower()[-1] == "\u03c2"

    # NFC: one-level canonical decompositions, composition eligibility, combining classes.
    decomp = []
    for cp, c in chars():
        d = unicodedata.decomposition(c)
        if not d or d.startswith("<"):
            continue
        parts = [int(x, 16) for x in d.split()]
        composes = len(parts) == 2 and unicodedata.normalize("NFC", "".join(map(chr, parts))) == c
        decomp.append((cp, parts[0], parts[1] if len(parts) == 2 else 0, int(composes)))
    ccc_runs = []
    for cp, c in chars():
        k = unicodedata.combining(c)
        if not k:
            continue
        if ccc_runs and ccc_runs[-1][1] == cp - 1 and ccc_runs[-1][2] == k:
            ccc_runs[-1] = (ccc_runs[-1][0], cp, k)
        else:
            ccc_runs.append((cp, cp, k))

    # ftfy.fix_character_width: U+3000 and the NFKC forms of U+FF01..U+FFEF.
    width = [(0x3000, " ")]
    for cp in range(0xFF01, 0xFFF0):
        alt = unicodedata.normalize("NFKC", chr(cp))
        if alt != chr(cp):
            width.append((cp, alt))

    # HTML entities: Python's HTML5 table, which html.unescape uses. ftfy also decodes the all-caps
    # spelling of an all-lower-case name to the upper-cased text; the few texts that upper-casing
    # changes are listed separately.
    named = sorted(html.entities.html5.items())
    upper = sorted((k, v.upper()) for k, v in named if k.endswith(";") and k == k.lower()
                   and html.unescape("&" + k.upper()) == "&" + k.upper() and v.upper() != v)
    charref = [(n, html._invalid_charrefs[n]) for n in sorted(html._invalid_charrefs)]
    invalid_cp = sorted(n for n in html._invalid_codepoints if n not in html._invalid_charrefs)

    print("// Generated by scripts/gen_clip_unicode_tables.py: do not edit. Source: Python %s"
          % sys.version.split()[0])
    print("// (unicodedata %s), regex %s. Included by clip_tokenizer.cpp, which defines the types."
          % (unicodedata.unidata_version, regex.__version__))
    print()
    emit_ranges("kLetterRanges", ranges(lambda c: bool(letter.match(c))))
    emit_ranges("kNumberRanges", ranges(lambda c: bool(number.match(c))))
    emit_ranges("kUnmatchedRanges",
                ranges(lambda c: not (letter.match(c) or number.match(c) or other.match(c))))
    emit_ranges("kRegexSpaceRanges", ranges(lambda c: bool(space.match(c))))
    emit_ranges("kPySpaceRanges", ranges(str.isspace))
    emit_ranges("kPyDecimalRanges", ranges(str.isdecimal))
    emit_rows("kIgnoreCaseFolds", "CpMap", ["{0x%X, 0x%X}" % f for f in folds])
    emit_rows("kLowerRuns", "LowerRun", ["{0x%X, %d, %d, %d}" % r for r in runs])
    emit_rows("kMultiLower", "CpString",
              ["{0x%X, %s}" % (cp, cpp_u32string(s)) for cp, s in multi_lower])
    emit_ranges("kCasedRanges", ranges(cased))
    emit_ranges("kCaseIgnorableRanges", ranges(case_ignorable))
    emit_rows("kDecompositions", "Decomposition", ["{0x%X, 0x%X, 0x%X, %d}" % d for d in decomp])
    emit_rows("kCombiningClasses", "CccRange", ["{0x%X, 0x%X, %d}" % r for r in ccc_runs])
    emit_rows("kWidthMap", "CpString", ["{0x%X, %s}" % (cp, cpp_u32string(s)) for cp, s in width])
    emit_rows("kHtmlEntities", "NamedString",
              ["{\"%s\", %s}" % (k, cpp_u32string(v)) for k, v in named])
    emit_rows("kUpperCasedEntityTexts", "NamedString",
              ["{\"%s\", %s}" % (k, cpp_u32string(v)) for k, v in upper])
    emit_rows("kInvalidCharrefs", "CpString",
              ["{0x%X, %s}" % (n, cpp_u32string(s)) for n, s in charref])
    emit_rows("kInvalidCodepoints", "char32_t", ["0x%X" % n for n in invalid_cp])


if __name__ == "__main__":
    main()
