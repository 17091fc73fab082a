#pragma once
// SHA-256 (FIPS 180-4): content keys for the embedding cache, and digests that compare outputs with
// those published for the official pipeline.
#include <cstddef>
#include <cstdint>
#include <string>

#include <opencv2/core.hpp>

namespace samcli {

// Lower-case hex digest of `size` bytes.
std::string sha256Hex(const uint8_t* data, size_t size);
std::string sha256Hex(const std::string& bytes);
// Digest of an image's pixels in row-major, channel-interleaved order: the bytes numpy's tobytes()
// gives for the same HxWxC array.
std::string sha256Hex(const cv::Mat& image);

}  // namespace samcli
