// ImportPolicy: what a pickle may import. An allowlist of exact `module.name` globals that a
// legitimate load imports (PyTorch weights_only, NumPy arrays) and a severity-ranked denylist
// of modules and names; everything else is an unknown import (medium).
//
// Names are compared as CPython's find_class resolves them: Python 2 module names are mapped
// (`__builtin__` -> `builtins`, `copy_reg` -> `copyreg` ...), and a dotted name is a getattr
// chain on the module, so `torch` + `storage._load_from_bytes` is the same global as
// `torch.storage` + `_load_from_bytes`. A denylist entry covers the global it names and
// everything reached through it; a chain through a dunder attribute (`__globals__`,
// `__builtins__` ...) is denied as critical. See docs/scan-model.md.
//
// Thread safety: immutable after construction; Classify() may be called from any thread.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "rampart/finding.h"

namespace rampart::supply {

enum class ImportVerdict : uint8_t { kAllowed, kUnknown, kDenied };

struct ImportClass {
  ImportVerdict verdict = ImportVerdict::kUnknown;
  Severity severity = Severity::kMedium;  // kInfo when allowed
  // Why it is denied ("process execution", "nested deserialization" ...); empty otherwise.
  std::string_view reason;
  // A call of it deserializes its argument (pickle.loads, torch.storage._load_from_bytes):
  // a bytes argument seen in the pickle is scanned as a nested artifact.
  bool nested_deserializer = false;
  // The canonical dotted name the verdict was taken on ("builtins.getattr").
  std::string canonical;
};

class ImportPolicy {
 public:
  // The built-in policy: PyTorch weights_only and NumPy allowlists plus the denylist.
  static ImportPolicy Default();

  // An empty policy: nothing allowed, nothing denied (every import is unknown).
  ImportPolicy() = default;

  ImportClass Classify(std::string_view module, std::string_view name) const;

  // Names of the opt-in allowlist profiles: "joblib", "sklearn", "xgboost".
  static std::vector<std::string_view> ProfileNames();
  // Adds the globals of an opt-in profile to the allowlist; false for an unknown name. The
  // profiles name classes that only construct data when unpickled; loading such a model still
  // runs that library's code, so they are opt-in rather than default.
  bool AddProfile(std::string_view name);

  // Adds an exact `module.name` (dotted, canonical) to the allowlist.
  void Allow(std::string canonical) { allow_.insert(std::move(canonical)); }
  // Adds a denylist entry: a module, or a module.name prefix.
  void Deny(std::string prefix, Severity severity, std::string_view reason,
            bool nested_deserializer = false);

 private:
  struct DenyEntry {
    Severity severity;
    std::string_view reason;
    bool nested;
  };
  std::unordered_set<std::string> allow_;
  std::unordered_map<std::string, DenyEntry> deny_;
};

// `module` with CPython's Python 2 -> 3 module mapping applied (fix_imports).
std::string_view CanonicalModule(std::string_view module);

}  // namespace rampart::supply
