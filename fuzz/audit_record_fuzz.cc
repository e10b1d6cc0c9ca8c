// Fuzzes the audit record decoder (what verify, query and export run on stored bytes) and
// checks that whatever it accepts re-encodes to a canonical form that is a fixed point:
// decode(encode(r)) succeeds and encodes to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "audit/record.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "audit_record_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto record = rampart::audit::DecodeRecord(bytes);
  if (!record.ok()) return 0;
  std::string canonical = rampart::audit::EncodeRecord(*record);
  auto again = rampart::audit::DecodeRecord(canonical);
  Check(again.ok(), "canonical form decodes");
  Check(rampart::audit::EncodeRecord(*again) == canonical, "canonical form is a fixed point");
  Check(again->seq == record->seq && again->findings.size() == record->findings.size(),
        "seq and findings survive");
  return 0;
}
