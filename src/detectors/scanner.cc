#include "detectors/scanner.h"

#include <algorithm>

#include "common/strings.h"
#include "detectors/hidden_text.h"
#include "detectors/leetspeak.h"
#include "detectors/redactor.h"
#include "text/text_view.h"

namespace rampart::detectors {

Scanner::Context::~Context() = default;

Scanner::Scanner(std::unique_ptr<RuleEngine> engine, Policy policy, ScannerOptions options)
    : engine_(std::move(engine)),
      policy_(std::move(policy)),
      options_(options),
      normalizer_(options.normalizer) {}

absl::StatusOr<std::unique_ptr<Scanner>> Scanner::Create(std::vector<RulePack> packs, Policy policy,
                                                         ScannerOptions options) {
  auto engine = RuleEngine::Create(packs, options.rules);
  if (!engine.ok()) return engine.status();
  return std::unique_ptr<Scanner>(new Scanner(std::move(*engine), std::move(policy), options));
}

absl::StatusOr<std::unique_ptr<Scanner>> Scanner::FromFiles(const std::string& rules_dir,
                                                            const std::string& policy_path,
                                                            ScannerOptions options) {
  auto packs = LoadRulePackDir(rules_dir);
  if (!packs.ok()) return packs.status();
  Policy policy = Policy::Default();
  if (!policy_path.empty()) {
    auto p = LoadPolicyFile(policy_path);
    if (!p.ok()) return p.status();
    policy = std::move(*p);
  }
  return Create(std::move(*packs), std::move(policy), options);
}

std::unique_ptr<Scanner::Context> Scanner::NewContext() const {
  std::unique_ptr<Context> ctx(new Context());
  ctx->rules = engine_->NewContext();
  ctx->layers.resize(options_.max_decode_depth);
  ctx->runs.resize(options_.max_decode_depth);
  return ctx;
}

void Scanner::ScanDecoded(const text::NormalizedText& parent, Span parent_fixed,
                          bool parent_decoded, const std::string& parent_chain, uint32_t depth,
                          Context& ctx, std::string_view field, std::vector<Finding>& out) const {
  if (depth >= options_.max_decode_depth) return;
  auto& runs = ctx.runs[depth];
  runs.clear();
  text::FindEncodedRuns(parent.text, options_.decode, runs);
  for (const auto& run : runs) {
    if (ctx.decoded_bytes + run.decoded.size() > options_.decode.max_decoded_bytes) break;
    ctx.decoded_bytes += static_cast<uint32_t>(run.decoded.size());
    text::NormalizedText& layer = ctx.layers[depth];
    // Decoded bytes that are not text were already dropped by the decoders; anything the
    // normalizer still refuses is simply not rescanned.
    if (!normalizer_.Normalize(run.decoded, layer).ok() || layer.text.empty()) continue;
    Span fixed = parent_decoded ? parent_fixed : parent.ToOriginal(run.begin, run.end);
    std::string chain = parent_chain.empty()
                            ? std::string(text::EncodingName(run.encoding))
                            : StrCat(parent_chain, ">", text::EncodingName(run.encoding));
    text::TextView view(layer, field, fixed, chain);
    size_t rules_begin = out.size();
    engine_->Scan(view, *ctx.rules, out);
    ScoreLayer(view, rules_begin, out.size(), ctx, out);
    // ctx.layers[depth] is reused by the next run, so recurse now; deeper levels use their
    // own buffers.
    ScanDecoded(layer, fixed, true, chain, depth + 1, ctx, field, out);
  }
}

void Scanner::ScoreLayer(const text::TextView& view, size_t rules_begin, size_t rules_end,
                         Context& ctx, std::vector<Finding>& out) const {
  const InjectionModel* model = options_.model.get();
  if (model == nullptr || view.text().empty()) return;
  auto& extras = ctx.model_extras;
  extras.clear();
  for (size_t k = rules_begin; k < rules_end; ++k) {
    AppendFindingFeatures(out[k], false, model->params(), extras);
  }
  // For the top text: what its decoded layers revealed.
  if (!view.is_decoded()) {
    for (size_t k = rules_end; k < out.size(); ++k) {
      if (!out[k].decoded_via.empty()) AppendFindingFeatures(out[k], true, model->params(), extras);
    }
  }
  InjectionScore s = model->Score(view.text(), extras, ctx.model_scratch);
  ctx.model_score_ = std::max(ctx.model_score_, s.score);
  if (s.score < model->threshold(options_.operating_point) || s.end <= s.begin) return;
  Finding f;
  f.detector = "injection.model";
  f.rule = "injection.model";
  f.category = s.jailbreak >= 0.5f ? Category::kJailbreak : Category::kPromptInjection;
  f.severity = Severity::kHigh;
  f.score = s.score;
  f.field = std::string(view.field());
  f.span = view.ToOriginal(s.begin, s.end);
  f.decoded_via = std::string(view.decoded_via());
  out.push_back(std::move(f));
}

absl::Status Scanner::CollectFindings(std::string_view text, Context& ctx, std::string_view field,
                                      std::vector<Finding>& out) const {
  size_t first = out.size();
  if (auto st = normalizer_.Normalize(text, ctx.top); !st.ok()) return st;
  FindTextAnomalies(text, ctx.top, field, out);
  text::TextView view(ctx.top, field);
  ctx.model_score_ = 0.0f;
  size_t top_rules_begin = out.size();
  engine_->Scan(view, *ctx.rules, out);
  size_t top_rules_end = out.size();

  ctx.decoded_bytes = 0;
  if (options_.max_decode_depth > 0) {
    ScanDecoded(ctx.top, Span{}, false, std::string(), 0, ctx, field, out);
    // A message smuggled in tag characters is decoded text too.
    if (!ctx.top.tag_payload.empty()) {
      text::NormalizedText& layer = ctx.layers[0];
      if (normalizer_.Normalize(ctx.top.tag_payload, layer).ok() && !layer.text.empty()) {
        text::TextView tag_view(layer, field, ctx.top.tag_payload_span, "tag_characters");
        size_t rules_begin = out.size();
        engine_->Scan(tag_view, *ctx.rules, out);
        ScoreLayer(tag_view, rules_begin, out.size(), ctx, out);
      }
    }
  }
  // Leetspeak is one more wrapping: fold it and scan the folded text like a decoded layer.
  if (LooksLikeLeetspeak(ctx.top.text) && !ctx.layers.empty()) {
    FoldLeetspeak(ctx.top.text, ctx.folded);
    text::NormalizedText& layer = ctx.layers[0];
    if (normalizer_.Normalize(ctx.folded, layer).ok() && !layer.text.empty()) {
      Span whole = ctx.top.ToOriginal(0, static_cast<uint32_t>(ctx.top.text.size()));
      text::TextView leet_view(layer, field, whole, "leetspeak");
      size_t rules_begin = out.size();
      engine_->Scan(leet_view, *ctx.rules, out);
      ScoreLayer(leet_view, rules_begin, out.size(), ctx, out);
    }
  }
  // The top text last, so that injection findings in its decoded layers are features of it.
  ScoreLayer(view, top_rules_begin, top_rules_end, ctx, out);
  std::stable_sort(out.begin() + static_cast<std::ptrdiff_t>(first), out.end(),
                   [](const Finding& a, const Finding& b) {
                     if (a.span.begin != b.span.begin) return a.span.begin < b.span.begin;
                     return a.span.end > b.span.end;
                   });
  return absl::OkStatus();
}

absl::StatusOr<Verdict> Scanner::Scan(std::string_view text, Context& ctx,
                                      std::string_view field) const {
  Verdict v;
  if (auto st = CollectFindings(text, ctx, field, v.findings); !st.ok()) return st;
  policy_.Apply(v.findings, v);
  size_t redacted = 0;
  std::string edited = Redact(text, v.findings, policy_, &redacted);
  if (redacted > 0) v.edited_text = std::move(edited);
  return v;
}

}  // namespace rampart::detectors
