// Fuzzes the response-head parser of bench/paced_load (bench/http_response_head.h): whatever
// a server sends, ParseHead either refuses it with a message or returns a head whose sizes
// are within its bounds and consistent with the input, and never crashes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "bench/http_response_head.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t head_end = in.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return 0;
  rampart::bench::Head h;
  std::string error;
  if (!rampart::bench::ParseHead(in, head_end, &h, &error)) {
    if (error.empty()) std::abort();  // a refusal always says why
    return 0;
  }
  if (h.head_bytes != head_end + 4) std::abort();
  if (h.body_bytes > rampart::bench::kMaxResponseBytes) std::abort();
  if (h.status < 0 || h.status > 999) std::abort();  // three digits
  if (in.substr(0, 7) != "HTTP/1.") std::abort();
  return 0;
}
