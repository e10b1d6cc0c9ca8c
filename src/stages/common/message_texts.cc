#include "stages/common/message_texts.h"

#include <boost/json.hpp>

#include "common/strings.h"

namespace rampart::stages {
namespace {

namespace json = boost::json;

// A string, an array of strings, or an array of content parts {"type":"text","text":...}.
void AddTexts(json::value& v, const std::string& pointer, std::vector<pipeline::TextRef>& out) {
  if (v.is_string()) {
    out.push_back({pointer, &v.get_string()});
    return;
  }
  if (!v.is_array()) return;
  size_t i = 0;
  for (auto& e : v.get_array()) {
    if (e.is_string()) {
      out.push_back({StrCat(pointer, "/", i), &e.get_string()});
    } else if (auto* o = e.if_object()) {
      if (auto* t = o->if_contains("text"); t != nullptr && t->is_string()) {
        out.push_back({StrCat(pointer, "/", i, "/text"), &t->get_string()});
      }
    }
    ++i;
  }
}

void AddWithRole(json::value& v, const std::string& pointer, std::string_view role, size_t message,
                 std::vector<RoleText>& out) {
  std::vector<pipeline::TextRef> refs;
  AddTexts(v, pointer, refs);
  for (auto& r : refs) out.push_back(RoleText{std::string(role), message, std::move(r)});
}

}  // namespace

std::vector<RoleText> MessageTexts(pipeline::Exchange& ex) {
  std::vector<RoleText> out;
  if (ex.route == nullptr || !ex.request.is_object()) return out;
  auto& obj = ex.request.get_object();
  switch (ex.route->kind) {
    case config::RouteKind::kOpenAi: {
      if (auto* msgs = obj.if_contains("messages"); msgs != nullptr && msgs->is_array()) {
        size_t i = 0;
        for (auto& m : msgs->get_array()) {
          if (auto* mo = m.if_object()) {
            auto* role = mo->if_contains("role");
            std::string_view r = role != nullptr && role->is_string()
                                     ? std::string_view(role->get_string())
                                     : std::string_view("user");
            if (auto* c = mo->if_contains("content")) {
              AddWithRole(*c, StrCat("/messages/", i, "/content"), r, i, out);
            }
          }
          ++i;
        }
      }
      if (auto* p = obj.if_contains("prompt")) AddWithRole(*p, "/prompt", "user", 0, out);
      if (auto* in = obj.if_contains("input")) AddWithRole(*in, "/input", "user", 0, out);
      break;
    }
    case config::RouteKind::kJson:
      for (auto& r : PointerTexts(ex, ex.route->request_fields)) {
        out.push_back(RoleText{"user", 0, std::move(r)});
      }
      break;
    case config::RouteKind::kPassthrough:
      break;
  }
  return out;
}

std::vector<pipeline::TextRef> PointerTexts(pipeline::Exchange& ex,
                                            const std::vector<std::string>& pointers) {
  std::vector<pipeline::TextRef> out;
  for (const auto& p : pointers) {
    boost::system::error_code ec;
    json::value* v = ex.request.find_pointer(p, ec);
    if (v != nullptr) AddTexts(*v, p, out);
  }
  return out;
}

}  // namespace rampart::stages
