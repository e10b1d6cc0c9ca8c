// Stage: one layer of defense in a route's pipeline.
//
// A StageFactory is built once per configuration generation from the stage's validated
// `config:` block and shared by all threads; Create() makes a cheap per-exchange Stage that
// may keep per-exchange state (a carried window across streamed chunks). A stage returns a
// Decision, or an error Status when it could not decide; what happens then (block or allow)
// and whether a block is enforced (enforce or shadow) is the runner's business, never the
// stage's (see runner.h).
//
// Thread safety: factories are immutable and shared; a Stage is used by one thread at a time.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "absl/status/statusor.h"
#include "config/config.h"
#include "pipeline/exchange.h"
#include "pipeline/metrics.h"
#include "rampart/verdict.h"

namespace rampart::detectors {
class Scanner;
}

namespace rampart::state {
class Store;
}

namespace rampart::approvals {
class ApprovalStore;
}

namespace rampart::pipeline {

struct Decision {
  Action action = Action::kAllow;  // kBlock refuses the exchange
  int http_status = 0;             // for kBlock: 400, 401, 403, 413, 429, ...
  std::string reason;              // stable reason code: "auth.invalid_key", "pii.redacted"
  std::string message;             // safe for clients: never echoes the offending content
  uint32_t retry_after_s = 0;      // for 429

  static Decision Continue() { return Decision{}; }
  static Decision Block(int status, std::string reason, std::string message) {
    Decision d;
    d.action = Action::kBlock;
    d.http_status = status;
    d.reason = std::move(reason);
    d.message = std::move(message);
    return d;
  }
  bool blocked() const { return action == Action::kBlock; }
};

class Stage {
 public:
  virtual ~Stage() = default;
  // Before the request goes upstream. May edit ex.request.
  virtual absl::StatusOr<Decision> OnRequest(Exchange& ex) {
    (void)ex;
    return Decision::Continue();
  }
  // After a non-streamed response arrived. May edit ex.response.
  virtual absl::StatusOr<Decision> OnResponse(Exchange& ex) {
    (void)ex;
    return Decision::Continue();
  }
  // The next piece of streamed response text. The stage may rewrite `text`, hold bytes back
  // (to see a pattern split across pieces) and release them later; when `last` is true it
  // must release everything it holds.
  virtual absl::StatusOr<Decision> OnResponseText(Exchange& ex, std::string& text, bool last) {
    (void)ex;
    (void)text;
    (void)last;
    return Decision::Continue();
  }
  // The assistant message of one choice whose tool calls are complete: a non-streamed
  // response's choices[].message, or the tool_call deltas of a stream assembled per choice
  // (the server holds them until the choice finishes). `message` has "role", "content" (a
  // string or null) and "tool_calls" (OpenAI form, arguments as JSON text). The stage may
  // rewrite it (drop calls, set content); may hold it by adding to ex.held.
  virtual absl::StatusOr<Decision> OnToolCalls(Exchange& ex, boost::json::object& message) {
    (void)ex;
    (void)message;
    return Decision::Continue();
  }

  // True for a stage whose request edits are instrumentation its response side depends on
  // (the canary stage's token in the system prompt): in shadow mode the runner keeps those
  // edits, so they reach the upstream, while the stage's blocks and response edits are still
  // only recorded. Default: false (a shadow stage's request edits are discarded).
  virtual bool KeepsRequestEditsInShadow() const { return false; }

  // The phases (kPhase* bits) this stage takes part in; the runner calls, times and records
  // a stage only in those. MakeStage<T> sets them from the hooks T overrides; a stage made
  // any other way takes part in every phase.
  uint8_t phases() const { return phases_; }

  static constexpr uint8_t kPhaseRequest = 1;
  static constexpr uint8_t kPhaseResponse = 2;
  static constexpr uint8_t kPhaseStream = 4;
  static constexpr uint8_t kPhaseToolCalls = 8;
  static constexpr uint8_t kAllPhases = 15;

 private:
  template <class T, class... Args>
  friend std::unique_ptr<Stage> MakeStage(Args&&... args);
  uint8_t phases_ = kAllPhases;
};

// The phases a stage type takes part in: those whose hook it (or a base other than Stage)
// overrides. Found by the compiler from the hooks' member-pointer types, never declared by
// hand, so a hook cannot be left out by mistake: a hook T does not override is Stage's own
// and does nothing.
template <class T>
constexpr uint8_t StagePhasesOf() {
  static_assert(std::is_base_of_v<Stage, T>);
  using Result = absl::StatusOr<Decision>;
  uint8_t p = 0;
  if constexpr (!std::is_same_v<decltype(&T::OnRequest), Result (Stage::*)(Exchange&)>) {
    p |= Stage::kPhaseRequest;
  }
  if constexpr (!std::is_same_v<decltype(&T::OnResponse), Result (Stage::*)(Exchange&)>) {
    p |= Stage::kPhaseResponse;
  }
  if constexpr (!std::is_same_v<decltype(&T::OnResponseText),
                                Result (Stage::*)(Exchange&, std::string&, bool)>) {
    p |= Stage::kPhaseStream;
  }
  if constexpr (!std::is_same_v<decltype(&T::OnToolCalls),
                                Result (Stage::*)(Exchange&, boost::json::object&)>) {
    p |= Stage::kPhaseToolCalls;
  }
  return p;
}

// Makes a T for StageFactory::Create, knowing the phases it takes part in.
template <class T, class... Args>
std::unique_ptr<Stage> MakeStage(Args&&... args) {
  auto s = std::make_unique<T>(std::forward<Args>(args)...);
  s->phases_ = StagePhasesOf<T>();
  return s;
}

class StageFactory {
 public:
  virtual ~StageFactory() = default;
  virtual std::unique_ptr<Stage> Create() const = 0;
};

// What a factory may use while it is built. Everything outlives the generation.
struct StageBuildContext {
  const config::Config* config = nullptr;
  const config::RouteConfig* route = nullptr;
  Metrics* metrics = nullptr;
  state::Store* state = nullptr;
  // Where held tool calls wait for a decision; null when the config has no stores.approvals.
  approvals::ApprovalStore* approvals = nullptr;
  // Scanner for a policy file ("" = built-in policy), built once per generation.
  std::function<absl::StatusOr<std::shared_ptr<const detectors::Scanner>>(const std::string&)>
      scanner;
};

using StageBuildFn = absl::StatusOr<std::unique_ptr<StageFactory>> (*)(
    const StageBuildContext& ctx, const config::StageConfig& stage);

// One row of the registry table (src/stages/registry.cc holds the table).
struct StageRegistration {
  std::string_view type;
  StageBuildFn build;
};

}  // namespace rampart::pipeline
