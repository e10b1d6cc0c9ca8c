// Findings about how a text is written rather than what it says: characters a reader cannot
// see, words that mix look-alike scripts, smuggled tag-character payloads, invalid UTF-8.
//
// Rules (detector "text", category obfuscation):
//   text.tag_characters   Unicode tag characters carrying a hidden ASCII message (high);
//                         the short tag sequences of emoji subdivision flags are ignored.
//   text.bidi_control     bidi override/isolate controls that reorder what is displayed (medium)
//   text.zero_width       zero-width characters inside a word, splitting it for filters (medium)
//   text.mixed_script     a word mixing ASCII letters with mapped look-alikes (medium)
//   text.invalid_utf8     byte sequences that are not UTF-8 (low)
//
// Thread safety: pure function.
#pragma once

#include <string_view>
#include <vector>

#include "rampart/finding.h"
#include "text/normalizer.h"

namespace rampart::detectors {

void FindTextAnomalies(std::string_view original, const text::NormalizedText& n,
                       std::string_view field, std::vector<Finding>& out);

}  // namespace rampart::detectors
