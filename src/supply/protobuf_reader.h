// ProtobufReader: a bounded reader of the protobuf wire format, enough to walk ONNX and
// TensorFlow files field by field without their schemas compiled in. Every length is checked
// against the bytes that remain; groups (deprecated wire types 3 and 4) are refused.
//
// Thread safety: a reader is used by one thread; the bytes must outlive it.
#pragma once

#include <cstdint>
#include <string_view>

namespace rampart::supply {

class ProtobufReader {
 public:
  enum class WireType : uint8_t { kVarint = 0, kFixed64 = 1, kBytes = 2, kFixed32 = 5 };

  struct Field {
    uint32_t number = 0;
    WireType type = WireType::kVarint;
    uint64_t varint = 0;     // kVarint, kFixed64, kFixed32
    std::string_view bytes;  // kBytes
    uint64_t offset = 0;     // of the tag, relative to the reader's base offset
  };

  // `base` is added to reported offsets, so nested messages report file offsets.
  explicit ProtobufReader(std::string_view data, uint64_t base = 0) : data_(data), base_(base) {}

  // Reads the next field. False at the end of the data, or on a malformed field (then
  // error() is true and error_offset() says where).
  bool Next(Field* f) {
    if (pos_ >= data_.size() || error_) return false;
    const uint64_t at = pos_;
    uint64_t tag = 0;
    if (!Varint(&tag)) return Fail(at);
    const uint64_t number = tag >> 3;
    const uint64_t type = tag & 7;
    if (number == 0 || number > (uint64_t{1} << 29) - 1) return Fail(at);
    f->number = static_cast<uint32_t>(number);
    f->offset = base_ + at;
    f->bytes = {};
    switch (type) {
      case 0:
        f->type = WireType::kVarint;
        if (!Varint(&f->varint)) return Fail(at);
        return true;
      case 1:
      case 5: {
        const size_t n = type == 1 ? 8 : 4;
        if (data_.size() - pos_ < n) return Fail(at);
        uint64_t v = 0;
        for (size_t i = 0; i < n; ++i) {
          v |= uint64_t{static_cast<unsigned char>(data_[pos_ + i])} << (8 * i);
        }
        pos_ += n;
        f->type = type == 1 ? WireType::kFixed64 : WireType::kFixed32;
        f->varint = v;
        return true;
      }
      case 2: {
        uint64_t len = 0;
        if (!Varint(&len) || len > data_.size() - pos_) return Fail(at);
        f->type = WireType::kBytes;
        f->bytes = data_.substr(pos_, len);
        pos_ += len;
        return true;
      }
      default:
        return Fail(at);
    }
  }

  bool error() const { return error_; }
  uint64_t error_offset() const { return base_ + error_at_; }
  // Offset of `bytes` (a view returned by Next) in file coordinates.
  uint64_t OffsetOf(std::string_view bytes) const {
    return base_ + static_cast<uint64_t>(bytes.data() - data_.data());
  }

 private:
  bool Varint(uint64_t* out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) return false;
      const unsigned char b = static_cast<unsigned char>(data_[pos_++]);
      v |= uint64_t{b & 0x7fu} << shift;
      if ((b & 0x80) == 0) {
        *out = v;
        return true;
      }
    }
    return false;
  }
  bool Fail(uint64_t at) {
    error_ = true;
    error_at_ = at;
    return false;
  }

  std::string_view data_;
  uint64_t base_;
  uint64_t pos_ = 0;
  bool error_ = false;
  uint64_t error_at_ = 0;
};

}  // namespace rampart::supply
