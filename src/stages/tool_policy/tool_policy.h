// tool_policy: OpenAI-style tool use under a per-principal policy (docs/llm-defenses.md).
//
// Request: the `tools` the client offers the model are filtered (or the request refused) to
// those the principal may use. A request carrying `X-Rampart-Approval: <id>` redeems a held
// call: the gateway answers from the approval store without calling the upstream.
// Response (non-streamed and streamed alike, through Stage::OnToolCalls): every tool call must
// name an allowed tool, its arguments must be a JSON object that matches the tool's schema and
// passes the argument checks (URLs outside allowed_domains, destructive or exfiltrating shell
// and SQL: detectors/tool_args.h; secrets and PII: the scanner). A call that fails blocks the
// response. A message that calls a high-risk tool is held for human approval: the client gets
// a pending notice naming the approval id and the server stores the message (src/approvals).
//
// Reasons: tool_policy.tool_not_allowed, tool_policy.malformed_call,
// tool_policy.invalid_arguments, tool_policy.url, tool_policy.shell, tool_policy.sql,
// tool_policy.sensitive_arguments, tool_policy.approval_required (action review),
// tool_policy.approval_not_found, tool_policy.approval_mismatch.
#pragma once

#include <boost/json/object.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "pipeline/stage.h"

namespace rampart::stages {

absl::StatusOr<std::unique_ptr<pipeline::StageFactory>> BuildToolPolicy(
    const pipeline::StageBuildContext& ctx, const config::StageConfig& stage);

// What the client reads about a held call: the assistant text, and the "rampart" extension
// member ({"approval": {"id", "status", "tools"}}) added to the response or stream event.
std::string ApprovalText(std::string_view approval_id, std::string_view status,
                         const std::vector<std::string>& tools);
boost::json::object ApprovalExtension(std::string_view approval_id, std::string_view status,
                                      const std::vector<std::string>& tools);

// The chat completion the gateway answers with instead of a held message (pending), or for a
// redeemed approval that is not released (denied, expired, pending). `model` may be "".
boost::json::object ApprovalNotice(std::string_view approval_id, std::string_view status,
                                   const std::vector<std::string>& tools, std::string_view model);

}  // namespace rampart::stages
