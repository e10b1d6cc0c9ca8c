// Fuzzes the SSE framing of upstream streams: the input is cut into pieces at positions
// chosen by its first bytes, and the parser must give the same events however the bytes are
// split, stay within its bound, and never crash.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "server/sse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  size_t step = 1 + data[0] % 17;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  constexpr size_t kMax = 4096;

  rampart::server::SseParser whole(kMax);
  std::vector<rampart::server::SseEvent> a;
  bool ok_a = whole.Feed(in, a);

  rampart::server::SseParser pieces(kMax);
  std::vector<rampart::server::SseEvent> b;
  bool ok_b = true;
  for (size_t i = 0; i < in.size() && ok_b; i += step) ok_b = pieces.Feed(in.substr(i, step), b);

  if (ok_a != ok_b) {
    std::fprintf(stderr, "sse_fuzz: split changed success\n");
    std::abort();
  }
  if (ok_a) {
    if (a.size() != b.size()) std::abort();
    for (size_t i = 0; i < a.size(); ++i) {
      if (a[i].data != b[i].data || a[i].event != b[i].event) std::abort();
      if (a[i].data.size() > kMax) std::abort();
      // Framing what we parsed and parsing it again gives the same data.
      rampart::server::SseParser again(kMax * 2);
      std::vector<rampart::server::SseEvent> c;
      again.Feed(rampart::server::FormatSseData(a[i].data), c);
      if (c.size() != 1 || c[0].data != a[i].data) std::abort();
    }
  }
  return 0;
}
