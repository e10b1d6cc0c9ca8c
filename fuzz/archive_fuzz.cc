// Fuzzes the container walkers behind the model scanner: tar, 7z and compressed streams
// (xz, bzip2, zstd, lz4) through libarchive, raw zlib through zlib, with small limits so a
// bomb is cut short. Seeds: a legacy PyTorch tar, a tar.xz, a bzip2'd and a zlib'd pickle.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "supply/model_scanner.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  using namespace rampart::supply;
  static const ModelScanner* scanner = [] {
    ScanOptions o;
    o.zip.max_entries = 256;
    o.zip.max_entry_bytes = 1 << 20;
    o.zip.ratio_exempt_bytes = 1 << 16;
    o.max_gzip_bytes = 1 << 20;
    return new ModelScanner(std::move(o));
  }();
  scanner->Scan(std::string_view(reinterpret_cast<const char*>(bytes), size));
  return 0;
}
