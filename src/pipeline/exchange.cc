#include "pipeline/exchange.h"

#include <boost/json.hpp>

#include "common/strings.h"

namespace rampart::pipeline {
namespace {

namespace json = boost::json;

void AddStrings(json::value& v, const std::string& pointer, std::vector<TextRef>& out) {
  if (v.is_string()) {
    out.push_back({pointer, &v.get_string()});
  } else if (v.is_array()) {
    size_t i = 0;
    for (auto& e : v.get_array()) {
      if (e.is_string()) out.push_back({StrCat(pointer, "/", i), &e.get_string()});
      ++i;
    }
  }
}

// Content that is a string, or an array of parts {"type":"text","text":...}.
void AddContent(json::value& content, const std::string& pointer, std::vector<TextRef>& out) {
  if (content.is_string()) {
    out.push_back({pointer, &content.get_string()});
    return;
  }
  if (!content.is_array()) return;
  size_t i = 0;
  for (auto& part : content.get_array()) {
    if (auto* o = part.if_object()) {
      if (auto* t = o->if_contains("text"); t != nullptr && t->is_string()) {
        out.push_back({StrCat(pointer, "/", i, "/text"), &t->get_string()});
      }
    }
    ++i;
  }
}

void AddPointers(json::value& root, const std::vector<std::string>& pointers,
                 std::vector<TextRef>& out) {
  for (const auto& p : pointers) {
    boost::system::error_code ec;
    json::value* v = root.find_pointer(p, ec);
    if (v != nullptr) AddStrings(*v, p, out);
  }
}

}  // namespace

std::vector<TextRef> RequestTexts(Exchange& ex) {
  std::vector<TextRef> out;
  if (ex.route == nullptr || !ex.request.is_object()) return out;
  auto& obj = ex.request.get_object();
  switch (ex.route->kind) {
    case config::RouteKind::kOpenAi: {
      if (auto* msgs = obj.if_contains("messages"); msgs != nullptr && msgs->is_array()) {
        size_t i = 0;
        for (auto& m : msgs->get_array()) {
          if (auto* mo = m.if_object()) {
            auto* role = mo->if_contains("role");
            bool operator_prompt =
                role != nullptr && role->is_string() &&
                (role->get_string() == "system" || role->get_string() == "developer");
            if (!operator_prompt) {
              if (auto* c = mo->if_contains("content")) {
                AddContent(*c, StrCat("/messages/", i, "/content"), out);
              }
            }
          }
          ++i;
        }
      }
      if (auto* p = obj.if_contains("prompt")) AddStrings(*p, "/prompt", out);
      if (auto* in = obj.if_contains("input")) AddStrings(*in, "/input", out);
      break;
    }
    case config::RouteKind::kJson:
      AddPointers(ex.request, ex.route->request_fields, out);
      break;
    case config::RouteKind::kPassthrough:
      break;
  }
  return out;
}

std::vector<TextRef> ResponseTexts(Exchange& ex) {
  std::vector<TextRef> out;
  if (ex.route == nullptr || !ex.response.is_object()) return out;
  switch (ex.route->kind) {
    case config::RouteKind::kOpenAi: {
      auto* choices = ex.response.get_object().if_contains("choices");
      if (choices == nullptr || !choices->is_array()) break;
      size_t i = 0;
      for (auto& c : choices->get_array()) {
        if (auto* co = c.if_object()) {
          if (auto* m = co->if_contains("message"); m != nullptr && m->is_object()) {
            if (auto* content = m->get_object().if_contains("content")) {
              AddContent(*content, StrCat("/choices/", i, "/message/content"), out);
            }
          }
          if (auto* t = co->if_contains("text"))
            AddStrings(*t, StrCat("/choices/", i, "/text"), out);
        }
        ++i;
      }
      break;
    }
    case config::RouteKind::kJson:
      AddPointers(ex.response, ex.route->response_fields, out);
      break;
    case config::RouteKind::kPassthrough:
      break;
  }
  return out;
}

std::string AuditTexts(const std::vector<std::pair<std::string, std::string_view>>& texts,
                       const std::vector<std::string>& scrub, size_t max_text_bytes) {
  json::array out;
  size_t left = max_text_bytes;
  uint64_t omitted = 0;
  for (const auto& [at, text] : texts) {
    if (left == 0) {
      ++omitted;
      continue;
    }
    json::object o{{"at", at}};
    if (text.size() <= left) {
      o["text"] = text;
      left -= text.size();
    } else {
      size_t cut = left;
      while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
      o["text"] = text.substr(0, cut);
      o["truncated"] = true;
      left = 0;
    }
    out.push_back(std::move(o));
  }
  if (omitted > 0) out.push_back(json::object{{"omitted", omitted}});
  std::string s = json::serialize(out);
  for (const std::string& secret : scrub) {
    if (secret.empty()) continue;
    for (size_t at = s.find(secret); at != std::string::npos; at = s.find(secret, at)) {
      s.replace(at, secret.size(), "[canary]");
    }
  }
  return s;
}

std::string AuditTexts(const std::vector<TextRef>& texts, const std::vector<std::string>& scrub,
                       size_t max_text_bytes) {
  std::vector<std::pair<std::string, std::string_view>> pairs;
  pairs.reserve(texts.size());
  for (const TextRef& t : texts) pairs.emplace_back(t.pointer, std::string_view(*t.text));
  return AuditTexts(pairs, scrub, max_text_bytes);
}

}  // namespace rampart::pipeline
