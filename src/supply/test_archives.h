// Test helper: writes tar, 7z and compressed-stream archives with the real libarchive, so
// the scanner is tested against what real tools produce.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <string>
#include <vector>

#include "supply/test_pickles.h"

namespace rampart::supply::testing {

enum class Filter { kNone, kXz, kBzip2, kZstd, kLz4, kGzip, kLzma };

struct Member {
  std::string name;
  std::string data;
  const char* link = nullptr;  // a symlink target instead of data
};

// Writes `members` as an archive of `format` ("ustar", "pax", "7zip", "raw") through
// `filter`, with libarchive itself.
inline std::string WriteArchive(const char* format, Filter filter,
                                const std::vector<Member>& members) {
  struct archive* a = archive_write_new();
  EXPECT_EQ(archive_write_set_format_by_name(a, format), ARCHIVE_OK) << archive_error_string(a);
  switch (filter) {
    case Filter::kNone:
      break;
    case Filter::kXz:
      archive_write_add_filter_xz(a);
      break;
    case Filter::kBzip2:
      archive_write_add_filter_bzip2(a);
      break;
    case Filter::kZstd:
      archive_write_add_filter_zstd(a);
      break;
    case Filter::kLz4:
      archive_write_add_filter_lz4(a);
      break;
    case Filter::kGzip:
      archive_write_add_filter_gzip(a);
      break;
    case Filter::kLzma:  // legacy .lzma ("LZMA alone"): joblib's compress="lzma"
      archive_write_add_filter_lzma(a);
      break;
  }
  std::vector<char> buf(8 << 20);
  size_t used = 0;
  EXPECT_EQ(archive_write_open_memory(a, buf.data(), buf.size(), &used), ARCHIVE_OK)
      << archive_error_string(a);
  for (const Member& m : members) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, m.name.c_str());
    if (m.link != nullptr) {
      archive_entry_set_filetype(e, AE_IFLNK);
      archive_entry_set_symlink(e, m.link);
      archive_entry_set_size(e, 0);
    } else {
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_size(e, static_cast<la_int64_t>(m.data.size()));
    }
    archive_entry_set_perm(e, 0644);
    EXPECT_EQ(archive_write_header(a, e), ARCHIVE_OK) << archive_error_string(a);
    if (m.link == nullptr) archive_write_data(a, m.data.data(), m.data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return std::string(buf.data(), used);
}

// A zlib stream (joblib's zlib compression) and a gzip file of `data`.
inline std::string Zlib(const std::string& data) { return Deflate(data, MAX_WBITS, 6); }

inline std::string Gzip(const std::string& data) { return Deflate(data, 16 + MAX_WBITS, 6); }

}  // namespace rampart::supply::testing
