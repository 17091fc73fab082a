#pragma once
// A prompt session: the model loaded once, the current image encoded once (the embedding cache
// honoured), prompts decoded on it one after another, the last results kept so that the next
// prompt can refine the best mask (SAM.py's click loop feeds back the best low-res logits) and so
// that a step can be undone. The --session protocol below and an interactive window share it.
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "samcli/predictor.hpp"
#include "samcli/records.hpp"

namespace samcli {

class PromptSession {
 public:
  // historyLimit: how many results are kept for undo (at least 1, the latest: refine and save need it).
  explicit PromptSession(std::shared_ptr<SamModel> model, size_t historyLimit = SIZE_MAX);

  // Makes `path` the current image: read and encoded, unless it already is the current one.
  // Opening another image forgets the results of the previous one. Throws Error naming the file.
  void openImage(const std::string& path);
  bool hasImage() const { return !path_.empty(); }
  const std::string& imagePath() const { return path_; }
  const cv::Mat& image() const { return rgb_; }  // RGB

  struct Result {
    std::vector<Prompt> prompts;       // as decoded (one per box; the mask input when refined)
    bool multimask = false;
    std::vector<MaskRecord> records;   // prompt by prompt, candidates in the decoder's order (masks as RLE)
    size_t best = 0;                   // the record with the highest predicted IoU
    cv::Mat bestLowResLogits;          // its low-res logits, the next refinement's mask input (no other's kept)
  };

  // Decodes the prompts (decoded together; one per box, or one) on the current image. refine: the
  // previous result's best low-res logits become the mask input of a single prompt (nothing to
  // refine yet is not an error). Throws Error when no image is open, a point or box lies outside
  // it, or refine is asked for several prompts at once.
  const Result& decode(std::vector<Prompt> prompts, bool multimask, bool refine);
  // The latest result, or nullptr.
  const Result* last() const { return history_.empty() ? nullptr : &history_.back(); }
  // Writes the latest result as a batch run writes an image's (<outDir>/<name>/: masks, overlay,
  // masks.json, best_logits.npy), replacing an earlier one; returns the folder. Throws Error when
  // there is no result yet or the folder cannot be written.
  std::string saveLast(const std::string& outDir, const std::string& name) const;
  // Back to the result before the latest; forget every result.
  void undo();
  void reset() { history_.clear(); }

 private:
  Predictor predictor_;
  size_t historyLimit_;
  std::string path_;
  cv::Mat rgb_;
  std::vector<Result> history_;
};

// SamPredictor's guidance, as sam-point applies it: one click and no box is ambiguous (3
// candidates); anything more says enough for one mask.
bool defaultMultimask(const std::vector<Prompt>& prompts);

// The --session protocol: one JSON object per line on `in`, one JSON line per prompt to `write`.
//   in:  {"image": "a.jpg", "points": [[x, y], ...], "labels": [1, 0, ...], "boxes": [[x0,y0,x1,y1], ...],
//         "multimask": bool, "refine": bool, "save": true | "name"}
//        read by parseSessionLine (session_line.hpp): the fields of a prompt-file entry plus
//        multimask (default: defaultMultimask), refine (feed back the previous best low-res logits)
//        and save (write the result's folder under outDir, named after the image's stem, or the name
//        given). "image" may be left out after the first line: the current image stays. Blank lines
//        are skipped.
//   out: {"line": N, "image": ..., "width": W, "height": H, "prompt": <the line>, "masks": [records],
//         "best": i, "seconds": s[, "saved": folder]}
//        or, for a line that cannot be served, {"line": N, "error": "..."}; the session goes on.
// Returns at the end of `in`. `seconds` is the time from reading the line to writing its answer.
// Throws Error for a line longer than a prompt record may be (text_input.hpp); what `write` throws
// (writeStdout: BrokenPipe when the reader has gone, Error on a full disk) ends the session.
struct SessionOptions {
  std::string outDir = "out";  // where "save" writes
};
void runSessionProtocol(PromptSession& session, std::istream& in, const std::function<void(const std::string&)>& write,
                        const SessionOptions& options);

// What `--session` runs: the model of `modelDir` loaded once, then the protocol over standard
// input and output until the end of the input.
void serveSession(const std::string& modelDir, const RuntimeOptions& runtime, const SessionOptions& options);

}  // namespace samcli
