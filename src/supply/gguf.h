// Structural validation of GGUF files (llama.cpp's model format, versions 2 and 3).
//
// Layout: "GGUF", u32 version, u64 tensor count, u64 key/value count, the key/value pairs
// (typed: integers, floats, bools, length-prefixed strings, arrays of these), the tensor infos
// (name, dimensions, ggml type, offset into the data section), padding to the alignment, and
// the tensor data. Loaders have had memory-safety bugs in exactly these fields, so every
// length is checked against the bytes that remain before it is used, keys and tensor names
// must be unique, offsets aligned and in bounds, and tensor sizes must match their type.
//
// GGUF files also carry Jinja chat templates (`tokenizer.chat_template*`) that some runtimes
// render outside a sandbox: templates that reach for Python internals (`__class__`,
// `__globals__`, `|attr(...)`, escaped underscores ...) are reported as
// `gguf.chat_template` findings.
//
// Thread safety: stateless functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "supply/model_finding.h"

namespace rampart::supply {

struct GgufLimits {
  // Key/value pairs. Default: 65,536.
  uint64_t max_kv = 65536;
  // Tensor infos. Default: 1,048,576.
  uint64_t max_tensors = 1 << 20;
  // Bytes of one string (keys, values, tensor names). Default: 16 MiB.
  uint64_t max_string_bytes = 16 << 20;
  // Elements of one array. Default: 16,777,216.
  uint64_t max_array_elements = 1 << 24;
};

bool LooksLikeGguf(std::string_view data);

// Finding ids (docs/scan-model.md): gguf.malformed, gguf.limit, gguf.unsupported (these three
// leave the file incomplete), gguf.duplicate_key, gguf.tensor, gguf.layout, gguf.alignment,
// gguf.chat_template.
CheckResult CheckGguf(std::string_view data, const GgufLimits& limits = {});

// The reasons a chat template looks like a Jinja sandbox escape; empty when none. Exposed for
// tests and for templates found outside GGUF files.
std::vector<std::string> ChatTemplateRisks(std::string_view tmpl);

}  // namespace rampart::supply
