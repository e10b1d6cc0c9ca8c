// Fuzzes the safetensors validator and the scanner's handling of safetensors files (including
// the pickle reading of polyglots). Checks that findings point inside the file.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "supply/model_scanner.h"
#include "supply/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  using namespace rampart::supply;
  std::string_view data(reinterpret_cast<const char*>(bytes), size);
  SafetensorsLimits limits;
  limits.max_header_bytes = 1 << 20;
  limits.max_tensors = 4096;
  CheckResult r = CheckSafetensors(data, limits);
  for (const ModelFinding& f : r.findings) {
    if (f.offset > size) {
      std::fprintf(stderr, "safetensors_fuzz: finding %s offset %llu past the end\n", f.id.c_str(),
                   static_cast<unsigned long long>(f.offset));
      std::abort();
    }
  }
  static const ModelScanner* scanner = [] {
    ScanOptions o;
    o.safetensors.max_header_bytes = 1 << 20;
    o.max_gzip_bytes = 1 << 20;
    return new ModelScanner(std::move(o));
  }();
  scanner->Scan(data);
  return 0;
}
