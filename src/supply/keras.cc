#include "supply/keras.h"

#include <algorithm>
#include <boost/json.hpp>
#include <set>
#include <string>

#include "common/strings.h"

namespace rampart::supply {
namespace {

constexpr unsigned kMaxDepth = 256;
constexpr size_t kMaxConfigBytes = 64u << 20;

bool KerasModule(std::string_view m) {
  static constexpr std::string_view kPrefixes[] = {"keras",     "tf_keras",  "tensorflow",
                                                   "keras_hub", "keras_nlp", "keras_cv"};
  for (std::string_view p : kPrefixes) {
    if (m == p || (m.starts_with(p) && m.size() > p.size() && m[p.size()] == '.')) return true;
  }
  return false;
}

std::string Printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 128)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (s.size() > 128) out += "...";
  return out;
}

class ConfigWalker {
 public:
  explicit ConfigWalker(CheckResult* r) : r_(r) {}

  void Walk(const boost::json::value& v, uint32_t depth) {
    if (depth > kMaxDepth) return;
    if (v.is_array()) {
      for (const auto& e : v.as_array()) Walk(e, depth + 1);
      return;
    }
    if (!v.is_object()) return;
    const boost::json::object& o = v.as_object();
    const auto* cls = o.if_contains("class_name");
    const auto* module = o.if_contains("module");
    const auto* registered = o.if_contains("registered_name");
    std::string_view name;
    if (cls != nullptr && cls->is_string()) name = cls->as_string();
    if (name == "Lambda") {
      std::string layer = "Lambda";
      if (const auto* cfg = o.if_contains("config"); cfg != nullptr && cfg->is_object()) {
        if (const auto* n = cfg->as_object().if_contains("name"); n != nullptr && n->is_string()) {
          layer = StrCat("Lambda ", Printable(n->as_string()));
        }
      }
      Add("keras.lambda", Severity::kCritical, layer,
          "Lambda layer: its Python function is stored in the config and runs when the model "
          "is loaded with safe_mode=False or by an older Keras");
    }
    if (module != nullptr && module->is_string() && !KerasModule(module->as_string())) {
      Add("keras.module", Severity::kCritical,
          StrCat(Printable(module->as_string()), ".", Printable(name)),
          "deserialization imports a module outside Keras and TensorFlow and calls into it");
    }
    if (registered != nullptr && registered->is_string()) {
      std::string_view reg = registered->as_string();
      if (reg.find('>') != std::string_view::npos && !KerasModule(reg.substr(0, reg.find('>')))) {
        Add("keras.custom_object", Severity::kMedium, Printable(reg),
            "custom object: loading needs code registered by the loading environment");
      }
    }
    for (const auto& kv : o) Walk(kv.value(), depth + 1);
  }

 private:
  void Add(std::string_view id, Severity s, std::string subject, std::string_view message) {
    if (!seen_.insert(StrCat(id, "\x1f", subject)).second) return;
    r_->Add(std::string(id), s, 0, std::move(subject), std::string(message));
  }

  CheckResult* r_;
  std::set<std::string> seen_;
};

}  // namespace

CheckResult CheckKerasConfig(std::string_view json) {
  CheckResult r;
  boost::json::parse_options opts;
  opts.max_depth = kMaxDepth;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(json, ec, {}, opts);
  if (ec) {
    r.Add("keras.malformed", Severity::kHigh, 0, "config",
          StrCat("model config is not valid JSON: ", ec.message()));
    r.incomplete.push_back("keras: model config is not valid JSON");
    return r;
  }
  ConfigWalker(&r).Walk(v, 0);
  return r;
}

bool LooksLikeHdf5(std::string_view data) {
  return data.substr(0, 8) == std::string_view("\x89HDF\r\n\x1a\n", 8);
}

std::vector<std::string_view> FindKerasConfigs(std::string_view data, size_t max,
                                               size_t* unreadable) {
  std::vector<std::string_view> out;
  if (unreadable != nullptr) *unreadable = 0;
  constexpr std::string_view kStart = "{\"class_name\":";
  boost::json::parse_options opts;
  opts.max_depth = kMaxDepth;
  size_t at = data.find(kStart);
  while (at != std::string_view::npos && out.size() < max) {
    boost::json::stream_parser p({}, opts);
    boost::system::error_code ec;
    // A model config is kilobytes; bounding each attempt keeps a file full of false starts
    // from costing more than linear time per candidate.
    const size_t used =
        p.write_some(data.data() + at, std::min(data.size() - at, kMaxConfigBytes), ec);
    if (!ec && p.done()) {
      out.push_back(data.substr(at, used));
      at = data.find(kStart, at + used);
    } else {
      if (unreadable != nullptr) ++*unreadable;
      at = data.find(kStart, at + 1);
    }
  }
  return out;
}

}  // namespace rampart::supply
