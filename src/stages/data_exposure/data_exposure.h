// data_exposure: what may leave for a third-party provider. On a route whose upstream is
// marked `external: true`, every text of the request that the provider would receive —
// system and developer messages included, since the provider sees them too — is checked for
// PII and secrets (the route's Scanner rules, no policy applied) and each finding whose
// category ("pii", "secret") or rule id ("pii.email", "secret.github_token") is not in `allow`
// is not let through:
//
//   action: block   the request is refused with `block_status`, reason
//                   "data_exposure.blocked"; the message names no content
//   action: redact  each such span becomes its label ("[EMAIL]", "[GITHUB_TOKEN]") before
//                   forwarding; verdict redact, reason "data_exposure.redacted"
//
// Placing the stage on a route to a non-external upstream is a configuration error (it would
// never act, which is almost certainly not what the operator meant).
//
//   config:
//     allow: [pii.email]    # categories and rule ids that may leave. Default: none
//     action: block         # block | redact. Default: block
//     block_status: 403     # Default: 403
//     policy: FILE          # Scanner policy (its rules and normalization). Default: built-in
#pragma once

#include "pipeline/stage.h"

namespace rampart::stages {

absl::StatusOr<std::unique_ptr<pipeline::StageFactory>> BuildDataExposure(
    const pipeline::StageBuildContext& ctx, const config::StageConfig& stage);

}  // namespace rampart::stages
