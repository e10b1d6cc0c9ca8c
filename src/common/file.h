// Bounded file reading for configuration, rule packs and inputs.
//
// Thread safety: stateless functions.
#pragma once

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"

namespace rampart {

// Reads the whole file at `path`. Errors: NotFound, PermissionDenied or Internal with the
// path and the OS reason; ResourceExhausted when the file is larger than `max_bytes` (the
// file is not read past the limit).
absl::StatusOr<std::string> ReadFileBounded(const std::string& path, size_t max_bytes);

}  // namespace rampart
