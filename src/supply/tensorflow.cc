#include "supply/tensorflow.h"

#include <set>
#include <string>

#include "common/strings.h"
#include "supply/protobuf_reader.h"

namespace rampart::supply {
namespace {

using Field = ProtobufReader::Field;
using Wire = ProtobufReader::WireType;

struct RiskyOp {
  std::string_view op;
  std::string_view id;
  Severity severity;
  std::string_view why;
};

constexpr RiskyOp kRiskyOps[] = {
    {"ReadFile", "tf.file_access", Severity::kHigh, "reads a file named at run time"},
    {"WriteFile", "tf.file_access", Severity::kHigh, "writes a file named at run time"},
    {"MatchingFiles", "tf.file_access", Severity::kHigh, "lists the file system"},
    {"ImmutableConst", "tf.file_access", Severity::kMedium, "memory-maps a named file"},
    {"PyFunc", "tf.python_call", Severity::kCritical, "calls a Python function of the loader"},
    {"PyFuncStateless", "tf.python_call", Severity::kCritical,
     "calls a Python function of the loader"},
    {"EagerPyFunc", "tf.python_call", Severity::kCritical, "calls a Python function of the loader"},
};

class SavedModelChecker {
 public:
  SavedModelChecker(std::string_view data, CheckResult* r) : data_(data), r_(r) {}

  void Run() {
    // SavedModel { 1: schema version, 2: MetaGraphDef }
    Walk(data_, "saved model", [&](const Field& f) {
      if (f.number == 2 && f.type == Wire::kBytes) MetaGraph(f.bytes);
    });
  }

 private:
  template <typename Fn>
  void Walk(std::string_view msg, std::string_view what, Fn&& fn) {
    ProtobufReader in(msg, Offset(msg));
    Field f;
    while (in.Next(&f)) fn(f);
    if (in.error()) Malformed(in.error_offset(), what);
  }

  uint64_t Offset(std::string_view v) const {
    return static_cast<uint64_t>(v.data() - data_.data());
  }

  // MetaGraphDef { 2: GraphDef }; GraphDef { 1: NodeDef, 2: FunctionDefLibrary };
  // FunctionDefLibrary { 1: FunctionDef }; FunctionDef { 3: NodeDef }.
  void MetaGraph(std::string_view msg) {
    Walk(msg, "meta graph", [&](const Field& f) {
      if (f.number == 2 && f.type == Wire::kBytes) Graph(f.bytes);
    });
  }
  void Graph(std::string_view msg) {
    Walk(msg, "graph", [&](const Field& f) {
      if (f.type != Wire::kBytes) return;
      if (f.number == 1) Node(f.bytes);
      if (f.number == 2) {
        Walk(f.bytes, "function library", [&](const Field& fn) {
          if (fn.number != 1 || fn.type != Wire::kBytes) return;
          Walk(fn.bytes, "function", [&](const Field& body) {
            if (body.number == 3 && body.type == Wire::kBytes) Node(body.bytes);
          });
        });
      }
    });
  }
  // NodeDef { 1: name, 2: op }
  void Node(std::string_view msg) {
    std::string_view name, op;
    uint64_t at = Offset(msg);
    Walk(msg, "node", [&](const Field& f) {
      if (f.type != Wire::kBytes) return;
      if (f.number == 1) name = f.bytes;
      if (f.number == 2) op = f.bytes;
    });
    for (const RiskyOp& r : kRiskyOps) {
      if (r.op != op) continue;
      std::string key = StrCat(r.op, "\x1f", name);
      if (!seen_.insert(key).second) return;
      std::string shown(name.substr(0, 128));
      for (char& c : shown) {
        if (c < 0x20 || c >= 0x7f) c = '?';
      }
      r_->Add(std::string(r.id), r.severity, at, StrCat(r.op, " (", shown, ")"),
              StrCat("graph op ", r.op, " ", r.why));
    }
  }

  void Malformed(uint64_t at, std::string_view what) {
    if (malformed_) return;
    malformed_ = true;
    r_->Add("tf.malformed", Severity::kHigh, at, std::string(what),
            StrCat("the ", what, " message is not valid protobuf; the rest was not read"));
    r_->incomplete.push_back(StrCat("saved model: malformed ", what, " at byte ", at));
  }

  std::string_view data_;
  CheckResult* r_;
  std::set<std::string> seen_;
  bool malformed_ = false;
};

}  // namespace

bool LooksLikeSavedModel(std::string_view data) {
  if (data.size() < 4 || data[0] != 0x08) return false;
  ProtobufReader in(data);
  Field f;
  if (!in.Next(&f) || f.number != 1 || f.type != Wire::kVarint || f.varint > 16) return false;
  bool meta = false;
  while (in.Next(&f)) {
    if (f.number != 2 || f.type != Wire::kBytes) return false;
    meta = true;
  }
  return meta && !in.error();
}

CheckResult CheckSavedModel(std::string_view data) {
  CheckResult r;
  SavedModelChecker(data, &r).Run();
  return r;
}

}  // namespace rampart::supply
