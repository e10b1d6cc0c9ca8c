// Structural validation of safetensors files.
//
// A safetensors file is an 8-byte little-endian header length N, N bytes of JSON (tensor name
// -> {"dtype", "shape", "data_offsets": [begin, end]}, plus an optional "__metadata__" map of
// strings), then the tensor bytes. Loading one runs no code, so the risks are parser
// differentials and smuggled bytes: duplicate keys that two JSON parsers resolve differently,
// tensors that overlap or leave holes (bytes no tensor accounts for), data past the last
// tensor, sizes that disagree with dtype x shape, and a header so large that a loader
// exhausts memory. Each of these is a finding; a file that cannot be parsed is incomplete.
//
// Thread safety: stateless functions.
#pragma once

#include <cstdint>
#include <string_view>

#include "supply/model_finding.h"

namespace rampart::supply {

struct SafetensorsLimits {
  // Largest JSON header accepted (the reference loader's limit). Default: 100,000,000.
  uint64_t max_header_bytes = 100'000'000;
  // Tensors listed in one header. Default: 1,000,000.
  uint64_t max_tensors = 1'000'000;
};

// True when `data` starts like a safetensors file: a header length that fits in the file
// and a header that begins with '{'.
bool LooksLikeSafetensors(std::string_view data);

// Validates the whole layout. Finding ids (docs/scan-model.md): safetensors.malformed,
// safetensors.limit (both incomplete), safetensors.duplicate_key, safetensors.layout,
// safetensors.shape, safetensors.dtype, safetensors.metadata, safetensors.field.
CheckResult CheckSafetensors(std::string_view data, const SafetensorsLimits& limits = {});

}  // namespace rampart::supply
