#include "samcli/rle.hpp"

#include <cstring>
#include <limits>
#include <string>

#include "samcli/error.hpp"
#include "samcli/image_io.hpp"

namespace samcli {

Rle encodeRle(const cv::Mat& mask) {
  if (mask.type() != CV_8UC1) {
    throw Error("cannot run-length encode a mask of OpenCV type " + std::to_string(mask.type()) +
                ": expected 8-bit single channel");
  }
  Rle rle;
  rle.height = mask.rows;
  rle.width = mask.cols;
  // Column-major order is row-major order of the transpose; scanning that contiguously is much
  // faster than striding down columns.
  cv::Mat t;
  if (!mask.empty()) cv::transpose(mask, t);
  uint32_t run = 0;
  bool inside = false;
  for (int r = 0; r < t.rows; ++r) {
    const uint8_t* p = t.ptr<uint8_t>(r);
    for (int c = 0; c < t.cols; ++c) {
      if ((p[c] != 0) != inside) {
        rle.counts.push_back(run);
        run = 0;
        inside = !inside;
      }
      ++run;
    }
  }
  rle.counts.push_back(run);
  return rle;
}

cv::Mat decodeRle(const Rle& rle) {
  if (rle.height < 0 || rle.width < 0) {
    throw Error("invalid RLE size " + std::to_string(rle.height) + "x" + std::to_string(rle.width));
  }
  checkImageSize(rle.width, rle.height, "RLE");
  const uint64_t total = static_cast<uint64_t>(rle.height) * static_cast<uint64_t>(rle.width);
  uint64_t sum = 0;
  for (uint32_t c : rle.counts) sum += c;
  if (sum != total) {
    throw Error("inconsistent RLE: counts cover " + std::to_string(sum) + " pixels but the size " +
                std::to_string(rle.height) + "x" + std::to_string(rle.width) + " has " +
                std::to_string(total));
  }
  if (total == 0) return cv::Mat(rle.height, rle.width, CV_8UC1);
  cv::Mat t(rle.width, rle.height, CV_8UC1);
  uint8_t* p = t.ptr<uint8_t>();
  bool inside = false;
  for (uint32_t c : rle.counts) {
    std::memset(p, inside ? 255 : 0, c);
    p += c;
    inside = !inside;
  }
  cv::Mat mask;
  cv::transpose(t, mask);
  return mask;
}

// pycocotools packs each count (after the first two, as a difference to the count two places
// before, i.e. the previous run of the same colour) as a signed little-endian base-32 number: 5
// payload bits per character, 0x20 marks that more characters follow, 0x10 of the last character is
// the sign, and 48 is added to keep the characters printable.
std::string rleCountsToString(const std::vector<uint32_t>& counts) {
  std::string s;
  for (size_t i = 0; i < counts.size(); ++i) {
    int64_t x = counts[i];
    if (i > 2) x -= counts[i - 2];
    bool more = true;
    while (more) {
      char c = static_cast<char>(x & 0x1f);
      x >>= 5;  // arithmetic shift: negative differences end in a run of sign bits
      more = (c & 0x10) ? x != -1 : x != 0;
      if (more) c |= 0x20;
      s.push_back(static_cast<char>(c + 48));
    }
  }
  return s;
}

std::vector<uint32_t> rleCountsFromString(const std::string& s) {
  std::vector<uint32_t> counts;
  size_t p = 0;
  while (p < s.size()) {
    int64_t x = 0;
    int shift = 0;
    bool more = true;
    while (more) {
      if (p >= s.size()) throw Error("invalid compressed RLE string: it ends inside a count");
      const int c = static_cast<unsigned char>(s[p]) - 48;
      if (c < 0 || c > 63) {
        throw Error("invalid compressed RLE string: unexpected character at offset " +
                    std::to_string(p));
      }
      // Seven characters (35 bits) hold any difference of two 32-bit counts.
      if (shift > 30) {
        throw Error("invalid compressed RLE string: over-long count at offset " + std::to_string(p));
      }
      x |= static_cast<int64_t>(c & 0x1f) << shift;
      more = (c & 0x20) != 0;
      ++p;
      shift += 5;
      if (!more && (c & 0x10)) x |= -(int64_t{1} << shift);  // sign-extend
    }
    if (counts.size() > 2) x += counts[counts.size() - 2];
    if (x < 0 || x > std::numeric_limits<uint32_t>::max()) {
      throw Error("invalid compressed RLE string: count " + std::to_string(counts.size()) +
                  " decodes to " + std::to_string(x));
    }
    counts.push_back(static_cast<uint32_t>(x));
  }
  return counts;
}

int64_t rleArea(const Rle& rle) {
  int64_t area = 0;
  for (size_t i = 1; i < rle.counts.size(); i += 2) area += rle.counts[i];
  return area;
}

}  // namespace samcli
