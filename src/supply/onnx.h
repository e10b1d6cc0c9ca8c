// Structural checks of ONNX models (ModelProto, protobuf wire format).
//
// Loading ONNX runs no Python, but two fields reach outside the file: tensors stored as
// external data name a file path that the runtime opens (an absolute path or `..` reads any
// file the process can), and operators from a domain the runtime does not implement need a
// custom-operator shared library to be loaded. Both are reported. The graph is walked with
// subgraphs (If/Loop/Scan bodies) and local functions, to a bounded depth.
//
// Thread safety: stateless functions.
#pragma once

#include <cstdint>
#include <string_view>

#include "supply/model_finding.h"

namespace rampart::supply {

struct OnnxLimits {
  // Nesting of subgraphs inside node attributes. Default: 32.
  uint32_t max_depth = 32;
};

// A protobuf that starts with ir_version and carries an ONNX graph or opset imports.
bool LooksLikeOnnx(std::string_view data);

// Finding ids: onnx.malformed, onnx.limit (incomplete), onnx.external_data,
// onnx.custom_domain.
CheckResult CheckOnnx(std::string_view data, const OnnxLimits& limits = {});

}  // namespace rampart::supply
