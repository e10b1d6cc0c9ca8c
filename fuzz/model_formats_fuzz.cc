// Fuzzes the ONNX and TensorFlow SavedModel walkers (protobuf wire format) and the Keras
// config checks (JSON found inside HDF5 bytes).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "supply/keras.h"
#include "supply/onnx.h"
#include "supply/tensorflow.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  using namespace rampart::supply;
  std::string_view data(reinterpret_cast<const char*>(bytes), size);
  LooksLikeOnnx(data);
  LooksLikeSavedModel(data);
  CheckOnnx(data);
  CheckSavedModel(data);
  for (std::string_view config : FindKerasConfigs(data, 4)) CheckKerasConfig(config);
  return 0;
}
