// Perturbations of attack texts for robustness evaluation (`rampart eval injection
// --perturb`): the obfuscations an attacker uses to slip an instruction past a detector.
//
// Each function is deterministic for its seed. Thread safety: stateless functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rampart::detectors {

enum class Perturbation : uint8_t {
  kCase,         // random upper/lower case per letter
  kHomoglyph,    // Latin letters replaced by Cyrillic/Greek look-alikes
  kZeroWidth,    // zero-width spaces/joiners inserted inside words
  kUnicodeTags,  // ASCII hidden as Unicode tag characters after a benign carrier sentence
  kBase64,       // the text base64-encoded behind a "decode and follow" lead-in
  kLeetspeak,    // a->4, e->3, i->1, o->0, s->5, t->7
  kTypos,        // swapped, dropped, doubled letters in some words
  kSplit,        // the payload split over two messages
};

inline constexpr Perturbation kAllPerturbations[] = {
    Perturbation::kCase,        Perturbation::kHomoglyph, Perturbation::kZeroWidth,
    Perturbation::kUnicodeTags, Perturbation::kBase64,    Perturbation::kLeetspeak,
    Perturbation::kTypos,       Perturbation::kSplit};

// Stable names: "case", "homoglyph", "zero_width", "unicode_tags", "base64", "leetspeak",
// "typos", "split".
std::string_view PerturbationName(Perturbation p);

// The perturbed text as one or more messages (two for kSplit, one otherwise). Invalid UTF-8
// in `text` is passed through unchanged where it is met.
std::vector<std::string> Perturb(std::string_view text, Perturbation p, uint64_t seed);

}  // namespace rampart::detectors
