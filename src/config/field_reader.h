// FieldReader: strict, path-aware reading of one JSON object of configuration.
//
// Configuration (the gateway YAML, and each stage's `config:` block) is converted to a
// boost::json value inside this module, so no YAML type leaves it. Readers built on this
// class reject unknown keys and bad values with the full field path, e.g.
// `routes[1].stages[0].config.threshold: must be in [0,1], got 1.5`.
//
// Thread safety: a FieldReader is used by one thread while one config is parsed.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rampart::config {

// "path: message" as InvalidArgument.
absl::Status FieldError(std::string_view path, std::string_view message);

// Joins a parent path and a key: ("routes[1]", "path") -> "routes[1].path"; ("", "x") -> "x".
std::string JoinPath(std::string_view parent, std::string_view key);

class FieldReader {
 public:
  // `value` must be an object (or null, read as an empty object); it must outlive the reader.
  static absl::StatusOr<FieldReader> Open(const boost::json::value& value, std::string path);

  // Each getter leaves `*out` untouched when the key is absent (so the caller's default
  // stays) and errors when `required` and absent, or when the value has the wrong type.
  absl::Status String(std::string_view key, std::string* out, bool required = false);
  absl::Status Uint(std::string_view key, uint64_t* out, uint64_t min, uint64_t max,
                    bool required = false);
  absl::Status Double(std::string_view key, double* out, double min, double max);
  absl::Status Bool(std::string_view key, bool* out);
  absl::Status StringList(std::string_view key, std::vector<std::string>* out);
  // One of `choices`.
  absl::Status Enum(std::string_view key, const std::vector<std::string>& choices,
                    std::string* out);
  // The raw value (nullptr when absent); marks the key as known.
  const boost::json::value* Get(std::string_view key);

  // Path of a key under this object.
  std::string Path(std::string_view key) const { return JoinPath(path_, key); }
  const std::string& path() const { return path_; }

  // Errors on the first key that no getter asked for.
  absl::Status Finish() const;

 private:
  FieldReader(const boost::json::object* obj, std::string path)
      : obj_(obj), path_(std::move(path)) {}
  const boost::json::object* obj_;
  std::string path_;
  std::set<std::string, std::less<>> known_;
};

// Converts YAML text to JSON: plain scalars that read as integers, floats or booleans become
// numbers and booleans, `~`/`null` becomes null, quoted scalars stay strings. Duplicate keys and
// anchors with merges are errors. `max_depth` bounds nesting.
absl::StatusOr<boost::json::value> YamlToJson(std::string_view yaml, uint32_t max_depth = 64);

}  // namespace rampart::config
