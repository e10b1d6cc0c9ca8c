// Tool calls in OpenAI streams: assembling the `delta.tool_calls` pieces of one choice into
// whole calls (so the tool_call stages see complete arguments), and writing calls and whole
// completions back out as stream events. No sockets: unit-tested on its own.
//
// Thread safety: a ToolCallAssembler belongs to one exchange; the functions are stateless.
#pragma once

#include <boost/json.hpp>
#include <cstddef>
#include <string>
#include <vector>

namespace rampart::server {

class ToolCallAssembler {
 public:
  // `max_bytes`: names, ids and arguments together; `max_calls`: distinct call indexes.
  explicit ToolCallAssembler(size_t max_bytes, size_t max_calls = 64)
      : max_bytes_(max_bytes), max_calls_(max_calls) {}

  // Adds one `delta.tool_calls` value (an array of pieces keyed by "index"). False when it is
  // malformed or over a bound; the stream is then refused, never passed on half-checked.
  bool Add(const boost::json::value& deltas);
  bool empty() const { return calls_.empty(); }
  // The calls so far as an assistant message's tool_calls: [{id, type, function{name,
  // arguments}}], in index order.
  boost::json::array Calls() const;

 private:
  size_t max_bytes_;
  size_t max_calls_;
  size_t bytes_ = 0;
  std::vector<boost::json::object> calls_;
};

// `calls` (message form) as one `delta.tool_calls` value: each call whole, with its "index".
boost::json::array ToolCallDeltas(const boost::json::array& calls);

// A chat completion as the events of a stream: one chat.completion.chunk per choice carrying
// the whole message as its delta and the finish_reason, then [DONE]. Members of the
// completion other than choices and usage (id, model, "rampart") are kept on every chunk.
std::string CompletionAsSse(const boost::json::object& completion);

}  // namespace rampart::server
