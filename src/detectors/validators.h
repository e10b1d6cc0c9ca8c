// Validators: structural and checksum checks that turn a pattern candidate into a finding.
//
// A rule in a rule pack may name a validator (`validator: luhn`). The rule engine calls it
// for every candidate match; the validator may narrow the span (e.g. keep only the value of
// a `password = "..."` assignment, or trim trailing punctuation) and returns false to reject
// look-alikes (wrong checksum, impossible ranges, placeholders such as "xxxx" or "example").
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rampart::detectors {

struct ValidatorArgs {
  // When > 0, the (narrowed) candidate must have at least this Shannon entropy in bits per
  // character. Default: 0 (off).
  double min_entropy = 0.0;
};

// `text` is the whole text being scanned (so a validator may look at context around the
// candidate); [begin, end) is the candidate, which the validator may narrow in place.
// REQUIRES: begin < end <= text.size().
using ValidatorFn = bool (*)(std::string_view text, uint32_t& begin, uint32_t& end,
                             const ValidatorArgs& args);

// The validator registered under `name` ("luhn", "iban", ...); nullptr when unknown.
ValidatorFn FindValidator(std::string_view name);
// All registered names, for error messages and docs.
std::vector<std::string_view> ValidatorNames();

// Building blocks, exposed for tests.
bool LuhnValid(std::string_view digits);            // digits only
bool IbanValid(std::string_view iban);              // compact, no spaces: country+check+BBAN
double ShannonEntropy(std::string_view s);          // bits per byte
bool LooksLikePlaceholder(std::string_view value);  // "xxxx", "changeme", "<token>", "${VAR}"

}  // namespace rampart::detectors
