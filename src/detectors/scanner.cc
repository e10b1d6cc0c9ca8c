#include "detectors/scanner.h"

#include <algorithm>

#include "common/strings.h"
#include "detectors/hidden_text.h"
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
    engine_->Scan(view, *ctx.rules, out);
    // ctx.layers[depth] is reused by the next run, so recurse now; deeper levels use their
    // own buffers.
    ScanDecoded(layer, fixed, true, chain, depth + 1, ctx, field, out);
  }
}

absl::Status Scanner::CollectFindings(std::string_view text, Context& ctx, std::string_view field,
                                      std::vector<Finding>& out) const {
  size_t first = out.size();
  if (auto st = normalizer_.Normalize(text, ctx.top); !st.ok()) return st;
  FindTextAnomalies(text, ctx.top, field, out);
  text::TextView view(ctx.top, field);
  engine_->Scan(view, *ctx.rules, out);

  ctx.decoded_bytes = 0;
  if (options_.max_decode_depth > 0) {
    ScanDecoded(ctx.top, Span{}, false, std::string(), 0, ctx, field, out);
    // A message smuggled in tag characters is decoded text too.
    if (!ctx.top.tag_payload.empty()) {
      text::NormalizedText& layer = ctx.layers[0];
      if (normalizer_.Normalize(ctx.top.tag_payload, layer).ok() && !layer.text.empty()) {
        text::TextView tag_view(layer, field, ctx.top.tag_payload_span, "tag_characters");
        engine_->Scan(tag_view, *ctx.rules, out);
      }
    }
  }
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
