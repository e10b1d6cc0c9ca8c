#include "supply/onnx.h"

#include <set>
#include <string>
#include <vector>

#include "common/strings.h"
#include "supply/protobuf_reader.h"

namespace rampart::supply {
namespace {

using Field = ProtobufReader::Field;
using Wire = ProtobufReader::WireType;

// Operator domains implemented by the ONNX standard and by ONNX Runtime itself.
bool KnownDomain(std::string_view d) {
  static const std::set<std::string_view> kKnown = {
      "",
      "ai.onnx",
      "ai.onnx.ml",
      "ai.onnx.training",
      "ai.onnx.preview.training",
      "com.microsoft",
      "com.microsoft.nchwc",
      "com.microsoft.mlfeaturizers",
      "com.ms.internal.nhwc",
  };
  return kKnown.count(d) != 0;
}

std::string Printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 128)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (s.size() > 128) out += "...";
  return out;
}

// External data locations are resolved against the model's directory.
bool EscapingLocation(std::string_view p) {
  if (p.empty() || p.starts_with("/") || p.starts_with("\\") || p.find(':') != p.npos) {
    return true;
  }
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find_first_of("/\\", start);
    if (end == std::string_view::npos) end = p.size();
    if (p.substr(start, end - start) == "..") return true;
    start = end + 1;
  }
  return false;
}

class OnnxChecker {
 public:
  OnnxChecker(std::string_view data, const OnnxLimits& limits, CheckResult* r)
      : data_(data), limits_(limits), r_(r) {}

  void Run() {
    ProtobufReader in(data_);
    Field f;
    std::vector<std::string_view> graphs, functions;
    while (in.Next(&f)) {
      if (f.type != Wire::kBytes) continue;
      if (f.number == 7) graphs.push_back(f.bytes);
      if (f.number == 25) functions.push_back(f.bytes);
      if (f.number == 8) Opset(f.bytes, in.OffsetOf(f.bytes));
    }
    if (in.error()) return Malformed(in.error_offset(), "model");
    // Local functions define operators of their own domain.
    for (std::string_view fn : functions) FunctionDomain(fn);
    for (std::string_view g : graphs) Graph(g, Offset(g), 0);
    for (std::string_view fn : functions) Function(fn, Offset(fn), 0);
  }

 private:
  uint64_t Offset(std::string_view v) const {
    return static_cast<uint64_t>(v.data() - data_.data());
  }

  void Opset(std::string_view msg, uint64_t base) {
    ProtobufReader in(msg, base);
    Field f;
    while (in.Next(&f)) {
      if (f.number == 1 && f.type == Wire::kBytes && !KnownDomain(f.bytes)) {
        CustomDomain(f.bytes, f.offset, "imported operator set");
      }
    }
    if (in.error()) Malformed(in.error_offset(), "opset_import");
  }

  void FunctionDomain(std::string_view msg) {
    ProtobufReader in(msg, Offset(msg));
    Field f;
    while (in.Next(&f)) {
      if (f.number == 10 && f.type == Wire::kBytes) local_domains_.insert(std::string(f.bytes));
    }
  }

  void Function(std::string_view msg, uint64_t base, uint32_t depth) {
    ProtobufReader in(msg, base);
    Field f;
    while (in.Next(&f)) {
      if (f.number == 7 && f.type == Wire::kBytes) Node(f.bytes, Offset(f.bytes), depth);
    }
    if (in.error()) Malformed(in.error_offset(), "function");
  }

  void Graph(std::string_view msg, uint64_t base, uint32_t depth) {
    if (depth > limits_.max_depth) {
      if (!depth_reported_) {
        depth_reported_ = true;
        r_->Add("onnx.limit", Severity::kHigh, base, "graph",
                StrCat("subgraphs nested deeper than ", limits_.max_depth));
        r_->incomplete.push_back("onnx: subgraphs nested too deep");
      }
      return;
    }
    ProtobufReader in(msg, base);
    Field f;
    while (in.Next(&f)) {
      if (f.type != Wire::kBytes) continue;
      if (f.number == 1) Node(f.bytes, Offset(f.bytes), depth);
      if (f.number == 5) Tensor(f.bytes, Offset(f.bytes));
      if (f.number == 15) SparseTensor(f.bytes, Offset(f.bytes));
    }
    if (in.error()) Malformed(in.error_offset(), "graph");
  }

  void Node(std::string_view msg, uint64_t base, uint32_t depth) {
    ProtobufReader in(msg, base);
    Field f;
    std::string_view op, domain;
    uint64_t domain_at = base;
    while (in.Next(&f)) {
      if (f.type != Wire::kBytes) continue;
      if (f.number == 4) op = f.bytes;
      if (f.number == 7) {
        domain = f.bytes;
        domain_at = f.offset;
      }
      if (f.number == 5) Attribute(f.bytes, Offset(f.bytes), depth);
    }
    if (in.error()) return Malformed(in.error_offset(), "node");
    if (!KnownDomain(domain) && local_domains_.count(std::string(domain)) == 0) {
      CustomDomain(domain, domain_at, StrCat("operator ", Printable(op)));
    }
  }

  void Attribute(std::string_view msg, uint64_t base, uint32_t depth) {
    ProtobufReader in(msg, base);
    Field f;
    while (in.Next(&f)) {
      if (f.type != Wire::kBytes) continue;
      if (f.number == 6 || f.number == 11) Graph(f.bytes, Offset(f.bytes), depth + 1);
      if (f.number == 5 || f.number == 10) Tensor(f.bytes, Offset(f.bytes));
      if (f.number == 22 || f.number == 23) SparseTensor(f.bytes, Offset(f.bytes));
    }
    if (in.error()) Malformed(in.error_offset(), "attribute");
  }

  void SparseTensor(std::string_view msg, uint64_t base) {
    ProtobufReader in(msg, base);
    Field f;
    while (in.Next(&f)) {
      if (f.type == Wire::kBytes && (f.number == 1 || f.number == 2)) {
        Tensor(f.bytes, Offset(f.bytes));
      }
    }
    if (in.error()) Malformed(in.error_offset(), "sparse tensor");
  }

  void Tensor(std::string_view msg, uint64_t base) {
    ProtobufReader in(msg, base);
    Field f;
    std::string_view name;
    while (in.Next(&f)) {
      if (f.type == Wire::kBytes && f.number == 8) name = f.bytes;
      if (f.type != Wire::kBytes || f.number != 13) continue;
      // StringStringEntryProto {key = 1, value = 2}
      ProtobufReader entry(f.bytes, Offset(f.bytes));
      Field e;
      std::string_view key, value;
      while (entry.Next(&e)) {
        if (e.type != Wire::kBytes) continue;
        if (e.number == 1) key = e.bytes;
        if (e.number == 2) value = e.bytes;
      }
      if (entry.error()) return Malformed(entry.error_offset(), "external data entry");
      if (key == "location" && EscapingLocation(value)) {
        r_->Add("onnx.external_data", Severity::kHigh, f.offset, Printable(value),
                StrCat("tensor ", Printable(name),
                       " stores its data outside the model directory (absolute path, drive, "
                       "or '..'): the runtime would read that file"));
      }
    }
    if (in.error()) Malformed(in.error_offset(), "tensor");
  }

  void CustomDomain(std::string_view domain, uint64_t at, std::string what) {
    if (!reported_domains_.insert(std::string(domain)).second) return;
    r_->Add("onnx.custom_domain", Severity::kMedium, at, Printable(domain),
            StrCat(what,
                   " is in a domain that neither ONNX nor ONNX Runtime implements: running "
                   "the model needs a custom-operator library to be loaded"));
  }

  void Malformed(uint64_t at, std::string_view what) {
    if (malformed_) return;
    malformed_ = true;
    r_->Add("onnx.malformed", Severity::kHigh, at, std::string(what),
            StrCat("the ", what, " message is not valid protobuf; the rest was not read"));
    r_->incomplete.push_back(StrCat("onnx: malformed ", what, " at byte ", at));
  }

  std::string_view data_;
  const OnnxLimits& limits_;
  CheckResult* r_;
  std::set<std::string> local_domains_, reported_domains_;
  bool malformed_ = false, depth_reported_ = false;
};

}  // namespace

bool LooksLikeOnnx(std::string_view data) {
  // ModelProto writers put ir_version (field 1, varint) first.
  if (data.size() < 4 || data[0] != 0x08) return false;
  ProtobufReader in(data);
  Field f;
  bool graph_or_opset = false;
  int fields = 0;
  while (in.Next(&f) && fields < 64) {
    ++fields;
    if (fields == 1 && (f.type != Wire::kVarint || f.varint == 0 || f.varint > 64)) return false;
    if ((f.number == 7 || f.number == 8) && f.type == Wire::kBytes) graph_or_opset = true;
  }
  return graph_or_opset && (fields == 64 || !in.error());
}

CheckResult CheckOnnx(std::string_view data, const OnnxLimits& limits) {
  CheckResult r;
  OnnxChecker(data, limits, &r).Run();
  return r;
}

}  // namespace rampart::supply
