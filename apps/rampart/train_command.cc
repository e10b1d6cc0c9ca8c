// rampart train injection: trains the learned injection detector (docs/detectors.md).
//
//   rampart train injection --data train.jsonl --dev dev.jsonl --out models/injection.model
//
// Writes the model and, beside it, its manifest (x.model -> x.manifest.json): SHA-256 of the
// model and of both data files, feature and training parameters, calibration, the thresholds
// chosen on the development data and the development metrics. Deterministic for a seed.
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "cli_common.h"
#include "commands.h"
#include "common/crypto.h"
#include "common/file.h"
#include "common/strings.h"
#include "detectors/eval.h"
#include "detectors/injection_trainer.h"
#include "detectors/scanner.h"
#include "model_common.h"

namespace rampart::cli {
namespace {

struct TrainFlags {
  std::string data;
  std::string dev;
  std::string out = "models/injection.model";
  std::string rules;
  detectors::InjectionTrainOptions options;
  // "KEY=W": examples whose source, category or "source/category" is KEY get loss weight W.
  // Default: the reweighting docs/detectors.md explains — CyberSecEval's "direct" injections
  // include plain questions that were attacks only against their test's system prompt, and
  // ordinary chat and instructions are scarce among the benign texts.
  std::vector<std::string> group_weights = {"meta-llama/PurpleLlama/direct_injection=0.15",
                                            "benign_chat=4", "yizhongw/self-instruct=2"};
};

// Parses --group-weight entries; the last match wins.
absl::StatusOr<std::vector<std::pair<std::string, float>>> ParseGroupWeights(
    const std::vector<std::string>& specs) {
  std::vector<std::pair<std::string, float>> out;
  for (const auto& s : specs) {
    size_t eq = s.rfind('=');
    char* end = nullptr;
    float w = eq == std::string::npos ? -1.0f : std::strtof(s.c_str() + eq + 1, &end);
    if (eq == std::string::npos || eq == 0 || end == nullptr || *end != '\0' || !(w >= 0.0f)) {
      return absl::InvalidArgumentError(
          StrCat("--group-weight: expected KEY=WEIGHT with WEIGHT >= 0, got '", s, "'"));
    }
    out.emplace_back(s.substr(0, eq), w);
  }
  return out;
}

// Rule findings of a text, as the model's extra features (the same split as the scanner
// makes at inference: the text's own findings, and findings in its decoded layers).
void RuleExtras(const std::vector<Finding>& findings, const detectors::InjectionFeatureParams& p,
                std::vector<uint32_t>& out) {
  for (const auto& f : findings) {
    detectors::AppendFindingFeatures(f, !f.decoded_via.empty(), p, out);
  }
}

bool RulesFlag(const std::vector<Finding>& findings) {
  for (const auto& f : findings) {
    if (f.detector == "injection.model" || f.severity < Severity::kMedium) continue;
    if (f.category == Category::kPromptInjection || f.category == Category::kJailbreak ||
        f.category == Category::kPromptExtraction || f.category == Category::kRoleInjection ||
        f.category == Category::kObfuscation) {
      return true;
    }
  }
  return false;
}

absl::StatusOr<std::string> FileSha256(const std::string& path) {
  auto bytes = ReadFileBounded(path, size_t{1} << 31);
  if (!bytes.ok()) return bytes.status();
  return ToHex(Sha256(*bytes));
}

std::string UtcNow() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

int RunTrainInjection(const TrainFlags& flags) {
  auto t0 = std::chrono::steady_clock::now();
  auto scanner = detectors::Scanner::FromFiles(ResolveRulesDir(flags.rules), "");
  if (!scanner.ok()) return ReportError("train", scanner.status());
  auto ctx = (*scanner)->NewContext();
  text::Normalizer normalizer((*scanner)->options().normalizer);
  const auto& params = flags.options.features;

  auto train = ReadLabelledJsonl(flags.data);
  if (!train.ok()) return ReportError("train", train.status());
  auto dev = ReadLabelledJsonl(flags.dev);
  if (!dev.ok()) return ReportError("train", dev.status());

  auto group_weights = ParseGroupWeights(flags.group_weights);
  if (!group_weights.ok()) return ReportError("train", group_weights.status());
  std::vector<detectors::InjectionExample> examples;
  examples.reserve(train->size());
  std::vector<Finding> findings;
  text::NormalizedText norm;
  for (const auto& r : *train) {
    findings.clear();
    if (auto st = (*scanner)->CollectFindings(r.text, *ctx, "", findings); !st.ok()) {
      return ReportError("train", st);
    }
    if (auto st = normalizer.Normalize(r.text, norm); !st.ok()) return ReportError("train", st);
    detectors::InjectionExample ex;
    ex.text = norm.text;
    RuleExtras(findings, params, ex.extras);
    ex.attack = r.label == 1;
    ex.jailbreak = r.category == "jailbreak";
    for (const auto& [key, w] : *group_weights) {
      if (key == r.source || key == r.category || key == StrCat(r.source, "/", r.category)) {
        ex.weight = w;
      }
    }
    examples.push_back(std::move(ex));
  }
  std::fprintf(stderr, "rampart train: %zu training records featurized; training...\n",
               examples.size());
  auto trained = detectors::TrainInjectionModel(examples, flags.options);
  if (!trained.ok()) return ReportError("train", trained.status());
  std::shared_ptr<detectors::InjectionModel> model = std::move(*trained);
  auto t1 = std::chrono::steady_clock::now();

  // Thresholds and metrics on the development data: rules and model together, as `rampart
  // scan` runs them (a rule finding of medium severity or more counts as score 1).
  detectors::ScannerOptions opts;
  opts.model = model;
  auto with_model = detectors::Scanner::FromFiles(ResolveRulesDir(flags.rules), "", opts);
  if (!with_model.ok()) return ReportError("train", with_model.status());
  auto mctx = (*with_model)->NewContext();
  std::vector<std::pair<double, int>> combined, model_only;
  for (const auto& r : *dev) {
    findings.clear();
    if (auto st = (*with_model)->CollectFindings(r.text, *mctx, "", findings); !st.ok()) {
      return ReportError("train", st);
    }
    double m = mctx->model_score();
    model_only.emplace_back(m, r.label);
    combined.emplace_back(RulesFlag(findings) ? 1.0 : m, r.label);
  }
  const double fprs[3] = {0.001, 0.01, 0.03};
  float thresholds[3];
  double tprs[3];
  for (int k = 0; k < 3; ++k) {
    auto [tpr, thr] = detectors::TprAtFpr(combined, fprs[k]);
    tprs[k] = tpr;
    thresholds[k] = static_cast<float>(std::min(1.0, thr));
  }
  model->set_thresholds(thresholds[0], thresholds[1], thresholds[2]);
  double auc = detectors::RocAuc(combined), model_auc = detectors::RocAuc(model_only);

  std::string bytes = model->Serialize();
  std::error_code ec;
  auto parent = std::filesystem::path(flags.out).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  {
    std::ofstream f(flags.out, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!f) {
      std::fprintf(stderr, "rampart train: cannot write %s\n", flags.out.c_str());
      return kExitError;
    }
  }
  auto train_sha = FileSha256(flags.data);
  auto dev_sha = FileSha256(flags.dev);
  if (!train_sha.ok()) return ReportError("train", train_sha.status());
  if (!dev_sha.ok()) return ReportError("train", dev_sha.status());

  const auto& o = flags.options;
  boost::json::object m;
  m["format"] = "rampart.injection_model";
  m["format_version"] = detectors::InjectionModel::kFormatVersion;
  m["model_file"] = std::filesystem::path(flags.out).filename().string();
  m["model_sha256"] = ToHex(Sha256(bytes));
  m["model_bytes"] = bytes.size();
  m["created"] = UtcNow();
  m["train_data"] = {{"file", std::filesystem::path(flags.data).filename().string()},
                     {"sha256", *train_sha},
                     {"records", train->size()}};
  m["dev_data"] = {{"file", std::filesystem::path(flags.dev).filename().string()},
                   {"sha256", *dev_sha},
                   {"records", dev->size()}};
  m["features"] = {{"hash_bits", params.hash_bits},
                   {"char_ngram_min", params.char_ngram_min},
                   {"char_ngram_max", params.char_ngram_max},
                   {"word_bigrams", params.word_bigrams},
                   {"window_bytes", params.window_bytes},
                   {"stride_bytes", params.stride_bytes},
                   {"rule_features", true}};
  m["training"] = {{"algorithm", "logistic regression, AdaGrad, max-window (MIL)"},
                   {"epochs", o.epochs},
                   {"learning_rate", o.learning_rate},
                   {"l2", o.l2},
                   {"benign_weight", o.benign_weight},
                   {"rule_dropout", o.rule_dropout},
                   {"group_weights", boost::json::value_from(flags.group_weights)},
                   {"calibration_folds", o.calibration_folds},
                   {"seed", o.seed},
                   {"seconds", std::chrono::duration<double>(t1 - t0).count()}};
  m["calibration"] = {{"method", "platt"}, {"a", model->platt_a()}, {"b", model->platt_b()}};
  m["thresholds"] = {
      {"strict", thresholds[0]},
      {"balanced", thresholds[1]},
      {"permissive", thresholds[2]},
      {"chosen_at_dev_fpr", {{"strict", 0.001}, {"balanced", 0.01}, {"permissive", 0.03}}}};
  m["dev_metrics"] = {{"roc_auc_rules_and_model", auc},
                      {"roc_auc_model", model_auc},
                      {"tpr_at_fpr_0.1%", tprs[0]},
                      {"tpr_at_fpr_1%", tprs[1]},
                      {"tpr_at_fpr_3%", tprs[2]}};
  std::string manifest_path = ManifestPathFor(flags.out);
  {
    std::ofstream f(manifest_path, std::ios::trunc);
    f << boost::json::serialize(m) << "\n";
    if (!f) {
      std::fprintf(stderr, "rampart train: cannot write %s\n", manifest_path.c_str());
      return kExitError;
    }
  }
  std::printf("model       %s (%zu bytes, sha256 %s)\n", flags.out.c_str(), bytes.size(),
              ToHex(Sha256(bytes)).c_str());
  std::printf("manifest    %s\n", manifest_path.c_str());
  std::printf("training    %.1f s on %zu records\n", std::chrono::duration<double>(t1 - t0).count(),
              train->size());
  std::printf("dev         ROC AUC %.4f (model alone %.4f)\n", auc, model_auc);
  const char* names[3] = {"strict", "balanced", "permissive"};
  for (int k = 0; k < 3; ++k) {
    std::printf("threshold   %-10s %.4f  TPR %.2f%% at dev FPR <= %.1f%%\n", names[k],
                thresholds[k], 100 * tprs[k], 100 * fprs[k]);
  }
  return kExitClean;
}

}  // namespace

void RegisterTrain(CLI::App& app) {
  CLI::App* train = app.add_subcommand("train", "Train a learned detector");
  train->require_subcommand(1);
  auto flags = std::make_shared<TrainFlags>();
  CLI::App* i = train->add_subcommand("injection", "Train the prompt-injection/jailbreak model");
  i->add_option("--data", flags->data, "Training JSONL (text, label, category)")->required();
  i->add_option("--dev", flags->dev, "Development JSONL: thresholds and metrics")->required();
  i->add_option("--out", flags->out, "Model file; the manifest is written beside it")
      ->capture_default_str();
  i->add_option("--rules", flags->rules, "Rule-pack directory (default: shipped rules)");
  auto& o = flags->options;
  i->add_option("--seed", o.seed, "Random seed")->capture_default_str();
  i->add_option("--epochs", o.epochs, "Passes over the training data")->capture_default_str();
  i->add_option("--learning-rate", o.learning_rate, "AdaGrad step")->capture_default_str();
  i->add_option("--l2", o.l2, "L2 penalty")->capture_default_str();
  i->add_option("--benign-weight", o.benign_weight, "Loss weight of benign examples")
      ->capture_default_str();
  i->add_option("--group-weight", flags->group_weights,
                "KEY=W: loss weight W for examples whose source, category or "
                "source/category is KEY (repeatable; replaces the defaults)")
      ->capture_default_str();
  i->add_option("--calibration-folds", o.calibration_folds,
                "Out-of-fold folds for the Platt calibration")
      ->capture_default_str();
  i->add_option("--rule-dropout", o.rule_dropout,
                "Probability of hiding an example's rule features in a pass")
      ->capture_default_str();
  i->add_option("--hash-bits", o.features.hash_bits, "log2 of the number of feature buckets")
      ->check(CLI::Range(8u, detectors::InjectionModel::kMaxHashBits))
      ->capture_default_str();
  i->add_option("--char-ngram-min", o.features.char_ngram_min)->capture_default_str();
  i->add_option("--char-ngram-max", o.features.char_ngram_max)->capture_default_str();
  i->add_option("--window", o.features.window_bytes, "Window bytes")->capture_default_str();
  i->add_option("--stride", o.features.stride_bytes, "Window stride bytes")->capture_default_str();
  AddCommand(i, [flags] { return RunTrainInjection(*flags); });
}

}  // namespace rampart::cli
