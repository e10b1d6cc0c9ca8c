// auth: Bearer API keys. A key is looked up by its SHA-256 among the principals of the
// config (`principals[].key_sha256`, or the `key_file`); the principal must be allowed the
// route (`routes`, empty = all) and the requested model (`models`, empty = all). The client's
// key is never forwarded: the server strips Authorization and sends the upstream's own key.
//
// Reasons: auth.missing_key (401), auth.invalid_key (401), auth.route_forbidden (403),
// auth.model_forbidden (403).
//
//   config: {}   # no options yet
#pragma once

#include "pipeline/stage.h"

namespace rampart::stages {

absl::StatusOr<std::unique_ptr<pipeline::StageFactory>> BuildAuth(
    const pipeline::StageBuildContext& ctx, const config::StageConfig& stage);

}  // namespace rampart::stages
