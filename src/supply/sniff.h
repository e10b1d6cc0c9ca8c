// Content-based format detection for model artifacts. File names are never consulted: a
// pickle renamed `.safetensors` is still a pickle.
//
// Thread safety: stateless functions.
#pragma once

#include <string_view>

namespace rampart::supply {

enum class Format : uint8_t {
  kUnknown,
  kEmpty,
  kPickle,  // raw pickle stream (protocols 0-5), legacy PyTorch files included
  kZip,     // ZIP archive (PyTorch's default format, NumPy .npz ...)
  kGzip,
  kNpy,          // NumPy .npy array
  kSafetensors,  // safetensors (JSON header + tensor bytes)
  kGguf,         // GGUF (llama.cpp)
  kZlib,         // raw zlib stream (joblib's zlib compression)
  kTar,          // POSIX/GNU tar (legacy PyTorch layout)
  kSevenZip,     // 7z archive
  kXz,           // xz or legacy lzma stream
  kBzip2,
  kZstd,
  kLz4,         // LZ4 frame
  kOnnx,        // ONNX ModelProto
  kSavedModel,  // TensorFlow saved_model.pb
  kHdf5,        // HDF5 (Keras .h5)
};

// Stable lower-case names: "unknown", "empty", "pickle", "zip", "gzip", "npy",
// "safetensors", "gguf", "zlib", "tar", "7z", "xz", "bzip2", "zstd", "lz4",
// "onnx", "savedmodel", "hdf5".
std::string_view FormatName(Format f);

// Detects the format of `data` from its bytes. `strict_pickle` (used for archive members)
// requires a pickle to interpret cleanly for a few opcodes even when it starts with PROTO;
// otherwise PROTO with a known version is enough. A ZIP is recognized by its local header
// signature at the start or by an end-of-central-directory record near the end.
Format Sniff(std::string_view data, bool strict_pickle);

}  // namespace rampart::supply
