#include "stages/common/scan_support.h"

#include "common/strings.h"

namespace rampart::stages {

ContextPool::Lease ContextPool::Acquire() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      auto ctx = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(ctx));
    }
  }
  return Lease(this, scanner_->NewContext());
}

void ContextPool::Return(std::unique_ptr<detectors::Scanner::Context> ctx) {
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_.size() < max_idle_) idle_.push_back(std::move(ctx));
}

std::string BlockMessage(const std::string& reason, bool response) {
  return StrCat(response ? "the response" : "the request", " was blocked by policy (", reason, ")");
}

void RecordFindings(const Verdict& v, std::string_view where, std::string_view pointer,
                    pipeline::Exchange& ex, pipeline::Metrics* metrics) {
  constexpr size_t kMaxFindingsPerExchange = 1024;
  for (const auto& f : v.findings) {
    if (metrics != nullptr) {
      metrics->Add("rampart_findings_total",
                   StrCat("detector=\"", pipeline::LabelValue(f.detector), "\",category=\"",
                          CategoryName(f.category), "\",where=\"", where, "\""),
                   1, "Findings by detector, category and direction");
    }
    if (ex.record.findings.size() >= kMaxFindingsPerExchange) continue;
    Finding copy = f;
    copy.field = StrCat(where, pointer, f.field.empty() ? "" : "#", f.field);
    ex.record.findings.push_back(std::move(copy));
  }
}

absl::StatusOr<pipeline::Decision> ScanTexts(std::vector<pipeline::TextRef>& texts, bool response,
                                             ContextPool& pool, const ScanStageOptions& opts,
                                             pipeline::Exchange& ex, pipeline::Metrics* metrics) {
  pipeline::Decision out;
  if (texts.empty()) return out;
  auto ctx = pool.Acquire();
  for (auto& t : texts) {
    std::string_view s(t.text->data(), t.text->size());
    auto v = pool.scanner().Scan(s, *ctx, "");
    if (!v.ok()) return v.status();
    RecordFindings(*v, response ? "response" : "request", t.pointer, ex, metrics);
    if (v->action == Action::kBlock) {
      return pipeline::Decision::Block(opts.block_status, v->reason,
                                       BlockMessage(v->reason, response));
    }
    if (v->edited_text) *t.text = *v->edited_text;
    if (v->action > out.action) {
      out.action = v->action;
      out.reason = v->reason;
    }
  }
  return out;
}

}  // namespace rampart::stages
