#include "detectors/injection_trainer.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace rampart::detectors {
namespace {

inline float Sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

struct Head {
  std::vector<float> w;
  std::vector<float> g2;  // AdaGrad accumulators
  float b = 0.0f;
  float b_g2 = 0.0f;
};

// Features of every window of one example: per window, the n-gram buckets sorted (so
// repeats can be summed) and how many there were.
struct WindowFeatures {
  std::vector<uint32_t> buckets;
  uint32_t ngrams = 0;
};

void Featurize(const InjectionExample& ex, const InjectionFeatureParams& params,
               InjectionScratch& scratch, std::vector<WindowFeatures>& out) {
  auto windows = Windows(ex.text, params);
  out.resize(windows.size());
  for (size_t k = 0; k < windows.size(); ++k) {
    auto& wf = out[k];
    wf.buckets.clear();
    std::string_view part =
        std::string_view(ex.text).substr(windows[k].first, windows[k].second - windows[k].first);
    ExtractNgramBuckets(part, params, scratch, wf.buckets);
    wf.ngrams = static_cast<uint32_t>(wf.buckets.size());
    std::sort(wf.buckets.begin(), wf.buckets.end());
  }
}

float Margin(const Head& h, const WindowFeatures& wf, const std::vector<uint32_t>& extras) {
  float sum = 0.0f;
  for (uint32_t b : wf.buckets) sum += h.w[b];
  float m = h.b + (wf.ngrams > 0 ? sum / std::sqrt(static_cast<float>(wf.ngrams)) : 0.0f);
  for (uint32_t b : extras) m += h.w[b];
  return m;
}

// Index of the highest-margin window.
size_t BestWindow(const Head& h, const std::vector<WindowFeatures>& wfs,
                  const std::vector<uint32_t>& extras, float* margin) {
  size_t best = 0;
  float best_m = -1e30f;
  for (size_t k = 0; k < wfs.size(); ++k) {
    float m = Margin(h, wfs[k], extras);
    if (m > best_m) {
      best_m = m;
      best = k;
    }
  }
  *margin = best_m;
  return best;
}

void Update(Head& h, const WindowFeatures& wf, const std::vector<uint32_t>& extras, float grad,
            const InjectionTrainOptions& o) {
  auto step = [&](uint32_t b, float g) {
    g += o.l2 * h.w[b];
    h.g2[b] += g * g;
    h.w[b] -= o.learning_rate * g / (std::sqrt(h.g2[b]) + 1e-8f);
  };
  const float scale = wf.ngrams > 0 ? 1.0f / std::sqrt(static_cast<float>(wf.ngrams)) : 0.0f;
  size_t i = 0;
  while (i < wf.buckets.size()) {
    size_t j = i;
    while (j < wf.buckets.size() && wf.buckets[j] == wf.buckets[i]) ++j;
    step(wf.buckets[i], grad * scale * static_cast<float>(j - i));
    i = j;
  }
  for (uint32_t b : extras) step(b, grad);
  h.b_g2 += grad * grad;
  h.b -= o.learning_rate * grad / (std::sqrt(h.b_g2) + 1e-8f);
}

// Trains one head on examples `idx` with labels from `label`.
template <typename LabelFn>
Head TrainHead(const std::vector<InjectionExample>& examples, std::vector<size_t> idx,
               LabelFn label, const InjectionTrainOptions& o, uint64_t seed) {
  const size_t n = size_t{1} << o.features.hash_bits;
  Head h;
  h.w.assign(n, 0.0f);
  h.g2.assign(n, 0.0f);
  std::mt19937_64 rng(seed);
  InjectionScratch scratch;
  std::vector<WindowFeatures> wfs;
  const std::vector<uint32_t> kNoExtras;
  for (uint32_t epoch = 0; epoch < o.epochs; ++epoch) {
    for (size_t i = idx.size(); i > 1; --i) std::swap(idx[i - 1], idx[rng() % i]);
    for (size_t e : idx) {
      const auto& ex = examples[e];
      Featurize(ex, o.features, scratch, wfs);
      bool drop =
          o.rule_dropout > 0 && static_cast<float>(rng() % 1000000) < o.rule_dropout * 1000000.0f;
      const std::vector<uint32_t>& extras = drop ? kNoExtras : ex.extras;
      float m = 0.0f;
      size_t k = BestWindow(h, wfs, extras, &m);
      bool y = label(ex);
      float weight = ex.weight * (ex.attack ? 1.0f : o.benign_weight);
      float grad = (Sigmoid(m) - (y ? 1.0f : 0.0f)) * weight;
      Update(h, wfs[k], extras, grad, o);
    }
  }
  return h;
}

// Platt scaling: a, b minimizing the log loss of sigmoid(a * margin + b), with Platt's
// smoothed targets; Newton's method.
std::pair<float, float> FitPlatt(const std::vector<std::pair<float, int>>& data) {
  double pos = 0, neg = 0;
  for (const auto& d : data) (d.second ? pos : neg) += 1;
  const double hi = (pos + 1) / (pos + 2), lo = 1 / (neg + 2);
  double a = 1.0, b = 0.0;
  for (int it = 0; it < 100; ++it) {
    double ga = 0, gb = 0, haa = 1e-9, hab = 0, hbb = 1e-9;
    for (const auto& [m, y] : data) {
      double t = y ? hi : lo;
      double p = 1.0 / (1.0 + std::exp(-(a * m + b)));
      double d = p - t, w = p * (1 - p);
      ga += d * m;
      gb += d;
      haa += w * m * m;
      hab += w * m;
      hbb += w;
    }
    double det = haa * hbb - hab * hab;
    if (std::abs(det) < 1e-12) break;
    double da = (hbb * ga - hab * gb) / det, db = (haa * gb - hab * ga) / det;
    a -= da;
    b -= db;
    if (std::abs(da) < 1e-9 && std::abs(db) < 1e-9) break;
  }
  return {static_cast<float>(a), static_cast<float>(b)};
}

}  // namespace

absl::StatusOr<std::unique_ptr<InjectionModel>> TrainInjectionModel(
    const std::vector<InjectionExample>& examples, const InjectionTrainOptions& o) {
  const auto& p = o.features;
  if (p.hash_bits < 8 || p.hash_bits > InjectionModel::kMaxHashBits) {
    return absl::InvalidArgumentError("hash_bits out of range");
  }
  // The same bounds InjectionModel::Parse enforces, so that every trained model loads.
  if (p.char_ngram_min < 1 || p.char_ngram_max < p.char_ngram_min || p.char_ngram_max > 8) {
    return absl::InvalidArgumentError("character n-gram lengths must satisfy 1 <= min <= max <= 8");
  }
  if (p.window_bytes < 64 || p.stride_bytes == 0 || p.stride_bytes > p.window_bytes) {
    return absl::InvalidArgumentError("window must be >= 64 bytes and 0 < stride <= window");
  }
  size_t attacks = 0, jailbreaks = 0;
  for (const auto& ex : examples) {
    attacks += ex.attack;
    jailbreaks += ex.attack && ex.jailbreak;
  }
  if (attacks == 0 || attacks == examples.size()) {
    return absl::InvalidArgumentError("training data needs both attacks and benign texts");
  }
  std::vector<size_t> all(examples.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  auto is_attack = [](const InjectionExample& ex) { return ex.attack; };

  // Out-of-fold margins for the calibration.
  std::vector<std::pair<float, int>> oof;
  const uint32_t folds = std::max<uint32_t>(2, o.calibration_folds);
  std::vector<uint32_t> fold(examples.size());
  {
    std::mt19937_64 rng(o.seed ^ 0xF01D5ull);
    for (auto& f : fold) f = static_cast<uint32_t>(rng() % folds);
  }
  InjectionScratch scratch;
  std::vector<WindowFeatures> wfs;
  for (uint32_t f = 0; f < folds; ++f) {
    std::vector<size_t> in;
    for (size_t i = 0; i < examples.size(); ++i) {
      if (fold[i] != f) in.push_back(i);
    }
    Head h = TrainHead(examples, in, is_attack, o, o.seed + f + 1);
    for (size_t i = 0; i < examples.size(); ++i) {
      if (fold[i] != f) continue;
      Featurize(examples[i], p, scratch, wfs);
      float m = 0.0f;
      BestWindow(h, wfs, examples[i].extras, &m);
      oof.emplace_back(m, examples[i].attack ? 1 : 0);
    }
  }
  auto [pa, pb] = FitPlatt(oof);

  Head attack = TrainHead(examples, all, is_attack, o, o.seed);
  std::vector<size_t> attack_idx;
  for (size_t i = 0; i < examples.size(); ++i) {
    if (examples[i].attack) attack_idx.push_back(i);
  }
  Head jb;
  if (jailbreaks > 0 && jailbreaks < attacks) {
    jb = TrainHead(
        examples, attack_idx, [](const InjectionExample& ex) { return ex.jailbreak; }, o,
        o.seed + 1000);
  } else {
    jb.w.assign(attack.w.size(), 0.0f);
    jb.b = jailbreaks > 0 ? 10.0f : -10.0f;
  }
  return std::make_unique<InjectionModel>(p, std::move(attack.w), attack.b, std::move(jb.w), jb.b,
                                          pa, pb);
}

}  // namespace rampart::detectors
