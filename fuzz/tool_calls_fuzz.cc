// Fuzzes the assembly of streamed tool calls from untrusted upstream events: each input line
// is a `delta.tool_calls` value. The assembler must never crash, must stop at its byte and call
// bounds, and what it assembles must be well-formed calls that survive the round trip to
// stream deltas and back.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "server/tool_calls.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace json = boost::json;
  constexpr size_t kMaxBytes = 4096;
  constexpr size_t kMaxCalls = 8;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  rampart::server::ToolCallAssembler a(kMaxBytes, kMaxCalls);
  while (!in.empty()) {
    std::string_view line = in.substr(0, in.find('\n'));
    in.remove_prefix(std::min(in.size(), line.size() + 1));
    boost::system::error_code ec;
    json::parse_options opt;
    opt.max_depth = 16;
    json::value v = json::parse(line, ec, {}, opt);
    if (ec) continue;
    if (!a.Add(v)) break;
  }
  json::array calls = a.Calls();
  if (calls.size() > kMaxCalls) std::abort();
  size_t bytes = 0;
  for (const auto& c : calls) {
    const auto& o = c.as_object();  // aborts (throws) if not an object
    const auto& fn = o.at("function").as_object();
    bytes += fn.at("name").as_string().size() + fn.at("arguments").as_string().size();
    if (const auto* id = o.if_contains("id")) bytes += id->as_string().size();
    if (!o.at("type").is_string()) std::abort();
  }
  if (bytes > kMaxBytes) std::abort();
  // The deltas of the whole calls assemble back to the same calls.
  rampart::server::ToolCallAssembler again(kMaxBytes * 2, kMaxCalls);
  if (!again.Add(json::value(rampart::server::ToolCallDeltas(calls)))) std::abort();
  if (again.Calls() != calls) std::abort();
  json::object completion{
      {"choices", json::array{json::object{
                      {"index", 0},
                      {"message", json::object{{"role", "assistant"}, {"tool_calls", calls}}}}}}};
  (void)rampart::server::CompletionAsSse(completion);
  return 0;
}
