// rate_limit: token buckets per principal and per client IP, for requests and for approximate
// tokens (request body bytes / 4), in the shared state Store (in-process by default). Over a
// limit the request gets 429 with Retry-After and reason rate_limit.requests or
// rate_limit.tokens.
//
//   config:
//     requests_per_window: 60     # per key. Default: 60; 0 disables
//     tokens_per_window: 0        # approximate prompt tokens per key. Default: 0 (off)
//     window_s: 60                # the window the limits are over. Default: 60
//     per: [principal, ip]        # which keys are limited. Default: both
//
// Buckets refill continuously (limit / window per second) and start full, so a burst of up to
// the limit is allowed. Requests without a principal (no auth stage before) count by IP only.
#pragma once

#include "pipeline/stage.h"

namespace rampart::stages {

absl::StatusOr<std::unique_ptr<pipeline::StageFactory>> BuildRateLimit(
    const pipeline::StageBuildContext& ctx, const config::StageConfig& stage);

}  // namespace rampart::stages
