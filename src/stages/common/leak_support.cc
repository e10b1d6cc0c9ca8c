#include "stages/common/leak_support.h"

#include <algorithm>
#include <boost/json.hpp>

#include "common/strings.h"

namespace rampart::stages {

namespace json = boost::json;

std::vector<std::string> SystemPrompts(const json::value& request) {
  std::vector<std::string> out;
  const json::object* obj = request.if_object();
  const json::value* msgs = obj != nullptr ? obj->if_contains("messages") : nullptr;
  if (msgs == nullptr || !msgs->is_array()) return out;
  for (const auto& m : msgs->get_array()) {
    const json::object* mo = m.if_object();
    if (mo == nullptr) continue;
    const json::value* role = mo->if_contains("role");
    if (role == nullptr || !role->is_string() ||
        (role->get_string() != "system" && role->get_string() != "developer")) {
      continue;
    }
    const json::value* content = mo->if_contains("content");
    if (content == nullptr) continue;
    if (content->is_string()) {
      out.emplace_back(content->get_string());
    } else if (content->is_array()) {
      for (const auto& part : content->get_array()) {
        const json::object* po = part.if_object();
        const json::value* t = po != nullptr ? po->if_contains("text") : nullptr;
        if (t != nullptr && t->is_string()) out.emplace_back(t->get_string());
      }
    }
  }
  return out;
}

namespace {

void Walk(json::value& v, std::string& pointer, size_t depth, size_t max_depth,
          const std::function<void(const std::string&, json::string&)>& fn) {
  if (v.is_string()) {
    fn(pointer, v.get_string());
    return;
  }
  if (depth >= max_depth) return;
  const size_t keep = pointer.size();
  if (v.is_object()) {
    for (auto& [key, child] : v.get_object()) {
      pointer += '/';
      for (char c : key) {
        if (c == '~') {
          pointer += "~0";
        } else if (c == '/') {
          pointer += "~1";
        } else {
          pointer += c;
        }
      }
      Walk(child, pointer, depth + 1, max_depth, fn);
      pointer.resize(keep);
    }
  } else if (v.is_array()) {
    size_t i = 0;
    for (auto& child : v.get_array()) {
      pointer += StrCat("/", i++);
      Walk(child, pointer, depth + 1, max_depth, fn);
      pointer.resize(keep);
    }
  }
}

uint32_t Clamp32(uint64_t v) { return static_cast<uint32_t>(std::min<uint64_t>(v, UINT32_MAX)); }

}  // namespace

void ForEachString(json::value& v, const std::function<void(const std::string&, json::string&)>& fn,
                   size_t max_depth) {
  std::string pointer;
  Walk(v, pointer, 0, max_depth, fn);
}

Finding LeakFinding(std::string_view detector, std::string_view rule, uint64_t begin, uint64_t end,
                    std::string_view decoded_via, std::string_view label) {
  Finding f;
  f.detector = std::string(detector);
  f.rule = std::string(rule);
  f.category = Category::kPromptExtraction;
  f.severity = Severity::kHigh;
  f.score = 1.0f;
  f.span = Span{Clamp32(begin), Clamp32(end)};
  f.decoded_via = std::string(decoded_via);
  f.label = std::string(label);
  return f;
}

void HoldBack::Cut(uint64_t begin, uint64_t end) {
  begin = std::max(begin, start_);
  if (end <= begin) return;
  cuts_.emplace_back(begin, end);
}

std::string HoldBack::Release(uint64_t upto) {
  upto = std::clamp(upto, start_, end());
  std::string out;
  out.reserve(upto - start_);
  uint64_t at = start_;
  std::sort(cuts_.begin(), cuts_.end());
  for (const auto& [b, e] : cuts_) {
    if (b >= upto) break;
    if (e <= at) continue;
    if (b > at) out.append(pending_, at - start_, b - at);
    at = std::max(at, std::min(e, upto));
  }
  if (at < upto) out.append(pending_, at - start_, upto - at);
  pending_.erase(0, upto - start_);
  start_ = upto;
  std::erase_if(cuts_, [&](const auto& c) { return c.second <= start_; });
  return out;
}

uint64_t Utf8Floor(const HoldBack& hb, uint64_t pos) {
  std::string_view s = hb.pending();
  while (pos > hb.start() && pos < hb.end() &&
         (static_cast<unsigned char>(s[pos - hb.start()]) & 0xC0) == 0x80) {
    --pos;
  }
  return pos;
}

}  // namespace rampart::stages
