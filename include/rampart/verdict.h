// Verdict: what to do with one text (or one exchange), and why.
//
// Thread safety: a value type.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rampart/finding.h"

namespace rampart {

// Ordered by strength: a merge of two verdicts keeps the stronger action.
enum class Action : uint8_t {
  kAllow = 0,   // pass unchanged
  kRedact = 1,  // pass with the redactable spans replaced (see Verdict::edited_text)
  kReview = 2,  // pass, but flag for a human (incident, approval queue)
  kBlock = 3,   // refuse
};

// Stable lower-case names: "allow", "redact", "review", "block".
std::string_view ActionName(Action a);
std::optional<Action> ParseAction(std::string_view name);

struct Verdict {
  Action action = Action::kAllow;
  // Stable reason code of the finding that decided the action ("injection.blocked"), or "".
  std::string reason;
  std::vector<Finding> findings;
  // The text with redactions applied; set only when at least one span was redacted.
  std::optional<std::string> edited_text;
};

}  // namespace rampart
