// output_scan: the Scanner on response texts — whole responses, and streamed responses piece
// by piece. For streams the stage holds back the last `stream_window` bytes of text so a
// pattern split across SSE events (a card number in three deltas) is seen whole; it releases
// text once it is further back than the window, redacted per policy, and everything at the
// end. A block mid-stream ends the stream (the server sends a well-formed SSE error event).
//
//   config:
//     policy: FILE         # Default: the built-in policy (examples/policy.yaml)
//     block_status: 403    # status of a blocked non-streamed response. Default: 403
//     stream_window: 256   # bytes held back while streaming, in [16, 65536]. Default: 256
#pragma once

#include "pipeline/stage.h"

namespace rampart::stages {

absl::StatusOr<std::unique_ptr<pipeline::StageFactory>> BuildOutputScan(
    const pipeline::StageBuildContext& ctx, const config::StageConfig& stage);

}  // namespace rampart::stages
