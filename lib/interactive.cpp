#include "samcli/interactive.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <optional>

#include <opencv2/highgui.hpp>
#include <opencv2/imgproc.hpp>

#include "samcli/error.hpp"
#include "samcli/log.hpp"
#include "samcli/outputs.hpp"

namespace fs = std::filesystem;

namespace samcli {

void requireDisplay() {
  const char* x11 = std::getenv("DISPLAY");
  const char* wayland = std::getenv("WAYLAND_DISPLAY");
  if ((!x11 || !*x11) && (!wayland || !*wayland)) {
    throw InvalidParameter({"interactive", "session"},
                           "interactive needs a display: DISPLAY is not set (use session for programs)");
  }
}

namespace {

using Clock = std::chrono::steady_clock;

// A press-release closer than this (in window pixels) is a click, farther a box.
constexpr int kDragPixels = 4;

// What the person has given so far; one entry of the undo stack.
struct Clicks {
  std::vector<PointXY> points;
  std::vector<int> labels;
  std::optional<BoxXyxy> box;
  bool empty() const { return points.empty() && !box; }
};

struct Event {
  enum Kind { Foreground, Background, Clear, Box } kind;
  PointXY point;  // Foreground, Background
  BoxXyxy box;    // Box
};

// Mouse events arrive while the window waits for keys, several at a time when decoding is slow:
// they are queued and served in order.
struct Mouse {
  double scale = 1.0;  // window pixels per image pixel
  bool pressed = false;
  cv::Point pressAt, at;
  std::deque<Event> events;
};

PointXY toImage(const Mouse& m, cv::Point p) { return {p.x / m.scale, p.y / m.scale}; }

void onMouse(int type, int x, int y, int /*flags*/, void* data) {
  Mouse& m = *static_cast<Mouse*>(data);
  m.at = {x, y};
  switch (type) {
    case cv::EVENT_LBUTTONDOWN:
      m.pressed = true;
      m.pressAt = {x, y};
      break;
    case cv::EVENT_LBUTTONUP:
      m.pressed = false;
      if (std::abs(x - m.pressAt.x) + std::abs(y - m.pressAt.y) < kDragPixels) {
        m.events.push_back({Event::Foreground, toImage(m, m.pressAt), {}});
      } else {
        const PointXY a = toImage(m, m.pressAt), b = toImage(m, {x, y});
        m.events.push_back({Event::Box, {}, normalizeBox({a.x, a.y, b.x, b.y})});
      }
      break;
    case cv::EVENT_RBUTTONUP:
      m.events.push_back({Event::Background, toImage(m, {x, y}), {}});
      break;
    case cv::EVENT_MBUTTONUP:
      m.events.push_back({Event::Clear, {}, {}});
      break;
    default:
      break;
  }
}

class Window {
 public:
  Window(PromptSession& session, const InteractiveOptions& options) : session_(session), options_(options) {
    const cv::Size size = session.image().size();
    // Large photos are shown at most 1200x900; clicks are mapped back to image pixels.
    mouse_.scale = std::min({1.0, 1200.0 / size.width, 900.0 / size.height});
    name_ = "sam-point: " + fs::path(session.imagePath()).filename().string();
    // GUI_NORMAL: no Qt toolbar or status bar, so the image starts at the window's top left.
    cv::namedWindow(name_, cv::WINDOW_AUTOSIZE | cv::WINDOW_GUI_NORMAL);
    cv::setMouseCallback(name_, onMouse, &mouse_);
    status_ = "click: foreground, right: background, drag: box, s: save, a: automatic, u: undo, q: quit";
  }

  void run() {
    redraw();
    for (;;) {
      const int key = cv::waitKeyEx(20);
      if (cv::getWindowProperty(name_, cv::WND_PROP_VISIBLE) < 1) return;  // closed by the window manager
      // Clicks queued during a slow decode came before the key that ended this wait: served first.
      while (!mouse_.events.empty()) {
        const Event e = mouse_.events.front();
        mouse_.events.pop_front();
        onMouseEvent(e);
      }
      if (key >= 0 && !onKey(key & 0xffff)) return;
      if (mouse_.pressed) redraw();  // the box being dragged
    }
  }

 private:
  bool onKey(int key) {
    if (key == 'q' || key == 27) return false;
    if (key == 9 && candidates() > 1) {
      shown_ = (shown_ + 1) % candidates();
    } else if (key >= '1' && key <= '3' && size_t(key - '1') < candidates()) {
      shown_ = size_t(key - '1');
    } else if (key == 'u') {
      undo();
    } else if (key == 'r') {
      reset();
    } else if (key == 's') {
      save();
    } else if (key == 'a') {
      automatic();
      return true;
    }
    if (automatic_) status_ = "the prompt's masks";
    automatic_.reset();
    redraw();
    return true;
  }

  void onMouseEvent(const Event& e) {
    automatic_.reset();
    if (e.kind == Event::Clear) return reset(), redraw();
    Clicks next = history_.empty() ? Clicks() : history_.back();
    if (e.kind == Event::Box) {
      next.box = e.box;
    } else {
      next.points.push_back(e.point);
      next.labels.push_back(e.kind == Event::Foreground ? 1 : 0);
    }
    decode(std::move(next));
    redraw();
  }

  void decode(Clicks clicks) {
    try {
      const Clock::time_point start = Clock::now();
      const Prompt prompt{clicks.points, clicks.labels, clicks.box, cv::Mat()};
      const bool multimask = defaultMultimask({prompt});
      // SAM.py feeds the previous best mask back once a second click or a box refines it.
      session_.decode({prompt}, multimask, options_.refine && !history_.empty());
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
      history_.push_back(std::move(clicks));
      shown_ = session_.last()->best;
      char text[96];
      std::snprintf(text, sizeof(text), "decoded in %.0f ms", ms);
      status_ = text;
    } catch (const Error& e) {
      status_ = e.what();  // e.g. a click outside the image: the window stays
    }
  }

  void undo() {
    if (history_.empty()) return;
    history_.pop_back();
    session_.undo();
    shown_ = session_.last() ? session_.last()->best : 0;
    status_ = "undone";
  }

  void reset() {
    history_.clear();
    session_.reset();
    shown_ = 0;
    status_ = "cleared";
  }

  void save() {
    try {
      status_ = "saved " + session_.saveLast(options_.outDir, fs::path(session_.imagePath()).stem().string());
      Log::info(status_);
    } catch (const Error& e) {
      status_ = e.what();
    }
  }

  void automatic() {
    if (!options_.automaticMasks) return;
    status_ = "computing the automatic masks...";
    redraw();
    cv::waitKey(1);
    const Clock::time_point start = Clock::now();
    automatic_ = options_.automaticMasks(session_.image());
    char text[96];
    std::snprintf(text, sizeof(text), "%zu automatic masks in %.1f s (any key: back)", automatic_->size(),
                  std::chrono::duration<double>(Clock::now() - start).count());
    status_ = text;
    redraw();
  }

  size_t candidates() const { return session_.last() ? session_.last()->records.size() : 0; }

  void redraw() {
    const cv::Mat& rgb = session_.image();
    cv::Mat canvas;
    std::string title;
    if (automatic_) {
      canvas = renderAnnotations(rgb, *automatic_);
    } else if (const PromptSession::Result* result = session_.last()) {
      const MaskRecord& shown = result->records.at(shown_);
      canvas = renderOverlay(rgb, {&shown}, "");
      char text[64];
      std::snprintf(text, sizeof(text), "Mask %zu, Score: %.3f", shown_ + 1, shown.predictedIou);
      title = text;
    } else {
      canvas = rgb.clone();
    }
    if (mouse_.scale != 1.0) cv::resize(canvas, canvas, cv::Size(), mouse_.scale, mouse_.scale, cv::INTER_AREA);
    if (mouse_.pressed) cv::rectangle(canvas, mouse_.pressAt, mouse_.at, cv::Scalar(0, 255, 0), 2, cv::LINE_AA);
    // The status strip goes below the image, so window pixels map to image pixels from the top left.
    const int strip = 28;
    cv::Mat framed(canvas.rows + strip, canvas.cols, CV_8UC3, cv::Scalar(255, 255, 255));
    canvas.copyTo(framed(cv::Rect(0, 0, canvas.cols, canvas.rows)));
    const std::string line = title.empty() ? status_ : title + "   " + status_;
    cv::putText(framed, line, cv::Point(6, canvas.rows + 19), cv::FONT_HERSHEY_SIMPLEX, 0.5, cv::Scalar(0, 0, 0), 1,
                cv::LINE_AA);
    cv::cvtColor(framed, framed, cv::COLOR_RGB2BGR);
    cv::imshow(name_, framed);
    // The title repeats the status, for window lists (and for scripts that read it, as the tests do).
    cv::setWindowTitle(name_, name_ + "  " + line);
  }

  PromptSession& session_;
  const InteractiveOptions& options_;
  Mouse mouse_;
  std::string name_;
  std::string status_;
  std::vector<Clicks> history_;
  size_t shown_ = 0;
  std::optional<std::vector<MaskRecord>> automatic_;
};

}  // namespace

void runInteractiveWindow(PromptSession& session, const InteractiveOptions& options) {
  if (!session.hasImage()) throw Error("no image is open");
  Window window(session, options);
  window.run();
  cv::destroyAllWindows();
}

}  // namespace samcli
