#include "supply/sniff.h"

#include "supply/gguf.h"
#include "supply/keras.h"
#include "supply/onnx.h"
#include "supply/pickle_vm.h"
#include "supply/safetensors.h"
#include "supply/tensorflow.h"

namespace rampart::supply {
namespace {

// The legacy .lzma ("LZMA alone") header that joblib's compress="lzma" and Python's
// lzma.FORMAT_ALONE write: properties 0x5D (lc=3, lp=0, pb=2, every common encoder's
// default), a dictionary size of 2^n or 2^n + 2^(n-1) between 4 KiB and 1.5 GiB, an
// uncompressed size that is unknown (all ones) or below 2^48, and a range coder whose first
// byte is always 0. There is no magic number; together these rarely happen by chance.
bool LooksLikeLzmaAlone(std::string_view data) {
  if (data.size() < 14 || static_cast<unsigned char>(data[0]) != 0x5D || data[13] != 0) {
    return false;
  }
  auto le = [&](size_t at, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i)
      v |= uint64_t{static_cast<unsigned char>(data[at + i])} << (8 * i);
    return v;
  };
  uint64_t dict = le(1, 4);
  bool dict_ok = false;
  for (int n = 12; n <= 30 && !dict_ok; ++n) {
    dict_ok = dict == (uint64_t{1} << n) || dict == (uint64_t{3} << (n - 1));
  }
  uint64_t size = le(5, 8);
  return dict_ok && (size == ~uint64_t{0} || size < (uint64_t{1} << 48));
}

}  // namespace

std::string_view FormatName(Format f) {
  switch (f) {
    case Format::kUnknown:
      return "unknown";
    case Format::kEmpty:
      return "empty";
    case Format::kPickle:
      return "pickle";
    case Format::kZip:
      return "zip";
    case Format::kGzip:
      return "gzip";
    case Format::kNpy:
      return "npy";
    case Format::kSafetensors:
      return "safetensors";
    case Format::kGguf:
      return "gguf";
    case Format::kZlib:
      return "zlib";
    case Format::kTar:
      return "tar";
    case Format::kSevenZip:
      return "7z";
    case Format::kXz:
      return "xz";
    case Format::kBzip2:
      return "bzip2";
    case Format::kZstd:
      return "zstd";
    case Format::kLz4:
      return "lz4";
    case Format::kOnnx:
      return "onnx";
    case Format::kSavedModel:
      return "savedmodel";
    case Format::kHdf5:
      return "hdf5";
  }
  return "unknown";
}

Format Sniff(std::string_view data, bool strict_pickle) {
  using namespace std::string_view_literals;
  if (data.empty()) return Format::kEmpty;
  if (data.substr(0, 4) == "PK\x03\x04"sv || data.substr(0, 4) == "PK\x05\x06"sv) {
    return Format::kZip;
  }
  if (data.size() >= 2 && static_cast<unsigned char>(data[0]) == 0x1f &&
      static_cast<unsigned char>(data[1]) == 0x8b) {
    return Format::kGzip;
  }
  if (data.substr(0, 6) == "\x93NUMPY"sv) return Format::kNpy;
  if (data.substr(0, 6) == "7z\xBC\xAF\x27\x1C"sv) return Format::kSevenZip;
  if (data.substr(0, 6) ==
      "\xFD"
      "7zXZ\x00"sv)
    return Format::kXz;
  if (LooksLikeLzmaAlone(data)) return Format::kXz;
  if (data.substr(0, 4) == "\x28\xB5\x2F\xFD"sv) return Format::kZstd;
  if (data.substr(0, 4) == "\x04\x22\x4D\x18"sv) return Format::kLz4;
  // "BZh" and a block size digit, then the block magic (pi) or the end-of-stream magic.
  if (data.size() >= 10 && data.substr(0, 3) == "BZh" && data[3] >= '1' && data[3] <= '9' &&
      (data.substr(4, 6) == "\x31\x41\x59\x26\x53\x59"sv ||
       data.substr(4, 6) == "\x17\x72\x45\x38\x50\x90"sv)) {
    return Format::kBzip2;
  }
  // "ustar" at offset 257 (POSIX and GNU tar headers).
  if (data.size() >= 512 && data.substr(257, 5) == "ustar"sv) return Format::kTar;
  if (LooksLikeGguf(data)) return Format::kGguf;
  if (LooksLikeHdf5(data)) return Format::kHdf5;
  // Before the pickle check: a header length whose low bytes read as PROTO must not turn a
  // safetensors file into a pickle (the scanner still tries the pickle reading of it).
  if (LooksLikeSafetensors(data)) return Format::kSafetensors;
  if (PickleVm::LooksLikePickle(data, strict_pickle)) return Format::kPickle;
  if (LooksLikeOnnx(data)) return Format::kOnnx;
  if (LooksLikeSavedModel(data)) return Format::kSavedModel;
  // zlib: deflate with a 32 KiB window or less, and the header check bits.
  if (data.size() >= 2 && (static_cast<unsigned char>(data[0]) & 0x8f) == 0x08 &&
      ((static_cast<unsigned char>(data[0]) << 8) | static_cast<unsigned char>(data[1])) % 31 ==
          0 &&
      (static_cast<unsigned char>(data[1]) & 0x20) == 0) {
    return Format::kZlib;
  }
  // A ZIP with data prepended (self-extracting style) is still opened by zipfile and miniz,
  // which find the end-of-central-directory record from the end.
  constexpr size_t kEocdSearch = 65535 + 22;
  size_t from = data.size() > kEocdSearch ? data.size() - kEocdSearch : 0;
  if (data.size() >= 22 && data.substr(from).rfind("PK\x05\x06"sv) != std::string_view::npos) {
    return Format::kZip;
  }
  return Format::kUnknown;
}

}  // namespace rampart::supply
