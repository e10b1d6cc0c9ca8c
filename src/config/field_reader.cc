#include "config/field_reader.h"

#include <yaml-cpp/yaml.h>

#include <boost/json.hpp>
#include <cmath>
#include <cstdlib>

#include "common/strings.h"

namespace rampart::config {

absl::Status FieldError(std::string_view path, std::string_view message) {
  return absl::InvalidArgumentError(StrCat(path.empty() ? "(top level)" : path, ": ", message));
}

std::string JoinPath(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  return StrCat(parent, ".", key);
}

absl::StatusOr<FieldReader> FieldReader::Open(const boost::json::value& value, std::string path) {
  static const boost::json::object kEmpty;
  if (value.is_null()) return FieldReader(&kEmpty, std::move(path));
  if (!value.is_object()) return FieldError(path, "must be a mapping");
  return FieldReader(&value.get_object(), std::move(path));
}

const boost::json::value* FieldReader::Get(std::string_view key) {
  known_.emplace(key);
  auto it = obj_->find(boost::json::string_view(key.data(), key.size()));
  if (it == obj_->end() || it->value().is_null()) return nullptr;
  return &it->value();
}

absl::Status FieldReader::String(std::string_view key, std::string* out, bool required) {
  const boost::json::value* v = Get(key);
  if (v == nullptr) return required ? FieldError(Path(key), "required") : absl::OkStatus();
  if (!v->is_string()) return FieldError(Path(key), "must be a string");
  *out = std::string(v->get_string());
  return absl::OkStatus();
}

absl::Status FieldReader::Uint(std::string_view key, uint64_t* out, uint64_t min, uint64_t max,
                               bool required) {
  const boost::json::value* v = Get(key);
  if (v == nullptr) return required ? FieldError(Path(key), "required") : absl::OkStatus();
  uint64_t n = 0;
  if (v->is_uint64()) {
    n = v->get_uint64();
  } else if (v->is_int64() && v->get_int64() >= 0) {
    n = static_cast<uint64_t>(v->get_int64());
  } else {
    return FieldError(Path(key), StrCat("must be an integer in [", min, ",", max, "]"));
  }
  if (n < min || n > max) {
    return FieldError(Path(key), StrCat("must be in [", min, ",", max, "], got ", n));
  }
  *out = n;
  return absl::OkStatus();
}

absl::Status FieldReader::Double(std::string_view key, double* out, double min, double max) {
  const boost::json::value* v = Get(key);
  if (v == nullptr) return absl::OkStatus();
  double d = 0;
  if (v->is_double()) {
    d = v->get_double();
  } else if (v->is_int64()) {
    d = static_cast<double>(v->get_int64());
  } else if (v->is_uint64()) {
    d = static_cast<double>(v->get_uint64());
  } else {
    return FieldError(Path(key), StrCat("must be a number in [", min, ",", max, "]"));
  }
  if (!(d >= min && d <= max)) {
    return FieldError(Path(key), StrCat("must be in [", min, ",", max, "], got ", d));
  }
  *out = d;
  return absl::OkStatus();
}

absl::Status FieldReader::Bool(std::string_view key, bool* out) {
  const boost::json::value* v = Get(key);
  if (v == nullptr) return absl::OkStatus();
  if (!v->is_bool()) return FieldError(Path(key), "must be true or false");
  *out = v->get_bool();
  return absl::OkStatus();
}

absl::Status FieldReader::StringList(std::string_view key, std::vector<std::string>* out) {
  const boost::json::value* v = Get(key);
  if (v == nullptr) return absl::OkStatus();
  if (!v->is_array()) return FieldError(Path(key), "must be a list of strings");
  out->clear();
  size_t i = 0;
  for (const auto& e : v->get_array()) {
    if (!e.is_string()) return FieldError(StrCat(Path(key), "[", i, "]"), "must be a string");
    out->emplace_back(e.get_string());
    ++i;
  }
  return absl::OkStatus();
}

absl::Status FieldReader::Enum(std::string_view key, const std::vector<std::string>& choices,
                               std::string* out) {
  std::string s = *out;
  if (auto st = String(key, &s); !st.ok()) return st;
  for (const auto& c : choices) {
    if (c == s) {
      *out = s;
      return absl::OkStatus();
    }
  }
  return FieldError(Path(key), StrCat("must be one of ", StrJoin(choices, "|"), ", got '", s, "'"));
}

absl::Status FieldReader::Finish() const {
  for (const auto& kv : *obj_) {
    std::string_view k(kv.key().data(), kv.key().size());
    if (!known_.count(k)) {
      return FieldError(Path(k), StrCat("unknown key (allowed: ", StrJoin(known_, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

namespace {

bool ParseInt(const std::string& s, int64_t* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *out = v;
  return true;
}

bool ParseFloat(const std::string& s, double* out) {
  if (s.empty()) return false;
  char first = s[0];
  if (!(std::isdigit(static_cast<unsigned char>(first)) || first == '-' || first == '+' ||
        first == '.')) {
    return false;
  }
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (*end != '\0' || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

absl::StatusOr<boost::json::value> Convert(const YAML::Node& n, uint32_t depth, uint32_t max_depth,
                                           const std::string& path) {
  if (depth > max_depth) return FieldError(path, "nested too deeply");
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return boost::json::value(nullptr);
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      if (n.Tag() == "!") return boost::json::value(boost::json::string(s));
      if (s == "~" || s == "null") return boost::json::value(nullptr);
      if (s == "true") return boost::json::value(true);
      if (s == "false") return boost::json::value(false);
      int64_t i;
      if (ParseInt(s, &i)) return boost::json::value(i);
      double d;
      if (ParseFloat(s, &d)) return boost::json::value(d);
      return boost::json::value(boost::json::string(s));
    }
    case YAML::NodeType::Sequence: {
      boost::json::array a;
      size_t i = 0;
      for (const auto& e : n) {
        auto v = Convert(e, depth + 1, max_depth, StrCat(path, "[", i++, "]"));
        if (!v.ok()) return v.status();
        a.push_back(std::move(*v));
      }
      return boost::json::value(std::move(a));
    }
    case YAML::NodeType::Map: {
      boost::json::object o;
      for (const auto& kv : n) {
        if (!kv.first.IsScalar()) return FieldError(path, "keys must be strings");
        std::string key = kv.first.Scalar();
        std::string child = JoinPath(path, key);
        if (o.contains(key)) return FieldError(child, "duplicate key");
        auto v = Convert(kv.second, depth + 1, max_depth, child);
        if (!v.ok()) return v.status();
        o.emplace(key, std::move(*v));
      }
      return boost::json::value(std::move(o));
    }
  }
  return FieldError(path, "unsupported YAML node");
}

}  // namespace

absl::StatusOr<boost::json::value> YamlToJson(std::string_view yaml, uint32_t max_depth) {
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    return Convert(root, 0, max_depth, "");
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        StrCat("line ", e.mark.line + 1, ", column ", e.mark.column + 1, ": ", e.msg));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(StrCat("YAML: ", e.what()));
  }
}

}  // namespace rampart::config
