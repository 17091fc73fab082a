#include "samcli/session.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <istream>
#include <limits>

#include <nlohmann/json.hpp>

#include "samcli/error.hpp"
#include "samcli/image_io.hpp"
#include "samcli/log.hpp"
#include "samcli/outputs.hpp"
#include "samcli/prompted.hpp"
#include "samcli/session_line.hpp"
#include "samcli/text_input.hpp"

namespace fs = std::filesystem;

namespace samcli {

PromptSession::PromptSession(std::shared_ptr<SamModel> model, size_t historyLimit)
    : predictor_(std::move(model)), historyLimit_(std::max<size_t>(historyLimit, 1)) {}

void PromptSession::openImage(const std::string& path) {
  if (path == path_) return;
  cv::Mat rgb = readImageRgb(path);
  predictor_.setImage(rgb);
  rgb_ = std::move(rgb);
  path_ = path;
  history_.clear();
}

const PromptSession::Result& PromptSession::decode(std::vector<Prompt> prompts, bool multimask, bool refine) {
  if (!hasImage()) throw Error("no image is open: give \"image\" first");
  if (prompts.empty()) throw Error("nothing to decode: give points or boxes");
  for (const Prompt& p : prompts) checkPromptInside(p, rgb_.size(), path_);
  if (refine && last()) {
    if (prompts.size() != 1) throw Error("refine feeds back one mask: give at most one box");
    prompts.front().maskInput = last()->bestLowResLogits;
  }
  RecordCollector collected(rgb_.size());
  predictor_.predictEach(prompts, multimask,
                         [&](size_t i, std::vector<MaskPrediction>& p) { collected.add(prompts[i], p); });
  Result result;
  result.multimask = multimask;
  result.records = std::move(collected.records);
  result.best = collected.best;
  result.bestLowResLogits = std::move(collected.bestLowResLogits);
  result.prompts = std::move(prompts);
  history_.push_back(std::move(result));
  if (history_.size() > historyLimit_) history_.erase(history_.begin());
  return history_.back();
}

std::string PromptSession::saveLast(const std::string& outDir, const std::string& name) const {
  const Result* result = last();
  if (!result) throw Error("nothing to save yet");
  ImageOutputDir out(outDir, name);
  out.fill(promptedResult(path_, rgb_, result->records, result->multimask,
                          {{"best_logits.npy", result->bestLowResLogits}}).write);
  out.commit();
  return out.finalPath();
}

void PromptSession::undo() {
  if (!history_.empty()) history_.pop_back();
}

bool defaultMultimask(const std::vector<Prompt>& prompts) {
  return prompts.size() == 1 && prompts.front().points.size() == 1 && !prompts.front().box;
}

namespace {

using Clock = std::chrono::steady_clock;
using ojson = nlohmann::ordered_json;

ojson answerFor(PromptSession& session, const std::string& line, size_t number, const SessionOptions& options) {
  SessionRequest request = parseSessionLine(line, number, session.imagePath());
  session.openImage(request.image);
  const bool multimask = request.multimask.value_or(defaultMultimask(request.prompts));
  const PromptSession::Result& result = session.decode(std::move(request.prompts), multimask, request.refine);

  ojson answer = {{"line", number},
                  {"image", session.imagePath()},
                  {"width", session.image().cols},
                  {"height", session.image().rows},
                  {"prompt", std::move(request.prompt)}};
  ojson masks = ojson::array();
  for (const MaskRecord& r : result.records) masks.push_back(recordToJson(r));
  answer["masks"] = std::move(masks);
  answer["best"] = result.best;
  if (request.save) {
    const std::string name = request.saveName.empty() ? fs::path(request.image).stem().string() : request.saveName;
    answer["saved"] = session.saveLast(options.outDir, name);
  }
  return answer;
}

}  // namespace

void serveSession(const std::string& modelDir, const RuntimeOptions& runtime, const SessionOptions& options) {
  // No undo in the protocol: only the latest result is kept, for "refine" and "save".
  PromptSession session(loadSamModel(modelDir, runtime), 1);
  runSessionProtocol(session, std::cin, writeStdout, options);
}

void runSessionProtocol(PromptSession& session, std::istream& in, const std::function<void(const std::string&)>& write,
                        const SessionOptions& options) {
  // One prompt per line, as a JSONL prompt record; a session may run for any number of lines.
  LineReader lines(in, "standard input", kMaxRecordLineBytes, std::numeric_limits<size_t>::max());
  std::string line;
  while (lines.next(line)) {
    const size_t number = lines.lineNumber();
    const Clock::time_point start = Clock::now();
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    ojson answer;
    try {
      answer = answerFor(session, line, number, options);
      answer["seconds"] = std::chrono::duration<double>(Clock::now() - start).count();
    } catch (const Error& e) {
      // As printed on stderr: one line, a quoted 10 MB name cut short.
      answer = {{"line", number}, {"error", Log::printable(e.what())}};
    } catch (const std::exception& e) {
      // LibTorch and OpenCV failures carry multi-line context; the first line is the cause.
      const std::string what = e.what();
      answer = {{"line", number}, {"error", "internal error: " + what.substr(0, what.find('\n'))}};
    }
    write(answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + '\n');
  }
}

}  // namespace samcli
