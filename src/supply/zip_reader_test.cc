#include "supply/zip_reader.h"

#include <gtest/gtest.h>

#include <string>

#include "supply/test_pickles.h"

namespace rampart::supply {
namespace {

using testing::ZipWriter;

bool HasIssue(const std::vector<ZipIssue>& issues, std::string_view id) {
  for (const auto& i : issues) {
    if (i.id == id) return true;
  }
  return false;
}

TEST(ZipReader, ReadsStoredAndDeflatedEntries) {
  std::string big(100000, 'a');
  for (size_t i = 0; i < big.size(); i += 7) big[i] = static_cast<char>('a' + i % 26);
  std::string zip = ZipWriter().Add("a.txt", "hello").Add("b.bin", big, true).Build();
  ZipReader r = ZipReader::Open(zip);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.issues().empty()) << r.issues()[0].message;
  ASSERT_EQ(r.entries().size(), 2u);
  std::string storage;
  std::string_view contents;
  std::vector<ZipIssue> issues;
  ASSERT_TRUE(r.Extract(r.entries()[0], &storage, &contents, &issues));
  EXPECT_EQ(contents, "hello");
  ASSERT_TRUE(r.Extract(r.entries()[1], &storage, &contents, &issues));
  EXPECT_EQ(contents, big);
  EXPECT_TRUE(issues.empty());
}

TEST(ZipReader, LocalNameDifferentFromCentralNameIsInconsistent) {
  ZipWriter::Entry e{"archive/data.pkl", "x", false, "archive/other.pkl", false};
  const std::string zip_data = ZipWriter().Add(e).Build();
  ZipReader r = ZipReader::Open(zip_data);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(HasIssue(r.issues(), "zip.inconsistent"));
}

TEST(ZipReader, CrcMismatchIsInconsistent) {
  ZipWriter::Entry e{"a", "payload", false, "", true};
  const std::string zip_data = ZipWriter().Add(e).Build();
  ZipReader r = ZipReader::Open(zip_data);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.issues().empty());
  std::string storage;
  std::string_view contents;
  std::vector<ZipIssue> issues;
  EXPECT_TRUE(r.Extract(r.entries()[0], &storage, &contents, &issues));
  EXPECT_TRUE(HasIssue(issues, "zip.inconsistent"));
}

TEST(ZipReader, ZipBombHitsTheRatioLimit) {
  std::string zeros(64 << 20, '\0');
  const std::string zip_data = ZipWriter().Add("bomb", zeros, true).Build();
  ZipReader r = ZipReader::Open(zip_data);
  ASSERT_TRUE(r.ok());
  std::string storage;
  std::string_view contents;
  std::vector<ZipIssue> issues;
  EXPECT_FALSE(r.Extract(r.entries()[0], &storage, &contents, &issues));
  EXPECT_TRUE(HasIssue(issues, "zip.limit")) << (issues.empty() ? "" : issues[0].message);
  EXPECT_LT(storage.size(), zeros.size());
}

TEST(ZipReader, EntrySizeLimit) {
  ZipLimits limits;
  limits.max_entry_bytes = 1000;
  std::string text(5000, 'q');
  for (size_t i = 0; i < text.size(); ++i) text[i] = static_cast<char>('a' + (i * 31) % 26);
  const std::string zip_data = ZipWriter().Add("t", text, true).Build();
  ZipReader r = ZipReader::Open(zip_data, limits);
  std::string storage;
  std::string_view contents;
  std::vector<ZipIssue> issues;
  EXPECT_FALSE(r.Extract(r.entries()[0], &storage, &contents, &issues));
  EXPECT_TRUE(HasIssue(issues, "zip.limit"));
}

TEST(ZipReader, BrokenArchivesAreNotOk) {
  EXPECT_FALSE(ZipReader::Open("PK\x03\x04garbage").ok());
  std::string zip = ZipWriter().Add("a", "b").Build();
  EXPECT_FALSE(ZipReader::Open(zip.substr(0, zip.size() - 5)).ok());
  // Central directory offset pointing outside the file.
  std::string bad = zip;
  bad[bad.size() - 6] = '\x7f';
  EXPECT_FALSE(ZipReader::Open(bad).ok());
}

TEST(ZipReader, PrependedDataIsReportedAndRead) {
  std::string zip = std::string(100, 'J') + ZipWriter().Add("a", "b").Build();
  ZipReader r = ZipReader::Open(zip);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(HasIssue(r.issues(), "zip.inconsistent"));
  ASSERT_EQ(r.entries().size(), 1u);
  EXPECT_TRUE(r.entries()[0].readable);
}

TEST(ZipReader, ReadsZip64Records) {
  const std::string zip_data = ZipWriter()
                                   .Zip64()
                                   .Add("archive/data.pkl", "abc")
                                   .Add("big", std::string(5000, 'z'), true)
                                   .Build();
  ZipReader r = ZipReader::Open(zip_data);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.issues().empty()) << r.issues()[0].message;
  ASSERT_EQ(r.entries().size(), 2u);
  EXPECT_EQ(r.entries()[1].uncompressed_size, 5000u);
  std::string storage;
  std::string_view contents;
  std::vector<ZipIssue> issues;
  ASSERT_TRUE(r.Extract(r.entries()[0], &storage, &contents, &issues));
  EXPECT_EQ(contents, "abc");
  ASSERT_TRUE(r.Extract(r.entries()[1], &storage, &contents, &issues));
  EXPECT_EQ(contents, std::string(5000, 'z'));
  EXPECT_TRUE(issues.empty());
}

TEST(ZipReader, DuplicateNamesAreInconsistent) {
  const std::string zip_data = ZipWriter().Add("x", "1").Add("x", "2").Build();
  ZipReader r = ZipReader::Open(zip_data);
  EXPECT_TRUE(HasIssue(r.issues(), "zip.inconsistent"));
}

}  // namespace
}  // namespace rampart::supply
