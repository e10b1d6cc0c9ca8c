// Fuzzes the GGUF validator: every length field is attacker-controlled, so this checks that
// none of them is trusted (no read past the end, no huge allocation, no hang).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "supply/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  using namespace rampart::supply;
  std::string_view data(reinterpret_cast<const char*>(bytes), size);
  GgufLimits limits;
  limits.max_string_bytes = 1 << 16;
  limits.max_array_elements = 1 << 16;
  CheckGguf(data, limits);
  ChatTemplateRisks(data);
  return 0;
}
