// Pipeline and runner: a route's ordered stages, each in its envelope.
//
// A Pipeline is built once per generation from a route's StageConfigs and the registry table;
// Start() makes the per-exchange Run. The runner is the one place the envelope policy lives:
//   mode: enforce  a block ends the exchange with the stage's status and reason;
//   mode: shadow   the stage runs on a copy; its block and edits are counted and recorded,
//                  never applied (except request edits of a stage that declares them
//                  instrumentation, Stage::KeepsRequestEditsInShadow);
//   on_error: block (default)  a stage error ends the exchange with 503 "<type>.error";
//   on_error: allow            a stage error is counted and the exchange goes on.
// Verdicts merge to the strongest action (allow < redact < review < block), recorded in
// Exchange::record with the reason of the stage that decided it.
//
// A stage runs only in the phases it takes part in (Stage::phases(): the hooks it overrides).
// Counters, per route and stage: rampart_stage_runs_total, rampart_stage_blocks_total,
// rampart_stage_shadow_blocks_total, rampart_stage_errors_total, and the histogram
// rampart_stage_latency_seconds (one sample per phase the stage ran in).
//
// Thread safety: a Pipeline is immutable and shared; a Run belongs to one exchange.
#pragma once

#include <atomic>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pipeline/stage.h"

namespace rampart::pipeline {

class Pipeline {
 public:
  static absl::StatusOr<std::unique_ptr<Pipeline>> Build(
      std::span<const StageRegistration> registry, const StageBuildContext& ctx);

  class Run;
  std::unique_ptr<Run> Start() const;

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::string type;
    bool shadow = false;
    bool fail_open = false;
    std::unique_ptr<StageFactory> factory;
    std::atomic<uint64_t>* runs = nullptr;
    std::atomic<uint64_t>* blocks = nullptr;
    std::atomic<uint64_t>* shadow_blocks = nullptr;
    std::atomic<uint64_t>* errors = nullptr;
    Histogram* latency = nullptr;
  };
  std::vector<Entry> entries_;
};

class Pipeline::Run {
 public:
  explicit Run(const Pipeline& p);
  // Each returns the decision that ends the exchange (blocked()) or Continue.
  Decision OnRequest(Exchange& ex);
  Decision OnResponse(Exchange& ex);
  Decision OnResponseText(Exchange& ex, std::string& text, bool last);
  // One assistant message with tool calls (Stage::OnToolCalls).
  Decision OnToolCalls(Exchange& ex, boost::json::object& message);
  // Runs OnToolCalls on every choices[].message of ex.response that has tool_calls, and sets
  // finish_reason "stop" where the stages left a choice with no calls.
  Decision OnResponseToolCalls(Exchange& ex);

 private:
  enum class Phase { kRequest, kResponse, kStream, kToolCalls };
  Decision RunPhase(Exchange& ex, Phase phase, std::string* text, bool last,
                    boost::json::object* message = nullptr);
  const Pipeline& pipeline_;
  std::vector<std::unique_ptr<Stage>> stages_;
  // Per stage: time spent on the pieces of the stream so far. The stream phase's latency
  // histogram gets one sample per exchange (the sum), at the last piece or at a block.
  std::vector<uint64_t> stream_ns_;
};

}  // namespace rampart::pipeline
