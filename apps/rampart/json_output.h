// JSON renderings of findings and verdicts shared by the subcommands. Never includes the
// matched bytes: spans, ids and scores only.
#pragma once

#include <boost/json.hpp>

#include "rampart/finding.h"
#include "rampart/verdict.h"

namespace rampart::cli {

boost::json::object FindingToJson(const Finding& f);
// {"verdict", "reason", "findings": [...]} and "redacted_text" when `with_redacted` and the
// verdict redacted something.
boost::json::object VerdictToJson(const Verdict& v, bool with_redacted);

}  // namespace rampart::cli
