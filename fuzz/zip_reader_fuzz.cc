// Fuzzes the ZIP reader: directory parsing, local-header cross-checks and extraction under
// small limits. Checks that entries point inside the archive and limits hold.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "supply/model_scanner.h"
#include "supply/zip_reader.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "zip_reader_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  using namespace rampart::supply;
  std::string_view data(reinterpret_cast<const char*>(bytes), size);
  ZipLimits limits;
  limits.max_entries = 256;
  limits.max_entry_bytes = 1 << 20;
  ZipReader zip = ZipReader::Open(data, limits);
  Check(zip.entries().size() <= limits.max_entries, "entry limit");
  std::string storage;
  for (const ZipEntry& e : zip.entries()) {
    if (e.readable) {
      Check(e.data_offset <= size && e.compressed_size <= size - e.data_offset,
            "readable entry data inside the archive");
    }
    std::string_view contents;
    std::vector<ZipIssue> issues;
    if (zip.Extract(e, &storage, &contents, &issues)) {
      Check(contents.size() <= limits.max_entry_bytes + (1 << 16), "entry size limit");
    }
  }
  static const ModelScanner* scanner = [] {
    ScanOptions o;
    o.zip = ZipLimits{256, 1 << 20, 200, 1 << 16};
    o.max_gzip_bytes = 1 << 20;
    return new ModelScanner(std::move(o));
  }();
  scanner->Scan(data);
  return 0;
}
