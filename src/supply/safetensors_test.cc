#include "supply/safetensors.h"

#include <gtest/gtest.h>

#include <string>

#include "supply/model_scanner.h"

namespace rampart::supply {
namespace {

// header_json padded with spaces to a multiple of 8, as the reference writer does.
std::string Safetensors(std::string header, std::string data, bool pad = true) {
  if (pad) {
    while (header.size() % 8 != 0) header += ' ';
  }
  std::string out;
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out += static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + data;
}

const ModelFinding* Find(const CheckResult& r, std::string_view id) {
  for (const auto& f : r.findings) {
    if (f.id == id) return &f;
  }
  return nullptr;
}

std::string Ids(const CheckResult& r) {
  std::string s;
  for (const auto& f : r.findings) s += f.id + "(" + f.subject + ") ";
  return s;
}

const char* kTwoTensors = R"({"__metadata__":{"format":"pt"},)"
                          R"("a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},)"
                          R"("b":{"dtype":"BF16","shape":[4],"data_offsets":[16,24]}})";

TEST(Safetensors, WellFormedFileIsClean) {
  std::string file = Safetensors(kTwoTensors, std::string(24, '\x01'));
  EXPECT_TRUE(LooksLikeSafetensors(file));
  CheckResult r = CheckSafetensors(file);
  EXPECT_TRUE(r.findings.empty()) << Ids(r);
  EXPECT_TRUE(r.incomplete.empty());

  ScanReport scan = ModelScanner().Scan(file);
  EXPECT_EQ(scan.format, Format::kSafetensors);
  EXPECT_TRUE(scan.findings.empty());
  EXPECT_TRUE(scan.complete());
}

TEST(Safetensors, SubByteDtypesArePacked) {
  std::string file = Safetensors(R"({"q":{"dtype":"F4","shape":[6],"data_offsets":[0,3]}})", "abc");
  EXPECT_TRUE(CheckSafetensors(file).findings.empty());
  std::string odd = Safetensors(R"({"q":{"dtype":"F4","shape":[5],"data_offsets":[0,3]}})", "abc");
  EXPECT_NE(Find(CheckSafetensors(odd), "safetensors.shape"), nullptr);
}

TEST(Safetensors, BytesAfterTheLastTensorAreALayoutFinding) {
  std::string file = Safetensors(kTwoTensors, std::string(24, '\x01') + "hidden payload");
  CheckResult r_file = CheckSafetensors(file);
  const ModelFinding* f = Find(r_file, "safetensors.layout");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, Severity::kHigh);
  EXPECT_NE(f->message.find("14 bytes after the last tensor"), std::string::npos) << f->message;
}

TEST(Safetensors, OverlapHoleAndOutOfBoundsAreFound) {
  std::string overlap = Safetensors(R"({"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},)"
                                    R"("b":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}})",
                                    std::string(8, 'x'));
  CheckResult r_overlap = CheckSafetensors(overlap);
  const ModelFinding* f = Find(r_overlap, "safetensors.layout");
  ASSERT_NE(f, nullptr);
  EXPECT_NE(f->message.find("overlaps"), std::string::npos);

  std::string hole = Safetensors(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                                 R"("b":{"dtype":"U8","shape":[4],"data_offsets":[6,10]}})",
                                 std::string(10, 'x'));
  CheckResult r_hole = CheckSafetensors(hole);
  f = Find(r_hole, "safetensors.layout");
  ASSERT_NE(f, nullptr);
  EXPECT_NE(f->message.find("2 bytes before this tensor"), std::string::npos) << f->message;

  std::string past = Safetensors(R"({"a":{"dtype":"U8","shape":[16],"data_offsets":[0,16]}})",
                                 std::string(8, 'x'));
  CheckResult r_past = CheckSafetensors(past);
  f = Find(r_past, "safetensors.layout");
  ASSERT_NE(f, nullptr);
  EXPECT_NE(f->message.find("past the end"), std::string::npos);
}

// Regression (safetensors_fuzz): overlapping tensors that both run past the end of the data
// reported an offset past the end of the file.
TEST(Safetensors, FindingOffsetsStayInsideTheFile) {
  std::string file = Safetensors(R"({"a":{"dtype":"U8","shape":[3],"data_offsets":[5,8]},)"
                                 R"("b":{"dtype":"U8","shape":[6],"data_offsets":[2,8]}})",
                                 "xx=x", /*pad=*/false);
  CheckResult r = CheckSafetensors(file);
  ASSERT_FALSE(r.findings.empty());
  for (const auto& f : r.findings) EXPECT_LE(f.offset, file.size()) << f.id << " " << f.message;
}

TEST(Safetensors, ShapeDtypeMismatchAndUnknownDtype) {
  std::string wrong =
      Safetensors(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(8, 'x'));
  EXPECT_NE(Find(CheckSafetensors(wrong), "safetensors.shape"), nullptr);
  std::string huge =
      Safetensors(R"({"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})",
                  std::string(8, 'x'));
  EXPECT_NE(Find(CheckSafetensors(huge), "safetensors.shape"), nullptr);
  std::string unknown =
      Safetensors(R"({"a":{"dtype":"Q9","shape":[8],"data_offsets":[0,8]}})", std::string(8, 'x'));
  EXPECT_NE(Find(CheckSafetensors(unknown), "safetensors.dtype"), nullptr);
}

TEST(Safetensors, DuplicateKeysAreAParserDifferential) {
  std::string file = Safetensors(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                                 R"("a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}})",
                                 std::string(4, 'x'));
  CheckResult r_file = CheckSafetensors(file);
  const ModelFinding* f = Find(r_file, "safetensors.duplicate_key");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->subject, "a");
}

TEST(Safetensors, MetadataMustBeStrings) {
  std::string file = Safetensors(R"({"__metadata__":{"n":1},)"
                                 R"("a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})",
                                 "x");
  EXPECT_NE(Find(CheckSafetensors(file), "safetensors.metadata"), nullptr);
}

TEST(Safetensors, UnreadableHeadersAreIncomplete) {
  for (const std::string& file :
       {std::string("\x10\x00\x00", 3), Safetensors("{\"a\": [1, 2", ""),
        Safetensors("[1,2,3]", ""), std::string("\xff\xff\xff\xff\x00\x00\x00\x00{}", 10)}) {
    CheckResult r = CheckSafetensors(file);
    EXPECT_FALSE(r.incomplete.empty()) << Ids(r);
    EXPECT_FALSE(r.findings.empty());
  }
  SafetensorsLimits small;
  small.max_header_bytes = 16;
  CheckResult r = CheckSafetensors(Safetensors(kTwoTensors, std::string(24, 'x')), small);
  EXPECT_NE(Find(r, "safetensors.limit"), nullptr);
  EXPECT_FALSE(r.incomplete.empty());
}

TEST(Safetensors, FileThatAlsoReadsAsAPickleIsScannedBothWays) {
  // Header length 0x0958: its first five bytes read as BINUNICODE ('X', length 9), whose
  // nine bytes end inside the JSON key, where '.' (STOP) ends the pickle.
  std::string header = R"({"abcd.x":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}})";
  header.resize(0x958, ' ');
  std::string file = Safetensors(header, "wxyz", /*pad=*/false);
  ASSERT_EQ(file[0], 'X');
  ASSERT_EQ(file[14], '.');
  EXPECT_TRUE(CheckSafetensors(file).findings.empty());
  ScanReport scan = ModelScanner().Scan(file);
  EXPECT_EQ(scan.format, Format::kSafetensors);
  bool polyglot = false;
  for (const auto& f : scan.findings) polyglot = polyglot || f.id == "file.polyglot";
  EXPECT_TRUE(polyglot);
  EXPECT_EQ(scan.pickles, 1u);
}

}  // namespace
}  // namespace rampart::supply
