// Spotlighting of untrusted content (retrieved documents, tool results, web pages): a
// transformation that keeps the content readable to the model while making it unmistakably
// data, plus the matching sentence for the system prompt. Three modes:
//
//   delimit  — wrap in a random boundary that does not occur in the content:
//              <<untrusted-3f9a...>> ... <</untrusted-3f9a...>>
//   datamark — interleave a marker character between words ("the^cat^sat"), so instructions
//              inside read as marked data
//   encode   — base64 the content (for models that read base64 well)
//
// Thread safety: stateless functions.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace rampart::detectors {

enum class SpotlightMode : uint8_t { kDelimit, kDatamark, kEncode };

// "delimit", "datamark", "encode"; nullopt-like error for anything else.
absl::StatusOr<SpotlightMode> ParseSpotlightMode(std::string_view name);

struct Spotlighted {
  std::string text;         // the transformed content
  std::string instruction;  // the sentence to add to the system prompt
};

// `marker` is used by datamark (Default: U+02C6 "ˆ"). The delimit boundary is random (OpenSSL).
absl::StatusOr<Spotlighted> Spotlight(std::string_view content, SpotlightMode mode,
                                      std::string_view marker = "\xcb\x86");

}  // namespace rampart::detectors
