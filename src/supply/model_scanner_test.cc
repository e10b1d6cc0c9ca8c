#include "supply/model_scanner.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <random>
#include <string>

#include "supply/test_pickles.h"

namespace rampart::supply {
namespace {

using testing::PickleWriter;
using testing::ZipWriter;

const ModelFinding* Find(const ScanReport& r, std::string_view id, std::string_view subject) {
  for (const auto& f : r.findings) {
    if (f.id == id && (subject.empty() || f.subject == subject)) return &f;
  }
  return nullptr;
}

ScanReport Scan(std::string_view data) { return ModelScanner().Scan(data); }

// A protocol-2 state dict as torch.save writes it into archive/data.pkl: an OrderedDict of
// tensors rebuilt by torch._utils._rebuild_tensor_v2 from persistent storage references,
// with the _metadata attribute set through BUILD.
std::string TorchStateDict() {
  PickleWriter w;
  w.Proto(2).Global("collections", "OrderedDict").BinPut(0).EmptyTuple().Reduce().BinPut(1);
  w.Mark();
  for (int i = 0; i < 3; ++i) {
    w.Str(i == 0 ? "conv.weight" : i == 1 ? "conv.bias" : "fc.weight");
    w.Global("torch._utils", "_rebuild_tensor_v2");
    w.Mark().Mark().Str("storage").Global("torch", "FloatStorage").Str(std::to_string(i));
    w.Str("cpu").Int1(6).Tuple().BinPersId();
    w.Int1(0).Int1(2).Int1(3).Tuple2().Int1(3).Int1(1).Tuple2().Op(0x89);
    w.Global("collections", "OrderedDict").EmptyTuple().Reduce().Tuple().Reduce();
  }
  w.SetItems();
  w.EmptyDict().Str("_metadata").Global("collections", "OrderedDict").EmptyTuple().Reduce();
  w.SetItem().Build().Stop();
  return w.str();
}

TEST(ModelScanner, BenignTorchStateDictIsClean) {
  ScanReport r = Scan(TorchStateDict());
  EXPECT_EQ(r.format, Format::kPickle);
  EXPECT_TRUE(r.complete());
  EXPECT_TRUE(r.findings.empty()) << r.findings[0].id << " " << r.findings[0].subject;
  EXPECT_EQ(r.pickles, 1u);
  EXPECT_GE(r.calls, 7u);
}

TEST(ModelScanner, OsSystemIsCriticalInProtocols0And2) {
  for (int proto : {0, 2}) {
    ScanReport r = Scan(testing::OsSystemPickle(proto));
    const ModelFinding* f = Find(r, "pickle.import.denied", "os.system");
    ASSERT_NE(f, nullptr) << proto;
    EXPECT_EQ(f->severity, Severity::kCritical);
    EXPECT_EQ(f->offset, proto >= 2 ? 2u : 0u);
    EXPECT_NE(Find(r, "pickle.call", "os.system"), nullptr);
  }
}

TEST(ModelScanner, PosixSystemAndBuiltinsGetattrChain) {
  PickleWriter w;
  w.Proto(4).Str("builtins").Str("getattr").StackGlobal();
  w.Global("posix", "system").Str("system").Tuple2().Reduce().Op('0');
  w.Str("torch").Str("storage._load_from_bytes").StackGlobal().Op('0').None().Stop();
  ScanReport r = Scan(w.str());
  EXPECT_NE(Find(r, "pickle.import.denied", "builtins.getattr"), nullptr);
  EXPECT_NE(Find(r, "pickle.import.denied", "posix.system"), nullptr);
  EXPECT_NE(Find(r, "pickle.import.denied", "torch.storage._load_from_bytes"), nullptr);
  EXPECT_EQ(r.MaxSeverity(), Severity::kCritical);
}

TEST(ModelScanner, NestedPickleInsidePickleLoadsIsScanned) {
  std::string inner = testing::OsSystemPickle(2);
  for (std::string_view fn : {"pickle.loads", "torch.storage._load_from_bytes"}) {
    PickleWriter w;
    size_t dot = fn.rfind('.');
    w.Proto(3).Global(fn.substr(0, dot), fn.substr(dot + 1)).Bytes(inner).Tuple1().Reduce();
    w.Stop();
    ScanReport r = Scan(w.str());
    const ModelFinding* f = Find(r, "pickle.import.denied", "os.system");
    ASSERT_NE(f, nullptr) << fn;
    EXPECT_EQ(f->location.substr(0, 6), "bytes@") << f->location;
    EXPECT_EQ(r.pickles, 2u);
  }
}

TEST(ModelScanner, NestingDepthIsBounded) {
  std::string p = testing::OsSystemPickle(2);
  for (int i = 0; i < 8; ++i) {
    PickleWriter w;
    w.Proto(3).Global("pickle", "loads").Bytes(p).Tuple1().Reduce().Stop();
    p = w.str();
  }
  ScanReport r = Scan(p);
  EXPECT_NE(Find(r, "pickle.limit", ""), nullptr);
  EXPECT_FALSE(r.complete());
}

TEST(ModelScanner, InstObjExtAndUnresolvedFindings) {
  PickleWriter w;
  w.Proto(2).Mark().String0("'id'").Inst("subprocess", "check_output").Op('0');
  w.Op(0x82).Le(7, 1).Op('0');
  w.Global("builtins", "str").Str("os").Tuple1().Reduce().Str("system").StackGlobal().Op('0');
  w.None().Stop();
  ScanReport r = Scan(w.str());
  EXPECT_NE(Find(r, "pickle.import.denied", "subprocess.check_output"), nullptr);
  EXPECT_NE(Find(r, "pickle.ext_code", "ext:7"), nullptr);
  EXPECT_NE(Find(r, "pickle.unresolved_global", ""), nullptr);
  EXPECT_NE(Find(r, "pickle.import.unknown", "builtins.str"), nullptr);
}

TEST(ModelScanner, TruncatedPickleIsNeverClean) {
  std::string p = TorchStateDict();
  ScanReport r = Scan(p.substr(0, p.size() / 2));
  EXPECT_NE(Find(r, "pickle.truncated", ""), nullptr);
  EXPECT_FALSE(r.complete());
  EXPECT_GE(r.MaxSeverity(), Severity::kHigh);
}

TEST(ModelScanner, RepeatedImportsMergeIntoOneFinding) {
  PickleWriter w;
  w.Proto(2);
  for (int i = 0; i < 5; ++i) w.Global("os", "system").Op('0');
  w.None().Stop();
  ScanReport r = Scan(w.str());
  const ModelFinding* f = Find(r, "pickle.import.denied", "os.system");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->count, 5u);
  EXPECT_EQ(f->offset, 2u);
}

std::string Npy(std::string_view descr, std::string_view payload) {
  std::string header =
      "{'descr': " + std::string(descr) + ", 'fortran_order': False, 'shape': (2,), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY\x01";
  out.push_back('\0');
  out.push_back(static_cast<char>(header.size() & 0xFF));
  out.push_back(static_cast<char>(header.size() >> 8));
  return out + header + std::string(payload);
}

TEST(ModelScanner, NumpyObjectArrayPickleIsScanned) {
  PickleWriter w;
  w.Proto(3).Global("builtins", "eval").String0("'1+1'").Tuple1().Reduce().Stop();
  ScanReport r = Scan(Npy("'|O'", w.str()));
  EXPECT_EQ(r.format, Format::kNpy);
  const ModelFinding* f = Find(r, "pickle.import.denied", "builtins.eval");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->location, "npy-objects");
  // A plain float array is data, never unpickled.
  ScanReport clean = Scan(Npy("'<f8'", std::string(16, '\0')));
  EXPECT_TRUE(clean.findings.empty());
}

TEST(ModelScanner, BenignNumpyArrayPickleIsClean) {
  PickleWriter w;
  w.Proto(2).Global("numpy.core.multiarray", "_reconstruct").Global("numpy", "ndarray");
  w.Int1(0).Tuple1().Bytes("b").Op(0x87).Reduce();
  w.Mark().Int1(1).Int1(3).Tuple1().Global("numpy", "dtype").Str("f8").Op(0x89).Op(0x88);
  w.Op(0x87)
      .Reduce()
      .Mark()
      .Int1(3)
      .Str("<")
      .None()
      .None()
      .None()
      .Op('J')
      .Le(0xffffffff, 4)
      .Op('J');
  w.Le(0xffffffff, 4).Int1(0).Tuple().Build().Op(0x89).Bytes(std::string(24, '\0')).Tuple();
  w.Build().Stop();
  ScanReport r = Scan(w.str());
  EXPECT_TRUE(r.complete());
  EXPECT_TRUE(r.findings.empty()) << r.findings[0].id << " " << r.findings[0].subject;
}

std::string RandomFloats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::string out(n * 4, '\0');
  for (size_t i = 0; i < n; ++i) {
    float f = d(rng);
    std::memcpy(out.data() + 4 * i, &f, 4);
  }
  return out;
}

std::string TorchZip(const std::string& data_pkl) {
  return ZipWriter()
      .Add("archive/data.pkl", data_pkl)
      .Add("archive/data/0", RandomFloats(4096, 1))
      .Add("archive/data/1", RandomFloats(4096, 2))
      .Add("archive/version", "3\n")
      .Build();
}

TEST(ModelScanner, BenignPyTorchZipIsClean) {
  ScanReport r = Scan(TorchZip(TorchStateDict()));
  EXPECT_EQ(r.format, Format::kZip);
  EXPECT_TRUE(r.complete());
  EXPECT_TRUE(r.findings.empty()) << r.findings[0].id << " " << r.findings[0].subject;
  EXPECT_EQ(r.pickles, 1u);
}

TEST(ModelScanner, MaliciousPyTorchZipIsFoundByContentNotName) {
  ScanReport r = Scan(TorchZip(testing::OsSystemPickle(2)));
  const ModelFinding* f = Find(r, "pickle.import.denied", "os.system");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->location, "archive/data.pkl");
  // The same pickle under a data-member name, deflated, is still found.
  std::string zip = ZipWriter()
                        .Add("archive/data.pkl", TorchStateDict())
                        .Add("archive/data/0", testing::OsSystemPickle(4), true)
                        .Build();
  r = Scan(zip);
  f = Find(r, "pickle.import.denied", "os.system");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->location, "archive/data/0");
}

TEST(ModelScanner, MemberThatBreaksRightAfterItsPayloadIsStillScanned) {
  // os.system runs before CPython reaches the garbage: the member must not be skipped as
  // "not a pickle" just because it is malformed early.
  std::string p = testing::OsSystemPickle(2);
  p.pop_back();  // STOP
  p += "\xff\xff\xff";
  ScanReport r = Scan(ZipWriter().Add("archive/data/7", p).Build());
  EXPECT_NE(Find(r, "pickle.import.denied", "os.system"), nullptr);
  EXPECT_NE(Find(r, "pickle.malformed", ""), nullptr);
  EXPECT_FALSE(r.complete());
}

TEST(ModelScanner, ZipHeaderTricksAreFindings) {
  ZipWriter::Entry renamed{"archive/data.pkl", TorchStateDict(), false, "archive/x.pkl", false};
  ScanReport r = Scan(ZipWriter().Add(renamed).Build());
  EXPECT_NE(Find(r, "zip.inconsistent", "archive/data.pkl"), nullptr);
  ZipWriter::Entry bad_crc{"archive/data.pkl", TorchStateDict(), true, "", true};
  r = Scan(ZipWriter().Add(bad_crc).Build());
  EXPECT_NE(Find(r, "zip.inconsistent", "archive/data.pkl"), nullptr);
}

TEST(ModelScanner, ZipBombIsALimitAndIncomplete) {
  ScanReport r = Scan(ZipWriter().Add("bomb", std::string(32 << 20, '\0'), true).Build());
  EXPECT_NE(Find(r, "zip.limit", "bomb"), nullptr);
  EXPECT_FALSE(r.complete());
}

std::string Gzip(const std::string& p) {
  std::string gz(compressBound(static_cast<uLong>(p.size())) + 64, '\0');
  z_stream zs{};
  deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(p.data()));
  zs.avail_in = static_cast<uInt>(p.size());
  zs.next_out = reinterpret_cast<Bytef*>(gz.data());
  zs.avail_out = static_cast<uInt>(gz.size());
  deflate(&zs, Z_FINISH);
  gz.resize(zs.total_out);
  deflateEnd(&zs);
  return gz;
}

TEST(ModelScanner, NestedZipAndGzipAreOpened) {
  std::string inner = TorchZip(testing::OsSystemPickle(2));
  std::string outer = ZipWriter().Add("inner.pt", inner).Build();
  ScanReport r = Scan(outer);
  const ModelFinding* f = Find(r, "pickle.import.denied", "os.system");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->location, "inner.pt!archive/data.pkl");

  r = Scan(Gzip(testing::OsSystemPickle(2)));
  EXPECT_EQ(r.format, Format::kGzip);
  EXPECT_NE(Find(r, "pickle.import.denied", "os.system"), nullptr);
  EXPECT_TRUE(r.complete());
}

TEST(ModelScanner, EveryGzipMemberIsRead) {
  // gzip -d and Python's gzip module concatenate members; a payload in the second one counts.
  PickleWriter benign;
  benign.Proto(2).EmptyDict().Stop();
  ScanReport r = Scan(Gzip(benign.str()) + Gzip(testing::OsSystemPickle(2)));
  EXPECT_NE(Find(r, "pickle.import.denied", "os.system"), nullptr);
  EXPECT_EQ(r.pickles, 2u);
  // A truncated stream is scanned as far as it goes and reported incomplete.
  std::string gz = Gzip(testing::OsSystemPickle(2));
  r = Scan(gz.substr(0, gz.size() - 6));
  EXPECT_NE(Find(r, "gzip.malformed", ""), nullptr);
  EXPECT_FALSE(r.complete());
}

TEST(ModelScanner, UnrecognizedAndEmptyFilesAreLowFindings) {
  ScanReport r = Scan("just some text\n");
  EXPECT_NE(Find(r, "file.unrecognized", ""), nullptr);
  EXPECT_EQ(r.MaxSeverity(), Severity::kLow);
  EXPECT_NE(Find(Scan(""), "file.empty", ""), nullptr);
}

}  // namespace
}  // namespace rampart::supply

namespace rampart::supply {
namespace {

TEST(ModelScanner, ProgressReportsGrowingOffsetsWithinTheFile) {
  // 2^21 NONE/POP pairs: 4 Mi opcodes, so the VM reports progress a few times.
  std::string pickle("\x80\x02", 2);
  for (int i = 0; i < (1 << 21); ++i) pickle += "N0";
  pickle += "N.";
  std::vector<uint64_t> offsets;
  ScanReport r = ModelScanner().Scan(pickle, [&](uint64_t at) { offsets.push_back(at); });
  EXPECT_TRUE(r.complete());
  ASSERT_GE(offsets.size(), 3u);
  EXPECT_TRUE(std::is_sorted(offsets.begin(), offsets.end()));
  EXPECT_LE(offsets.back(), pickle.size());
}

}  // namespace
}  // namespace rampart::supply
