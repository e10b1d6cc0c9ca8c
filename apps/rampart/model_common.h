// Helpers shared by the subcommands that use the learned injection detector: where the
// shipped model lives, loading it, and reading labelled injection data.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "detectors/injection_model.h"

namespace rampart::cli {

// The model file: `flag` when set, else $RAMPART_MODEL, else models/injection.model next to
// or one level above the binary, else the source tree the binary was built from.
std::string ResolveModelPath(const std::string& flag);
// The manifest beside a model: "x.model" -> "x.manifest.json".
std::string ManifestPathFor(const std::string& model_path);
// Loads and hash-checks the model at ResolveModelPath(flag) against its manifest.
absl::StatusOr<std::shared_ptr<const detectors::InjectionModel>> LoadInjectionModel(
    const std::string& flag);

struct LabelledText {
  std::string text;
  int label = 0;
  std::string category;
  std::string source;
  uint64_t line = 0;
};

// Reads {"text", "label", "category", "source"} records; errors name the line.
absl::StatusOr<std::vector<LabelledText>> ReadLabelledJsonl(const std::string& path);

}  // namespace rampart::cli
