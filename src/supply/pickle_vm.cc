#include "supply/pickle_vm.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "common/strings.h"

namespace rampart::supply {
namespace {

// Opcodes (CPython Lib/pickle.py).
enum : uint8_t {
  kMark = '(',
  kStop = '.',
  kPop = '0',
  kPopMark = '1',
  kDup = '2',
  kFloat = 'F',
  kInt = 'I',
  kBinInt = 'J',
  kBinInt1 = 'K',
  kLong = 'L',
  kBinInt2 = 'M',
  kNone = 'N',
  kPersId = 'P',
  kBinPersId = 'Q',
  kReduce = 'R',
  kString = 'S',
  kBinString = 'T',
  kShortBinString = 'U',
  kUnicode = 'V',
  kBinUnicode = 'X',
  kAppend = 'a',
  kBuild = 'b',
  kGlobal = 'c',
  kDict = 'd',
  kEmptyDict = '}',
  kAppends = 'e',
  kGet = 'g',
  kBinGet = 'h',
  kInst = 'i',
  kLongBinGet = 'j',
  kList = 'l',
  kEmptyList = ']',
  kObj = 'o',
  kPut = 'p',
  kBinPut = 'q',
  kLongBinPut = 'r',
  kSetItem = 's',
  kTuple = 't',
  kEmptyTuple = ')',
  kSetItems = 'u',
  kBinFloat = 'G',
  kProto = 0x80,
  kNewObj = 0x81,
  kExt1 = 0x82,
  kExt2 = 0x83,
  kExt4 = 0x84,
  kTuple1 = 0x85,
  kTuple2 = 0x86,
  kTuple3 = 0x87,
  kNewTrue = 0x88,
  kNewFalse = 0x89,
  kLong1 = 0x8a,
  kLong4 = 0x8b,
  kBinBytes = 'B',
  kShortBinBytes = 'C',
  kShortBinUnicode = 0x8c,
  kBinUnicode8 = 0x8d,
  kBinBytes8 = 0x8e,
  kEmptySet = 0x8f,
  kAddItems = 0x90,
  kFrozenSet = 0x91,
  kNewObjEx = 0x92,
  kStackGlobal = 0x93,
  kMemoize = 0x94,
  kFrame = 0x95,
  kByteArray8 = 0x96,
  kNextBuffer = 0x97,
  kReadOnlyBuffer = 0x98,
};

constexpr int kHighestProtocol = 5;
constexpr uint64_t kPySsizeMax = uint64_t{INT64_MAX};

enum class Kind : uint8_t {
  kScalar,
  kStr,
  kBytes,
  kList,
  kDict,
  kSet,
  kFrozenSet,
  kTuple,
  kGlobal,  // the result of GLOBAL / STACK_GLOBAL / EXT: a callable or class
  kObject,  // the result of a call
  kPersistent,
  kBuffer,
  kAbsent,  // an unused memo slot; never on the stack
};

// An abstract value: just enough to resolve imports and calls, and to read the small
// header joblib puts before each array it stores inline (see Machine::SkipJoblibArray).
struct Value {
  Kind kind = Kind::kScalar;
  // kScalar from an integer or bool opcode: `number` is its value.
  bool number_known = false;
  // kStr: `text` holds the decoded string. kGlobal/kObject: `text` is module + name of the
  // (creating) callable, `split` the module's length.
  bool text_known = false;
  uint32_t split = 0;
  // kTuple, kDict: 1 + the index of its items in the machine's item lists, when few and
  // within the item budget; 0 when unknown. kObject: the items of the argument tuple of the
  // call that made it. Copies of a dict share its list, as copies of a Python dict (the memo
  // and the stack) are one object.
  uint32_t items = 0;
  int64_t number = 0;
  std::string text;
  // kBytes (and kStr from BINSTRING): the payload. kTuple: the first bytes element.
  std::string_view bytes;

  std::string_view Module() const { return std::string_view(text).substr(0, split); }
  std::string_view Name() const { return std::string_view(text).substr(split); }
};

bool IsUtf8(std::string_view s) {
  // Accepts encoded surrogates (CPython decodes BINUNICODE with 'surrogatepass').
  size_t i = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  while (i < s.size()) {
    unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    for (size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size() || (p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
        (n == 3 && (cp < 0x10000 || cp > 0x10FFFF))) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

bool IsAscii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

void AppendUtf8(std::string* out, uint32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// codecs.escape_decode (the STRING opcode's body). Returns false where CPython raises.
bool EscapeDecode(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c != '\\') {
      out->push_back(c);
      continue;
    }
    if (++i >= in.size()) return false;  // "Trailing \ in string"
    char e = in[i];
    switch (e) {
      case '\n':
        break;
      case '\\':
      case '\'':
      case '"':
        out->push_back(e);
        break;
      case 'a':
        out->push_back('\a');
        break;
      case 'b':
        out->push_back('\b');
        break;
      case 'f':
        out->push_back('\f');
        break;
      case 'n':
        out->push_back('\n');
        break;
      case 'r':
        out->push_back('\r');
        break;
      case 't':
        out->push_back('\t');
        break;
      case 'v':
        out->push_back('\v');
        break;
      case 'x': {
        if (i + 2 >= in.size()) return false;
        int h = HexDigit(in[i + 1]), l = HexDigit(in[i + 2]);
        if (h < 0 || l < 0) return false;
        out->push_back(static_cast<char>(h * 16 + l));
        i += 2;
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          int v = e - '0';
          for (int k = 0; k < 2 && i + 1 < in.size() && in[i + 1] >= '0' && in[i + 1] <= '7'; ++k) {
            v = v * 8 + (in[++i] - '0');
          }
          out->push_back(static_cast<char>(v & 0xFF));
        } else {
          out->push_back('\\');
          out->push_back(e);
        }
    }
  }
  return true;
}

// raw_unicode_escape (the UNICODE opcode), to UTF-8. Returns false where CPython raises.
bool RawUnicodeEscapeDecode(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(in[i]);
    if (c == '\\' && i + 1 < in.size() && (in[i + 1] == 'u' || in[i + 1] == 'U')) {
      size_t n = in[i + 1] == 'u' ? 4 : 8;
      if (i + 2 + n > in.size()) return false;
      uint32_t cp = 0;
      for (size_t k = 0; k < n; ++k) {
        int d = HexDigit(in[i + 2 + k]);
        if (d < 0) return false;
        cp = cp * 16 + static_cast<uint32_t>(d);
      }
      if (cp > 0x10FFFF) return false;
      AppendUtf8(out, cp);
      i += 1 + n;
    } else {
      AppendUtf8(out, c);
    }
  }
  return true;
}

// Latin-1/ASCII bytes of a Python 2 str, as the default encoding='ASCII' decodes them.
bool AsciiDecode(std::string_view in) { return IsAscii(in); }

// Parses a decimal line argument (PUT/GET) as CPython's int(..., 10) mostly does.
bool ParseDecimal(std::string_view s, int64_t* out) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  bool neg = false;
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    neg = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s.empty() || s.size() > 18) return false;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = neg ? -v : v;
  return true;
}

uint64_t LoadLe(const unsigned char* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint64_t{p[i]} << (8 * i);
  return v;
}

// Counts resolved imports: random bytes practically never produce one, and a pickle that
// imports something before it breaks has already done what matters on a real load.
class ImportCounter : public PickleVisitor {
 public:
  void OnEvent(const PickleEvent& e) override {
    if (e.kind == PickleEventKind::kImport && IsDottedIdentifier(e.module) &&
        IsDottedIdentifier(e.name)) {
      ++imports;
    }
  }
  // What an import can name at all ("os", "torch._utils"); text lines rarely are.
  static bool IsDottedIdentifier(std::string_view s) {
    if (s.empty() || s.size() > 256) return false;
    bool start = true;
    for (char c : s) {
      bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
      if (c == '.') {
        if (start) return false;
        start = true;
      } else if (alpha || (!start && c >= '0' && c <= '9')) {
        start = false;
      } else {
        return false;
      }
    }
    return !start;
  }
  uint64_t imports = 0;
};

// One Run(): all interpreter state.
class Machine {
 public:
  Machine(const PickleLimits& limits, std::string_view data, PickleVisitor& visitor)
      : limits_(limits), data_(data), visitor_(visitor) {
    if (data_.size() > limits_.max_bytes) {
      data_ = data_.substr(0, limits_.max_bytes);
      cut_by_limit_ = true;
    }
    p_ = reinterpret_cast<const unsigned char*>(data_.data());
  }

  PickleRunResult Run() {
    while (true) {
      ResetPickle();
      bool stopped = RunOne();
      if (!stopped) break;
      ++result_.pickles;
      if (pos_ >= data_.size()) {
        if (cut_by_limit_) Fail(PickleOutcome::kLimit, pos_, "input larger than max_bytes");
        break;
      }
      std::string_view rest = data_.substr(pos_);
      if (!PickleVm::LooksLikePickle(rest, /*strict=*/true)) {
        PickleEvent e;
        e.kind = PickleEventKind::kTrailing;
        e.offset = pos_;
        e.number = rest.size();
        visitor_.OnEvent(e);
        pos_ = data_.size();
        break;
      }
      if (result_.pickles >= limits_.max_pickles) {
        Fail(PickleOutcome::kLimit, pos_, "too many stacked pickles");
        break;
      }
    }
    result_.bytes_consumed = pos_;
    return std::move(result_);
  }

 private:
  void ResetPickle() {
    stack_.clear();
    marks_.clear();
    memo_dense_.clear();
    memo_sparse_.clear();
    memo_count_ = 0;
    frame_end_ = 0;
    in_frame_ = false;
  }

  void Fail(PickleOutcome outcome, uint64_t offset, std::string message) {
    result_.outcome = outcome;
    result_.error_offset = offset;
    result_.error = std::move(message);
  }

  void Anomaly(uint64_t offset, std::string_view detail) {
    PickleEvent e;
    e.kind = PickleEventKind::kAnomaly;
    e.offset = offset;
    e.opcode = op_;
    e.detail = detail;
    visitor_.OnEvent(e);
  }

  // Consumes n bytes; false (with a truncation recorded) when the input ends first.
  bool Read(uint64_t n, const unsigned char** out) {
    if (n > data_.size() - pos_) {
      Fail(cut_by_limit_ ? PickleOutcome::kLimit : PickleOutcome::kTruncated, op_offset_,
           cut_by_limit_ ? "input larger than max_bytes" : "pickle data was truncated");
      return false;
    }
    CheckFrame(n);
    *out = p_ + pos_;
    pos_ += n;
    return true;
  }

  // pickle.py reads opcodes and arguments from the current frame and raises when one
  // crosses its end; the C unpickler does not. Report the differential, follow C.
  void CheckFrame(uint64_t n) {
    if (!in_frame_) return;
    if (pos_ >= frame_end_) {
      in_frame_ = false;
      return;
    }
    if (n > frame_end_ - pos_) {
      Anomaly(op_offset_, "opcode crosses the end of its FRAME");
      in_frame_ = false;
    }
  }

  // A '\n'-terminated line, without the '\n'.
  bool ReadLine(std::string_view* line) {
    const void* nl = std::memchr(p_ + pos_, '\n', data_.size() - pos_);
    if (nl == nullptr) {
      Fail(cut_by_limit_ ? PickleOutcome::kLimit : PickleOutcome::kTruncated, op_offset_,
           cut_by_limit_ ? "input larger than max_bytes" : "pickle data was truncated");
      return false;
    }
    uint64_t len = static_cast<const unsigned char*>(nl) - (p_ + pos_);
    const unsigned char* s = nullptr;
    Read(len + 1, &s);
    *line = std::string_view(reinterpret_cast<const char*>(s), len);
    return true;
  }

  bool Malformed(std::string message) {
    Fail(PickleOutcome::kMalformed, op_offset_, std::move(message));
    return false;
  }

  size_t Fence() const { return marks_.empty() ? 0 : marks_.back(); }

  bool Push(Value v) {
    if (stack_.size() >= limits_.max_stack) {
      Fail(PickleOutcome::kLimit, op_offset_, "stack deeper than max_stack");
      return false;
    }
    stack_.push_back(std::move(v));
    return true;
  }

  // Constructs the value in place: the hot path of big pickles (numbers in long lists).
  Value* PushNew() {
    if (stack_.size() >= limits_.max_stack) {
      Fail(PickleOutcome::kLimit, op_offset_, "stack deeper than max_stack");
      return nullptr;
    }
    return &stack_.emplace_back();
  }

  bool PushKind(Kind k) {
    Value* v = PushNew();
    if (v == nullptr) return false;
    v->kind = k;
    return true;
  }

  bool PushNumber(int64_t n) {
    Value* v = PushNew();
    if (v == nullptr) return false;
    v->number_known = true;
    v->number = n;
    return true;
  }

  // The items of a tuple or dict (dict: key, value, key, value ...); null when unknown.
  const std::vector<Value>* ItemsOf(const Value& v) const {
    static const std::vector<Value> kNone;
    if (v.items == kEmptyTupleItems) return &kNone;
    if (v.items == 0 || lists_[v.items - 1].lost) return nullptr;
    return &lists_[v.items - 1].values;
  }

  // Appends stack_[from, to) to list `id`. False, marking the list lost, when it would pass
  // kMaxItems or the run's item budget.
  bool AppendItems(uint32_t id, size_t from, size_t to) {
    ItemList& list = lists_[id - 1];
    size_t n = to - from;
    if (list.lost || list.values.size() + n > kMaxItems || n > item_budget_) {
      list.lost = true;
      list.values.clear();
      return false;
    }
    item_budget_ -= n;
    list.values.insert(list.values.end(), stack_.begin() + static_cast<std::ptrdiff_t>(from),
                       stack_.begin() + static_cast<std::ptrdiff_t>(to));
    return true;
  }

  // A new item list holding stack_[from, to); 0 when it cannot be kept.
  uint32_t NewItems(size_t from, size_t to) {
    if (item_budget_ == 0 || lists_.size() >= kMaxLists) return 0;
    --item_budget_;  // the list itself
    lists_.emplace_back();
    auto id = static_cast<uint32_t>(lists_.size());
    return AppendItems(id, from, to) ? id : 0;
  }

  // The last value stored under `key` in a dict with known items; null otherwise.
  const Value* DictGet(const Value& dict, std::string_view key) const;
  bool SkipJoblibArray(const Value& state);

  bool Underflow() { return Malformed("unpickling stack underflow"); }

  bool Pop(Value* out) {
    if (stack_.size() <= Fence()) return Underflow();
    *out = std::move(stack_.back());
    stack_.pop_back();
    return true;
  }

  // Pops the top mark; returns the stack position it marked.
  bool PopMark(size_t* pos) {
    if (marks_.empty()) return Malformed("could not find MARK");
    *pos = marks_.back();
    marks_.pop_back();
    return true;
  }

  // The memo is dense (a vector) for the indices pickles really use, 0, 1, 2 ... from
  // MEMOIZE and sequential PUTs, and sparse (a map) for anything far beyond them.
  static constexpr uint64_t kDenseSlack = 1024;

  Value* MemoFind(uint64_t index) {
    if (index < memo_dense_.size() && memo_dense_[index].kind != Kind::kAbsent) {
      return &memo_dense_[index];
    }
    if (memo_sparse_.empty()) return nullptr;
    auto it = memo_sparse_.find(index);
    return it == memo_sparse_.end() ? nullptr : &it->second;
  }

  bool MemoPut(uint64_t index) {
    if (stack_.size() <= Fence()) return Underflow();
    if (Value* v = MemoFind(index)) {
      *v = stack_.back();
      return true;
    }
    if (memo_count_ >= limits_.max_memo) {
      Fail(PickleOutcome::kLimit, op_offset_, "memo larger than max_memo");
      return false;
    }
    ++memo_count_;
    if (index < memo_dense_.size() + kDenseSlack && memo_sparse_.count(index) == 0) {
      if (index >= memo_dense_.size()) {
        Value absent;
        absent.kind = Kind::kAbsent;
        memo_dense_.resize(index + 1, absent);
      }
      memo_dense_[index] = stack_.back();
    } else {
      memo_sparse_.emplace(index, stack_.back());
    }
    return true;
  }

  bool MemoGet(uint64_t index) {
    Value* v = MemoFind(index);
    if (v == nullptr) return Malformed(StrCat("memo value not found at index ", index));
    return Push(*v);
  }

  Value StrValue(std::string_view decoded, bool known) {
    Value v;
    v.kind = Kind::kStr;
    v.text_known = known;
    if (known) v.text.assign(decoded);
    return v;
  }

  // Records an import and pushes the global.
  bool Import(std::string_view module, std::string_view name) {
    PickleEvent e;
    e.kind = PickleEventKind::kImport;
    e.offset = op_offset_;
    e.opcode = op_;
    e.module = module;
    e.name = name;
    visitor_.OnEvent(e);
    Value v;
    v.kind = Kind::kGlobal;
    v.text_known = true;
    v.text.reserve(module.size() + name.size());
    v.text.append(module);
    v.text.append(name);
    v.split = static_cast<uint32_t>(module.size());
    return Push(std::move(v));
  }

  // Records a call of `callee` and pushes its result.
  bool Call(const Value& callee, const Value* args, bool push_result) {
    PickleEvent e;
    e.kind = PickleEventKind::kCall;
    e.offset = op_offset_;
    e.opcode = op_;
    if ((callee.kind == Kind::kGlobal || callee.kind == Kind::kObject) && callee.text_known) {
      e.module = callee.Module();
      e.name = callee.Name();
    }
    if (args != nullptr && !args->bytes.empty()) {
      e.arg_bytes = args->bytes;
      e.arg_bytes_offset = static_cast<uint64_t>(args->bytes.data() - data_.data());
    }
    visitor_.OnEvent(e);
    if (!push_result) return true;
    Value r;
    r.kind = Kind::kObject;
    if (callee.kind == Kind::kGlobal && callee.text_known) {
      r.text_known = true;
      r.text = callee.text;
      r.split = callee.split;
    }
    if (args != nullptr && args->kind == Kind::kTuple) r.items = args->items;
    return Push(std::move(r));
  }

  // Items above `mark` become one container value of kind `k`.
  bool Collapse(size_t mark, Kind k) {
    Value v;
    v.kind = k;
    if (k == Kind::kTuple) {
      for (size_t i = mark; i < stack_.size(); ++i) {
        if (stack_[i].kind == Kind::kBytes) {
          v.bytes = stack_[i].bytes;
          break;
        }
      }
    }
    if (k == Kind::kTuple || k == Kind::kDict) v.items = NewItems(mark, stack_.size());
    stack_.resize(mark);
    return Push(std::move(v));
  }

  // A mutation of a container (APPEND(S), SETITEM(S), ADDITEMS) calls a method when the
  // target is not a plain container.
  void ContainerCall(const Value& target) {
    if (target.kind == Kind::kObject || target.kind == Kind::kGlobal ||
        target.kind == Kind::kPersistent) {
      Call(target, nullptr, /*push_result=*/false);
    }
  }

  // The item list [x, len) is applied to stack_[x-1] (CPython's do_append/do_setitems).
  bool ApplyItems(size_t x, bool pairs) {
    size_t len = stack_.size();
    if (x > len || x <= Fence()) return Underflow();
    if (x == len) return true;
    if (pairs && (len - x) % 2 != 0) return Malformed("odd number of items for SETITEMS");
    Value& target = stack_[x - 1];
    if (pairs && target.kind == Kind::kDict && target.items != 0) {
      // EMPTY_DICT, MARK, k, v ..., SETITEMS: how pickle writes every dict with items. The
      // list is shared with the memo's copies; when it cannot grow, it is lost for all.
      AppendItems(target.items, x, len);
    }
    ContainerCall(target);
    stack_.resize(x);
    return true;
  }

  bool Step();
  bool RunOne();

  const PickleLimits& limits_;
  std::string_view data_;
  const unsigned char* p_ = nullptr;
  PickleVisitor& visitor_;
  bool cut_by_limit_ = false;
  uint64_t pos_ = 0;
  uint64_t op_offset_ = 0;
  uint8_t op_ = 0;
  bool in_frame_ = false;
  uint64_t frame_end_ = 0;
  bool stopped_ = false;
  std::vector<Value> stack_;
  std::vector<size_t> marks_;
  std::vector<Value> memo_dense_;
  std::unordered_map<uint64_t, Value> memo_sparse_;
  uint64_t memo_count_ = 0;  // entries set: len(memo) for MEMOIZE
  // Items of small tuples and dicts: at most kMaxItems each and item_budget_ (values and
  // vectors) in the whole run, so that they cost a few MB at most whatever the input.
  struct ItemList {
    std::vector<Value> values;
    bool lost = false;  // grew past the bounds: unknown
  };
  static constexpr size_t kMaxItems = 32;
  static constexpr uint32_t kEmptyTupleItems = UINT32_MAX;  // () costs no list
  static constexpr size_t kMaxLists = size_t{1} << 16;
  uint64_t item_budget_ = uint64_t{1} << 17;
  std::vector<ItemList> lists_;
  // Inside the pickle of a joblib object array: joblib reads it with a plain pickle.load,
  // where NumpyArrayWrapper has no array data after it.
  bool in_nested_pickle_ = false;
  std::string scratch_;
  PickleRunResult result_;
};

// OnProgress every 2^20 opcodes: a few milliseconds of work, and no cost worth measuring.
constexpr uint64_t kProgressMask = (uint64_t{1} << 20) - 1;

namespace {

// The item size of a NumPy dtype from the string its pickle passes to numpy.dtype ("f8",
// "<i4", "U10" ...): 0 for object arrays ("O8"), -1 when the size cannot be told from it
// (structured "V" dtypes, whose object fields decide whether joblib pickles them).
int64_t DtypeItemSize(std::string_view spec) {
  if (!spec.empty() && std::string_view("<>|=").find(spec[0]) != std::string_view::npos) {
    spec.remove_prefix(1);
  }
  if (spec.empty()) return -1;
  char kind = spec[0];
  int64_t size = 0;
  size_t i = 1;
  for (; i < spec.size() && spec[i] >= '0' && spec[i] <= '9' && size < (int64_t{1} << 40); ++i) {
    size = size * 10 + (spec[i] - '0');
  }
  if (i == 1) return -1;
  switch (kind) {
    case 'O':
      return 0;
    case 'U':
      return size * 4;  // UCS-4
    case 'b':
    case 'i':
    case 'u':
    case 'f':
    case 'c':
    case 'M':
    case 'm':
    case 'S':
    case '?':
      return size;
    default:
      return -1;
  }
}

}  // namespace

// joblib (numpy_pickle.py) writes each array as a NumpyArrayWrapper whose state names the
// shape and dtype, then the raw bytes: for arrays of objects, a whole protocol-2 pickle;
// otherwise (joblib >= 1.2 on a seekable file, when the state says
// numpy_array_alignment_bytes) a padding-length byte and that many padding bytes, then
// prod(shape) * itemsize bytes. Anything that does not read as such a header ends the run
// as malformed: the bytes that follow cannot be told apart from opcodes.
const Value* Machine::DictGet(const Value& dict, std::string_view key) const {
  const std::vector<Value>* items = dict.kind == Kind::kDict ? ItemsOf(dict) : nullptr;
  if (items == nullptr) return nullptr;
  for (size_t i = items->size(); i >= 2; i -= 2) {  // later items win, as in Python
    const Value& k = (*items)[i - 2];
    if (k.kind == Kind::kStr && k.text_known && k.text == key) return &(*items)[i - 1];
  }
  return nullptr;
}

bool Machine::SkipJoblibArray(const Value& state) {
  const Value* dtype = DictGet(state, "dtype");
  const Value* shape = DictGet(state, "shape");
  if (dtype == nullptr || shape == nullptr) {
    return Malformed("joblib array header without a readable dtype and shape");
  }
  if (dtype->kind != Kind::kObject || !dtype->text_known || dtype->Name() != "dtype" ||
      !(dtype->Module() == "numpy" || dtype->Module().substr(0, 6) == "numpy.") ||
      ItemsOf(*dtype) == nullptr || ItemsOf(*dtype)->empty() ||
      (*ItemsOf(*dtype))[0].kind != Kind::kStr || !(*ItemsOf(*dtype))[0].text_known) {
    return Malformed("joblib array header whose dtype is not a numpy.dtype(...) call");
  }
  int64_t item_size = DtypeItemSize((*ItemsOf(*dtype))[0].text);
  if (item_size < 0) {
    return Malformed("joblib array of a structured or unknown dtype: its layout is not read");
  }
  // Where the array starts: joblib commits the pickle's current frame before writing it.
  if (in_frame_ && pos_ < frame_end_) {
    return Malformed("joblib array data inside a FRAME (joblib reads it after the frame)");
  }
  in_frame_ = false;
  if (item_size == 0) {
    // pickle.load() of the array: a fresh unpickler until its STOP, then joblib goes on.
    std::vector<Value> stack = std::move(stack_);
    std::vector<size_t> marks = std::move(marks_);
    std::vector<Value> memo_dense = std::move(memo_dense_);
    std::unordered_map<uint64_t, Value> memo_sparse = std::move(memo_sparse_);
    uint64_t memo_count = memo_count_;
    ResetPickle();
    in_nested_pickle_ = true;
    bool ok = RunOne();
    in_nested_pickle_ = false;
    if (!ok) return false;
    stack_ = std::move(stack);
    marks_ = std::move(marks);
    memo_dense_ = std::move(memo_dense);
    memo_sparse_ = std::move(memo_sparse);
    memo_count_ = memo_count;
    in_frame_ = false;
    stopped_ = false;
    return true;
  }
  const std::vector<Value>* dims = shape->kind == Kind::kTuple ? ItemsOf(*shape) : nullptr;
  if (dims == nullptr) {
    return Malformed("joblib array header whose shape is not a tuple of integers");
  }
  uint64_t count = 1;
  for (const Value& d : *dims) {
    if (!d.number_known || d.number < 0) {
      return Malformed("joblib array header whose shape is not a tuple of integers");
    }
    uint64_t n = static_cast<uint64_t>(d.number);
    if (n != 0 && count > kPySsizeMax / n) return Malformed("joblib array size overflows");
    count *= n;
  }
  if (count > kPySsizeMax / static_cast<uint64_t>(item_size)) {
    return Malformed("joblib array size overflows");
  }
  uint64_t size = count * static_cast<uint64_t>(item_size);
  const Value* align = DictGet(state, "numpy_array_alignment_bytes");
  if (align != nullptr && align->number_known) {
    // One byte with the padding's length, then the padding.
    if (pos_ >= data_.size()) return Malformed("joblib array padding missing");
    uint64_t pad = 1 + p_[pos_];
    if (size > kPySsizeMax - pad) return Malformed("joblib array size overflows");
    size += pad;
  }
  // The same bytes read by a plain pickle.load (not joblib.load) are opcodes: a payload can
  // hide there from a scanner that knows joblib. Probe them as such.
  PickleLimits probe;
  probe.max_bytes = 4096;
  probe.max_opcodes = 256;
  probe.max_pickles = 1;
  probe.max_stack = 4096;
  probe.max_memo = 4096;
  ImportCounter counter;
  uint64_t available = data_.size() - pos_;
  PickleVm(probe).Run(data_.substr(pos_, std::min<uint64_t>({size, available, 4096})), counter);
  if (counter.imports > 0) {
    Anomaly(op_offset_,
            "joblib array data that also reads as pickle opcodes importing a module (what a "
            "plain pickle.load of this file would run)");
  }
  const unsigned char* s;
  return Read(size, &s);
}

bool Machine::RunOne() {
  stopped_ = false;
  while (!stopped_) {
    if (result_.opcodes >= limits_.max_opcodes) {
      Fail(PickleOutcome::kLimit, pos_, "more opcodes than max_opcodes");
      return false;
    }
    if ((result_.opcodes & kProgressMask) == kProgressMask) visitor_.OnProgress(pos_);
    if (!Step()) return false;
  }
  return true;
}

bool Machine::Step() {
  op_offset_ = pos_;
  const unsigned char* s;
  if (!Read(1, &s)) return false;
  op_ = s[0];
  ++result_.opcodes;
  const uint32_t keep = limits_.max_kept_string;
  switch (op_) {
    case kProto: {
      if (!Read(1, &s)) return false;
      if (s[0] > kHighestProtocol) return Malformed(StrCat("unsupported pickle protocol: ", s[0]));
      if (s[0] > result_.highest_protocol) result_.highest_protocol = s[0];
      return true;
    }
    case kFrame: {
      if (!Read(8, &s)) return false;
      uint64_t len = LoadLe(s, 8);
      if (len > kPySsizeMax) return Malformed("frame size > sys.maxsize");
      if (in_frame_ && pos_ < frame_end_) {
        Anomaly(op_offset_, "FRAME starts before the end of the current frame");
      }
      if (len > data_.size() - pos_) {
        Fail(cut_by_limit_ ? PickleOutcome::kLimit : PickleOutcome::kTruncated, op_offset_,
             "FRAME longer than the rest of the input");
        return false;
      }
      in_frame_ = len > 0;
      frame_end_ = pos_ + len;
      return true;
    }
    case kStop: {
      Value v;
      if (!Pop(&v)) return false;
      stopped_ = true;
      return true;
    }
    case kMark:
      if (marks_.size() >= limits_.max_marks) {
        Fail(PickleOutcome::kLimit, op_offset_, "more open MARKs than max_marks");
        return false;
      }
      marks_.push_back(stack_.size());
      return true;
    case kPop:
      if (!marks_.empty() && marks_.back() == stack_.size()) {
        marks_.pop_back();
        return true;
      }
      if (stack_.size() <= Fence()) return Underflow();
      stack_.pop_back();
      return true;
    case kPopMark: {
      size_t m = 0;
      if (!PopMark(&m)) return false;
      stack_.resize(m);
      return true;
    }
    case kDup:
      if (stack_.size() <= Fence()) return Underflow();
      return Push(Value(stack_.back()));
    case kNone:
      return PushKind(Kind::kScalar);
    case kNewTrue:
    case kNewFalse:
      return PushNumber(op_ == kNewTrue ? 1 : 0);
    case kInt:
    case kLong:
    case kFloat: {
      std::string_view line;
      if (!ReadLine(&line)) return false;
      bool digit = false;
      for (char c : line) digit |= (c >= '0' && c <= '9');
      if (!digit && line != "inf" && line != "-inf" && line != "nan") {
        return Malformed("invalid literal for a numeric opcode");
      }
      int64_t v = 0;
      if (op_ != kFloat) {
        std::string_view digits = line;
        if (op_ == kLong && !digits.empty() && digits.back() == 'L') digits.remove_suffix(1);
        if (ParseDecimal(digits, &v)) return PushNumber(v);
      }
      return PushKind(Kind::kScalar);
    }
    case kBinInt:
      if (!Read(4, &s)) return false;
      return PushNumber(static_cast<int32_t>(LoadLe(s, 4)));
    case kBinInt1:
      if (!Read(1, &s)) return false;
      return PushNumber(s[0]);
    case kBinInt2:
      if (!Read(2, &s)) return false;
      return PushNumber(static_cast<int64_t>(LoadLe(s, 2)));
    case kBinFloat:
      if (!Read(8, &s)) return false;
      return PushKind(Kind::kScalar);
    case kLong1: {
      if (!Read(1, &s)) return false;
      uint8_t n = s[0];
      if (!Read(n, &s)) return false;
      if (n >= 1 && n <= 8) {  // two's complement, little-endian
        uint64_t u = LoadLe(s, n);
        if (n < 8 && (s[n - 1] & 0x80) != 0) u |= ~uint64_t{0} << (8 * n);
        return PushNumber(static_cast<int64_t>(u));
      }
      return PushKind(Kind::kScalar);
    }
    case kLong4: {
      if (!Read(4, &s)) return false;
      int32_t n = static_cast<int32_t>(LoadLe(s, 4));
      if (n < 0) return Malformed("LONG pickle has negative byte count");
      if (!Read(static_cast<uint64_t>(n), &s)) return false;
      return PushKind(Kind::kScalar);
    }
    case kString: {
      std::string_view line;
      if (!ReadLine(&line)) return false;
      if (line.size() < 2 || line.front() != line.back() ||
          (line.front() != '\'' && line.front() != '"')) {
        return Malformed("the STRING opcode argument must be quoted");
      }
      std::string_view body = line.substr(1, line.size() - 2);
      if (!EscapeDecode(body, &scratch_)) return Malformed("invalid escape in STRING");
      bool known = scratch_.size() <= keep && AsciiDecode(scratch_);
      return Push(StrValue(scratch_, known));
    }
    case kBinString:
    case kShortBinString: {
      uint64_t n;
      if (op_ == kBinString) {
        if (!Read(4, &s)) return false;
        int32_t sn = static_cast<int32_t>(LoadLe(s, 4));
        if (sn < 0) return Malformed("BINSTRING pickle has negative byte count");
        n = static_cast<uint64_t>(sn);
      } else {
        if (!Read(1, &s)) return false;
        n = s[0];
      }
      if (!Read(n, &s)) return false;
      std::string_view payload(reinterpret_cast<const char*>(s), n);
      // Python 2 str: a str under the default encoding, bytes under encoding='bytes'.
      Value v = StrValue(payload, n <= keep && IsAscii(payload));
      v.bytes = payload;
      return Push(std::move(v));
    }
    case kUnicode: {
      std::string_view line;
      if (!ReadLine(&line)) return false;
      if (line.size() <= keep * 2) {
        if (!RawUnicodeEscapeDecode(line, &scratch_)) {
          return Malformed("invalid raw-unicode-escape in UNICODE");
        }
        return Push(StrValue(scratch_, scratch_.size() <= keep));
      }
      return Push(StrValue({}, false));
    }
    case kBinUnicode:
    case kShortBinUnicode:
    case kBinUnicode8: {
      uint64_t n;
      if (op_ == kShortBinUnicode) {
        if (!Read(1, &s)) return false;
        n = s[0];
      } else if (op_ == kBinUnicode) {
        if (!Read(4, &s)) return false;
        n = LoadLe(s, 4);
      } else {
        if (!Read(8, &s)) return false;
        n = LoadLe(s, 8);
        if (n > kPySsizeMax) return Malformed("BINUNICODE8 exceeds system's maximum size");
      }
      if (!Read(n, &s)) return false;
      std::string_view payload(reinterpret_cast<const char*>(s), n);
      if (n <= keep) {
        if (!IsUtf8(payload)) return Malformed("invalid UTF-8 in a unicode string");
        return Push(StrValue(payload, true));
      }
      return Push(StrValue({}, false));
    }
    case kBinBytes:
    case kShortBinBytes:
    case kBinBytes8:
    case kByteArray8: {
      uint64_t n;
      if (op_ == kShortBinBytes) {
        if (!Read(1, &s)) return false;
        n = s[0];
      } else if (op_ == kBinBytes) {
        if (!Read(4, &s)) return false;
        n = LoadLe(s, 4);
      } else {
        if (!Read(8, &s)) return false;
        n = LoadLe(s, 8);
        if (n > kPySsizeMax) return Malformed("bytes length exceeds system's maximum size");
      }
      if (!Read(n, &s)) return false;
      Value v;
      v.kind = Kind::kBytes;
      v.bytes = std::string_view(reinterpret_cast<const char*>(s), n);
      return Push(std::move(v));
    }
    case kNextBuffer:
      return PushKind(Kind::kBuffer);
    case kReadOnlyBuffer:
      if (stack_.size() <= Fence()) return Underflow();
      return true;
    case kEmptyTuple: {
      Value v;
      v.kind = Kind::kTuple;
      v.items = kEmptyTupleItems;
      return Push(std::move(v));
    }
    case kEmptyList:
      return PushKind(Kind::kList);
    case kEmptyDict: {
      Value v;
      v.kind = Kind::kDict;
      v.items = NewItems(stack_.size(), stack_.size());
      return Push(std::move(v));
    }
    case kEmptySet:
      return PushKind(Kind::kSet);
    case kTuple1:
    case kTuple2:
    case kTuple3: {
      size_t n = static_cast<size_t>(op_ - kTuple1 + 1);
      if (stack_.size() < Fence() + n) return Underflow();
      return Collapse(stack_.size() - n, Kind::kTuple);
    }
    case kTuple:
    case kList:
    case kFrozenSet:
    case kDict: {
      size_t m = 0;
      if (!PopMark(&m)) return false;
      if (op_ == kDict && (stack_.size() - m) % 2 != 0) {
        return Malformed("odd number of items for DICT");
      }
      Kind k = op_ == kTuple  ? Kind::kTuple
               : op_ == kList ? Kind::kList
               : op_ == kDict ? Kind::kDict
                              : Kind::kFrozenSet;
      return Collapse(m, k);
    }
    case kAppend:
      if (stack_.empty()) return Underflow();
      return ApplyItems(stack_.size() - 1, false);
    case kAppends:
    case kAddItems:
    case kSetItems: {
      size_t m = 0;
      if (!PopMark(&m)) return false;
      return ApplyItems(m, op_ == kSetItems);
    }
    case kSetItem:
      if (stack_.size() < 2) return Underflow();
      return ApplyItems(stack_.size() - 2, true);
    case kPut: {
      std::string_view line;
      if (!ReadLine(&line)) return false;
      int64_t idx;
      if (!ParseDecimal(line, &idx)) return Malformed("invalid PUT argument");
      if (idx < 0) return Malformed("negative PUT argument");
      return MemoPut(static_cast<uint64_t>(idx));
    }
    case kBinPut:
      if (!Read(1, &s)) return false;
      return MemoPut(s[0]);
    case kLongBinPut:
      if (!Read(4, &s)) return false;
      return MemoPut(LoadLe(s, 4));
    case kMemoize:
      return MemoPut(memo_count_);
    case kGet: {
      std::string_view line;
      if (!ReadLine(&line)) return false;
      int64_t idx;
      if (!ParseDecimal(line, &idx)) return Malformed("invalid GET argument");
      if (idx < 0) return Malformed(StrCat("memo value not found at index ", idx));
      return MemoGet(static_cast<uint64_t>(idx));
    }
    case kBinGet:
      if (!Read(1, &s)) return false;
      return MemoGet(s[0]);
    case kLongBinGet:
      if (!Read(4, &s)) return false;
      return MemoGet(LoadLe(s, 4));
    case kGlobal:
    case kInst: {
      std::string_view module, name;
      if (!ReadLine(&module) || !ReadLine(&name)) return false;
      bool ok = op_ == kGlobal ? IsUtf8(module) && IsUtf8(name) : IsAscii(module) && IsAscii(name);
      if (!ok) return Malformed("undecodable module or name");
      if (!Import(module, name)) return false;
      if (op_ == kGlobal) return true;
      // INST: the class just pushed is applied to the items above the last mark.
      Value cls = std::move(stack_.back());
      stack_.pop_back();
      size_t m = 0;
      if (!PopMark(&m)) return false;
      Value args;
      args.kind = Kind::kTuple;
      for (size_t i = m; i < stack_.size(); ++i) {
        if (stack_[i].kind == Kind::kBytes) {
          args.bytes = stack_[i].bytes;
          break;
        }
      }
      stack_.resize(m);
      return Call(cls, &args, true);
    }
    case kStackGlobal: {
      Value name, module;
      if (!Pop(&name) || !Pop(&module)) return false;
      if (module.kind == Kind::kStr && name.kind == Kind::kStr && module.text_known &&
          name.text_known) {
        return Import(module.text, name.text);
      }
      PickleEvent e;
      e.kind = PickleEventKind::kUnresolved;
      e.offset = op_offset_;
      e.opcode = op_;
      bool strs = module.kind == Kind::kStr && name.kind == Kind::kStr;
      e.detail = strs ? "operands are strings too long to keep"
                      : "operands are not string constants (computed or from a call)";
      if (module.kind == Kind::kStr && module.text_known) e.module = module.text;
      if (name.kind == Kind::kStr && name.text_known) e.name = name.text;
      visitor_.OnEvent(e);
      if (!strs && module.kind != Kind::kObject && name.kind != Kind::kObject &&
          module.kind != Kind::kPersistent && name.kind != Kind::kPersistent) {
        return Malformed("STACK_GLOBAL requires str");
      }
      return PushKind(Kind::kGlobal);
    }
    case kExt1:
    case kExt2:
    case kExt4: {
      size_t n = op_ == kExt1 ? 1 : op_ == kExt2 ? 2 : 4;
      if (!Read(n, &s)) return false;
      uint64_t code = LoadLe(s, n);
      if (n == 4) code = static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(code)));
      PickleEvent e;
      e.kind = PickleEventKind::kExtCode;
      e.offset = op_offset_;
      e.opcode = op_;
      e.number = code;
      visitor_.OnEvent(e);
      if (code == 0 || static_cast<int64_t>(code) < 0) {
        return Malformed("EXT specifies code <= 0");
      }
      return PushKind(Kind::kGlobal);
    }
    case kReduce: {
      Value args, callee;
      if (!Pop(&args) || !Pop(&callee)) return false;
      return Call(callee, &args, true);
    }
    case kNewObj: {
      Value args, cls;
      if (!Pop(&args) || !Pop(&cls)) return false;
      return Call(cls, &args, true);
    }
    case kNewObjEx: {
      Value kwargs, args, cls;
      if (!Pop(&kwargs) || !Pop(&args) || !Pop(&cls)) return false;
      return Call(cls, &args, true);
    }
    case kObj: {
      size_t m = 0;
      if (!PopMark(&m)) return false;
      if (stack_.size() < m + 1 || m < Fence()) return Underflow();
      Value cls = std::move(stack_[m]);
      Value args;
      args.kind = Kind::kTuple;
      for (size_t i = m + 1; i < stack_.size(); ++i) {
        if (stack_[i].kind == Kind::kBytes) {
          args.bytes = stack_[i].bytes;
          break;
        }
      }
      stack_.resize(m);
      return Call(cls, &args, true);
    }
    case kBuild: {
      if (stack_.size() < Fence() + 2) return Underflow();
      Value state = std::move(stack_.back());
      stack_.pop_back();
      // inst.__setstate__(state) or inst.__dict__.update(state): a call on an instance.
      // Plain containers have neither (CPython raises); they are not calls.
      const Value& inst = stack_.back();
      if (inst.kind != Kind::kObject && inst.kind != Kind::kGlobal &&
          inst.kind != Kind::kPersistent) {
        return true;
      }
      if (!Call(inst, &state, false)) return false;
      // joblib's unpickler reads an array's bytes from the stream right after the BUILD of
      // its NumpyArrayWrapper: they are data, not opcodes.
      if (inst.kind == Kind::kObject && inst.text_known && !in_nested_pickle_ &&
          inst.Name() == "NumpyArrayWrapper" &&
          (inst.Module() == "joblib.numpy_pickle" ||
           inst.Module() == "sklearn.externals.joblib.numpy_pickle")) {
        return SkipJoblibArray(state);
      }
      return true;
    }
    case kPersId: {
      std::string_view line;
      if (!ReadLine(&line)) return false;
      if (!IsAscii(line)) return Malformed("persistent IDs in protocol 0 must be ASCII strings");
      return PushKind(Kind::kPersistent);
    }
    case kBinPersId: {
      Value pid;
      if (!Pop(&pid)) return false;
      return PushKind(Kind::kPersistent);
    }
    default:
      return Malformed(StrCat("invalid load key 0x", fmt::format("{:02x}", op_)));
  }
}

}  // namespace

std::string_view PickleOutcomeName(PickleOutcome o) {
  switch (o) {
    case PickleOutcome::kComplete:
      return "complete";
    case PickleOutcome::kTruncated:
      return "truncated";
    case PickleOutcome::kMalformed:
      return "malformed";
    case PickleOutcome::kLimit:
      return "limit";
  }
  return "unknown";
}

PickleRunResult PickleVm::Run(std::string_view data, PickleVisitor& visitor) const {
  if (data.empty()) {
    PickleRunResult r;
    r.outcome = PickleOutcome::kTruncated;
    r.error = "empty input";
    return r;
  }
  Machine m(limits_, data, visitor);
  return m.Run();
}

bool PickleVm::LooksLikePickle(std::string_view data, bool strict) {
  if (data.empty()) return false;
  const auto b0 = static_cast<unsigned char>(data[0]);
  if (b0 == kProto) {
    if (data.size() < 2 || static_cast<unsigned char>(data[1]) > kHighestProtocol) return false;
    if (!strict) return true;
  } else {
    static constexpr std::string_view kStarts = "(]})cILFSVNKJMXUTGiPBC";
    if (kStarts.find(static_cast<char>(b0)) == std::string_view::npos && b0 != kShortBinUnicode &&
        b0 != kFrame && b0 != kEmptySet) {
      return false;
    }
  }
  constexpr size_t kProbeBytes = 4096;
  constexpr uint64_t kProbeOpcodes = 8;
  PickleLimits probe;
  probe.max_opcodes = 64;
  probe.max_pickles = 1;
  probe.max_bytes = kProbeBytes;
  probe.max_stack = 4096;
  probe.max_memo = 4096;
  ImportCounter counter;
  PickleVm vm(probe);
  // One byte past the window, so that a pickle longer than the window is cut by max_bytes
  // (kLimit) rather than looking truncated.
  PickleRunResult r = vm.Run(data.substr(0, kProbeBytes + 1), counter);
  if (r.pickles >= 1 || counter.imports > 0) return true;
  switch (r.outcome) {
    case PickleOutcome::kComplete:
      return true;
    case PickleOutcome::kLimit:  // the probe's window or opcode budget ran out first
      return r.opcodes >= 1;
    case PickleOutcome::kTruncated:  // the data itself ends: a short or truncated pickle
      return r.opcodes >= 2;
    case PickleOutcome::kMalformed:
      // Random data (tensor bytes in an archive) rarely interprets this far.
      return r.opcodes > (strict ? 4 * kProbeOpcodes : kProbeOpcodes);
  }
  return false;
}

}  // namespace rampart::supply
