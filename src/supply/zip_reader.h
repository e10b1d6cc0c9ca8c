// ZipReader: a bounded reader of ZIP archives held in memory, written to find the header
// tricks that make two readers see two different archives.
//
// The central directory is authoritative (as for Python's zipfile and PyTorch's miniz
// reader); every entry's local header is cross-checked against it (signature, name, flags,
// method, CRC and sizes), and disagreements are reported as `zip.inconsistent` issues, as
// are a wrong entry count, duplicate names, overlapping entries and a trailing comment that
// does not end the file. ZIP64 records are read. Entries are extracted stored or deflated
// (raw inflate via zlib) under a size limit and a compression-ratio limit (`zip.limit`),
// with the CRC-32 verified.
//
// Thread safety: immutable after Open(); Extract() may be called from any thread. The data
// passed to Open() must outlive the reader.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rampart::supply {

struct ZipLimits {
  // Central-directory entries read. Default: 65536.
  uint64_t max_entries = 65536;
  // Bytes one entry may inflate to. Default: 4 GiB.
  uint64_t max_entry_bytes = uint64_t{4} << 30;
  // Largest inflated/compressed ratio of a deflated entry (zip bombs). Default: 200.
  uint64_t max_ratio = 200;
  // Inflated sizes up to this are exempt from the ratio check. Default: 1 MiB.
  uint64_t ratio_exempt_bytes = 1 << 20;
};

struct ZipIssue {
  // "zip.inconsistent", "zip.limit", "zip.malformed", "zip.unsupported", "zip.crc".
  std::string id;
  uint64_t offset = 0;  // byte offset in the archive of the record concerned
  std::string entry;    // entry name, when it concerns one
  std::string message;
};

struct ZipEntry {
  std::string name;  // from the central directory
  uint16_t flags = 0;
  uint16_t method = 0;
  uint32_t crc32 = 0;
  uint64_t compressed_size = 0;
  uint64_t uncompressed_size = 0;
  uint64_t local_header_offset = 0;
  // Start of the entry's data (after the LOCAL header); 0 when the local header is unusable.
  uint64_t data_offset = 0;
  bool readable = false;  // local header found and data within the archive
};

class ZipReader {
 public:
  // Parses the directory of `data`. Never fails: `ok()` is false when no usable central
  // directory was found; everything noticed on the way is in issues().
  static ZipReader Open(std::string_view data, const ZipLimits& limits = ZipLimits());

  bool ok() const { return ok_; }
  const std::vector<ZipEntry>& entries() const { return entries_; }
  const std::vector<ZipIssue>& issues() const { return issues_; }

  // The contents of `entry`: a view into the archive for a stored entry, else inflated into
  // `*storage`. Returns false (with the reason appended to `*issues`) when the contents
  // could not be produced in full; a CRC or size mismatch is an issue but still returns the
  // contents.
  bool Extract(const ZipEntry& entry, std::string* storage, std::string_view* contents,
               std::vector<ZipIssue>* issues) const;

 private:
  void Parse();
  void Issue(std::string id, uint64_t offset, std::string entry, std::string message) {
    issues_.push_back(ZipIssue{std::move(id), offset, std::move(entry), std::move(message)});
  }

  std::string_view data_;
  ZipLimits limits_;
  bool ok_ = false;
  std::vector<ZipEntry> entries_;
  std::vector<ZipIssue> issues_;
};

}  // namespace rampart::supply
