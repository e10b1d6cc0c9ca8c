#include "stages/input_scan/input_scan.h"

#include <boost/json.hpp>

#include "common/strings.h"
#include "config/field_reader.h"
#include "stages/common/scan_support.h"

namespace rampart::stages {
namespace {

class InputScanFactory : public pipeline::StageFactory {
 public:
  InputScanFactory(std::shared_ptr<const detectors::Scanner> scanner, ScanStageOptions opts,
                   pipeline::Metrics* metrics)
      : pool_(std::move(scanner)), opts_(std::move(opts)), metrics_(metrics) {}
  std::unique_ptr<pipeline::Stage> Create() const override;

  mutable ContextPool pool_;
  ScanStageOptions opts_;
  pipeline::Metrics* metrics_;
};

class InputScan : public pipeline::Stage {
 public:
  explicit InputScan(const InputScanFactory& f) : f_(f) {}

  absl::StatusOr<pipeline::Decision> OnRequest(pipeline::Exchange& ex) override {
    auto texts = pipeline::RequestTexts(ex);
    return ScanTexts(texts, /*response=*/false, f_.pool_, f_.opts_, ex, f_.metrics_);
  }

 private:
  const InputScanFactory& f_;
};

std::unique_ptr<pipeline::Stage> InputScanFactory::Create() const {
  return pipeline::MakeStage<InputScan>(*this);
}

}  // namespace

absl::StatusOr<std::unique_ptr<pipeline::StageFactory>> BuildInputScan(
    const pipeline::StageBuildContext& ctx, const config::StageConfig& stage) {
  auto r = config::FieldReader::Open(stage.config, config::JoinPath(stage.path, "config"));
  if (!r.ok()) return r.status();
  ScanStageOptions opts;
  uint64_t status = 400;
  if (auto st = r->String("policy", &opts.policy); !st.ok()) return st;
  if (auto st = r->Uint("block_status", &status, 400, 599); !st.ok()) return st;
  if (auto st = r->Finish(); !st.ok()) return st;
  opts.block_status = static_cast<int>(status);
  auto scanner = ctx.scanner(opts.policy);
  if (!scanner.ok()) {
    return config::FieldError(r->Path("policy"), std::string(scanner.status().message()));
  }
  return std::make_unique<InputScanFactory>(std::move(*scanner), std::move(opts), ctx.metrics);
}

}  // namespace rampart::stages
