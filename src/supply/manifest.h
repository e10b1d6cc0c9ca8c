// Pinned model manifests: `rampart manifest create|verify DIR`.
//
// A manifest lists every file of a model directory with its size, SHA-256, the format sniffed
// from its content and the scan-model verdict. Verification re-hashes the directory and
// reports every changed, missing or extra file. The manifest is plain JSON (no signature of
// its own); sign the directory with `rampart sign` to protect it (docs/signing.md).
//
// Thread safety: stateless functions; they start and join their own threads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "supply/file_hasher.h"

namespace rampart::supply {

inline constexpr char kManifestKind[] = "rampart.model-manifest";
inline constexpr char kDefaultManifestName[] = "rampart-manifest.json";

struct ManifestEntry {
  std::string path;  // relative to the root, '/' separated
  uint64_t size = 0;
  std::string sha256;  // lower-case hex
  // The content-sniffed format (FormatName in sniff.h) and the scan-model verdict: "clean"
  // (no findings), the highest finding severity ("low" ... "critical"; files of a format the
  // scanner does not know carry its low "file.unrecognized"), or "incomplete" when part of
  // the file could not be read by the scanner.
  std::string format;
  std::string verdict;
};

struct Manifest {
  std::vector<ManifestEntry> files;  // sorted by path
};

struct ManifestOptions {
  ListOptions list;
  // Run the model scanner on every file for `format` and `verdict`. Default: true.
  bool scan = true;
  // Files larger than this are hashed but not scanned (verdict "unscanned"). Default: 64 GiB.
  uint64_t max_scan_bytes = uint64_t{64} << 30;
  unsigned threads = 0;
};

// Hashes (and scans) every file under `root`.
absl::StatusOr<Manifest> CreateManifest(const std::string& root, const ManifestOptions& options);

std::string ManifestToJson(const Manifest& m);
// Errors: InvalidArgument naming the field when `text` is not a manifest.
absl::StatusOr<Manifest> ManifestFromJson(std::string_view text);

struct ManifestDiff {
  std::vector<std::string> changed;  // size or digest differs
  std::vector<std::string> missing;  // in the manifest, not on disk
  std::vector<std::string> extra;    // on disk, not in the manifest
  bool clean() const { return changed.empty() && missing.empty() && extra.empty(); }
};

// Re-hashes `root` (no scan) and compares it with `manifest`.
absl::StatusOr<ManifestDiff> VerifyManifest(const std::string& root, const Manifest& manifest,
                                            const ListOptions& list, unsigned threads = 0);

}  // namespace rampart::supply
