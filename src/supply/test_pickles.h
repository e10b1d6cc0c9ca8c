// Test-only helpers: a byte-level pickle writer and a ZIP writer, so tests build benign and
// malicious artifacts exactly, opcode by opcode and header by header.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace rampart::supply::testing {

class PickleWriter {
 public:
  PickleWriter& Op(uint8_t op) {
    out_.push_back(static_cast<char>(op));
    return *this;
  }
  PickleWriter& Raw(std::string_view s) {
    out_.append(s);
    return *this;
  }
  PickleWriter& Le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
    return *this;
  }
  PickleWriter& Proto(int v) { return Op(0x80).Le(static_cast<uint64_t>(v), 1); }
  PickleWriter& Frame(uint64_t len) { return Op(0x95).Le(len, 8); }
  PickleWriter& Global(std::string_view module, std::string_view name) {
    return Op('c').Raw(module).Raw("\n").Raw(name).Raw("\n");
  }
  PickleWriter& Inst(std::string_view module, std::string_view name) {
    return Op('i').Raw(module).Raw("\n").Raw(name).Raw("\n");
  }
  PickleWriter& Str(std::string_view s) {  // SHORT_BINUNICODE or BINUNICODE
    if (s.size() < 256) return Op(0x8c).Le(s.size(), 1).Raw(s);
    return Op('X').Le(s.size(), 4).Raw(s);
  }
  PickleWriter& String0(std::string_view quoted) { return Op('S').Raw(quoted).Raw("\n"); }
  PickleWriter& Bytes(std::string_view b) {
    if (b.size() < 256) return Op('C').Le(b.size(), 1).Raw(b);
    return Op('B').Le(b.size(), 4).Raw(b);
  }
  PickleWriter& Int1(uint8_t v) { return Op('K').Le(v, 1); }
  PickleWriter& Float(double d) {
    uint64_t bits;
    std::memcpy(&bits, &d, 8);
    Op('G');
    for (int i = 7; i >= 0; --i) out_.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
    return *this;
  }
  PickleWriter& Mark() { return Op('('); }
  PickleWriter& Tuple() { return Op('t'); }
  PickleWriter& Tuple1() { return Op(0x85); }
  PickleWriter& Tuple2() { return Op(0x86); }
  PickleWriter& EmptyTuple() { return Op(')'); }
  PickleWriter& EmptyDict() { return Op('}'); }
  PickleWriter& EmptyList() { return Op(']'); }
  PickleWriter& Reduce() { return Op('R'); }
  PickleWriter& Build() { return Op('b'); }
  PickleWriter& NewObj() { return Op(0x81); }
  PickleWriter& StackGlobal() { return Op(0x93); }
  PickleWriter& Memoize() { return Op(0x94); }
  PickleWriter& BinPut(uint8_t i) { return Op('q').Le(i, 1); }
  PickleWriter& BinGet(uint8_t i) { return Op('h').Le(i, 1); }
  PickleWriter& SetItems() { return Op('u'); }
  PickleWriter& SetItem() { return Op('s'); }
  PickleWriter& Appends() { return Op('e'); }
  PickleWriter& BinPersId() { return Op('Q'); }
  PickleWriter& None() { return Op('N'); }
  PickleWriter& True() { return Op(0x88); }
  PickleWriter& False() { return Op(0x89); }
  PickleWriter& Int4(int32_t v) { return Op('J').Le(static_cast<uint32_t>(v), 4); }
  PickleWriter& Stop() { return Op('.'); }

  // One NumPy array the way joblib.dump (numpy_pickle.py) writes it: a NumpyArrayWrapper
  // whose state holds the shape and a numpy.dtype(spec, False, True), its BUILD, then the
  // array's bytes. `aligned` (joblib >= 1.2 on a seekable file) adds
  // numpy_array_alignment_bytes: 16 to the state and a padding-length byte and padding
  // before the bytes. For an object dtype ("O8") `data` is the array's own pickle.
  PickleWriter& JoblibArray(std::string_view dtype, const std::vector<uint32_t>& shape,
                            std::string_view data, bool aligned = true) {
    Global("joblib.numpy_pickle", "NumpyArrayWrapper").EmptyTuple().NewObj();
    EmptyDict().Mark();
    Str("subclass").Global("numpy", "ndarray");
    Str("shape").Mark();
    for (uint32_t d : shape) Int4(static_cast<int32_t>(d));
    Tuple();
    Str("order").Str("C");
    Str("dtype").Global("numpy", "dtype").Str(dtype).False().True().Op(0x87).Reduce();
    Mark().Int1(3).Str("<").None().None().None().Int4(-1).Int4(-1).Int1(0).Tuple().Build();
    Str("allow_mmap").True();
    if (aligned) Str("numpy_array_alignment_bytes").Int1(16);
    SetItems().Build();
    if (aligned) {
      size_t pad = 16 - (out_.size() + 1) % 16;
      Le(pad, 1).Raw(std::string(pad, '\xff'));
    }
    return Raw(data);
  }

  const std::string& str() const { return out_; }
  size_t size() const { return out_.size(); }

 private:
  std::string out_;
};

// A protocol-2 pickle that calls os.system("echo pwned") through GLOBAL + REDUCE.
inline std::string OsSystemPickle(int proto = 2) {
  PickleWriter w;
  if (proto >= 2) w.Proto(proto);
  w.Global("os", "system").Mark().String0("'echo pwned'").Tuple().Reduce().Stop();
  return w.str();
}

inline uint32_t Crc32(std::string_view s) {
  return static_cast<uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size())));
}

// `s` deflated with zlib's window_bits convention: -15 raw deflate (ZIP entries), 15 zlib,
// 16 + 15 gzip.
inline std::string Deflate(std::string_view s, int window_bits, int level = 9) {
  z_stream zs{};
  deflateInit2(&zs, level, Z_DEFLATED, window_bits, 9, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, static_cast<uLong>(s.size())) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(s.data()));
  zs.avail_in = static_cast<uInt>(s.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

inline std::string RawDeflate(std::string_view s) { return Deflate(s, -MAX_WBITS); }

// Builds a ZIP archive; each entry may lie in its local header (name, CRC).
class ZipWriter {
 public:
  struct Entry {
    std::string name;
    std::string contents;
    bool deflate = false;
    std::string local_name;    // when non-empty, written in the local header instead of `name`
    bool corrupt_crc = false;  // store a wrong CRC in both headers
  };

  ZipWriter& Add(Entry e) {
    entries_.push_back(std::move(e));
    return *this;
  }
  // Writes ZIP64 records (sizes and offsets in extra fields, a ZIP64 end record).
  ZipWriter& Zip64() {
    zip64_ = true;
    return *this;
  }
  ZipWriter& Add(std::string name, std::string contents, bool deflate = false) {
    return Add(Entry{std::move(name), std::move(contents), deflate, "", false});
  }

  std::string Build() const {
    std::string out, cd;
    for (const Entry& e : entries_) {
      std::string data = e.deflate ? RawDeflate(e.contents) : e.contents;
      uint32_t crc = Crc32(e.contents) ^ (e.corrupt_crc ? 0xdeadbeefu : 0u);
      uint16_t method = e.deflate ? 8 : 0;
      const std::string& lname = e.local_name.empty() ? e.name : e.local_name;
      uint64_t offset = out.size();
      Put(&out, 0x04034b50, 4);
      Put(&out, 20, 2);
      Put(&out, 0, 2);
      Put(&out, method, 2);
      Put(&out, 0, 4);
      Put(&out, crc, 4);
      Put(&out, zip64_ ? 0xFFFFFFFF : data.size(), 4);
      Put(&out, zip64_ ? 0xFFFFFFFF : e.contents.size(), 4);
      Put(&out, lname.size(), 2);
      Put(&out, zip64_ ? 20 : 0, 2);
      out += lname;
      if (zip64_) {
        Put(&out, 0x0001, 2);
        Put(&out, 16, 2);
        Put(&out, e.contents.size(), 8);
        Put(&out, data.size(), 8);
      }
      out += data;
      Put(&cd, 0x02014b50, 4);
      Put(&cd, 20, 2);
      Put(&cd, 20, 2);
      Put(&cd, 0, 2);
      Put(&cd, method, 2);
      Put(&cd, 0, 4);
      Put(&cd, crc, 4);
      Put(&cd, zip64_ ? 0xFFFFFFFF : data.size(), 4);
      Put(&cd, zip64_ ? 0xFFFFFFFF : e.contents.size(), 4);
      Put(&cd, e.name.size(), 2);
      Put(&cd, zip64_ ? 28 : 0, 2);
      Put(&cd, 0, 2);
      Put(&cd, 0, 2);
      Put(&cd, 0, 2);
      Put(&cd, 0, 4);
      Put(&cd, zip64_ ? 0xFFFFFFFF : offset, 4);
      cd += e.name;
      if (zip64_) {
        Put(&cd, 0x0001, 2);
        Put(&cd, 24, 2);
        Put(&cd, e.contents.size(), 8);
        Put(&cd, data.size(), 8);
        Put(&cd, offset, 8);
      }
    }
    uint64_t cd_offset = out.size();
    out += cd;
    if (zip64_) {
      uint64_t rec = out.size();
      Put(&out, 0x06064b50, 4);
      Put(&out, 44, 8);
      Put(&out, 45, 2);
      Put(&out, 45, 2);
      Put(&out, 0, 4);
      Put(&out, 0, 4);
      Put(&out, entries_.size(), 8);
      Put(&out, entries_.size(), 8);
      Put(&out, cd.size(), 8);
      Put(&out, cd_offset, 8);
      Put(&out, 0x07064b50, 4);
      Put(&out, 0, 4);
      Put(&out, rec, 8);
      Put(&out, 1, 4);
    }
    Put(&out, 0x06054b50, 4);
    Put(&out, 0, 2);
    Put(&out, 0, 2);
    Put(&out, zip64_ ? 0xFFFF : entries_.size(), 2);
    Put(&out, zip64_ ? 0xFFFF : entries_.size(), 2);
    Put(&out, zip64_ ? 0xFFFFFFFF : cd.size(), 4);
    Put(&out, zip64_ ? 0xFFFFFFFF : cd_offset, 4);
    Put(&out, 0, 2);
    return out;
  }

 private:
  static void Put(std::string* out, uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  }
  std::vector<Entry> entries_;
  bool zip64_ = false;
};

}  // namespace rampart::supply::testing
