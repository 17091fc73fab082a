#pragma once
// COCO run-length encoding of binary masks, the format of the official generator's
// "uncompressed_rle"/"coco_rle" outputs and of pycocotools: column-major (Fortran) order, counts
// alternate background/foreground starting with a (possibly empty) background run.
#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace samcli {

struct Rle {
  int height = 0;
  int width = 0;
  std::vector<uint32_t> counts;
};

// Encodes a CV_8UC1 mask (non-zero = inside).
Rle encodeRle(const cv::Mat& mask);
// Decodes to a CV_8UC1 mask with 0/255. Throws Error when the counts do not cover h*w pixels.
cv::Mat decodeRle(const Rle& rle);
// pycocotools' compressed string form of counts (rleToString / rleFrString). Parsing throws Error
// on a string pycocotools could not have produced (bad character, truncated or negative count).
std::string rleCountsToString(const std::vector<uint32_t>& counts);
std::vector<uint32_t> rleCountsFromString(const std::string& s);
// Foreground pixel count, without decoding.
int64_t rleArea(const Rle& rle);

}  // namespace samcli
