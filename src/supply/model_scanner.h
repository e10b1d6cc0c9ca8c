// ModelScanner: scans one model artifact held in memory. The format is sniffed from the
// content (sniff.h); pickles are interpreted by the PickleVm and every import and call is
// judged by the ImportPolicy; ZIP archives (PyTorch's format), gzip streams and NumPy .npy
// files are opened and every member that sniffs as a pickle or a container is scanned, to a
// bounded depth. A bytes constant passed to a nested deserializer (pickle.loads,
// torch.storage._load_from_bytes ...) is scanned as an artifact of its own.
//
// Whatever could not be read completely (truncated or malformed pickles, limits, unsupported
// compression) is listed in ScanReport::incomplete and also appears as a finding: a scan is
// never reported clean when part of the input went unread.
//
// Thread safety: immutable after construction; Scan() may be called from many threads.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "rampart/finding.h"
#include "supply/gguf.h"
#include "supply/model_finding.h"
#include "supply/pickle_vm.h"
#include "supply/policy.h"
#include "supply/safetensors.h"
#include "supply/sniff.h"
#include "supply/zip_reader.h"

namespace rampart::supply {

struct ScanReport {
  Format format = Format::kUnknown;
  std::vector<ModelFinding> findings;
  // One line per part that could not be read in full ("archive/data.pkl: truncated at 812").
  std::vector<std::string> incomplete;
  uint64_t opcodes = 0;
  uint32_t pickles = 0;
  uint64_t imports = 0;
  uint64_t calls = 0;

  bool complete() const { return incomplete.empty(); }
  // kInfo when there are no findings.
  Severity MaxSeverity() const;
};

struct ScanOptions {
  PickleLimits pickle;
  ZipLimits zip;
  // Containers and nested pickles inside each other. Default: 4.
  uint32_t max_depth = 4;
  // Bytes a gzip stream may inflate to. Default: 4 GiB.
  uint64_t max_gzip_bytes = uint64_t{4} << 30;
  // Distinct findings kept per pickle; further ones are counted in one pickle.limit finding.
  // Default: 4096.
  uint32_t max_findings = 4096;
  ImportPolicy policy = ImportPolicy::Default();
  SafetensorsLimits safetensors;
  GgufLimits gguf;
};

class ModelScanner {
 public:
  explicit ModelScanner(ScanOptions options = ScanOptions()) : options_(std::move(options)) {}

  // Receives byte offsets reached in the top-level artifact, now and then, while a scan runs
  // (from the pickle VM and the archive walker). Called on the scanning thread.
  using Progress = std::function<void(uint64_t offset)>;

  ScanReport Scan(std::string_view data, const Progress& progress = nullptr) const;

 private:
  friend class ScanSession;
  ScanOptions options_;
};

}  // namespace rampart::supply
