// InjectionModel: the learned prompt-injection / jailbreak detector (`injection.model`).
//
// A linear model (logistic regression) over hashed features of the NORMALIZED text:
//   - character n-grams (bytes, lengths char_ngram_min..char_ngram_max) and word unigrams and
//     bigrams of a canonical form of the text: ASCII lower-cased, white space collapsed, and
//     leetspeak folded inside tokens that contain a letter ("1gn0r3" -> "ignore");
//   - "extra" features from the other detectors: the ids and categories of the rule findings
//     on the same text, and whether a decoded layer of the text held an injection finding.
// N-gram features are scaled by 1/sqrt(count) so that long and short texts score alike; extras
// have value 1. Long texts are scored in sliding windows (window_bytes, stride_bytes) and
// the maximum is taken, so an instruction buried in a long document is not diluted.
//
// Two heads share the features: `attack` (injection or jailbreak vs benign; its probability,
// Platt-calibrated on out-of-fold training scores, is the finding's score) and `jailbreak`
// (among attacks: jailbreak vs prompt injection; decides the finding's category).
//
// File format (little-endian), version kFormatVersion:
//   "RPINJMDL" | u32 version | u32 hash_bits | u32 char_ngram_min | u32 char_ngram_max
//   | u32 word_bigrams | u32 window_bytes | u32 stride_bytes | u64 hash_seed
//   | f32 attack_bias | f32 jailbreak_bias | f32 platt_a | f32 platt_b
//   | f32 thresholds[3] (strict, balanced, permissive)
//   | f32 attack_weights[1 << hash_bits] | f32 jailbreak_weights[1 << hash_bits]
//   | SHA-256 of every preceding byte.
// Weights, biases and calibration are bounded (|x| <= 1e4) so every score is a number in
// [0,1]. The feature hashing (character n-gram = the n bytes as one masked little-endian
// word; words = FNV-1a) is part of the format: changing it needs a new version. At load the
// attack head is also quantized to int16 for inference.
// The manifest beside the model (JSON) names the model's SHA-256; Load() refuses a model
// whose hash differs from it. See docs/detectors.md.
//
// Thread safety: immutable after construction; Score() may be called concurrently, each
// thread with its own Scratch.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "rampart/finding.h"

namespace rampart::detectors {

// Operating points, chosen on development data at a false-positive rate of 0.1% (strict),
// 1% (balanced) and 3% (permissive): "strict" is strict about false alarms.
enum class OperatingPoint : uint8_t { kStrict = 0, kBalanced = 1, kPermissive = 2 };

// Stable names: "strict", "balanced", "permissive".
std::string_view OperatingPointName(OperatingPoint p);
std::optional<OperatingPoint> ParseOperatingPoint(std::string_view name);

struct InjectionFeatureParams {
  // Buckets = 1 << hash_bits. Default: 17 (a 256 KiB int16 table for the attack head).
  uint32_t hash_bits = 17;
  // Character n-gram lengths, in bytes of the canonical text. Default: 3..5.
  uint32_t char_ngram_min = 3;
  uint32_t char_ngram_max = 5;
  // Word bigrams as well as unigrams. Default: true.
  bool word_bigrams = true;
  // Sliding windows over the normalized text. Default: 2048 and 1024 bytes.
  uint32_t window_bytes = 2048;
  uint32_t stride_bytes = 1024;
  uint64_t hash_seed = 0x5241'4d50'4152'5421ull;
};

// Per-thread buffers for feature extraction; reuse one per thread.
struct InjectionScratch {
  std::string canonical;
  std::vector<uint32_t> buckets;
};

// Hashed feature ids of a text; `extras` are bucket ids from ExtraFeature(). Appends the
// n-gram buckets of `text` to `out` (with repeats).
void ExtractNgramBuckets(std::string_view text, const InjectionFeatureParams& params,
                         InjectionScratch& scratch, std::vector<uint32_t>& out);
// Bucket of a named extra feature ("rule:injection.ignore_previous", "decoded:injection").
uint32_t ExtraFeature(std::string_view name, const InjectionFeatureParams& params);
// Extra features of a rule finding of the injection family (prompt_injection, jailbreak,
// prompt_extraction, role_injection): "rule:<id>" and "rulecat:<category>" for a finding on
// the scored text itself, "decoded:<category>" for one found in a decoded layer of it (a
// base64 block that itself holds an instruction). Other findings add nothing.
void AppendFindingFeatures(const Finding& f, bool from_decoded_layer,
                           const InjectionFeatureParams& params, std::vector<uint32_t>& out);
// The canonical form the n-grams are taken from (exposed for tests).
void Canonicalize(std::string_view text, std::string& out);

// Sliding windows [begin, end) over a text of `size` bytes; one window when it fits.
// Window edges are moved back to UTF-8 character starts.
std::vector<std::pair<uint32_t, uint32_t>> Windows(std::string_view text,
                                                   const InjectionFeatureParams& params);

struct InjectionScore {
  float score = 0.0f;      // calibrated P(attack) of the best window
  float jailbreak = 0.0f;  // P(jailbreak | attack) of that window
  uint32_t begin = 0;      // the best window, in bytes of the scored text
  uint32_t end = 0;
};

class InjectionModel {
 public:
  static constexpr uint32_t kFormatVersion = 1;
  static constexpr char kMagic[9] = "RPINJMDL";
  // Largest model file accepted (hash_bits <= 22). Default file: ~2 MiB.
  static constexpr uint32_t kMaxHashBits = 22;

  // A model from trained parameters (the trainer's output).
  InjectionModel(InjectionFeatureParams params, std::vector<float> attack_weights,
                 float attack_bias, std::vector<float> jailbreak_weights, float jailbreak_bias,
                 float platt_a, float platt_b);

  // Parses a model file's bytes: magic, version, parameter bounds, exact size and the
  // trailing SHA-256 are checked; any mismatch is InvalidArgument / FailedPrecondition.
  static absl::StatusOr<std::shared_ptr<const InjectionModel>> Parse(std::string_view bytes);
  // Reads the model and its manifest; the manifest's "model_sha256" must equal the file's
  // SHA-256. Errors name the path and what was wrong, never content.
  static absl::StatusOr<std::shared_ptr<const InjectionModel>> Load(
      const std::string& model_path, const std::string& manifest_path);

  std::string Serialize() const;

  // Raw margin (log-odds before calibration) of one piece of text with its extra features.
  float Margin(std::string_view text, const std::vector<uint32_t>& extras,
               InjectionScratch& scratch) const;
  // Best window of `text` (max over windows of the calibrated attack probability).
  InjectionScore Score(std::string_view text, const std::vector<uint32_t>& extras,
                       InjectionScratch& scratch) const;
  float Calibrate(float margin) const;

  float threshold(OperatingPoint p) const { return thresholds_[static_cast<int>(p)]; }
  void set_thresholds(float strict, float balanced, float permissive);
  const InjectionFeatureParams& params() const { return params_; }
  float platt_a() const { return platt_a_; }
  float platt_b() const { return platt_b_; }
  // Bytes held by the loaded model (float weights of both heads, int16 attack head).
  size_t MemoryBytes() const;

 private:
  float Dot(const std::vector<float>& w, const std::vector<uint32_t>& buckets, size_t ngrams,
            float bias) const;
  // The attack head as used at inference: weights quantized to int16 (scale attack_scale_),
  // a quarter of the float table, so that it stays in the L2 cache.
  float QuantizedDot(const std::vector<uint32_t>& buckets, size_t ngrams) const;

  InjectionFeatureParams params_;
  std::vector<float> attack_w_;
  float attack_b_;
  std::vector<int16_t> attack_q_;
  float attack_scale_ = 0.0f;
  std::vector<float> jailbreak_w_;
  float jailbreak_b_;
  float platt_a_;
  float platt_b_;
  float thresholds_[3] = {0.5f, 0.5f, 0.5f};
};

}  // namespace rampart::detectors
