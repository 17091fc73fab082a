#pragma once
// sam-point --interactive: SAM.py's click window over a PromptSession (OpenCV HighGUI).
//   left click       add a foreground point       right click   add a background point
//   middle click     clear                         left drag     draw a box (corners in any order)
//   Tab / 1 2 3      cycle / pick the candidate shown for a single click
//   s save (the batch layout under outDir)   a automatic masks   u undo   r reset   q / Esc quit
// One click shows the 3 candidates, one at a time, titled "Mask i, Score: 0.xxx"; after further
// clicks or a box one mask is decoded, with the previous best low-res logits fed back (as SAM.py
// does) unless refine is off. Masks are drawn as SAM.py draws them: blue (30,144,255) at alpha 0.6,
// green/red stars for the points, a green box. A status strip under the image shows the decode time.
#include <functional>
#include <string>
#include <vector>

#include "samcli/records.hpp"
#include "samcli/session.hpp"

namespace samcli {

struct InteractiveOptions {
  std::string outDir = "out";
  bool refine = true;
  // The automatic masks of key `a` (sam-amg's generator over the open image).
  std::function<std::vector<MaskRecord>(const cv::Mat& rgb)> automaticMasks;
};

// Throws UsageError when there is no display to open a window on.
void requireDisplay();

// Opens the window on the session's image and runs until q/Esc or the window is closed.
void runInteractiveWindow(PromptSession& session, const InteractiveOptions& options);

}  // namespace samcli
