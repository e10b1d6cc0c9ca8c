#include "server/tool_calls.h"

#include "server/sse.h"

namespace rampart::server {

namespace json = boost::json;

bool ToolCallAssembler::Add(const json::value& deltas) {
  if (!deltas.is_array()) return false;
  for (const auto& piece : deltas.get_array()) {
    const auto* p = piece.if_object();
    if (p == nullptr) return false;
    int64_t index = 0;
    if (const auto* i = p->if_contains("index")) {
      if (!i->is_int64()) return false;
      index = i->get_int64();
    }
    if (index < 0 || static_cast<size_t>(index) >= max_calls_) return false;
    if (static_cast<size_t>(index) >= calls_.size()) calls_.resize(index + 1);
    json::object& call = calls_[index];
    // Over a bound nothing is added: the caller refuses the stream.
    auto grow = [&](const json::value& v) {
      if (v.get_string().size() > max_bytes_ - bytes_) return false;
      bytes_ += v.get_string().size();
      return true;
    };
    auto set = [&](const char* key, const json::value* v) {
      if (v == nullptr || v->is_null()) return true;
      if (!v->is_string() || !grow(*v)) return false;
      call[key] = v->get_string();
      return true;
    };
    if (!set("id", p->if_contains("id")) || !set("type", p->if_contains("type"))) return false;
    if (const auto* fv = p->if_contains("function"); fv != nullptr && !fv->is_null()) {
      const auto* fn = fv->if_object();
      if (fn == nullptr) return false;
      if (!call["function"].is_object()) {
        call["function"] = json::object{{"name", ""}, {"arguments", ""}};
      }
      json::object& out = call["function"].get_object();
      for (const char* key : {"name", "arguments"}) {
        const auto* v = fn->if_contains(key);
        if (v == nullptr || v->is_null()) continue;
        if (!v->is_string() || !grow(*v)) return false;
        out[key].get_string().append(v->get_string());
      }
    }
  }
  return true;
}

json::array ToolCallAssembler::Calls() const {
  json::array out;
  for (const auto& c : calls_) {
    json::object call = c;
    if (!call.contains("type")) call["type"] = "function";
    if (!call["function"].is_object()) {
      call["function"] = json::object{{"name", ""}, {"arguments", ""}};
    }
    out.push_back(std::move(call));
  }
  return out;
}

json::array ToolCallDeltas(const json::array& calls) {
  json::array out;
  int64_t index = 0;
  for (const auto& c : calls) {
    json::object d = c.is_object() ? c.get_object() : json::object();
    d["index"] = index++;
    out.push_back(std::move(d));
  }
  return out;
}

std::string CompletionAsSse(const json::object& completion) {
  json::object tmpl = completion;
  tmpl.erase("choices");
  tmpl.erase("usage");
  tmpl["object"] = "chat.completion.chunk";
  std::string out;
  const auto* choices = completion.if_contains("choices");
  if (choices != nullptr && choices->is_array()) {
    for (const auto& ch : choices->get_array()) {
      if (!ch.is_object()) continue;
      const auto& co = ch.get_object();
      json::object delta;
      if (const auto* m = co.if_contains("message"); m != nullptr && m->is_object()) {
        delta = m->get_object();
        if (auto* calls = delta.if_contains("tool_calls"); calls != nullptr && calls->is_array()) {
          *calls = ToolCallDeltas(calls->get_array());
        }
      }
      json::object chunk = tmpl;
      json::object choice{{"index", co.contains("index") ? co.at("index") : json::value(0)},
                          {"delta", std::move(delta)},
                          {"finish_reason", co.contains("finish_reason") ? co.at("finish_reason")
                                                                         : json::value("stop")}};
      chunk["choices"] = json::array{std::move(choice)};
      out += FormatSseData(json::serialize(chunk));
    }
  }
  out += FormatSseData("[DONE]");
  return out;
}

}  // namespace rampart::server
