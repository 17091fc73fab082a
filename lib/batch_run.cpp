#include "samcli/batch_run.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <future>
#include <iostream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>

#include "samcli/coco.hpp"
#include "samcli/error.hpp"
#include "samcli/image_io.hpp"
#include "samcli/json_input.hpp"
#include "samcli/log.hpp"
#include "samcli/records.hpp"

namespace samcli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// One image on its way through the stages, and what its report says.
struct ImageRun {
  const InputImage* input = nullptr;
  std::string status;  // ok, skipped, error
  std::string error;
  double seconds = 0;
  nlohmann::ordered_json doc;
  std::function<void(ImageOutputDir&)> write;  // its files, until the commit stage takes them
  std::vector<std::string> warnings;           // the task's, printed with its report
};

// ---- skip

// With --skip-existing: the masks.json of the image's finished result, "" when there is none.
std::string existingResult(const CommonOptions& options, const InputImage& input) {
  if (!options.skipExisting) return std::string();
  try {
    const std::string doc = (fs::path(outputPathUnder(options.outDir, input.outputName)) / "masks.json").string();
    std::error_code ec;
    return fs::exists(doc, ec) ? doc : std::string();
  } catch (const Error&) {
    return std::string();  // refused with its own error when the image is written
  }
}

// A skipped image reports the finished result's document; one that cannot be read fails the image.
void takeExisting(ImageRun& run, const std::string& doc) {
  try {
    run.doc = readOrderedJsonFile(doc);
    run.status = "skipped";
  } catch (const Error& e) {
    run.status = "error";
    run.error = std::string(e.what()) + " (remove the folder to redo its image)";
  }
}

// ---- decode ahead

// Decides image after image whether it is skipped and starts decoding the next one to read, from
// the start and again as soon as the previous one's pixels are taken, so that a decode overlaps the
// task before it. The pixels travel with their input's index, so they can only ever reach that
// input's task.
class Prefetcher {
 public:
  Prefetcher(const CommonOptions& options, const std::vector<InputImage>& inputs)
      : options_(options), inputs_(inputs), existing_(inputs.size()) {
    startFrom(0);
  }

  // The finished result's masks.json of an image decided skipped, "" for one to read.
  const std::string& existing(size_t index) const { return existing_[index]; }

  // The image's pixels once decoded (throws the decoder's Error); the next image to read is started
  // before they are handed over.
  cv::Mat take(size_t index) {
    if (!next_ || next_->index != index) throw std::logic_error("image pipeline out of step");
    std::future<cv::Mat> decoding = std::move(next_->rgb);
    next_.reset();
    cv::Mat rgb;
    try {
      rgb = decoding.get();
    } catch (const Error&) {
      startFrom(index + 1);
      throw;
    }
    startFrom(index + 1);
    return rgb;
  }

 private:
  void startFrom(size_t from) {
    for (size_t k = from; k < inputs_.size(); ++k) {
      existing_[k] = existingResult(options_, inputs_[k]);
      if (existing_[k].empty()) {
        next_ = Decoding{k, std::async(std::launch::async, readImageRgb, inputs_[k].path)};
        return;
      }
    }
  }

  struct Decoding {
    size_t index;
    std::future<cv::Mat> rgb;
  };
  const CommonOptions& options_;
  const std::vector<InputImage>& inputs_;
  std::vector<std::string> existing_;  // decided skips; images further on are not decided yet
  std::optional<Decoding> next_;
};

// ---- run

// The task on the image's pixels, timed from the wait for them. An Error, from the decoder or the
// task, fails this image only.
ImageRun runTask(const ImageTask& task, const InputImage& input, size_t index, Prefetcher& prefetcher) {
  ImageRun run;
  run.input = &input;
  const auto start = Clock::now();
  try {
    // Held: the task runs while the image before it is still being written, and its warnings
    // belong after that image's line.
    Log::holdWarnings(run.warnings, [&] {
      const cv::Mat rgb = prefetcher.take(index);
      ImageOutcome outcome = task(input, rgb);
      run.doc = std::move(outcome.doc);
      run.write = std::move(outcome.write);
    });
    run.status = "ok";
  } catch (const Error& e) {
    run.status = "error";
    run.error = e.what();
  }
  run.seconds = secondsSince(start);
  return run;
}

// ---- commit

// The folder of the image that ran last, written and committed in the background while the next
// image runs.
class AsyncCommit {
 public:
  explicit AsyncCommit(const CommonOptions& options) : options_(options) {}

  void start(ImageRun run) {
    pending_ = std::move(run);
    committed_ = std::async(std::launch::async, [&options = options_, input = pending_.input,
                                                 write = std::move(pending_.write)] {
      ImageOutputDir out(options.outDir, input->outputName);
      out.fill(write);
      // With --skip-existing a result another process finished meanwhile wins over ours.
      return out.commit(options.skipExisting ? ExistingResult::Keep : ExistingResult::Replace);
    });
  }

  // Waits for the commit in flight, if there is one, and hands its image over to be reported: ok,
  // skipped with the result that won over ours, or failed with the write's error.
  std::optional<ImageRun> settle() {
    if (!committed_.valid()) return std::nullopt;
    try {
      if (!committed_.get()) takeExisting(pending_, existingResult(options_, *pending_.input));
    } catch (const std::exception& e) {
      pending_.status = "error";
      pending_.error = e.what();
    }
    return std::move(pending_);
  }

 private:
  const CommonOptions& options_;
  ImageRun pending_;
  std::future<bool> committed_;  // true: committed; false: a finished result was there (Keep)
};

// ---- report

// Progress on stderr: a redrawn bar with rate and ETA on a terminal, one line per image otherwise.
class Progress {
 public:
  explicit Progress(size_t total) : total_(total), start_(Clock::now()), bar_(::isatty(STDERR_FILENO) != 0) {}

  void report(size_t done, const std::string& line) {
    if (Log::quiet()) return;
    if (!bar_) return Log::info(line);
    const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
    const double rate = elapsed > 0 ? double(done) / elapsed : 0.0;
    const int width = 30;
    const int filled = int(double(width) * double(done) / double(std::max<size_t>(total_, 1)));
    std::ostringstream bar;
    bar.precision(2);
    bar << std::fixed << "\r[" << std::string(size_t(filled), '=') << std::string(size_t(width - filled), ' ') << "] "
        << done << "/" << total_ << "  " << rate << " img/s";
    if (rate > 0 && done < total_) bar << "  ETA " << int(double(total_ - done) / rate) << " s";
    bar << "   ";
    std::cerr << bar.str() << (done == total_ ? "\n" : "") << std::flush;
  }

 private:
  size_t total_;
  Clock::time_point start_;
  bool bar_;
};

// The run's reports, given image by image in input order: the progress line, the --jsonl line and
// the document kept for --json and --coco. Failures are counted and the first one's message kept.
class BatchReport {
 public:
  BatchReport(const CommonOptions& options, size_t total) : options_(options), total_(total), progress_(total) {}

  void add(const ImageRun& run) {
    for (const std::string& warning : run.warnings) Log::warning(warning);
    ++done_;
    const size_t masks = run.doc.contains("masks") ? run.doc.at("masks").size() : 0;
    std::ostringstream line;
    line.precision(2);
    line << std::fixed << "[" << done_ << "/" << total_ << "] " << run.input->path << ": ";
    if (run.status == "error") {
      ++failures_;
      if (firstError_.empty()) firstError_ = run.error;
      if (options_.keepGoing) Log::error(run.error);
      line << "failed";
    } else if (run.status == "skipped") {
      line << "skipped, output exists";
    } else {
      line << masks << " mask(s), " << run.seconds << " s";
    }
    if (options_.jsonl) {
      nlohmann::ordered_json j = {{"image", run.input->path},
                                  {"output", (fs::path(options_.outDir) / run.input->outputName).string()},
                                  {"status", run.status},
                                  {"masks", masks},
                                  {"seconds", run.seconds}};
      if (run.status == "error") j["error"] = run.error;
      writeStdout(dumpJson(j, false));
    }
    if (run.status != "error" && (!options_.jsonPath.empty() || !options_.cocoPath.empty())) {
      docs_.push_back(run.doc);
      cocoNames_.push_back(run.input->outputName + fs::path(run.input->path).extension().string());
    }
    if (run.status != "error" || options_.keepGoing) progress_.report(done_, line.str());
  }

  size_t failures() const { return failures_; }
  const std::string& firstError() const { return firstError_; }

  // After the last image: the kept documents as --json and as --coco.
  void writeDocuments() {
    if (!options_.jsonPath.empty()) writeOutputFile(options_.jsonPath, dumpJson(nlohmann::ordered_json(docs_)));
    if (!options_.cocoPath.empty()) {
      // Relative names, as the output tree: what CVAT and sam-eval match against an image or ground-truth folder.
      for (size_t i = 0; i < docs_.size(); ++i) docs_[i]["image"] = cocoNames_[i];
      writeOutputFile(options_.cocoPath, dumpJson(cocoFromResults(docs_), false));
    }
  }

  // 1 when any image failed, after saying how many did; else 0.
  int exitCode() const {
    if (failures_ == 0) return 0;
    Log::error(std::to_string(failures_) + " of " + std::to_string(total_) + " image(s) failed");
    return 1;
  }

 private:
  const CommonOptions& options_;
  size_t total_;
  Progress progress_;
  size_t done_ = 0;
  size_t failures_ = 0;
  std::string firstError_;
  std::vector<nlohmann::ordered_json> docs_;
  std::vector<std::string> cocoNames_;  // COCO file_name: the image's path below its input root
};

std::vector<std::string> outputNames(const std::vector<InputImage>& inputs) {
  std::vector<std::string> names;
  for (const auto& in : inputs) names.push_back(in.outputName);
  return names;
}

}  // namespace

int processImages(const CommonOptions& options, const std::vector<InputImage>& inputs, const ImageTask& perImage) {
  removeInterruptedOutputs(options.outDir, outputNames(inputs));
  BatchReport report(options, inputs.size());
  Prefetcher prefetcher(options, inputs);
  AsyncCommit commit(options);
  const auto settleCommit = [&] {
    if (std::optional<ImageRun> committed = commit.settle()) report.add(*committed);
  };
  // Without --keep-going the first failure ends the run, once the image before it is reported.
  const auto stopOnFailure = [&] {
    if (report.failures() > 0 && !options.keepGoing) {
      settleCommit();
      throw Error(report.firstError());
    }
  };

  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!prefetcher.existing(i).empty()) {
      ImageRun run;
      run.input = &inputs[i];
      takeExisting(run, prefetcher.existing(i));
      settleCommit();  // reports stay in input order
      report.add(run);
    } else {
      ImageRun run = runTask(perImage, inputs[i], i, prefetcher);
      settleCommit();
      if (run.status == "error") {
        report.add(run);
      } else {
        commit.start(std::move(run));
      }
    }
    stopOnFailure();
  }
  settleCommit();
  stopOnFailure();

  report.writeDocuments();
  return report.exitCode();
}

}  // namespace samcli
