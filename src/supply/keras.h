// Checks of Keras model configurations: config.json inside a `.keras` archive (Keras 3) and
// the `model_config` attribute of a Keras HDF5 (`.h5`) file.
//
// Keras rebuilds a model from this JSON. A Lambda layer carries Python bytecode that runs
// when the model is loaded with safe_mode=False (or by older Keras versions); any object
// whose "module" is not part of Keras or TensorFlow makes Keras import that module and call
// into it during deserialization (the CVE-2025-1550 class of bypass); a "registered_name"
// of the form "package>Name" needs custom code from the loading environment.
//
// Thread safety: stateless functions.
#pragma once

#include <string_view>
#include <vector>

#include "supply/model_finding.h"

namespace rampart::supply {

// Finding ids: keras.malformed (incomplete), keras.lambda, keras.module, keras.custom_object.
CheckResult CheckKerasConfig(std::string_view json);

// HDF5 signature at the start of the file.
bool LooksLikeHdf5(std::string_view data);

// The Keras model configurations stored in an HDF5 file: JSON objects that start with
// {"class_name": (how Keras writes `model_config`), found by a bounded scan of the bytes
// rather than by walking the HDF5 structure. At most `max` are returned. `unreadable`, when
// given, receives the number of such starts that did not parse as JSON (a config split by
// the HDF5 layout, or cut short): the caller must not call the file clean then.
std::vector<std::string_view> FindKerasConfigs(std::string_view data, size_t max = 16,
                                               size_t* unreadable = nullptr);

}  // namespace rampart::supply
