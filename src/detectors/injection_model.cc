#include "detectors/injection_model.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "common/crypto.h"
#include "common/file.h"
#include "common/strings.h"
#include "detectors/leetspeak.h"

namespace rampart::detectors {
namespace {

static_assert(std::endian::native == std::endian::little, "model files are little-endian");

constexpr uint64_t kFnvPrime = 0x100000001b3ull;
constexpr uint64_t kWordSeed = 0x776f7264ull;   // "word"
constexpr uint64_t kExtraSeed = 0x65787472ull;  // "extr"
constexpr size_t kHeaderBytes = 8 + 4 * 7 + 8 + 4 * 4 + 4 * 3;

inline uint32_t Bucket(uint64_t h, uint32_t bits) {
  return static_cast<uint32_t>((h * 0x9E3779B97F4A7C15ull) >> (64 - bits));
}

inline bool IsAsciiAlpha(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
inline bool IsAsciiDigit(unsigned char c) { return c >= '0' && c <= '9'; }
inline bool IsTokenChar(unsigned char c) {
  return IsAsciiAlpha(c) || IsAsciiDigit(c) || c == '@' || c == '$';
}
inline bool IsSpace(unsigned char c) {
  return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

// Leetspeak letters (leetspeak.h), applied only inside tokens that also contain a real
// letter; ASCII upper case folded to lower.
inline char Unleet(unsigned char c) {
  return static_cast<char>(c >= 'A' && c <= 'Z' ? c | 0x20 : UnleetChar(c));
}

constexpr float kCategoryMinScore = 0.01f;
// Largest absolute weight, bias or calibration parameter a model file may hold; trained
// models stay far below it.
constexpr float kMaxParameter = 1e4f;

inline float Sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

template <typename T>
void Put(std::string& out, T v) {
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));
  out.append(buf, sizeof(T));
}

template <typename T>
T Get(std::string_view in, size_t& pos) {
  T v;
  std::memcpy(&v, in.data() + pos, sizeof(T));
  pos += sizeof(T);
  return v;
}

}  // namespace

std::string_view OperatingPointName(OperatingPoint p) {
  switch (p) {
    case OperatingPoint::kStrict:
      return "strict";
    case OperatingPoint::kBalanced:
      return "balanced";
    case OperatingPoint::kPermissive:
      return "permissive";
  }
  return "balanced";
}

std::optional<OperatingPoint> ParseOperatingPoint(std::string_view name) {
  if (name == "strict") return OperatingPoint::kStrict;
  if (name == "balanced") return OperatingPoint::kBalanced;
  if (name == "permissive") return OperatingPoint::kPermissive;
  return std::nullopt;
}

void Canonicalize(std::string_view in, std::string& out) {
  // Written through a pointer into a buffer sized for the worst case (every byte kept, plus
  // the two boundary spaces); trimmed at the end.
  out.resize(in.size() + 2);
  char* w = out.data();
  char* const start = w;
  *w++ = ' ';
  size_t i = 0;
  const size_t n = in.size();
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(in[i]);
    if (IsSpace(c)) {
      if (w[-1] != ' ') *w++ = ' ';
      ++i;
      continue;
    }
    if (IsTokenChar(c)) {
      size_t j = i;
      bool has_alpha = false;
      while (j < n && IsTokenChar(static_cast<unsigned char>(in[j]))) {
        has_alpha |= IsAsciiAlpha(static_cast<unsigned char>(in[j]));
        ++j;
      }
      if (has_alpha) {
        for (size_t k = i; k < j; ++k) *w++ = Unleet(static_cast<unsigned char>(in[k]));
      } else {
        for (size_t k = i; k < j; ++k) {
          unsigned char t = static_cast<unsigned char>(in[k]);
          *w++ = static_cast<char>(t >= 'A' && t <= 'Z' ? t | 0x20 : t);
        }
      }
      i = j;
      continue;
    }
    *w++ = static_cast<char>(c);
    ++i;
  }
  if (w[-1] != ' ') *w++ = ' ';
  out.resize(static_cast<size_t>(w - start));
}

namespace {

// Calls sink(bucket) for every n-gram feature of `text` (character n-grams, then words and
// word bigrams of its canonical form); returns how many there were.
template <typename Sink>
size_t ForEachNgramBucket(std::string_view text, const InjectionFeatureParams& params,
                          InjectionScratch& scratch, Sink&& sink) {
  Canonicalize(text, scratch.canonical);
  const std::string& s = scratch.canonical;
  const size_t n = s.size();
  const uint32_t bits = params.hash_bits;
  const uint32_t lo = params.char_ngram_min, hi = params.char_ngram_max;
  const uint64_t seed = params.hash_seed;
  size_t count = 0;
  // Character n-grams: the n bytes at each position, read as one little-endian word (n <= 8),
  // tagged with n and hashed once.
  scratch.canonical.append(8, '\0');
  const char* data = scratch.canonical.data();
  for (size_t i = 0; i + lo <= n; ++i) {
    uint64_t v;
    std::memcpy(&v, data + i, 8);
    const size_t top = std::min<size_t>(hi, n - i);
    for (size_t len = lo; len <= top; ++len) {
      uint64_t mask = len >= 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * len)) - 1;
      sink(Bucket((v & mask) ^ (seed + len * kFnvPrime), bits));
      ++count;
    }
  }
  scratch.canonical.resize(n);
  // Words: runs of ASCII letters/digits and non-ASCII bytes.
  uint64_t prev = 0;
  bool have_prev = false;
  size_t i = 0;
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    bool word = IsAsciiAlpha(c) || IsAsciiDigit(c) || c >= 0x80;
    if (!word) {
      ++i;
      continue;
    }
    uint64_t h = seed ^ kWordSeed;
    while (i < n) {
      unsigned char d = static_cast<unsigned char>(s[i]);
      if (!(IsAsciiAlpha(d) || IsAsciiDigit(d) || d >= 0x80)) break;
      h = (h ^ d) * kFnvPrime;
      ++i;
    }
    sink(Bucket(h, bits));
    ++count;
    if (params.word_bigrams && have_prev) {
      sink(Bucket(prev * 0x2545F4914F6CDD1Dull + h, bits));
      ++count;
    }
    prev = h;
    have_prev = true;
  }
  return count;
}

}  // namespace

void ExtractNgramBuckets(std::string_view text, const InjectionFeatureParams& params,
                         InjectionScratch& scratch, std::vector<uint32_t>& out) {
  ForEachNgramBucket(text, params, scratch, [&](uint32_t b) { out.push_back(b); });
}

uint32_t ExtraFeature(std::string_view name, const InjectionFeatureParams& params) {
  uint64_t h = params.hash_seed ^ kExtraSeed;
  for (unsigned char c : name) h = (h ^ c) * kFnvPrime;
  return Bucket(h, params.hash_bits);
}

void AppendFindingFeatures(const Finding& f, bool from_decoded_layer,
                           const InjectionFeatureParams& params, std::vector<uint32_t>& out) {
  if (f.category != Category::kPromptInjection && f.category != Category::kJailbreak &&
      f.category != Category::kPromptExtraction && f.category != Category::kRoleInjection) {
    return;
  }
  if (f.detector == "injection.model") return;
  if (from_decoded_layer) {
    out.push_back(ExtraFeature(StrCat("decoded:", CategoryName(f.category)), params));
    return;
  }
  out.push_back(ExtraFeature(StrCat("rule:", f.rule), params));
  out.push_back(ExtraFeature(StrCat("rulecat:", CategoryName(f.category)), params));
}

std::vector<std::pair<uint32_t, uint32_t>> Windows(std::string_view text,
                                                   const InjectionFeatureParams& params) {
  std::vector<std::pair<uint32_t, uint32_t>> out;
  const uint32_t size = static_cast<uint32_t>(text.size());
  if (size <= params.window_bytes || params.window_bytes == 0) {
    out.emplace_back(0, size);
    return out;
  }
  auto char_start = [&](uint32_t p) {
    while (p > 0 && p < size && (static_cast<unsigned char>(text[p]) & 0xC0) == 0x80) --p;
    return p;
  };
  const uint32_t stride = std::max<uint32_t>(1, params.stride_bytes);
  for (uint32_t begin = 0;; begin += stride) {
    uint32_t b = char_start(begin);
    uint32_t e =
        begin + params.window_bytes >= size ? size : char_start(begin + params.window_bytes);
    if (e > b) out.emplace_back(b, e);
    if (e >= size) break;
  }
  return out;
}

InjectionModel::InjectionModel(InjectionFeatureParams params, std::vector<float> attack_weights,
                               float attack_bias, std::vector<float> jailbreak_weights,
                               float jailbreak_bias, float platt_a, float platt_b)
    : params_(params),
      attack_w_(std::move(attack_weights)),
      attack_b_(attack_bias),
      jailbreak_w_(std::move(jailbreak_weights)),
      jailbreak_b_(jailbreak_bias),
      platt_a_(platt_a),
      platt_b_(platt_b) {
  float max_abs = 0.0f;
  for (float w : attack_w_) max_abs = std::max(max_abs, std::abs(w));
  attack_scale_ = max_abs > 0.0f ? max_abs / 32767.0f : 1.0f;
  attack_q_.resize(attack_w_.size());
  for (size_t k = 0; k < attack_w_.size(); ++k) {
    attack_q_[k] = static_cast<int16_t>(std::lround(attack_w_[k] / attack_scale_));
  }
}

void InjectionModel::set_thresholds(float strict, float balanced, float permissive) {
  thresholds_[0] = strict;
  thresholds_[1] = balanced;
  thresholds_[2] = permissive;
}

size_t InjectionModel::MemoryBytes() const {
  return sizeof(*this) + (attack_w_.size() + jailbreak_w_.size()) * sizeof(float) +
         attack_q_.size() * sizeof(int16_t);
}

float InjectionModel::QuantizedDot(const std::vector<uint32_t>& buckets, size_t ngrams) const {
  int64_t sum = 0;
  const int16_t* q = attack_q_.data();
  for (size_t k = 0; k < ngrams; ++k) sum += q[buckets[k]];
  int64_t extra = 0;
  for (size_t k = ngrams; k < buckets.size(); ++k) extra += q[buckets[k]];
  float out = attack_b_ + static_cast<float>(extra) * attack_scale_;
  if (ngrams > 0) {
    out += static_cast<float>(sum) * attack_scale_ / std::sqrt(static_cast<float>(ngrams));
  }
  return out;
}

float InjectionModel::Dot(const std::vector<float>& w, const std::vector<uint32_t>& buckets,
                          size_t ngrams, float bias) const {
  float sum = 0.0f;
  for (size_t k = 0; k < ngrams; ++k) sum += w[buckets[k]];
  float out = bias + (ngrams > 0 ? sum / std::sqrt(static_cast<float>(ngrams)) : 0.0f);
  for (size_t k = ngrams; k < buckets.size(); ++k) out += w[buckets[k]];
  return out;
}

float InjectionModel::Margin(std::string_view text, const std::vector<uint32_t>& extras,
                             InjectionScratch& scratch) const {
  scratch.buckets.clear();
  ExtractNgramBuckets(text, params_, scratch, scratch.buckets);
  size_t ngrams = scratch.buckets.size();
  scratch.buckets.insert(scratch.buckets.end(), extras.begin(), extras.end());
  return QuantizedDot(scratch.buckets, ngrams);
}

float InjectionModel::Calibrate(float margin) const {
  return Sigmoid(platt_a_ * margin + platt_b_);
}

InjectionScore InjectionModel::Score(std::string_view text, const std::vector<uint32_t>& extras,
                                     InjectionScratch& scratch) const {
  // The attack head is summed while the features are generated (no bucket list); the
  // jailbreak head needs the list, and only for a text that may be reported.
  const int16_t* q = attack_q_.data();
  int64_t extra_sum = 0;
  for (uint32_t b : extras) extra_sum += q[b];
  InjectionScore best;
  float best_margin = -1e30f;
  // Most prompts fit one window; only longer texts pay for the window list.
  std::vector<std::pair<uint32_t, uint32_t>> windows;
  const std::pair<uint32_t, uint32_t> one[1] = {{0, static_cast<uint32_t>(text.size())}};
  if (text.size() > params_.window_bytes) windows = Windows(text, params_);
  const auto* wb = windows.empty() ? one : windows.data();
  const size_t wn = windows.empty() ? 1 : windows.size();
  for (size_t w = 0; w < wn; ++w) {
    const uint32_t b = wb[w].first, e = wb[w].second;
    int64_t sum = 0;
    size_t ngrams = ForEachNgramBucket(text.substr(b, e - b), params_, scratch,
                                       [&](uint32_t k) { sum += q[k]; });
    float m = attack_b_ + static_cast<float>(extra_sum) * attack_scale_;
    if (ngrams > 0) {
      m += static_cast<float>(sum) * attack_scale_ / std::sqrt(static_cast<float>(ngrams));
    }
    if (m > best_margin) {
      best_margin = m;
      best.begin = b;
      best.end = e;
    }
  }
  best.score = Calibrate(best_margin);
  // The category only matters for texts that may be reported.
  if (best.score >= kCategoryMinScore) {
    auto& buckets = scratch.buckets;
    buckets.clear();
    ExtractNgramBuckets(text.substr(best.begin, best.end - best.begin), params_, scratch, buckets);
    size_t ngrams = buckets.size();
    buckets.insert(buckets.end(), extras.begin(), extras.end());
    best.jailbreak = Sigmoid(Dot(jailbreak_w_, buckets, ngrams, jailbreak_b_));
  }
  return best;
}

std::string InjectionModel::Serialize() const {
  std::string out;
  out.reserve(kHeaderBytes + 8 * attack_w_.size() + 32);
  out.append(kMagic, 8);
  Put<uint32_t>(out, kFormatVersion);
  Put<uint32_t>(out, params_.hash_bits);
  Put<uint32_t>(out, params_.char_ngram_min);
  Put<uint32_t>(out, params_.char_ngram_max);
  Put<uint32_t>(out, params_.word_bigrams ? 1 : 0);
  Put<uint32_t>(out, params_.window_bytes);
  Put<uint32_t>(out, params_.stride_bytes);
  Put<uint64_t>(out, params_.hash_seed);
  Put<float>(out, attack_b_);
  Put<float>(out, jailbreak_b_);
  Put<float>(out, platt_a_);
  Put<float>(out, platt_b_);
  for (float t : thresholds_) Put<float>(out, t);
  out.append(reinterpret_cast<const char*>(attack_w_.data()), attack_w_.size() * sizeof(float));
  out.append(reinterpret_cast<const char*>(jailbreak_w_.data()),
             jailbreak_w_.size() * sizeof(float));
  Sha256Digest d = Sha256(out);
  out.append(reinterpret_cast<const char*>(d.data()), d.size());
  return out;
}

absl::StatusOr<std::shared_ptr<const InjectionModel>> InjectionModel::Parse(
    std::string_view bytes) {
  if (bytes.size() < kHeaderBytes + 32) {
    return absl::InvalidArgumentError(
        StrCat("model file truncated: ", bytes.size(), " bytes, header needs ", kHeaderBytes + 32));
  }
  if (std::memcmp(bytes.data(), kMagic, 8) != 0) {
    return absl::InvalidArgumentError("not a Rampart injection model (bad magic)");
  }
  size_t pos = 8;
  uint32_t version = Get<uint32_t>(bytes, pos);
  if (version != kFormatVersion) {
    return absl::FailedPreconditionError(StrCat("model format version ", version,
                                                " is not supported (expected ", kFormatVersion,
                                                "); retrain or upgrade"));
  }
  InjectionFeatureParams p;
  p.hash_bits = Get<uint32_t>(bytes, pos);
  p.char_ngram_min = Get<uint32_t>(bytes, pos);
  p.char_ngram_max = Get<uint32_t>(bytes, pos);
  uint32_t bigrams = Get<uint32_t>(bytes, pos);
  p.window_bytes = Get<uint32_t>(bytes, pos);
  p.stride_bytes = Get<uint32_t>(bytes, pos);
  p.hash_seed = Get<uint64_t>(bytes, pos);
  if (p.hash_bits < 8 || p.hash_bits > kMaxHashBits) {
    return absl::InvalidArgumentError(
        StrCat("model hash_bits ", p.hash_bits, " outside [8, ", kMaxHashBits, "]"));
  }
  if (p.char_ngram_min < 1 || p.char_ngram_max < p.char_ngram_min || p.char_ngram_max > 8) {
    return absl::InvalidArgumentError("model character n-gram lengths out of range");
  }
  if (bigrams > 1 || p.window_bytes < 64 || p.stride_bytes == 0 ||
      p.stride_bytes > p.window_bytes) {
    return absl::InvalidArgumentError("model window parameters out of range");
  }
  p.word_bigrams = bigrams == 1;
  const size_t buckets = size_t{1} << p.hash_bits;
  const size_t expected = kHeaderBytes + 2 * buckets * sizeof(float) + 32;
  if (bytes.size() != expected) {
    return absl::InvalidArgumentError(StrCat("model file has ", bytes.size(),
                                             " bytes, its header says ", expected,
                                             " (truncated or padded)"));
  }
  Sha256Digest d = Sha256(bytes.substr(0, expected - 32));
  if (std::memcmp(d.data(), bytes.data() + expected - 32, 32) != 0) {
    return absl::DataLossError("model file checksum mismatch (corrupt)");
  }
  float ab = Get<float>(bytes, pos);
  float jb = Get<float>(bytes, pos);
  float pa = Get<float>(bytes, pos);
  float pb = Get<float>(bytes, pos);
  float th[3];
  for (float& t : th) t = Get<float>(bytes, pos);
  // Bounded parameters keep every margin finite, so a score is always a number in [0,1].
  for (float v : {ab, jb, pa, pb}) {
    if (!(std::abs(v) <= kMaxParameter)) {
      return absl::InvalidArgumentError("model parameter is not finite or out of range");
    }
  }
  for (float t : th) {
    if (!(t >= 0.0f && t <= 1.0f)) {
      return absl::InvalidArgumentError("model threshold outside [0,1]");
    }
  }
  std::vector<float> aw(buckets), jw(buckets);
  std::memcpy(aw.data(), bytes.data() + pos, buckets * sizeof(float));
  pos += buckets * sizeof(float);
  std::memcpy(jw.data(), bytes.data() + pos, buckets * sizeof(float));
  for (const auto* w : {&aw, &jw}) {
    for (float v : *w) {
      if (!(std::abs(v) <= kMaxParameter)) {
        return absl::InvalidArgumentError("model weight is not finite or out of range");
      }
    }
  }
  auto m = std::make_shared<InjectionModel>(p, std::move(aw), ab, std::move(jw), jb, pa, pb);
  m->set_thresholds(th[0], th[1], th[2]);
  return std::shared_ptr<const InjectionModel>(std::move(m));
}

absl::StatusOr<std::shared_ptr<const InjectionModel>> InjectionModel::Load(
    const std::string& model_path, const std::string& manifest_path) {
  constexpr size_t kMaxModel = 2 * (size_t{4} << kMaxHashBits) + 4096;
  auto bytes = ReadFileBounded(model_path, kMaxModel);
  if (!bytes.ok()) return bytes.status();
  auto manifest = ReadFileBounded(manifest_path, 1u << 20);
  if (!manifest.ok()) return manifest.status();
  std::string want;
  try {
    YAML::Node node = YAML::Load(*manifest);
    if (node.IsMap() && node["model_sha256"] && node["model_sha256"].IsScalar()) {
      want = node["model_sha256"].as<std::string>();
    }
  } catch (const YAML::Exception&) {
    return absl::InvalidArgumentError(StrCat(manifest_path, ": manifest is not valid JSON"));
  }
  if (want.empty()) {
    return absl::InvalidArgumentError(StrCat(manifest_path, ": manifest has no model_sha256"));
  }
  std::string got = ToHex(Sha256(*bytes));
  if (got != want) {
    return absl::DataLossError(
        StrCat(model_path, ": SHA-256 ", got, " does not match the manifest's ", want));
  }
  auto m = Parse(*bytes);
  if (!m.ok()) {
    return absl::Status(m.status().code(), StrCat(model_path, ": ", m.status().message()));
  }
  return m;
}

}  // namespace rampart::detectors
