#include "supply/sniff.h"

#include "supply/gguf.h"
#include "supply/pickle_vm.h"
#include "supply/safetensors.h"

namespace rampart::supply {

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
  if (LooksLikeGguf(data)) return Format::kGguf;
  // Before the pickle check: a header length whose low bytes read as PROTO must not turn a
  // safetensors file into a pickle (the scanner still tries the pickle reading of it).
  if (LooksLikeSafetensors(data)) return Format::kSafetensors;
  if (PickleVm::LooksLikePickle(data, strict_pickle)) return Format::kPickle;
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
