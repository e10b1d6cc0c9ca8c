#include "audit/record.h"

#include <boost/json.hpp>
#include <cstdio>

#include "common/strings.h"

namespace rampart::audit {
namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is not valid (overlong
// forms, surrogates and code points above U+10FFFF are invalid).
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t c = b(i);
  size_t n;
  uint32_t cp;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return n;
}

void AppendString(std::string* out, std::string_view s) {
  out->push_back('"');
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<uint8_t>(s[i]);
    if (c >= 0x80) {
      size_t n = Utf8SequenceLength(s, i);
      if (n == 0) {
        out->append("\\ufffd");
        ++i;
      } else {
        out->append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out->append(buf);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out->push_back('"');
}

void AppendKey(std::string* out, std::string_view key) {
  if (out->back() != '{') out->push_back(',');
  out->push_back('"');
  out->append(key);
  out->append("\":");
}

void AppendStringMember(std::string* out, std::string_view key, std::string_view value) {
  AppendKey(out, key);
  AppendString(out, value);
}

template <typename Int>
void AppendIntMember(std::string* out, std::string_view key, Int value) {
  AppendKey(out, key);
  StrAppend(out, value);
}

// ------------------------------------------------------------------ decoding

absl::Status Bad(std::string_view member, std::string_view why) {
  return absl::InvalidArgumentError(StrCat("audit record: ", member, ": ", why));
}

absl::Status GetString(const boost::json::value& v, std::string_view member, std::string* out) {
  if (!v.is_string()) return Bad(member, "must be a string");
  out->assign(v.as_string().data(), v.as_string().size());
  return absl::OkStatus();
}

absl::Status GetInt(const boost::json::value& v, std::string_view member, int64_t lo, int64_t hi,
                    int64_t* out) {
  if (v.is_int64()) {
    *out = v.as_int64();
  } else if (v.is_uint64() && v.as_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    *out = static_cast<int64_t>(v.as_uint64());
  } else {
    return Bad(member, "must be an integer in range");
  }
  if (*out < lo || *out > hi) return Bad(member, "out of range");
  return absl::OkStatus();
}

absl::Status GetUint(const boost::json::value& v, std::string_view member, uint64_t* out) {
  if (v.is_uint64()) {
    *out = v.as_uint64();
  } else if (v.is_int64() && v.as_int64() >= 0) {
    *out = static_cast<uint64_t>(v.as_int64());
  } else {
    return Bad(member, "must be a non-negative integer");
  }
  return absl::OkStatus();
}

absl::StatusOr<AuditFinding> DecodeFinding(const boost::json::value& v) {
  if (!v.is_object()) return Bad("findings[]", "must be an object");
  AuditFinding f;
  bool has_begin = false, has_end = false, has_category = false, has_severity = false;
  for (const auto& kv : v.as_object()) {
    std::string_view k(kv.key().data(), kv.key().size());
    const auto& val = kv.value();
    absl::Status st;
    if (k == "detector") {
      st = GetString(val, "findings[].detector", &f.detector);
    } else if (k == "rule") {
      st = GetString(val, "findings[].rule", &f.rule);
    } else if (k == "category" || k == "severity") {
      std::string name;
      st = GetString(val, k, &name);
      if (st.ok() && k == "category") {
        auto c = ParseCategory(name);
        if (!c) return Bad("findings[].category", "unknown category");
        f.category = *c;
        has_category = true;
      } else if (st.ok()) {
        auto s = ParseSeverity(name);
        if (!s) return Bad("findings[].severity", "unknown severity");
        f.severity = *s;
        has_severity = true;
      }
    } else if (k == "field") {
      st = GetString(val, "findings[].field", &f.field);
    } else if (k == "begin" || k == "end") {
      int64_t n = 0;
      st = GetInt(val, k, 0, UINT32_MAX, &n);
      (k == "begin" ? f.begin : f.end) = static_cast<uint32_t>(n);
      (k == "begin" ? has_begin : has_end) = true;
    } else {
      return Bad(StrCat("findings[].", k), "unknown member");
    }
    if (!st.ok()) return st;
  }
  if (!has_begin || !has_end || !has_category || !has_severity) {
    return Bad("findings[]", "missing category, severity, begin or end");
  }
  if (f.end < f.begin) return Bad("findings[]", "end before begin");
  return f;
}

}  // namespace

AuditFinding FromFinding(const Finding& f) {
  return AuditFinding{f.detector, f.rule,       f.category, f.severity,
                      f.field,    f.span.begin, f.span.end};
}

std::string EncodeRecord(const Record& r) {
  std::string out;
  out.reserve(512);
  out.push_back('{');
  AppendIntMember(&out, "v", kRecordFormatVersion);
  AppendIntMember(&out, "seq", r.seq);
  AppendIntMember(&out, "time_us", r.time_us);
  AppendStringMember(&out, "request_id", r.request_id);
  AppendStringMember(&out, "principal", r.principal);
  AppendStringMember(&out, "route", r.route);
  AppendStringMember(&out, "model", r.model);
  AppendStringMember(&out, "client_ip", r.client_ip);
  AppendStringMember(&out, "verdict", r.verdict);
  AppendStringMember(&out, "reason", r.reason);
  AppendIntMember(&out, "http_status", r.http_status);
  AppendKey(&out, "findings");
  out.push_back('[');
  for (size_t i = 0; i < r.findings.size(); ++i) {
    const AuditFinding& f = r.findings[i];
    if (i > 0) out.push_back(',');
    out.push_back('{');
    AppendStringMember(&out, "detector", f.detector);
    AppendStringMember(&out, "rule", f.rule);
    AppendStringMember(&out, "category", CategoryName(f.category));
    AppendStringMember(&out, "severity", SeverityName(f.severity));
    AppendStringMember(&out, "field", f.field);
    AppendIntMember(&out, "begin", f.begin);
    AppendIntMember(&out, "end", f.end);
    out.push_back('}');
  }
  out.push_back(']');
  AppendKey(&out, "latency_us");
  out.push_back('{');
  for (const auto& [stage, us] : r.latency_us) {
    if (out.back() != '{') out.push_back(',');
    AppendString(&out, stage);
    StrAppend(&out, ":", us);
  }
  out.push_back('}');
  AppendIntMember(&out, "request_bytes", r.request_bytes);
  AppendIntMember(&out, "response_bytes", r.response_bytes);
  AppendStringMember(&out, "request_sha256", r.request_sha256);
  AppendStringMember(&out, "response_sha256", r.response_sha256);
  if (r.redacted_prompt) AppendStringMember(&out, "redacted_prompt", *r.redacted_prompt);
  if (r.redacted_response) AppendStringMember(&out, "redacted_response", *r.redacted_response);
  out.push_back('}');
  return out;
}

absl::StatusOr<Record> DecodeRecord(std::string_view bytes) {
  if (bytes.size() > kMaxRecordBytes) return Bad("record", "too large");
  boost::json::parse_options opts;
  opts.max_depth = 4;
  boost::system::error_code ec;
  boost::json::value doc =
      boost::json::parse(boost::json::string_view(bytes.data(), bytes.size()), ec, {}, opts);
  if (ec) return Bad("record", "not valid JSON");
  if (!doc.is_object()) return Bad("record", "must be an object");
  Record r;
  bool has_version = false, has_seq = false;
  for (const auto& kv : doc.as_object()) {
    std::string_view k(kv.key().data(), kv.key().size());
    const auto& v = kv.value();
    absl::Status st;
    int64_t n = 0;
    if (k == "v") {
      st = GetInt(v, k, kRecordFormatVersion, kRecordFormatVersion, &n);
      has_version = st.ok();
      if (!st.ok()) return Bad("v", "unsupported format version");
    } else if (k == "seq") {
      st = GetUint(v, k, &r.seq);
      has_seq = true;
    } else if (k == "time_us") {
      st = GetInt(v, k, INT64_MIN, INT64_MAX, &r.time_us);
    } else if (k == "request_id") {
      st = GetString(v, k, &r.request_id);
    } else if (k == "principal") {
      st = GetString(v, k, &r.principal);
    } else if (k == "route") {
      st = GetString(v, k, &r.route);
    } else if (k == "model") {
      st = GetString(v, k, &r.model);
    } else if (k == "client_ip") {
      st = GetString(v, k, &r.client_ip);
    } else if (k == "verdict") {
      st = GetString(v, k, &r.verdict);
    } else if (k == "reason") {
      st = GetString(v, k, &r.reason);
    } else if (k == "http_status") {
      st = GetInt(v, k, INT32_MIN, INT32_MAX, &n);
      r.http_status = static_cast<int32_t>(n);
    } else if (k == "findings") {
      if (!v.is_array()) return Bad(k, "must be an array");
      for (const auto& f : v.as_array()) {
        auto decoded = DecodeFinding(f);
        if (!decoded.ok()) return decoded.status();
        r.findings.push_back(*std::move(decoded));
      }
    } else if (k == "latency_us") {
      if (!v.is_object()) return Bad(k, "must be an object");
      for (const auto& lat : v.as_object()) {
        int64_t us = 0;
        if (auto s = GetInt(lat.value(), "latency_us[]", INT64_MIN, INT64_MAX, &us); !s.ok()) {
          return s;
        }
        r.latency_us[std::string(lat.key().data(), lat.key().size())] = us;
      }
    } else if (k == "request_bytes") {
      st = GetUint(v, k, &r.request_bytes);
    } else if (k == "response_bytes") {
      st = GetUint(v, k, &r.response_bytes);
    } else if (k == "request_sha256") {
      st = GetString(v, k, &r.request_sha256);
    } else if (k == "response_sha256") {
      st = GetString(v, k, &r.response_sha256);
    } else if (k == "redacted_prompt") {
      st = GetString(v, k, &r.redacted_prompt.emplace());
    } else if (k == "redacted_response") {
      st = GetString(v, k, &r.redacted_response.emplace());
    } else {
      return Bad(k, "unknown member");
    }
    if (!st.ok()) return st;
  }
  if (!has_version) return Bad("v", "missing");
  if (!has_seq) return Bad("seq", "missing");
  return r;
}

}  // namespace rampart::audit
