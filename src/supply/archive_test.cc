// Archive and compression containers read through libarchive and zlib: tar (legacy PyTorch),
// 7z, xz, bzip2, zstd, lz4 and raw zlib (joblib). The archives are written by the real
// libarchive in each test, so the reader is checked against what real tools produce.
#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <string>
#include <utility>
#include <vector>

#include "supply/model_scanner.h"
#include "supply/test_archives.h"
#include "supply/test_pickles.h"

namespace rampart::supply {
namespace {

using testing::Filter;
using testing::Member;
using testing::WriteArchive;
using testing::Zlib;

const ModelFinding* Find(const ScanReport& r, std::string_view id, std::string_view subject) {
  for (const auto& f : r.findings) {
    if (f.id == id && (subject.empty() || f.subject == subject)) return &f;
  }
  return nullptr;
}

std::string Describe(const ScanReport& r) {
  std::string s = std::string(FormatName(r.format)) + ":";
  for (const auto& f : r.findings) s += " " + f.id + "@" + f.location + "(" + f.subject + ")";
  for (const auto& i : r.incomplete) s += " [" + i + "]";
  return s;
}

// The clean pickle: PROTO 2, EMPTY_DICT, STOP.
const std::string kClean("\x80\x02}.", 4);

TEST(Archives, MaliciousPickleIsFoundInEveryContainer) {
  const std::string evil = testing::OsSystemPickle(2);
  struct Case {
    const char* format;
    Filter filter;
    Format expected;
  };
  const Case cases[] = {
      {"ustar", Filter::kNone, Format::kTar},    {"pax", Filter::kXz, Format::kXz},
      {"ustar", Filter::kBzip2, Format::kBzip2}, {"pax", Filter::kZstd, Format::kZstd},
      {"ustar", Filter::kLz4, Format::kLz4},     {"7zip", Filter::kNone, Format::kSevenZip},
      {"ustar", Filter::kGzip, Format::kGzip},
  };
  for (const Case& c : cases) {
    std::string archive = WriteArchive(c.format, c.filter,
                                       {{"archive/version", "3\n"},
                                        {"archive/data.pkl", evil},
                                        {"archive/data/0", std::string(4096, '\x01')}});
    ScanReport r = ModelScanner().Scan(archive);
    EXPECT_EQ(r.format, c.expected) << c.format;
    const ModelFinding* f = Find(r, "pickle.import.denied", "os.system");
    ASSERT_NE(f, nullptr) << c.format << " " << Describe(r);
    EXPECT_NE(f->location.find("archive/data.pkl"), std::string::npos) << f->location;
    EXPECT_TRUE(r.complete()) << Describe(r);
  }
}

TEST(Archives, SingleCompressedPicklesAreScanned) {
  const std::string evil = testing::OsSystemPickle(0);
  for (Filter filter : {Filter::kXz, Filter::kBzip2, Filter::kZstd, Filter::kLz4, Filter::kLzma}) {
    std::string stream = WriteArchive("raw", filter, {{"data", evil}});
    ScanReport r = ModelScanner().Scan(stream);
    ASSERT_NE(Find(r, "pickle.import.denied", "os.system"), nullptr) << Describe(r);
    EXPECT_TRUE(r.complete()) << Describe(r);
  }
  // joblib's zlib compression: a bare zlib stream.
  ScanReport r = ModelScanner().Scan(Zlib(evil));
  EXPECT_EQ(r.format, Format::kZlib);
  EXPECT_NE(Find(r, "pickle.import.denied", "os.system"), nullptr) << Describe(r);
}

TEST(Archives, CleanArchivesAreClean) {
  std::string archive = WriteArchive("pax", Filter::kXz, {{"model/data.pkl", kClean}});
  ScanReport r = ModelScanner().Scan(archive);
  EXPECT_TRUE(r.findings.empty()) << Describe(r);
  EXPECT_TRUE(r.complete());
}

TEST(Archives, TraversalAndLinksAreFindings) {
  std::string archive = WriteArchive(
      "pax", Filter::kNone,
      {{"../../etc/cron.d/x", kClean}, {"/abs/path.pkl", kClean}, {"lnk", "", "/etc/passwd"}});
  ScanReport r = ModelScanner().Scan(archive);
  EXPECT_NE(Find(r, "archive.path", "../../etc/cron.d/x"), nullptr) << Describe(r);
  EXPECT_NE(Find(r, "archive.path", "/abs/path.pkl"), nullptr) << Describe(r);
  EXPECT_NE(Find(r, "archive.link", "lnk"), nullptr) << Describe(r);
}

TEST(Archives, TruncatedArchivesAreIncomplete) {
  const std::string evil = testing::OsSystemPickle(2);
  for (const char* format : {"pax", "7zip"}) {
    std::string archive =
        WriteArchive(format, Filter::kXz, {{"a.pkl", std::string(200000, 'a')}, {"b.pkl", evil}});
    ScanReport r = ModelScanner().Scan(std::string_view(archive).substr(0, archive.size() / 2));
    EXPECT_FALSE(r.complete()) << format << " " << Describe(r);
    EXPECT_NE(Find(r, "archive.malformed", ""), nullptr) << format << " " << Describe(r);
  }
}

TEST(Archives, DecompressionBombsHitTheLimit) {
  std::string archive =
      WriteArchive("ustar", Filter::kXz, {{"zeros.bin", std::string(8 << 20, '\0')}});
  ASSERT_LT(archive.size(), 20000u);
  ScanOptions o;
  o.zip.max_ratio = 100;
  o.zip.ratio_exempt_bytes = 1 << 20;
  ScanReport r = ModelScanner(o).Scan(archive);
  EXPECT_NE(Find(r, "archive.limit", ""), nullptr) << Describe(r);
  EXPECT_FALSE(r.complete());
}

// libarchive peels stacked compression filters itself (xz in xz in xz ..., up to its own
// limit); archives inside archives count against max_depth.
TEST(Archives, NestingIsBounded) {
  std::string inner = testing::OsSystemPickle(2);
  for (int i = 0; i < 6; ++i) inner = WriteArchive("ustar", Filter::kNone, {{"nested", inner}});
  ScanReport r = ModelScanner().Scan(inner);
  EXPECT_NE(Find(r, "container.depth", ""), nullptr) << Describe(r);
  EXPECT_FALSE(r.complete());
}

}  // namespace
}  // namespace rampart::supply
