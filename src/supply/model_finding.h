// ModelFinding: one thing the model scanner or a structural validator found in an artifact.
// A plain value type; findings name what they are about and never carry payload bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rampart/finding.h"

namespace rampart::supply {

struct ModelFinding {
  // Stable dotted id: "pickle.import.denied", "zip.inconsistent" ... (docs/scan-model.md).
  std::string id;
  Severity severity = Severity::kMedium;
  // Where in the artifact: "" for the file itself, an archive member name, members of
  // nested containers joined by '!' ("outer.zip!archive/data.pkl").
  std::string location;
  // Byte offset within that location (the first occurrence).
  uint64_t offset = 0;
  // What it is about: "os.system", "ext:42", an entry name; never payload bytes.
  std::string subject;
  std::string message;
  // Occurrences merged into this finding (same id, location and subject).
  uint64_t count = 1;
};

// What a structural validator (safetensors.h, gguf.h ...) reports for one artifact. The
// validator leaves ModelFinding::location empty; the scanner fills it in.
struct CheckResult {
  std::vector<ModelFinding> findings;
  // One line per part that could not be read in full; the scan is then incomplete (exit 2).
  std::vector<std::string> incomplete;

  void Add(std::string id, Severity severity, uint64_t offset, std::string subject,
           std::string message) {
    findings.push_back(ModelFinding{std::move(id), severity, "", offset, std::move(subject),
                                    std::move(message), 1});
  }
};

}  // namespace rampart::supply
