// Checks of TensorFlow SavedModel graphs (saved_model.pb, protobuf wire format).
//
// A SavedModel's graph runs when the model is served or called, with the loading process's
// rights. Most ops compute on tensors; a few touch the world: ReadFile / WriteFile /
// MatchingFiles read, write and list the file system, ImmutableConst maps a named file, and
// PyFunc / EagerPyFunc / PyFuncStateless call Python functions registered in the loading
// process. Every graph and function body is walked, and each such op is a finding.
//
// Thread safety: stateless functions.
#pragma once

#include <string_view>

#include "supply/model_finding.h"

namespace rampart::supply {

// A protobuf that starts with saved_model_schema_version and has meta graphs.
bool LooksLikeSavedModel(std::string_view data);

// Finding ids: tf.malformed (incomplete), tf.file_access, tf.python_call.
CheckResult CheckSavedModel(std::string_view data);

}  // namespace rampart::supply
