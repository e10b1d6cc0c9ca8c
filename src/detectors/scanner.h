// Scanner: the whole text-inspection pipeline for one text —
// normalize -> text anomalies -> rules (injection, PII, secrets) -> decode wrapped content
// and rescan it (bounded depth) -> policy -> redaction.
//
// This is what `rampart scan` runs and what the gateway's input and output stages will call.
// A Scanner is immutable after Create() and shared by all threads; each thread owns a
// Scanner::Context holding its normalization buffers and Hyperscan scratch.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "detectors/injection_model.h"
#include "detectors/policy.h"
#include "detectors/rule_engine.h"
#include "detectors/rule_pack.h"
#include "rampart/verdict.h"
#include "text/decoders.h"
#include "text/normalizer.h"

namespace rampart::detectors {

struct ScannerOptions {
  text::NormalizerOptions normalizer;
  text::DecodeLimits decode;
  // Levels of nested encodings followed (base64 inside hex inside base64 ...); 0 turns
  // decoding off. Default: 3.
  uint32_t max_decode_depth = 3;
  RuleEngineOptions rules;
  // The learned injection detector (`injection.model`); null runs the rules alone. The top
  // text, every decoded layer and a tag-character payload are scored. Default: null.
  std::shared_ptr<const InjectionModel> model;
  // The model reports a finding (severity high: the default policy blocks it) when its score
  // is at or above this operating point's threshold. Default: balanced.
  OperatingPoint operating_point = OperatingPoint::kBalanced;
};

class Scanner {
 public:
  class Context;

  static absl::StatusOr<std::unique_ptr<Scanner>> Create(std::vector<RulePack> packs, Policy policy,
                                                         ScannerOptions options = {});
  // Loads every pack in `rules_dir` and the policy file (or the default policy when
  // `policy_path` is empty).
  static absl::StatusOr<std::unique_ptr<Scanner>> FromFiles(const std::string& rules_dir,
                                                            const std::string& policy_path,
                                                            ScannerOptions options = {});

  std::unique_ptr<Context> NewContext() const;

  // Findings only, sorted by span, with no policy applied. Errors only when the text cannot
  // be read under the options (invalid UTF-8 in reject mode, over the size limit).
  absl::Status CollectFindings(std::string_view text, Context& ctx, std::string_view field,
                               std::vector<Finding>& out) const;

  // Findings, the policy's verdict and, when something was redacted, the redacted text.
  absl::StatusOr<Verdict> Scan(std::string_view text, Context& ctx,
                               std::string_view field = "") const;

  const Policy& policy() const { return policy_; }
  const RuleEngine& engine() const { return *engine_; }
  const ScannerOptions& options() const { return options_; }

 private:
  Scanner(std::unique_ptr<RuleEngine> engine, Policy policy, ScannerOptions options);
  // Scores one normalized layer with the model and appends a finding when it is at or above
  // the operating point; out[rules_begin, rules_end) are the layer's own rule findings, and
  // for the top text the decoded-layer findings after rules_end are features too.
  void ScoreLayer(const text::TextView& view, size_t rules_begin, size_t rules_end, Context& ctx,
                  std::vector<Finding>& out) const;
  void ScanDecoded(const text::NormalizedText& parent, Span parent_fixed, bool parent_decoded,
                   const std::string& parent_chain, uint32_t depth, Context& ctx,
                   std::string_view field, std::vector<Finding>& out) const;

  std::unique_ptr<RuleEngine> engine_;
  Policy policy_;
  ScannerOptions options_;
  text::Normalizer normalizer_;
};

class Scanner::Context {
 public:
  ~Context();

  // The highest calibrated model score over every layer and window of the last text given
  // to CollectFindings/Scan on this context (0 without a model): what `rampart eval` ranks.
  float model_score() const { return model_score_; }

 private:
  friend class Scanner;
  Context() = default;
  std::unique_ptr<ScanContext> rules;
  text::NormalizedText top;
  std::vector<text::NormalizedText> layers;         // one buffer per decode depth
  std::vector<std::vector<text::DecodedRun>> runs;  // one list per decode depth
  uint32_t decoded_bytes = 0;
  std::string folded;  // leetspeak folded back to letters
  InjectionScratch model_scratch;
  std::vector<uint32_t> model_extras;
  float model_score_ = 0.0f;
};

}  // namespace rampart::detectors
