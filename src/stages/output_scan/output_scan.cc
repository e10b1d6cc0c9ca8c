#include "stages/output_scan/output_scan.h"

#include <boost/json.hpp>

#include "common/strings.h"
#include "config/field_reader.h"
#include "detectors/redactor.h"
#include "stages/common/scan_support.h"

namespace rampart::stages {
namespace {

class OutputScanFactory : public pipeline::StageFactory {
 public:
  OutputScanFactory(std::shared_ptr<const detectors::Scanner> scanner, ScanStageOptions opts,
                    pipeline::Metrics* metrics)
      : pool_(std::move(scanner)), opts_(std::move(opts)), metrics_(metrics) {}
  std::unique_ptr<pipeline::Stage> Create() const override;

  mutable ContextPool pool_;
  ScanStageOptions opts_;
  pipeline::Metrics* metrics_;
};

// Moves `pos` back to the start of a UTF-8 sequence.
size_t Utf8Boundary(std::string_view s, size_t pos) {
  while (pos > 0 && pos < s.size() && (static_cast<unsigned char>(s[pos]) & 0xC0) == 0x80) --pos;
  return pos;
}

class OutputScan : public pipeline::Stage {
 public:
  explicit OutputScan(const OutputScanFactory& f) : f_(f) {}

  absl::StatusOr<pipeline::Decision> OnResponse(pipeline::Exchange& ex) override {
    auto texts = pipeline::ResponseTexts(ex);
    return ScanTexts(texts, /*response=*/true, f_.pool_, f_.opts_, ex, f_.metrics_);
  }

  absl::StatusOr<pipeline::Decision> OnResponseText(pipeline::Exchange& ex, std::string& text,
                                                    bool last) override {
    pending_ += text;
    text.clear();
    pipeline::Decision out;
    if (pending_.empty()) return out;
    auto ctx = f_.pool_.Acquire();
    auto v = f_.pool_.scanner().Scan(pending_, *ctx, "");
    if (!v.ok()) return v.status();
    if (v->action == Action::kBlock) {
      RecordFindings(*v, "response", "/stream", ex, f_.metrics_);
      pending_.clear();
      return pipeline::Decision::Block(f_.opts_.block_status, v->reason,
                                       BlockMessage(v->reason, true));
    }
    size_t release = pending_.size();
    if (!last) {
      release =
          pending_.size() > f_.opts_.stream_window ? pending_.size() - f_.opts_.stream_window : 0;
      // Never cut through a finding: it is released, redacted, once it is whole.
      for (const auto& fd : v->findings) {
        if (fd.span.begin < release && fd.span.end > release) release = fd.span.begin;
      }
      release = Utf8Boundary(pending_, release);
    }
    if (release == 0) return out;
    Verdict released;
    for (const auto& fd : v->findings) {
      if (fd.span.end <= release) released.findings.push_back(fd);
    }
    RecordFindings(released, "response", StrCat("/stream@", released_bytes_), ex, f_.metrics_);
    std::string_view head(pending_.data(), release);
    size_t count = 0;
    std::string redacted =
        detectors::Redact(head, released.findings, f_.pool_.scanner().policy(), &count);
    text = count > 0 ? std::move(redacted) : std::string(head);
    if (count > 0) {
      out.action = Action::kRedact;
      out.reason = v->reason;
    }
    released_bytes_ += release;
    pending_.erase(0, release);
    return out;
  }

 private:
  const OutputScanFactory& f_;
  std::string pending_;
  uint64_t released_bytes_ = 0;
};

std::unique_ptr<pipeline::Stage> OutputScanFactory::Create() const {
  return pipeline::MakeStage<OutputScan>(*this);
}

}  // namespace

absl::StatusOr<std::unique_ptr<pipeline::StageFactory>> BuildOutputScan(
    const pipeline::StageBuildContext& ctx, const config::StageConfig& stage) {
  auto r = config::FieldReader::Open(stage.config, config::JoinPath(stage.path, "config"));
  if (!r.ok()) return r.status();
  ScanStageOptions opts;
  uint64_t status = 403;
  if (auto st = r->String("policy", &opts.policy); !st.ok()) return st;
  if (auto st = r->Uint("block_status", &status, 400, 599); !st.ok()) return st;
  if (auto st = r->Uint("stream_window", &opts.stream_window, 16, 65536); !st.ok()) return st;
  if (auto st = r->Finish(); !st.ok()) return st;
  opts.block_status = static_cast<int>(status);
  auto scanner = ctx.scanner(opts.policy);
  if (!scanner.ok())
    return config::FieldError(r->Path("policy"), std::string(scanner.status().message()));
  return std::make_unique<OutputScanFactory>(std::move(*scanner), std::move(opts), ctx.metrics);
}

}  // namespace rampart::stages
