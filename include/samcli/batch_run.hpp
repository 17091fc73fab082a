#pragma once
// The batch run every tool shares. resolveInputs (cli.hpp) chooses the images and the shard before
// the model loads; processImages then takes each image through the stages
//   skip     with --skip-existing, an image whose output folder holds a finished result is not
//            read: its masks.json is reported instead (decided once, before reading)
//   decode   the next image to read is decoded in the background, while the current one runs
//   run      the tool's task turns the pixels into the image's document and a writer of its files
//   commit   the files are written under a temporary name and renamed into place in the
//            background, while the next image runs (outputs.hpp)
//   report   per image, in input order: a progress line on stderr, a --jsonl line on stdout and the
//            document kept for --json and --coco, which are written at the end
// so that decoding image i+1 and writing image i-1 overlap the task of image i.
#include <functional>
#include <vector>

#include <opencv2/core.hpp>

#include "samcli/cli.hpp"
#include "samcli/inputs.hpp"
#include "samcli/outputs.hpp"

namespace samcli {

// One image's work: its pixels (RGB) in, its document and the writer of its folder out. An Error
// fails that image only; any other exception ends the run.
using ImageTask = std::function<ImageOutcome(const InputImage& input, const cv::Mat& rgb)>;

// Runs `perImage` on every input through the stages above. Progress goes to stderr (a bar on a
// terminal, lines otherwise). A failing image stops the run with its one-line error (thrown as
// Error once the image before it is committed), or with --keep-going is reported and skipped.
// Returns the exit code (1 if any image failed).
int processImages(const CommonOptions& options, const std::vector<InputImage>& inputs, const ImageTask& perImage);

}  // namespace samcli
