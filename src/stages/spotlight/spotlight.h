// spotlight: untrusted content (tool results, retrieved documents, web pages) is marked as
// data before it is forwarded, and the system prompt is told so (detectors/spotlight):
//
//   method: delimit   wrapped in a random boundary: <<untrusted-3f9a...>> ... <</untrusted-...>>
//   method: datamark  a marker character interleaved between its words ("the^cat^sat")
//   method: encode    base64
//
// Which texts are untrusted: message roles ("tool", "function", "user" ...; never system or
// developer) and/or JSON Pointers into the request ("/documents/0/text", "/messages/3/content").
// With `scan: true` (the default) each untrusted text is first scanned for indirect injection
// with the route's Scanner and `policy` (as input_scan does): a blocking verdict refuses the
// request with `block_status` and the policy's reason, redactions are applied, and only then
// is the text spotlighted.
//
// The instruction that explains the marking is appended to the first system (or developer)
// message, or a system message holding it is inserted first when there is none (openai
// routes only: json routes have no system prompt, and the operator's template must explain
// the marking). A text is spotlighted once per request; the verdict stays allow with reason
// "spotlight.applied" (scan findings raise it as input_scan would).
//
//   config:
//     untrusted: [tool, function]  # roles and/or JSON Pointers (starting with '/'). Required
//     method: delimit              # delimit | datamark | encode. Default: delimit
//     marker: "ˆ"                  # datamark's marker, 1-8 bytes, no spaces. Default: U+02C6
//     scan: true                   # indirect-injection scan first. Default: true
//     policy: FILE                 # Scanner policy for the scan. Default: the built-in policy
//     block_status: 400            # Default: 400
#pragma once

#include "pipeline/stage.h"

namespace rampart::stages {

absl::StatusOr<std::unique_ptr<pipeline::StageFactory>> BuildSpotlight(
    const pipeline::StageBuildContext& ctx, const config::StageConfig& stage);

}  // namespace rampart::stages
