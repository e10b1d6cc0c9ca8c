#include "supply/gguf.h"

#include <algorithm>
#include <cctype>
#include <string>
#include <unordered_set>
#include <vector>

#include "common/strings.h"

namespace rampart::supply {
namespace {

enum ValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};

// Bytes of a fixed-size value type; 0 for strings, arrays and unknown types.
uint64_t ScalarSize(uint32_t type) {
  switch (type) {
    case kUint8:
    case kInt8:
    case kBool:
      return 1;
    case kUint16:
    case kInt16:
      return 2;
    case kUint32:
    case kInt32:
    case kFloat32:
      return 4;
    case kUint64:
    case kInt64:
    case kFloat64:
      return 8;
    default:
      return 0;
  }
}

// ggml tensor types: bytes per block and elements per block (ggml-common.h); {0, 0} for ids
// that were removed or never assigned.
struct GgmlType {
  uint32_t block_bytes;
  uint32_t block_elements;
};
constexpr GgmlType kGgmlTypes[] = {
    {4, 1},      // 0 F32
    {2, 1},      // 1 F16
    {18, 32},    // 2 Q4_0
    {20, 32},    // 3 Q4_1
    {0, 0},      // 4 (removed)
    {0, 0},      // 5 (removed)
    {22, 32},    // 6 Q5_0
    {24, 32},    // 7 Q5_1
    {34, 32},    // 8 Q8_0
    {36, 32},    // 9 Q8_1
    {84, 256},   // 10 Q2_K
    {110, 256},  // 11 Q3_K
    {144, 256},  // 12 Q4_K
    {176, 256},  // 13 Q5_K
    {210, 256},  // 14 Q6_K
    {292, 256},  // 15 Q8_K
    {66, 256},   // 16 IQ2_XXS
    {74, 256},   // 17 IQ2_XS
    {98, 256},   // 18 IQ3_XXS
    {50, 256},   // 19 IQ1_S
    {18, 32},    // 20 IQ4_NL
    {110, 256},  // 21 IQ3_S
    {82, 256},   // 22 IQ2_S
    {136, 256},  // 23 IQ4_XS
    {1, 1},      // 24 I8
    {2, 1},      // 25 I16
    {4, 1},      // 26 I32
    {8, 1},      // 27 I64
    {8, 1},      // 28 F64
    {56, 256},   // 29 IQ1_M
    {2, 1},      // 30 BF16
    {0, 0},      // 31 (removed)
    {0, 0},      // 32 (removed)
    {0, 0},      // 33 (removed)
    {54, 256},   // 34 TQ1_0
    {66, 256},   // 35 TQ2_0
    {0, 0},      // 36 (removed)
    {0, 0},      // 37 (removed)
    {0, 0},      // 38 (removed)
    {17, 32},    // 39 MXFP4
};

constexpr uint32_t kMaxDims = 4;
constexpr uint64_t kDefaultAlignment = 32;
constexpr uint64_t kMaxNameBytes = 64;  // GGML_MAX_NAME, terminator included

// A bounds-checked little-endian reader over the file.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return data_.size() - pos_; }
  bool Skip(uint64_t n) {
    if (n > remaining()) return false;
    pos_ += n;
    return true;
  }
  template <typename T>
  bool Read(T* out) {
    if (sizeof(T) > remaining()) return false;
    T v = 0;
    for (size_t i = 0; i < sizeof(T); ++i) {
      v |= static_cast<T>(static_cast<unsigned char>(data_[pos_ + i])) << (8 * i);
    }
    *out = v;
    pos_ += sizeof(T);
    return true;
  }
  // A u64-length-prefixed string; false when it does not fit or is over `max`.
  bool ReadString(uint64_t max, std::string_view* out, bool* over_limit) {
    uint64_t len = 0;
    *over_limit = false;
    if (!Read(&len)) return false;
    if (len > max) {
      *over_limit = true;
      return false;
    }
    if (len > remaining()) return false;
    *out = data_.substr(pos_, len);
    pos_ += len;
    return true;
  }

 private:
  std::string_view data_;
  uint64_t pos_ = 0;
};

std::string Printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 64)) {
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  if (s.size() > 64) out += "...";
  return out;
}

class GgufChecker {
 public:
  GgufChecker(std::string_view data, const GgufLimits& limits, CheckResult* r)
      : data_(data), limits_(limits), r_(r), in_(data) {}

  bool Run() {
    uint32_t magic = 0, version = 0;
    in_.Read(&magic);
    if (!in_.Read(&version)) return Malformed("header truncated");
    if (version != 2 && version != 3) {
      r_->Add("gguf.unsupported", Severity::kMedium, 4, StrCat("version ", version),
              "only GGUF versions 2 and 3 are read");
      r_->incomplete.push_back(StrCat("gguf: version ", version, " is not read"));
      return false;
    }
    uint64_t n_tensors = 0, n_kv = 0;
    if (!in_.Read(&n_tensors) || !in_.Read(&n_kv)) return Malformed("header truncated");
    if (n_kv > limits_.max_kv) return Limit("key/value pairs", n_kv, limits_.max_kv);
    if (n_tensors > limits_.max_tensors) {
      return Limit("tensors", n_tensors, limits_.max_tensors);
    }
    std::unordered_set<std::string_view> keys;
    for (uint64_t i = 0; i < n_kv; ++i) {
      const uint64_t at = in_.pos();
      std::string_view key;
      if (!String(&key, "key")) return false;
      if (!keys.insert(key).second) {
        r_->Add("gguf.duplicate_key", Severity::kHigh, at, Printable(key),
                "a metadata key appears twice: loaders disagree on which one wins");
      }
      uint32_t type = 0;
      if (!in_.Read(&type)) return Malformed("metadata truncated");
      if (!Value(key, type, /*in_array=*/false)) return false;
    }
    if (alignment_ == 0 || (alignment_ & (alignment_ - 1)) != 0) {
      r_->Add("gguf.alignment", Severity::kHigh, 0, "general.alignment",
              StrCat("alignment ", alignment_, " is not a power of two; loaders reject it"));
      alignment_ = kDefaultAlignment;
    }

    struct Info {
      std::string_view name;
      uint64_t offset;
      uint64_t bytes;
    };
    std::vector<Info> infos;
    infos.reserve(std::min<uint64_t>(n_tensors, in_.remaining() / 24 + 1));
    std::unordered_set<std::string_view> names;
    for (uint64_t i = 0; i < n_tensors; ++i) {
      const uint64_t at = in_.pos();
      std::string_view name;
      if (!String(&name, "tensor name")) return false;
      if (name.size() >= kMaxNameBytes) {
        r_->Add("gguf.tensor", Severity::kHigh, at, Printable(name),
                StrCat("tensor name of ", name.size(), " bytes; ggml allows ", kMaxNameBytes - 1));
      }
      if (!names.insert(name).second) {
        r_->Add("gguf.duplicate_key", Severity::kHigh, at, Printable(name),
                "two tensors share a name");
      }
      uint32_t n_dims = 0;
      if (!in_.Read(&n_dims)) return Malformed("tensor info truncated");
      if (n_dims > kMaxDims) {
        r_->Add("gguf.tensor", Severity::kHigh, at, Printable(name),
                StrCat(n_dims, " dimensions; ggml allows ", kMaxDims));
        Incomplete("tensor infos after a tensor with too many dimensions");
        return false;
      }
      uint64_t elements = 1;
      uint64_t first_dim = 1;
      bool overflow = false;
      for (uint32_t d = 0; d < n_dims; ++d) {
        uint64_t ne = 0;
        if (!in_.Read(&ne)) return Malformed("tensor info truncated");
        if (d == 0) first_dim = ne;
        if (ne > static_cast<uint64_t>(INT64_MAX) ||
            (ne != 0 && elements > static_cast<uint64_t>(INT64_MAX) / ne)) {
          overflow = true;
        } else {
          elements *= ne;
        }
      }
      uint32_t type = 0;
      uint64_t offset = 0;
      if (!in_.Read(&type) || !in_.Read(&offset)) return Malformed("tensor info truncated");
      if (overflow) {
        r_->Add("gguf.tensor", Severity::kHigh, at, Printable(name),
                "tensor element count overflows int64");
        continue;
      }
      const bool known = type < std::size(kGgmlTypes) && kGgmlTypes[type].block_elements != 0;
      if (!known) {
        r_->Add("gguf.tensor", Severity::kMedium, at, Printable(name),
                StrCat("unknown ggml type ", type));
        continue;
      }
      const GgmlType t = kGgmlTypes[type];
      if (first_dim % t.block_elements != 0) {
        r_->Add("gguf.tensor", Severity::kHigh, at, Printable(name),
                StrCat("first dimension ", first_dim, " is not a multiple of the type's block of ",
                       t.block_elements));
        continue;
      }
      const uint64_t blocks = elements / t.block_elements;
      if (blocks > UINT64_MAX / t.block_bytes) {
        r_->Add("gguf.tensor", Severity::kHigh, at, Printable(name), "tensor size overflows");
        continue;
      }
      if (offset % alignment_ != 0) {
        r_->Add("gguf.alignment", Severity::kHigh, at, Printable(name),
                StrCat("data offset ", offset, " is not a multiple of the alignment ", alignment_));
      }
      infos.push_back(Info{name, offset, blocks * t.block_bytes});
    }

    // The data section starts at the next multiple of the alignment.
    const uint64_t end_of_infos = in_.pos();
    const uint64_t data_start = (end_of_infos + alignment_ - 1) / alignment_ * alignment_;
    if (data_start > data_.size()) {
      if (!infos.empty()) Malformed("file ends before the tensor data section");
      return false;
    }
    const uint64_t data_bytes = data_.size() - data_start;
    // llama.cpp requires each tensor to start where the previous one (padded) ended.
    uint64_t expected = 0;
    bool reported_order = false;
    for (const Info& t : infos) {
      if (t.offset > data_bytes || t.bytes > data_bytes - t.offset) {
        r_->Add("gguf.layout", Severity::kHigh, data_start + std::min(t.offset, data_bytes),
                Printable(t.name),
                StrCat("tensor data [", t.offset, ", +", t.bytes, ") runs past the end of the ",
                       data_bytes, "-byte data section"));
      } else if (t.offset != expected && !reported_order) {
        reported_order = true;
        r_->Add("gguf.layout", Severity::kHigh, data_start + t.offset, Printable(t.name),
                StrCat("tensor data starts at ", t.offset, "; the previous tensor ends at ",
                       expected, " (overlapping or non-contiguous tensors)"));
      }
      const uint64_t padded = (t.bytes + alignment_ - 1) / alignment_ * alignment_;
      expected = t.offset + padded;
    }
    return true;
  }

 private:
  bool String(std::string_view* out, std::string_view what) {
    bool over = false;
    const uint64_t at = in_.pos();
    if (in_.ReadString(limits_.max_string_bytes, out, &over)) return true;
    if (over) {
      Limit(StrCat(what, " bytes at offset ", at), 0, limits_.max_string_bytes);
    } else {
      Malformed(StrCat(what, " at offset ", at, " runs past the end of the file"));
    }
    return false;
  }

  bool Value(std::string_view key, uint32_t type, bool in_array) {
    const uint64_t at = in_.pos();
    if (const uint64_t size = ScalarSize(type); size != 0) {
      if (!in_in_range(size)) return false;
      if (!in_array && key == "general.alignment") {
        if (type == kUint32) {
          uint32_t a = 0;
          in_.Read(&a);
          alignment_ = a;
          return true;
        }
        r_->Add("gguf.alignment", Severity::kHigh, at, "general.alignment",
                "general.alignment must be a uint32");
      }
      return in_.Skip(size) || (Malformed("metadata value truncated"), false);
    }
    if (type == kString) {
      std::string_view s;
      if (!String(&s, "string value")) return false;
      if (!in_array && key.substr(0, 23) == "tokenizer.chat_template") {
        for (const std::string& why : ChatTemplateRisks(s)) {
          r_->Add("gguf.chat_template", Severity::kCritical, at, Printable(key),
                  StrCat("chat template looks like a Jinja sandbox escape: ", why));
        }
      }
      return true;
    }
    if (type == kArray && !in_array) {
      uint32_t elem = 0;
      uint64_t count = 0;
      if (!in_.Read(&elem) || !in_.Read(&count)) return Malformed("array header truncated");
      if (count > limits_.max_array_elements) {
        return Limit(StrCat("array elements of ", Printable(key)), count,
                     limits_.max_array_elements);
      }
      if (const uint64_t size = ScalarSize(elem); size != 0) {
        if (count > in_.remaining() / size) return Malformed("array runs past the end of file");
        in_.Skip(count * size);
        return true;
      }
      if (elem != kString) {
        r_->Add("gguf.malformed", Severity::kHigh, at, Printable(key),
                StrCat("array of type ", elem, " (nested arrays are not allowed)"));
        Incomplete("metadata after an invalid array");
        return false;
      }
      // Each string costs at least its 8-byte length.
      if (count > in_.remaining() / 8) return Malformed("array runs past the end of the file");
      for (uint64_t i = 0; i < count; ++i) {
        std::string_view s;
        if (!String(&s, "array string")) return false;
      }
      return true;
    }
    r_->Add("gguf.malformed", Severity::kHigh, at, Printable(key),
            StrCat("unknown metadata value type ", type));
    Incomplete("metadata after a value of unknown type");
    return false;
  }

  bool in_in_range(uint64_t size) {
    if (size <= in_.remaining()) return true;
    Malformed("metadata value truncated");
    return false;
  }

  bool Malformed(std::string why) {
    r_->Add("gguf.malformed", Severity::kHigh, in_.pos(), "", why);
    r_->incomplete.push_back(StrCat("gguf: ", why));
    return false;
  }
  bool Limit(std::string what, uint64_t n, uint64_t max) {
    r_->Add("gguf.limit", Severity::kHigh, in_.pos(), what,
            n == 0 ? StrCat(what, " over the limit of ", max)
                   : StrCat(n, " ", what, " is over the limit of ", max));
    r_->incomplete.push_back(StrCat("gguf: ", what, " over the limit"));
    return false;
  }
  void Incomplete(std::string what) { r_->incomplete.push_back(StrCat("gguf: ", what)); }

  std::string_view data_;
  const GgufLimits& limits_;
  CheckResult* r_;
  Reader in_;
  uint64_t alignment_ = kDefaultAlignment;
};

}  // namespace

bool LooksLikeGguf(std::string_view data) { return data.substr(0, 4) == "GGUF"; }

CheckResult CheckGguf(std::string_view data, const GgufLimits& limits) {
  CheckResult r;
  GgufChecker(data, limits, &r).Run();
  return r;
}

std::vector<std::string> ChatTemplateRisks(std::string_view tmpl) {
  // Compare without whitespace and case, so `| attr (` and `|ATTR(` read alike.
  std::string compact;
  compact.reserve(tmpl.size());
  for (char c : tmpl) {
    if (!std::isspace(static_cast<unsigned char>(c))) {
      compact += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  std::vector<std::string> risks;
  // Python attributes with double underscores: the way out of every Jinja sandbox escape
  // (`''.__class__.__mro__[1].__subclasses__()`, `x.__init__.__globals__` ...).
  for (size_t i = compact.find("__"); i != std::string::npos; i = compact.find("__", i + 2)) {
    size_t j = i + 2;
    while (j < compact.size() && (std::isalnum(static_cast<unsigned char>(compact[j])))) ++j;
    if (j > i + 2 && compact.compare(j, 2, "__") == 0) {
      risks.push_back(StrCat("Python internal attribute ", compact.substr(i, j + 2 - i)));
      break;
    }
  }
  struct Marker {
    std::string_view text;
    std::string_view why;
  };
  static constexpr Marker kMarkers[] = {
      {"|attr(", "the attr filter (reads attributes by computed name)"},
      {"\\x5f", "an escaped underscore (hides a double-underscore name)"},
      {"\\u005f", "an escaped underscore (hides a double-underscore name)"},
      {"\\137", "an escaped underscore (hides a double-underscore name)"},
      {"cycler", "the cycler global (a known sandbox-escape gadget)"},
      {"joiner", "the joiner global (a known sandbox-escape gadget)"},
      {"lipsum", "the lipsum global (a known sandbox-escape gadget)"},
      {"_templatereference", "the template reference object"},
      {"url_for", "a web framework global"},
      {"get_flashed_messages", "a web framework global"},
      {"popen", "process execution"},
      {"subprocess", "process execution"},
      {"os.system", "process execution"},
      {"import_module", "module import"},
  };
  for (const Marker& m : kMarkers) {
    if (compact.find(m.text) != std::string::npos) risks.emplace_back(m.why);
  }
  std::sort(risks.begin(), risks.end());
  risks.erase(std::unique(risks.begin(), risks.end()), risks.end());
  return risks;
}

}  // namespace rampart::supply
