// Training of the injection model (see injection_model.h and docs/detectors.md).
//
// Logistic regression with per-coordinate AdaGrad over the hashed features, trained on each
// example's highest-scoring window (multiple-instance learning: a long attack document is
// labelled as a whole, but its injection sits in one window). The attack head is then
// calibrated by Platt scaling fitted on out-of-fold margins of the training data.
//
// Deterministic: the same examples, options and seed give a bit-identical model (single
// thread, fixed visiting order from a seeded generator).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "detectors/injection_model.h"

namespace rampart::detectors {

struct InjectionExample {
  std::string text;              // normalized text
  std::vector<uint32_t> extras;  // buckets of rule features (AppendFindingFeatures)
  bool attack = false;
  bool jailbreak = false;  // category, for the jailbreak head (attacks only)
  float weight = 1.0f;     // loss weight (times benign_weight for benign examples)
};

struct InjectionTrainOptions {
  InjectionFeatureParams features;
  // Passes over the data. Default: 12.
  uint32_t epochs = 12;
  // AdaGrad step size. Default: 0.3.
  float learning_rate = 0.3f;
  // L2 penalty per update. Default: 1e-6.
  float l2 = 1e-6f;
  // Loss weight of a benign example relative to an attack. Default: 1.5.
  float benign_weight = 1.5f;
  // Probability that an example is seen without its rule features in a pass, so that the
  // n-grams carry weight of their own when an obfuscation hides a text from the rules.
  // Default: 0.5.
  float rule_dropout = 0.5f;
  // Out-of-fold folds for the calibration. Default: 4.
  uint32_t calibration_folds = 4;
  // Seed of the visiting order and fold assignment. Default: 20240917.
  uint64_t seed = 20240917;
};

// Trains both heads and the calibration; thresholds are left at 0.5 (choose them on
// development data with set_thresholds). InvalidArgument when a class is missing.
absl::StatusOr<std::unique_ptr<InjectionModel>> TrainInjectionModel(
    const std::vector<InjectionExample>& examples, const InjectionTrainOptions& options);

}  // namespace rampart::detectors
