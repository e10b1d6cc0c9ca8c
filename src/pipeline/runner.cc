#include "pipeline/runner.h"

#include <chrono>

#include "common/strings.h"

namespace rampart::pipeline {

absl::StatusOr<std::unique_ptr<Pipeline>> Pipeline::Build(
    std::span<const StageRegistration> registry, const StageBuildContext& ctx) {
  auto p = std::unique_ptr<Pipeline>(new Pipeline());
  for (const auto& sc : ctx.route->stages) {
    const StageRegistration* reg = nullptr;
    std::vector<std::string_view> known;
    for (const auto& r : registry) {
      known.push_back(r.type);
      if (r.type == sc.type) reg = &r;
    }
    if (reg == nullptr) {
      return absl::InvalidArgumentError(StrCat(sc.path, ".type: unknown stage '", sc.type,
                                               "' (known: ", StrJoin(known, ", "), ")"));
    }
    auto factory = reg->build(ctx, sc);
    if (!factory.ok()) return factory.status();
    Entry e;
    e.type = sc.type;
    e.shadow = sc.mode == config::StageMode::kShadow;
    e.fail_open = sc.on_error == config::OnError::kAllow;
    e.factory = std::move(*factory);
    std::string labels =
        StrCat("route=\"", LabelValue(ctx.route->name), "\",stage=\"", LabelValue(sc.type), "\"");
    Metrics* m = ctx.metrics;
    e.runs = m->Counter("rampart_stage_runs_total", labels,
                        "Stage invocations (request, response and tool-call phases)");
    e.blocks = m->Counter("rampart_stage_blocks_total", labels, "Exchanges blocked by a stage");
    e.shadow_blocks = m->Counter("rampart_stage_shadow_blocks_total", labels,
                                 "Blocks a shadow-mode stage would have made");
    e.errors = m->Counter("rampart_stage_errors_total", labels, "Stage errors");
    e.latency = m->Hist("rampart_stage_latency_seconds", labels, "Time spent in a stage");
    p->entries_.push_back(std::move(e));
  }
  return p;
}

std::unique_ptr<Pipeline::Run> Pipeline::Start() const { return std::make_unique<Run>(*this); }

Pipeline::Run::Run(const Pipeline& p) : pipeline_(p) {
  stages_.reserve(p.entries_.size());
  stream_ns_.assign(p.entries_.size(), 0);
  for (const auto& e : p.entries_) stages_.push_back(e.factory->Create());
}

Decision Pipeline::Run::OnRequest(Exchange& ex) {
  return RunPhase(ex, Phase::kRequest, nullptr, false);
}
Decision Pipeline::Run::OnResponse(Exchange& ex) {
  return RunPhase(ex, Phase::kResponse, nullptr, false);
}
Decision Pipeline::Run::OnResponseText(Exchange& ex, std::string& text, bool last) {
  return RunPhase(ex, Phase::kStream, &text, last);
}

Decision Pipeline::Run::OnToolCalls(Exchange& ex, boost::json::object& message) {
  return RunPhase(ex, Phase::kToolCalls, nullptr, false, &message);
}

Decision Pipeline::Run::OnResponseToolCalls(Exchange& ex) {
  auto* obj = ex.response.if_object();
  auto* choices = obj != nullptr ? obj->if_contains("choices") : nullptr;
  if (choices == nullptr || !choices->is_array()) return Decision::Continue();
  for (auto& ch : choices->get_array()) {
    auto* co = ch.if_object();
    auto* msg = co != nullptr ? co->if_contains("message") : nullptr;
    if (msg == nullptr || !msg->is_object()) continue;
    auto* calls = msg->get_object().if_contains("tool_calls");
    if (calls == nullptr || !calls->is_array() || calls->get_array().empty()) continue;
    Decision d = OnToolCalls(ex, msg->get_object());
    if (d.blocked()) return d;
    auto* left = msg->get_object().if_contains("tool_calls");
    if (left == nullptr || !left->is_array() || left->get_array().empty()) {
      msg->get_object().erase("tool_calls");
      (*co)["finish_reason"] = "stop";
    }
  }
  return Decision::Continue();
}

Decision Pipeline::Run::RunPhase(Exchange& ex, Phase phase, std::string* text, bool last,
                                 boost::json::object* message) {
  static constexpr const char* kPhaseNames[] = {"request", "response", "stream", "tool_calls"};
  static constexpr uint8_t kPhaseBits[] = {Stage::kPhaseRequest, Stage::kPhaseResponse,
                                           Stage::kPhaseStream, Stage::kPhaseToolCalls};
  const uint8_t bit = kPhaseBits[static_cast<int>(phase)];
  for (size_t i = 0; i < stages_.size(); ++i) {
    Stage& stage = *stages_[i];
    // A stage with nothing to do in this phase is not run, timed or recorded there: its
    // latency histogram and the audit record show only the work it does.
    if ((stage.phases() & bit) == 0) continue;
    const Entry& e = pipeline_.entries_[i];
    auto t0 = std::chrono::steady_clock::now();
    absl::StatusOr<Decision> d;
    if (e.shadow) {
      // Shadow stages see a copy; nothing they edit reaches the client or the upstream, and
      // nothing they hold or answer is kept; except request edits a stage declares
      // instrumentation (a canary: see Stage).
      size_t held = ex.held.size();
      bool had_local = !ex.local_response.is_null();
      switch (phase) {
        case Phase::kRequest: {
          if (stage.KeepsRequestEditsInShadow()) {
            d = stage.OnRequest(ex);
            break;
          }
          boost::json::value saved = ex.request;
          d = stage.OnRequest(ex);
          ex.request = std::move(saved);
          break;
        }
        case Phase::kResponse: {
          boost::json::value saved = ex.response;
          d = stage.OnResponse(ex);
          ex.response = std::move(saved);
          break;
        }
        case Phase::kStream: {
          std::string copy = *text;
          d = stage.OnResponseText(ex, copy, last);
          break;
        }
        case Phase::kToolCalls: {
          boost::json::object copy = *message;
          d = stage.OnToolCalls(ex, copy);
          break;
        }
      }
      ex.held.resize(held);
      if (!had_local) ex.local_response = nullptr;
    } else {
      switch (phase) {
        case Phase::kRequest:
          d = stage.OnRequest(ex);
          break;
        case Phase::kResponse:
          d = stage.OnResponse(ex);
          break;
        case Phase::kStream:
          d = stage.OnResponseText(ex, *text, last);
          break;
        case Phase::kToolCalls:
          d = stage.OnToolCalls(ex, *message);
          break;
      }
    }
    const uint64_t ns = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
            .count());
    if (phase == Phase::kStream) {
      // The hot path of a stream, once per piece: no histogram update and no stage record
      // unless the piece ends the stream or changed something.
      stream_ns_[i] += ns;
      const bool ends = last || !d.ok() || d->blocked();
      if (ends) e.latency->Observe(static_cast<double>(stream_ns_[i]) * 1e-9);
      if (d.ok() && !d->blocked() && d->reason.empty() && d->action <= ex.record.action) {
        continue;
      }
    } else {
      e.latency->Observe(static_cast<double>(ns) * 1e-9);
      e.runs->fetch_add(1, std::memory_order_relaxed);
    }
    const double secs = static_cast<double>(ns) * 1e-9;

    StageRecord rec;
    rec.stage = e.type;
    rec.phase = kPhaseNames[static_cast<int>(phase)];
    rec.shadow = e.shadow;
    rec.latency_us = static_cast<uint64_t>(secs * 1e6);
    Decision out = Decision::Continue();
    bool stop = false;
    if (!d.ok()) {
      e.errors->fetch_add(1, std::memory_order_relaxed);
      if (e.fail_open || e.shadow) {
        rec.outcome = "error_allowed";
      } else {
        rec.outcome = "error";
        out = Decision::Block(503, StrCat(e.type, ".error"),
                              "the request could not be inspected; it was refused");
        stop = true;
      }
      rec.reason = StrCat(e.type, ".error");
    } else if (d->blocked()) {
      rec.reason = d->reason;
      if (e.shadow) {
        e.shadow_blocks->fetch_add(1, std::memory_order_relaxed);
        rec.outcome = "shadow_block";
      } else {
        e.blocks->fetch_add(1, std::memory_order_relaxed);
        rec.outcome = "block";
        out = std::move(*d);
        stop = true;
      }
    } else {
      rec.outcome = "continue";
      rec.reason = d->reason;
      if (!e.shadow && d->action > ex.record.action) {
        ex.record.action = d->action;
        ex.record.reason = d->reason;
      }
    }
    if (phase != Phase::kStream || rec.outcome != "continue" || !rec.reason.empty()) {
      // Streams record only what changed something, not one row per piece.
      if (phase != Phase::kStream || ex.record.stages.size() < 256) {
        ex.record.stages.push_back(std::move(rec));
      }
    }
    if (stop) {
      ex.record.action = Action::kBlock;
      ex.record.reason = out.reason;
      return out;
    }
  }
  return Decision::Continue();
}

}  // namespace rampart::pipeline
