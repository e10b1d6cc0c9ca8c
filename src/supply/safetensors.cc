#include "supply/safetensors.h"

#include <algorithm>
#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "common/strings.h"

namespace rampart::supply {
namespace {

constexpr std::string_view kMetadataKey = "__metadata__";

uint64_t ReadLe64(std::string_view data) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(data[i]);
  return v;
}

// Bits per element of each dtype the reference implementation knows; 0 when unknown.
uint32_t DtypeBits(std::string_view dtype) {
  struct Entry {
    std::string_view name;
    uint32_t bits;
  };
  static constexpr Entry kDtypes[] = {
      {"BOOL", 8},    {"U8", 8},   {"I8", 8},   {"F8_E5M2", 8}, {"F8_E4M3", 8},
      {"F8_E8M0", 8}, {"I16", 16}, {"U16", 16}, {"F16", 16},    {"BF16", 16},
      {"I32", 32},    {"U32", 32}, {"F32", 32}, {"I64", 64},    {"U64", 64},
      {"F64", 64},    {"C64", 64}, {"F4", 4},   {"F6_E2M3", 6}, {"F6_E3M2", 6},
  };
  for (const Entry& e : kDtypes) {
    if (e.name == dtype) return e.bits;
  }
  return 0;
}

// A JSON SAX handler that only looks for keys repeated within one object: Boost.JSON's DOM
// keeps the last of them silently, and other readers may keep the first.
class DuplicateKeyFinder {
 public:
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  std::optional<std::string> duplicate;

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }
  bool on_object_begin(boost::system::error_code&) {
    stack_.emplace_back();
    stack_.back().emplace();
    return true;
  }
  bool on_object_end(std::size_t, boost::system::error_code&) {
    stack_.pop_back();
    return true;
  }
  bool on_array_begin(boost::system::error_code&) {
    stack_.emplace_back();
    return true;
  }
  bool on_array_end(std::size_t, boost::system::error_code&) {
    stack_.pop_back();
    return true;
  }
  bool on_key_part(boost::json::string_view s, std::size_t, boost::system::error_code&) {
    key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(boost::json::string_view s, std::size_t, boost::system::error_code&) {
    key_.append(s.data(), s.size());
    if (!stack_.empty() && stack_.back() && !stack_.back()->insert(key_).second && !duplicate) {
      duplicate = key_;
    }
    key_.clear();
    return true;
  }
  bool on_string_part(boost::json::string_view, std::size_t, boost::system::error_code&) {
    return true;
  }
  bool on_string(boost::json::string_view, std::size_t, boost::system::error_code&) { return true; }
  bool on_number_part(boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_int64(int64_t, boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_uint64(uint64_t, boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_double(double, boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_bool(bool, boost::system::error_code&) { return true; }
  bool on_null(boost::system::error_code&) { return true; }
  bool on_comment_part(boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_comment(boost::json::string_view, boost::system::error_code&) { return true; }

 private:
  std::vector<std::optional<std::unordered_set<std::string>>> stack_;
  std::string key_;
};

constexpr unsigned kMaxDepth = 16;

struct Tensor {
  std::string name;
  uint64_t begin = 0;
  uint64_t end = 0;
};

// Reads a JSON number as a non-negative integer.
std::optional<uint64_t> AsCount(const boost::json::value& v) {
  if (v.is_uint64()) return v.as_uint64();
  if (v.is_int64() && v.as_int64() >= 0) return static_cast<uint64_t>(v.as_int64());
  return std::nullopt;
}

}  // namespace

bool LooksLikeSafetensors(std::string_view data) {
  if (data.size() < 10) return false;
  const uint64_t n = ReadLe64(data);
  return n >= 2 && n <= data.size() - 8 && data[8] == '{';
}

CheckResult CheckSafetensors(std::string_view data, const SafetensorsLimits& limits) {
  CheckResult r;
  auto malformed = [&](uint64_t offset, std::string why) {
    r.Add("safetensors.malformed", Severity::kHigh, offset, "", why);
    r.incomplete.push_back(StrCat("safetensors: ", why));
  };
  if (data.size() < 8) {
    malformed(0, "shorter than the 8-byte header length");
    return r;
  }
  const uint64_t n = ReadLe64(data);
  if (n > limits.max_header_bytes) {
    r.Add("safetensors.limit", Severity::kHigh, 0, "header",
          StrCat("header of ", n, " bytes is over the limit of ", limits.max_header_bytes));
    r.incomplete.push_back(StrCat("safetensors: header of ", n, " bytes over the limit"));
    return r;
  }
  if (n > data.size() - 8) {
    malformed(0, StrCat("header length ", n, " runs past the end of the file"));
    return r;
  }
  const std::string_view header = data.substr(8, n);
  if (header.empty() || header[0] != '{') {
    malformed(8, "header does not start with '{'");
    return r;
  }

  boost::json::parse_options opts;
  opts.max_depth = kMaxDepth;
  {
    boost::json::basic_parser<DuplicateKeyFinder> sax(opts);
    boost::system::error_code ec;
    sax.write_some(false, header.data(), header.size(), ec);
    if (ec) {
      malformed(8, StrCat("header is not valid JSON: ", ec.message()));
      return r;
    }
    if (sax.handler().duplicate) {
      r.Add("safetensors.duplicate_key", Severity::kHigh, 8, *sax.handler().duplicate,
            "a key appears twice in one object: JSON readers disagree on which one wins");
    }
  }
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(header, ec, {}, opts);
  if (ec || !doc.is_object()) {
    malformed(8, "header is not a JSON object");
    return r;
  }
  const boost::json::object& top = doc.as_object();
  if (top.size() > limits.max_tensors + 1) {
    r.Add("safetensors.limit", Severity::kHigh, 8, "tensors",
          StrCat(top.size(), " entries is over the limit of ", limits.max_tensors));
    r.incomplete.push_back("safetensors: too many tensors");
    return r;
  }

  const uint64_t buffer = data.size() - 8 - n;
  std::vector<Tensor> tensors;
  tensors.reserve(top.size());
  for (const auto& kv : top) {
    const std::string name(kv.key());
    if (name == kMetadataKey) {
      bool strings = kv.value().is_object();
      if (strings) {
        for (const auto& m : kv.value().as_object()) strings = strings && m.value().is_string();
      }
      if (!strings) {
        r.Add("safetensors.metadata", Severity::kMedium, 8, name,
              "__metadata__ must map strings to strings; the reference loader rejects this file");
      }
      continue;
    }
    if (!kv.value().is_object()) {
      r.Add("safetensors.field", Severity::kHigh, 8, name,
            "tensor entry is not an object; the reference loader rejects this file");
      continue;
    }
    const boost::json::object& t = kv.value().as_object();
    for (const auto& f : t) {
      if (f.key() != "dtype" && f.key() != "shape" && f.key() != "data_offsets") {
        r.Add("safetensors.field", Severity::kLow, 8, StrCat(name, ".", f.key()),
              "unexpected field in a tensor entry");
      }
    }
    const auto* dtype = t.if_contains("dtype");
    const auto* shape = t.if_contains("shape");
    const auto* offsets = t.if_contains("data_offsets");
    if (dtype == nullptr || !dtype->is_string() || shape == nullptr || !shape->is_array() ||
        offsets == nullptr || !offsets->is_array() || offsets->as_array().size() != 2) {
      r.Add("safetensors.field", Severity::kHigh, 8, name,
            "tensor entry needs a string dtype, a shape array and two data_offsets");
      continue;
    }
    auto begin = AsCount(offsets->as_array()[0]);
    auto end = AsCount(offsets->as_array()[1]);
    if (!begin || !end || *begin > *end) {
      r.Add("safetensors.layout", Severity::kHigh, 8, name,
            "data_offsets must be two non-negative integers with begin <= end");
      continue;
    }
    tensors.push_back(Tensor{name, *begin, *end});

    const uint32_t bits = DtypeBits(std::string_view(dtype->as_string()));
    if (bits == 0) {
      r.Add("safetensors.dtype", Severity::kMedium, 8, name,
            StrCat("unknown dtype '", std::string_view(dtype->as_string()).substr(0, 32), "'"));
      continue;
    }
    // elements x bits / 8, refusing anything that overflows 64 bits on the way.
    uint64_t elements = 1;
    bool ok = true;
    for (const auto& d : shape->as_array()) {
      auto dim = AsCount(d);
      if (!dim || (*dim != 0 && elements > UINT64_MAX / *dim)) {
        ok = false;
        break;
      }
      elements *= *dim;
    }
    if (!ok || elements > UINT64_MAX / bits) {
      r.Add("safetensors.shape", Severity::kHigh, 8, name,
            "shape is not a list of non-negative integers, or its size overflows");
      continue;
    }
    const uint64_t total_bits = elements * bits;
    if (total_bits % 8 != 0 || total_bits / 8 != *end - *begin) {
      r.Add("safetensors.shape", Severity::kHigh, 8, name,
            StrCat("dtype x shape is ", total_bits / 8, " bytes but data_offsets span ",
                   *end - *begin));
    }
  }

  // Tensors must tile the byte buffer exactly: no overlap, no hole, nothing after the last.
  std::sort(tensors.begin(), tensors.end(), [](const Tensor& a, const Tensor& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t expected = 0;
  bool reported_overlap = false, reported_gap = false;
  // File offset of a data-section offset, clamped to the file (offsets come from the header).
  auto at = [&](uint64_t data_offset) { return 8 + n + std::min(data_offset, buffer); };
  for (const Tensor& t : tensors) {
    if (t.end > buffer) {
      r.Add("safetensors.layout", Severity::kHigh, at(t.begin), t.name,
            StrCat("tensor data ends at ", t.end, ", past the end of the file's ", buffer,
                   " data bytes"));
    }
    if (t.begin < expected && !reported_overlap) {
      reported_overlap = true;
      r.Add("safetensors.layout", Severity::kHigh, at(t.begin), t.name,
            "tensor data overlaps another tensor");
    } else if (t.begin > expected && !reported_gap) {
      reported_gap = true;
      r.Add("safetensors.layout", Severity::kHigh, at(expected), t.name,
            StrCat(t.begin - expected, " bytes before this tensor belong to no tensor"));
    }
    expected = std::max(expected, t.end);
  }
  if (expected < buffer) {
    r.Add("safetensors.layout", Severity::kHigh, at(expected), "",
          StrCat(buffer - expected, " bytes after the last tensor belong to no tensor"));
  }
  return r;
}

}  // namespace rampart::supply
