// Detector: a compiled, immutable recognizer of one family of threats in text.
//
// A Detector is built once per configuration generation and shared by all threads. Scan()
// is const and keeps no state between calls; per-call scratch lives in the ScanContext the
// caller owns (one per thread).
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "rampart/finding.h"

namespace rampart {

namespace text {
class TextView;
}

// Per-thread mutable scratch for detectors. Create one per thread with
// Detector::NewContext() and pass it to every Scan() on that thread.
class ScanContext {
 public:
  virtual ~ScanContext() = default;
};

class Detector {
 public:
  virtual ~Detector() = default;

  // Stable dotted id, e.g. "rules".
  virtual std::string_view id() const = 0;

  // Appends findings for `view` to `out`. Spans in findings are ORIGINAL-text spans
  // (the view carries the offset map). Never throws; untrusted input cannot crash it.
  // REQUIRES: ctx was created by this detector's NewContext().
  virtual void Scan(const text::TextView& view, ScanContext& ctx,
                    std::vector<Finding>& out) const = 0;

  virtual std::unique_ptr<ScanContext> NewContext() const = 0;
};

}  // namespace rampart
