// role_isolation: chat-template control tokens and role markers ("<|im_start|>system",
// "[INST]", "<<SYS>>", "<|start_header_id|>", "<start_of_turn>", "### System:" ...) in the
// texts of the chosen roles, so that user, document or tool text cannot open a new turn
// (detectors/role_markers). The operator's system and developer messages are never touched.
//
//   action: neutralize  every marker is broken so no tokenizer reads it as a control token
//                       ("<|im_start|>" -> "< |im_start|>", "System:" -> "System -"); the text
//                       keeps its meaning for the model. The verdict is redact,
//                       reason "role_isolation.neutralized".
//   action: block       a special token that opens a system turn ("<|im_start|>system",
//                       "<<SYS>>", "[SYSTEM_PROMPT]", "<|system|>" ...) refuses the request with
//                       `block_status`, reason "role_isolation.blocked"; every other marker
//                       (user/assistant turn tokens, line labels such as "System:", which
//                       plain prose uses too) is neutralized as above.
//
// Each marker is recorded as a finding (detector "role_markers", category role_injection).
//
//   config:
//     action: neutralize          # neutralize | block. Default: neutralize
//     roles: [user, tool, function]   # message roles checked; never system or developer.
//                                 # "prompt"/"input" and json request_fields count as user.
//     block_status: 400           # Default: 400
#pragma once

#include "pipeline/stage.h"

namespace rampart::stages {

absl::StatusOr<std::unique_ptr<pipeline::StageFactory>> BuildRoleIsolation(
    const pipeline::StageBuildContext& ctx, const config::StageConfig& stage);

}  // namespace rampart::stages
