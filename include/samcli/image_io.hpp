#pragma once
// Image files in and out. Inside samcli every colour image is 8-bit RGB (CV_8UC3, R first), as the
// official SAM pipeline reads it through PIL; OpenCV's BGR order never leaves this unit.
#include <cstdint>
#include <string>

#include <opencv2/core.hpp>

namespace samcli {

// The largest image any input may declare, in pixels (width x height): image files (checked on
// their header before decoding, so that a small file declaring a huge image cannot exhaust
// memory), COCO image and RLE sizes, .npy shapes, embedding-cache entries. The default is PIL's
// decompression-bomb limit (2 x 89478485, about 179 megapixels: 16000 x 11000).
constexpr int64_t kDefaultMaxPixels = 178956970;
// Sets the limit for the process; `howToRaise` is appended to the error ("raise it with ...").
void setMaxImagePixels(int64_t limit, std::string howToRaise = "");
int64_t maxImagePixels();
// Throws Error "<what> is WxH (N pixels), more than the limit of M pixels" when width x height is
// over the limit, or "<what> has an invalid size WxH" when a side is negative.
void checkImageSize(int64_t width, int64_t height, const std::string& what);

// Reads an image as 8-bit RGB, applying its EXIF orientation. Grayscale is replicated to three
// channels, alpha is dropped, 16-bit samples are scaled to 8 bits. Throws Error naming the path
// when the file is missing, not a regular file (a FIFO would block), empty, not an image, larger
// than maxImagePixels() or truncated (a JPEG without its end marker). The decoders' own
// diagnostics never reach stderr (Log::captureStderr); a decoder's reason for failing ends the
// one-line message instead.
cv::Mat readImageRgb(const std::string& path);

// Reads a label map (one integer label per pixel, 8- or 16-bit single channel, e.g. ground truth)
// without any conversion. Throws Error naming the path when it is missing or not single-channel.
cv::Mat readLabelMap(const std::string& path);

// Reads a mask image as CV_8UC1 0/255: a pixel is inside when any of its colour samples is non-zero
// (alpha ignored; any bit depth; palette images by their colours, so index 0 must be black).
// Throws Error naming the path when the file is missing, unreadable or not an image.
cv::Mat readMask(const std::string& path);

// Writes a PNG without ever leaving a partial file: encodes to "<path>.tmp-<pid>" beside the target,
// then renames. Accepts CV_8UC1 (masks), CV_16UC1 (label maps) and CV_8UC3 RGB. Creates missing
// parent directories. Throws Error naming the path on failure.
void writePngAtomic(const std::string& path, const cv::Mat& image);

// Writes any bytes atomically with the same temp-then-rename rule (JSON, CSV, cache files).
void writeFileAtomic(const std::string& path, const std::string& bytes);

// Writes a file the user named as an output (a run's JSON or COCO, a report): "-" is standard output
// (writeStdout); a symlink is followed, so its target is written; an existing device, FIFO or pipe
// (/dev/null, /dev/fd/N, a process substitution) is written through, never replaced; a regular or
// new file is written atomically beside its (resolved) path. Throws Error naming the path and the
// system's reason (e.g. "No space left on device") on any failed write.
void writeOutputFile(const std::string& path, const std::string& bytes);

// Writes bytes to standard output and flushes them. Throws Error on a failed write (a full disk),
// BrokenPipe when the reader has gone (runTool ends the run quietly then).
void writeStdout(const std::string& bytes);

}  // namespace samcli
