// Role and delimiter isolation: chat-template control tokens and role markers that let text
// in a user, document or tool message open a new turn ("<|im_start|>system", "[INST]",
// "<<SYS>>", "<|start_header_id|>", "<start_of_turn>", "### System:" ...).
//
// FindRoleMarkers lists them with byte spans; NeutralizeRoleMarkers rewrites each so that no
// tokenizer reads it as the control token (a space after its first character, e.g.
// "<|im_start|>" -> "< |im_start|>") while a human still reads the text. Special tokens are
// matched exactly (tokenizers do); text markers ("### System:", "Human:") are matched
// case-insensitively at the start of a line.
//
// Thread safety: stateless functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rampart::detectors {

struct RoleMarker {
  uint64_t begin = 0;
  uint64_t end = 0;
  // Stable id of the marker family: "chatml", "llama2", "llama3", "gemma", "phi", "mistral",
  // "alpaca", "vicuna", "anthropic", "generic".
  std::string_view family;
  // Opens a system turn (as opposed to a user or assistant turn).
  bool system = false;
};

std::vector<RoleMarker> FindRoleMarkers(std::string_view text);

// The text with every marker broken; `markers` receives what was found (may be null).
std::string NeutralizeRoleMarkers(std::string_view text, std::vector<RoleMarker>* markers);

}  // namespace rampart::detectors
