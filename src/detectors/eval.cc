#include "detectors/eval.h"

#include <algorithm>

namespace rampart::detectors {

void MatchSpans(const std::vector<TypedSpan>& gold, const std::vector<TypedSpan>& pred,
                SpanMatch mode, std::map<std::string, PrfCounts>& out) {
  std::vector<bool> gold_used(gold.size(), false);
  std::vector<bool> pred_used(pred.size(), false);
  auto matches = [&](const TypedSpan& g, const TypedSpan& p) {
    if (g.type != p.type) return false;
    if (!g.has_span) return true;
    if (mode == SpanMatch::kExact) return g.begin == p.begin && g.end == p.end;
    return g.begin < p.end && p.begin < g.end;
  };
  // Spanned gold first, so a span-less gold entry does not take a prediction that a spanned
  // one needs.
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t gi = 0; gi < gold.size(); ++gi) {
      if (gold_used[gi] || gold[gi].has_span != (pass == 0)) continue;
      for (size_t pi = 0; pi < pred.size(); ++pi) {
        if (pred_used[pi] || !matches(gold[gi], pred[pi])) continue;
        gold_used[gi] = pred_used[pi] = true;
        ++out[gold[gi].type].tp;
        break;
      }
    }
  }
  // A span-less gold entry stands for "this text has one": extra predictions of the same
  // type in that text are not counted as false positives.
  for (size_t pi = 0; pi < pred.size(); ++pi) {
    if (pred_used[pi]) continue;
    bool covered = std::any_of(gold.begin(), gold.end(), [&](const TypedSpan& g) {
      return !g.has_span && g.type == pred[pi].type;
    });
    if (!covered) ++out[pred[pi].type].fp;
  }
  for (size_t gi = 0; gi < gold.size(); ++gi) {
    if (!gold_used[gi]) ++out[gold[gi].type].fn;
  }
}

double RocAuc(std::vector<std::pair<double, int>> scored) {
  std::sort(scored.begin(), scored.end());
  uint64_t pos = 0, neg = 0;
  for (const auto& s : scored) (s.second ? pos : neg)++;
  if (pos == 0 || neg == 0) return 0.5;
  // Mann-Whitney U with average ranks for ties.
  double rank_sum = 0;
  size_t i = 0;
  while (i < scored.size()) {
    size_t j = i;
    while (j < scored.size() && scored[j].first == scored[i].first) ++j;
    double avg_rank = (double(i + 1) + double(j)) / 2.0;
    for (size_t k = i; k < j; ++k) {
      if (scored[k].second) rank_sum += avg_rank;
    }
    i = j;
  }
  double u = rank_sum - double(pos) * double(pos + 1) / 2.0;
  return u / (double(pos) * double(neg));
}

std::pair<double, double> TprAtFpr(std::vector<std::pair<double, int>> scored, double max_fpr) {
  std::sort(scored.begin(), scored.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  uint64_t pos = 0, neg = 0;
  for (const auto& s : scored) (s.second ? pos : neg)++;
  if (pos == 0) return {0.0, 1.0};
  double best_tpr = 0.0, best_threshold = scored.empty() ? 1.0 : scored.front().first + 1.0;
  uint64_t tp = 0, fp = 0;
  size_t i = 0;
  while (i < scored.size()) {
    size_t j = i;
    while (j < scored.size() && scored[j].first == scored[i].first) {
      (scored[j].second ? tp : fp)++;
      ++j;
    }
    double fpr = neg == 0 ? 0.0 : double(fp) / double(neg);
    if (fpr <= max_fpr) {
      double tpr = double(tp) / double(pos);
      if (tpr > best_tpr) {
        best_tpr = tpr;
        best_threshold = scored[i].first;
      }
    }
    i = j;
  }
  return {best_tpr, best_threshold};
}

uint32_t CodePointOffset(const std::string& text, uint32_t byte) {
  uint32_t cp = 0;
  for (uint32_t i = 0; i < byte && i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++cp;
  }
  return cp;
}

}  // namespace rampart::detectors
