// Evaluation metrics for detectors: span-level precision/recall/F1 per entity type, binary
// detection rates and ROC AUC. Used by `rampart eval`; pure functions, exposed for tests.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace rampart::detectors {

struct PrfCounts {
  uint64_t tp = 0, fp = 0, fn = 0;
  double precision() const { return tp + fp == 0 ? 0.0 : double(tp) / double(tp + fp); }
  double recall() const { return tp + fn == 0 ? 0.0 : double(tp) / double(tp + fn); }
  double f1() const {
    double p = precision(), r = recall();
    return p + r == 0 ? 0.0 : 2 * p * r / (p + r);
  }
};

struct TypedSpan {
  std::string type;
  // Offsets in whatever unit both sides share; `has_span` false means the gold annotation
  // only says that the text contains an entity of this type.
  uint32_t begin = 0;
  uint32_t end = 0;
  bool has_span = true;
};

enum class SpanMatch { kExact, kOverlap };

// Matches predictions to gold one-to-one per type (greedy in position order) and adds the
// counts to `out[type]`. A gold entry without span is matched by any prediction of its type
// in the same text.
void MatchSpans(const std::vector<TypedSpan>& gold, const std::vector<TypedSpan>& pred,
                SpanMatch mode, std::map<std::string, PrfCounts>& out);

struct BinaryCounts {
  uint64_t tp = 0, fp = 0, tn = 0, fn = 0;
  double tpr() const { return tp + fn == 0 ? 0.0 : double(tp) / double(tp + fn); }
  double fpr() const { return fp + tn == 0 ? 0.0 : double(fp) / double(fp + tn); }
  double precision() const { return tp + fp == 0 ? 0.0 : double(tp) / double(tp + fp); }
  double f1() const {
    double p = precision(), r = tpr();
    return p + r == 0 ? 0.0 : 2 * p * r / (p + r);
  }
  void Add(bool predicted, bool actual) {
    if (predicted && actual) ++tp;
    if (predicted && !actual) ++fp;
    if (!predicted && actual) ++fn;
    if (!predicted && !actual) ++tn;
  }
};

// Area under the ROC curve of (score, label) pairs, ties counted as one half. Returns 0.5
// when either class is empty.
double RocAuc(std::vector<std::pair<double, int>> scored);

// The highest TPR reachable with FPR <= max_fpr, and the score threshold that reaches it
// (predict positive when score >= threshold).
std::pair<double, double> TprAtFpr(std::vector<std::pair<double, int>> scored, double max_fpr);

// Code-point offset of byte offset `byte` in UTF-8 `text` (bytes that are not lead bytes
// count as part of the preceding code point).
uint32_t CodePointOffset(const std::string& text, uint32_t byte);

}  // namespace rampart::detectors
