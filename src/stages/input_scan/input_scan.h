// input_scan: the Scanner (src/detectors) on every user, tool and document text of a request
// (never the operator's system prompt). Per the policy a text is passed, redacted in place,
// flagged for review, or the request is blocked with `block_status` and the policy's reason
// ("prompt_injection.blocked").
//
//   config:
//     policy: FILE       # Default: the built-in policy (examples/policy.yaml)
//     block_status: 400  # Default: 400
#pragma once

#include "pipeline/stage.h"

namespace rampart::stages {

absl::StatusOr<std::unique_ptr<pipeline::StageFactory>> BuildInputScan(
    const pipeline::StageBuildContext& ctx, const config::StageConfig& stage);

}  // namespace rampart::stages
