#include "supply/zip_reader.h"

#include <zlib.h>

#include <algorithm>
#include <unordered_set>

#include "common/strings.h"

namespace rampart::supply {
namespace {

constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kEocdSig = 0x06054b50;
constexpr uint32_t kEocd64Sig = 0x06064b50;
constexpr uint32_t kEocd64LocatorSig = 0x07064b50;
constexpr size_t kEocdSize = 22;
constexpr size_t kCentralSize = 46;
constexpr size_t kLocalSize = 30;
constexpr uint16_t kFlagEncrypted = 0x0001;
constexpr uint16_t kFlagDataDescriptor = 0x0008;

uint64_t Le(std::string_view d, uint64_t off, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint64_t{static_cast<unsigned char>(d[off + i])} << (8 * i);
  return v;
}

bool Has(std::string_view d, uint64_t off, uint64_t n) {
  return off <= d.size() && n <= d.size() - off;
}

}  // namespace

ZipReader ZipReader::Open(std::string_view data, const ZipLimits& limits) {
  ZipReader r;
  r.data_ = data;
  r.limits_ = limits;
  r.Parse();
  return r;
}

void ZipReader::Parse() {
  const std::string_view d = data_;
  if (d.size() < kEocdSize) {
    Issue("zip.malformed", 0, "", "too short for an end-of-central-directory record");
    return;
  }
  // The record closest to the end, as zipfile and miniz find it, within the largest comment.
  uint64_t lowest = d.size() > kEocdSize + 65535 ? d.size() - kEocdSize - 65535 : 0;
  uint64_t eocd = UINT64_MAX;
  for (uint64_t i = d.size() - kEocdSize + 1; i-- > lowest;) {
    if (Le(d, i, 4) == kEocdSig) {
      eocd = i;
      break;
    }
  }
  if (eocd == UINT64_MAX) {
    Issue("zip.malformed", 0, "", "no end-of-central-directory record");
    return;
  }
  const uint64_t comment_len = Le(d, eocd + 20, 2);
  if (eocd + kEocdSize + comment_len != d.size()) {
    Issue("zip.inconsistent", eocd, "",
          StrCat("end-of-central-directory comment length ", comment_len,
                 " does not end the file (", d.size() - eocd - kEocdSize, " bytes follow)"));
  }
  uint64_t disk = Le(d, eocd + 4, 2), cd_disk = Le(d, eocd + 6, 2);
  uint64_t count_disk = Le(d, eocd + 8, 2), count = Le(d, eocd + 10, 2);
  uint64_t cd_size = Le(d, eocd + 12, 4), cd_offset = Le(d, eocd + 16, 4);
  uint64_t cd_end = eocd;  // where the central directory is expected to end
  const bool wants64 =
      count == 0xFFFF || count_disk == 0xFFFF || cd_size == 0xFFFFFFFF || cd_offset == 0xFFFFFFFF;
  if (eocd >= 20 && Le(d, eocd - 20, 4) == kEocd64LocatorSig) {
    uint64_t rec = Le(d, eocd - 20 + 8, 8);
    if (!Has(d, rec, 56) || Le(d, rec, 4) != kEocd64Sig) {
      Issue("zip.malformed", eocd - 20, "", "ZIP64 locator points at no ZIP64 record");
      return;
    }
    disk = Le(d, rec + 16, 4);
    cd_disk = Le(d, rec + 20, 4);
    count_disk = Le(d, rec + 24, 8);
    count = Le(d, rec + 32, 8);
    cd_size = Le(d, rec + 40, 8);
    cd_offset = Le(d, rec + 48, 8);
    cd_end = rec;
  } else if (wants64) {
    Issue("zip.malformed", eocd, "", "ZIP64 values without a ZIP64 locator");
    return;
  }
  if (disk != 0 || cd_disk != 0 || count_disk != count) {
    Issue("zip.unsupported", eocd, "", "multi-disk archives are not supported");
    return;
  }
  // zipfile accepts data prepended to the archive and shifts every offset by its length.
  uint64_t concat = 0;
  if (cd_size > cd_end || cd_offset > cd_end - cd_size) {
    Issue("zip.malformed", eocd, "", "central directory lies outside the archive");
    return;
  }
  concat = cd_end - cd_size - cd_offset;
  if (concat != 0) {
    Issue("zip.inconsistent", eocd, "",
          StrCat(concat, " bytes between the central directory and its end record ",
                 "(prepended data; readers disagree on offsets)"));
  }
  if (count > limits_.max_entries) {
    Issue("zip.limit", eocd, "",
          StrCat("archive declares ", count, " entries; the limit is ", limits_.max_entries));
    return;
  }
  ok_ = true;
  uint64_t p = cd_offset + concat;
  const uint64_t end = p + cd_size;
  std::unordered_set<std::string> names;
  std::unordered_set<uint64_t> local_offsets;
  entries_.reserve(static_cast<size_t>(std::min<uint64_t>(count, 4096)));
  uint64_t seen = 0;
  while (p + 4 <= end && Le(d, p, 4) == kCentralSig) {
    if (p + kCentralSize > end) {
      Issue("zip.malformed", p, "", "central directory entry runs past the directory");
      break;
    }
    if (seen >= limits_.max_entries) {
      Issue("zip.limit", p, "", StrCat("more than ", limits_.max_entries, " entries"));
      break;
    }
    ++seen;
    ZipEntry e;
    e.flags = static_cast<uint16_t>(Le(d, p + 8, 2));
    e.method = static_cast<uint16_t>(Le(d, p + 10, 2));
    e.crc32 = static_cast<uint32_t>(Le(d, p + 16, 4));
    e.compressed_size = Le(d, p + 20, 4);
    e.uncompressed_size = Le(d, p + 24, 4);
    uint64_t name_len = Le(d, p + 28, 2), extra_len = Le(d, p + 30, 2);
    uint64_t comment = Le(d, p + 32, 2);
    e.local_header_offset = Le(d, p + 42, 4);
    if (p + kCentralSize + name_len + extra_len + comment > end) {
      Issue("zip.malformed", p, "", "central directory entry runs past the directory");
      break;
    }
    e.name.assign(d.substr(p + kCentralSize, name_len));
    // ZIP64 extended information: the 0xFFFFFFFF fields, in order.
    uint64_t x = p + kCentralSize + name_len, xend = x + extra_len;
    while (x + 4 <= xend) {
      uint64_t id = Le(d, x, 2), len = Le(d, x + 2, 2);
      if (x + 4 + len > xend) break;
      if (id == 0x0001) {
        uint64_t q = x + 4, qend = q + len;
        auto take = [&](uint64_t* field) {
          if (*field == 0xFFFFFFFF && q + 8 <= qend) {
            *field = Le(d, q, 8);
            q += 8;
          }
        };
        take(&e.uncompressed_size);
        take(&e.compressed_size);
        take(&e.local_header_offset);
      }
      x += 4 + len;
    }
    p = xend + comment;
    if (!names.insert(e.name).second) {
      Issue("zip.inconsistent", p, e.name, "duplicate entry name (readers pick different ones)");
    }
    if (!local_offsets.insert(e.local_header_offset).second) {
      Issue("zip.inconsistent", p, e.name, "two entries share one local header (overlap)");
    }
    // Cross-check the local header.
    uint64_t lh = e.local_header_offset + concat;
    if (!Has(d, lh, kLocalSize) || Le(d, lh, 4) != kLocalSig) {
      Issue("zip.inconsistent", lh, e.name, "central directory points at no local header");
      entries_.push_back(std::move(e));
      continue;
    }
    uint16_t lflags = static_cast<uint16_t>(Le(d, lh + 6, 2));
    uint16_t lmethod = static_cast<uint16_t>(Le(d, lh + 8, 2));
    uint32_t lcrc = static_cast<uint32_t>(Le(d, lh + 14, 4));
    uint64_t lcomp = Le(d, lh + 18, 4), luncomp = Le(d, lh + 22, 4);
    uint64_t lname_len = Le(d, lh + 26, 2), lextra_len = Le(d, lh + 28, 2);
    if (!Has(d, lh + kLocalSize, lname_len + lextra_len)) {
      Issue("zip.malformed", lh, e.name, "local header runs past the archive");
      entries_.push_back(std::move(e));
      continue;
    }
    std::string_view lname = d.substr(lh + kLocalSize, lname_len);
    if (lname != e.name) {
      Issue("zip.inconsistent", lh, e.name,
            StrCat("local header names the entry differently (", lname_len, " bytes)"));
    }
    if ((lflags & ~kFlagDataDescriptor) != (e.flags & ~kFlagDataDescriptor)) {
      Issue("zip.inconsistent", lh, e.name,
            StrCat("flags differ: central 0x", fmt::format("{:04x}", e.flags), ", local 0x",
                   fmt::format("{:04x}", lflags)));
    }
    if (lmethod != e.method) {
      Issue("zip.inconsistent", lh, e.name,
            StrCat("compression method differs: central ", e.method, ", local ", lmethod));
    }
    const bool descriptor = (lflags & kFlagDataDescriptor) != 0;
    if (!descriptor || lcrc != 0) {
      if (lcrc != e.crc32)
        Issue("zip.inconsistent", lh, e.name, "CRC-32 differs from local header");
    }
    if ((!descriptor || lcomp != 0) && lcomp != 0xFFFFFFFF && lcomp != e.compressed_size) {
      Issue("zip.inconsistent", lh, e.name, "compressed size differs from local header");
    }
    if ((!descriptor || luncomp != 0) && luncomp != 0xFFFFFFFF && luncomp != e.uncompressed_size) {
      Issue("zip.inconsistent", lh, e.name, "uncompressed size differs from local header");
    }
    e.data_offset = lh + kLocalSize + lname_len + lextra_len;
    if (!Has(d, e.data_offset, e.compressed_size)) {
      Issue("zip.malformed", lh, e.name, "entry data runs past the archive");
    } else {
      e.readable = true;
    }
    entries_.push_back(std::move(e));
  }
  if (seen != count) {
    Issue("zip.inconsistent", eocd, "",
          StrCat("end record declares ", count, " entries; the central directory has ", seen));
  }
}

bool ZipReader::Extract(const ZipEntry& e, std::string* storage, std::string_view* contents,
                        std::vector<ZipIssue>* issues) const {
  auto issue = [&](std::string id, std::string message) {
    issues->push_back(ZipIssue{std::move(id), e.local_header_offset, e.name, std::move(message)});
  };
  if (!e.readable) {
    issue("zip.malformed", "entry data cannot be located");
    return false;
  }
  if ((e.flags & kFlagEncrypted) != 0) {
    issue("zip.unsupported", "encrypted entry");
    return false;
  }
  std::string_view raw = data_.substr(e.data_offset, e.compressed_size);
  if (e.method == 0) {
    *contents = raw;
  } else if (e.method == 8) {
    storage->clear();
    z_stream zs{};
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) {
      issue("zip.malformed", "zlib initialization failed");
      return false;
    }
    constexpr size_t kChunk = 1 << 16;
    const uint64_t cap = limits_.max_entry_bytes;
    int rc = Z_OK;
    uint64_t fed = 0;
    bool limit = false;
    while (rc != Z_STREAM_END) {
      if (zs.avail_in == 0 && fed < raw.size()) {
        uInt n = static_cast<uInt>(std::min<uint64_t>(raw.size() - fed, 1u << 30));
        zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data() + fed));
        zs.avail_in = n;
        fed += n;
      }
      size_t old = storage->size();
      storage->resize(old + kChunk);
      zs.next_out = reinterpret_cast<Bytef*>(storage->data() + old);
      zs.avail_out = kChunk;
      rc = inflate(&zs, Z_NO_FLUSH);
      storage->resize(old + (kChunk - zs.avail_out));
      if (rc == Z_BUF_ERROR && zs.avail_in == 0 && fed >= raw.size()) break;
      if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) break;
      if (storage->size() > cap) {
        limit = true;
        break;
      }
      if (storage->size() > limits_.ratio_exempt_bytes &&
          storage->size() / std::max<uint64_t>(fed - zs.avail_in, 1) > limits_.max_ratio) {
        issue("zip.limit", StrCat("compression ratio above ", limits_.max_ratio,
                                  ":1 (zip bomb?) after ", storage->size(), " bytes"));
        inflateEnd(&zs);
        return false;
      }
    }
    inflateEnd(&zs);
    if (limit) {
      issue("zip.limit", StrCat("inflates to more than ", cap, " bytes"));
      return false;
    }
    if (rc != Z_STREAM_END) {
      issue("zip.malformed", "deflate stream is corrupt or truncated");
      return false;
    }
    *contents = *storage;
  } else {
    issue("zip.unsupported", StrCat("compression method ", e.method, " is not supported"));
    return false;
  }
  if (contents->size() != e.uncompressed_size) {
    issue("zip.inconsistent",
          StrCat("declared size ", e.uncompressed_size, ", actual ", contents->size()));
  }
  uLong crc = crc32(0L, Z_NULL, 0);
  std::string_view rest = *contents;
  while (!rest.empty()) {
    uInt n = static_cast<uInt>(std::min<size_t>(rest.size(), 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(rest.data()), n);
    rest.remove_prefix(n);
  }
  if (static_cast<uint32_t>(crc) != e.crc32) {
    issue("zip.inconsistent", "CRC-32 of the contents does not match the central directory");
  }
  return true;
}

}  // namespace rampart::supply
