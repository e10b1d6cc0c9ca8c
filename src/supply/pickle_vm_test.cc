#include "supply/pickle_vm.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "supply/test_pickles.h"

namespace rampart::supply {
namespace {

using testing::PickleWriter;

struct Recorded {
  PickleEventKind kind;
  uint64_t offset;
  std::string module;
  std::string name;
  std::string arg_bytes;
  uint64_t number;
};

class Recorder : public PickleVisitor {
 public:
  void OnEvent(const PickleEvent& e) override {
    events.push_back(Recorded{e.kind, e.offset, std::string(e.module), std::string(e.name),
                              std::string(e.arg_bytes), e.number});
  }
  std::vector<Recorded> Of(PickleEventKind k) const {
    std::vector<Recorded> out;
    for (const auto& e : events) {
      if (e.kind == k) out.push_back(e);
    }
    return out;
  }
  std::vector<Recorded> events;
};

PickleRunResult RunVm(std::string_view data, Recorder* rec, PickleLimits limits = {}) {
  return PickleVm(limits).Run(data, *rec);
}

TEST(PickleVm, GlobalImportAndReduceCallWithOffsets) {
  std::string p = testing::OsSystemPickle(2);
  Recorder rec;
  PickleRunResult r = RunVm(p, &rec);
  EXPECT_EQ(r.outcome, PickleOutcome::kComplete);
  EXPECT_EQ(r.pickles, 1u);
  auto imports = rec.Of(PickleEventKind::kImport);
  ASSERT_EQ(imports.size(), 1u);
  EXPECT_EQ(imports[0].module, "os");
  EXPECT_EQ(imports[0].name, "system");
  EXPECT_EQ(imports[0].offset, 2u);  // after PROTO 2
  auto calls = rec.Of(PickleEventKind::kCall);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].module, "os");
  EXPECT_EQ(calls[0].name, "system");
  EXPECT_EQ(calls[0].offset, p.size() - 2);  // the REDUCE before STOP
}

TEST(PickleVm, Protocol0WithoutProto) {
  Recorder rec;
  PickleRunResult r = RunVm("cos\nsystem\n(S'id'\ntR.", &rec);
  EXPECT_EQ(r.outcome, PickleOutcome::kComplete);
  ASSERT_EQ(rec.Of(PickleEventKind::kImport).size(), 1u);
  EXPECT_EQ(rec.Of(PickleEventKind::kImport)[0].offset, 0u);
}

TEST(PickleVm, StackGlobalOperandsFromMemo) {
  PickleWriter w;
  w.Proto(4).Str("os").Memoize().Op('0').Str("system").Memoize().Op('0');
  w.BinGet(0).BinGet(1).StackGlobal().Str("id").Tuple1().Reduce().Stop();
  Recorder rec;
  PickleRunResult r = RunVm(w.str(), &rec);
  EXPECT_EQ(r.outcome, PickleOutcome::kComplete) << r.error;
  auto imports = rec.Of(PickleEventKind::kImport);
  ASSERT_EQ(imports.size(), 1u);
  EXPECT_EQ(imports[0].module, "os");
  EXPECT_EQ(imports[0].name, "system");
}

TEST(PickleVm, MemoizeUsesEntryCountNotHighestIndex) {
  // BINPUT 5 then MEMOIZE stores at index 1 (len(memo)), as CPython does.
  PickleWriter v;
  v.Proto(4).Str("nope").BinPut(5).Op('0').Str("os").Memoize().Op('0');
  v.BinGet(1).Str("system").StackGlobal().Op('0').None().Stop();
  Recorder rec;
  PickleRunResult r = RunVm(v.str(), &rec);
  EXPECT_EQ(r.outcome, PickleOutcome::kComplete) << r.error;
  ASSERT_EQ(rec.Of(PickleEventKind::kImport).size(), 1u);
  EXPECT_EQ(rec.Of(PickleEventKind::kImport)[0].module, "os");
}

TEST(PickleVm, SparseMemoIndicesWork) {
  // LONG_BINPUT far beyond the dense range, then MEMOIZE (index = entry count = 1).
  PickleWriter w;
  w.Proto(4).Str("os").Op('r').Le(4000000000u, 4).Op('0').Str("system").Memoize().Op('0');
  w.Op('j').Le(4000000000u, 4).BinGet(1).StackGlobal().Op('0').None().Stop();
  Recorder rec;
  PickleRunResult r = RunVm(w.str(), &rec);
  EXPECT_EQ(r.outcome, PickleOutcome::kComplete) << r.error;
  ASSERT_EQ(rec.Of(PickleEventKind::kImport).size(), 1u);
  EXPECT_EQ(rec.Of(PickleEventKind::kImport)[0].module, "os");
  EXPECT_EQ(rec.Of(PickleEventKind::kImport)[0].name, "system");
  // A sparse entry stays reachable after the dense range grows past it.
  PickleWriter g;
  g.Proto(4).Str("os").Op('r').Le(1500, 4).Op('0');
  for (uint64_t i = 0; i < 1600; ++i) {
    if (i != 1500) g.None().Op('r').Le(i, 4).Op('0');
  }
  g.Op('j').Le(1500, 4).Str("system").StackGlobal().Op('0').None().Stop();
  Recorder grown;
  EXPECT_EQ(RunVm(g.str(), &grown).outcome, PickleOutcome::kComplete);
  ASSERT_EQ(grown.Of(PickleEventKind::kImport).size(), 1u);
  EXPECT_EQ(grown.Of(PickleEventKind::kImport)[0].module, "os");
  // A GET of an index never PUT is malformed, dense or sparse.
  Recorder rec2;
  EXPECT_EQ(RunVm("\x80\x04N\x94h\x05.", &rec2).outcome, PickleOutcome::kMalformed);
}

TEST(PickleVm, Protocol0StringEscapesResolveStackGlobalOperands) {
  PickleWriter w;
  w.String0("'o\\x73'").String0("\"sys\\164em\"").StackGlobal().None().Stop();
  Recorder rec;
  RunVm(w.str(), &rec);
  auto imports = rec.Of(PickleEventKind::kImport);
  ASSERT_EQ(imports.size(), 1u);
  EXPECT_EQ(imports[0].module, "os");
  EXPECT_EQ(imports[0].name, "system");
}

TEST(PickleVm, ComputedStackGlobalOperandsAreUnresolved) {
  // The module name is the result of a call: nothing static can name it.
  PickleWriter w;
  w.Proto(4).Global("builtins", "str").Str("os").Tuple1().Reduce().Str("system").StackGlobal();
  w.None().Stop();
  Recorder rec;
  PickleRunResult r = RunVm(w.str(), &rec);
  EXPECT_EQ(r.outcome, PickleOutcome::kComplete) << r.error;
  EXPECT_EQ(rec.Of(PickleEventKind::kUnresolved).size(), 1u);
}

TEST(PickleVm, LongStringOperandsAreUnresolvedNotGuessed) {
  PickleWriter w;
  w.Proto(4).Str(std::string(300, 'a')).Str("system").StackGlobal().None().Stop();
  Recorder rec;
  RunVm(w.str(), &rec);
  EXPECT_EQ(rec.Of(PickleEventKind::kUnresolved).size(), 1u);
  EXPECT_TRUE(rec.Of(PickleEventKind::kImport).empty());
}

TEST(PickleVm, InstAndObjImportAndCall) {
  PickleWriter w;
  w.Mark().String0("'id'").Inst("subprocess", "Popen");
  w.Mark().Global("os", "system").String0("'id'").Op('o').Op('0').Op('0').None().Stop();
  Recorder rec;
  PickleRunResult r = RunVm(w.str(), &rec);
  EXPECT_EQ(r.outcome, PickleOutcome::kComplete) << r.error;
  auto imports = rec.Of(PickleEventKind::kImport);
  ASSERT_EQ(imports.size(), 2u);
  EXPECT_EQ(imports[0].module, "subprocess");
  auto calls = rec.Of(PickleEventKind::kCall);
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].name, "Popen");
  EXPECT_EQ(calls[1].name, "system");
}

TEST(PickleVm, ExtCodesAreReported) {
  PickleWriter w;
  w.Proto(2).Op(0x82).Le(42, 1).EmptyTuple().Reduce().Op(0x83).Le(0x1234, 2).Op('0').Stop();
  Recorder rec;
  PickleRunResult r = RunVm(w.str(), &rec);
  EXPECT_EQ(r.outcome, PickleOutcome::kComplete) << r.error;
  auto ext = rec.Of(PickleEventKind::kExtCode);
  ASSERT_EQ(ext.size(), 2u);
  EXPECT_EQ(ext[0].number, 42u);
  EXPECT_EQ(ext[1].number, 0x1234u);
}

TEST(PickleVm, TruncatedPickleKeepsWhatWasSeen) {
  std::string p = testing::OsSystemPickle(2);
  p.resize(p.size() - 3);
  Recorder rec;
  PickleRunResult r = RunVm(p, &rec);
  EXPECT_EQ(r.outcome, PickleOutcome::kTruncated);
  EXPECT_EQ(rec.Of(PickleEventKind::kImport).size(), 1u);
  // Truncated inside a GLOBAL line.
  Recorder rec2;
  EXPECT_EQ(RunVm("\x80\x02\x63os\nsys", &rec2).outcome, PickleOutcome::kTruncated);
  Recorder rec3;
  EXPECT_EQ(RunVm("", &rec3).outcome, PickleOutcome::kTruncated);
}

TEST(PickleVm, FrameLongerThanInputIsTruncation) {
  PickleWriter w;
  w.Proto(4).Frame(1000).None().Stop();
  Recorder rec;
  EXPECT_EQ(RunVm(w.str(), &rec).outcome, PickleOutcome::kTruncated);
}

TEST(PickleVm, FrameShorterThanItsOpcodesIsAnAnomalyAndScanningGoesOn) {
  // The frame claims 3 bytes, but the GLOBAL inside it is longer: pickle.py raises, the C
  // unpickler (what torch.load uses) accepts. The import must still be seen.
  PickleWriter w;
  w.Proto(4).Frame(3).Global("os", "system").Str("id").Tuple1().Reduce().Stop();
  Recorder rec;
  PickleRunResult r = RunVm(w.str(), &rec);
  EXPECT_EQ(r.outcome, PickleOutcome::kComplete) << r.error;
  EXPECT_EQ(rec.Of(PickleEventKind::kAnomaly).size(), 1u);
  EXPECT_EQ(rec.Of(PickleEventKind::kImport).size(), 1u);
}

TEST(PickleVm, StackedPicklesAreAllInterpreted) {
  PickleWriter benign;
  benign.Proto(2).EmptyDict().Stop();
  std::string both = benign.str() + testing::OsSystemPickle(2);
  Recorder rec;
  PickleRunResult r = RunVm(both, &rec);
  EXPECT_EQ(r.outcome, PickleOutcome::kComplete);
  EXPECT_EQ(r.pickles, 2u);
  ASSERT_EQ(rec.Of(PickleEventKind::kImport).size(), 1u);
  EXPECT_EQ(rec.Of(PickleEventKind::kImport)[0].offset, benign.size() + 2);
}

TEST(PickleVm, TrailingNonPickleBytesAreReported) {
  PickleWriter w;
  w.Proto(2).EmptyDict().Stop().Raw(std::string("\x00\x01\x02\x03\x04\x05\x06\x07", 8));
  Recorder rec;
  PickleRunResult r = RunVm(w.str(), &rec);
  EXPECT_EQ(r.outcome, PickleOutcome::kComplete);
  auto t = rec.Of(PickleEventKind::kTrailing);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].number, 8u);
}

TEST(PickleVm, CallSeesBytesArgumentForNestedPickles) {
  std::string inner = testing::OsSystemPickle(2);
  PickleWriter w;
  w.Proto(3).Global("pickle", "loads").Bytes(inner).Tuple1().Reduce().Stop();
  Recorder rec;
  RunVm(w.str(), &rec);
  auto calls = rec.Of(PickleEventKind::kCall);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].arg_bytes, inner);
}

TEST(PickleVm, MalformedInputsStopWithTheError) {
  Recorder rec;
  PickleRunResult r = RunVm("\x80\x02\xff.", &rec);
  EXPECT_EQ(r.outcome, PickleOutcome::kMalformed);
  EXPECT_EQ(r.error_offset, 2u);
  EXPECT_EQ(RunVm("\x80\x09N.", &rec).outcome, PickleOutcome::kMalformed);  // protocol 9
  EXPECT_EQ(RunVm("R.", &rec).outcome, PickleOutcome::kMalformed);          // underflow
  EXPECT_EQ(RunVm("h\x07.", &rec).outcome, PickleOutcome::kMalformed);      // memo miss
  EXPECT_EQ(RunVm("(N}u.", &rec).outcome, PickleOutcome::kMalformed);       // below mark
  EXPECT_EQ(RunVm("S'abc\n.", &rec).outcome, PickleOutcome::kMalformed);    // unquoted
  EXPECT_EQ(RunVm("(NNNd.", &rec).outcome, PickleOutcome::kMalformed);      // odd DICT
}

TEST(PickleVm, LimitsGiveLimitOutcomeNotCrash) {
  PickleLimits limits;
  limits.max_memo = 4;
  PickleWriter memo;
  memo.Proto(4).None();
  for (int i = 0; i < 10; ++i) memo.Memoize();
  memo.Stop();
  Recorder rec;
  EXPECT_EQ(RunVm(memo.str(), &rec, limits).outcome, PickleOutcome::kLimit);

  limits = {};
  limits.max_stack = 100;
  std::string deep = "\x80\x02" + std::string(1000, 'N') + ".";
  EXPECT_EQ(RunVm(deep, &rec, limits).outcome, PickleOutcome::kLimit);

  limits = {};
  limits.max_marks = 10;
  std::string marks = "\x80\x02" + std::string(100, '(') + "N.";
  EXPECT_EQ(RunVm(marks, &rec, limits).outcome, PickleOutcome::kLimit);

  limits = {};
  limits.max_opcodes = 5;
  EXPECT_EQ(RunVm(deep, &rec, limits).outcome, PickleOutcome::kLimit);

  limits = {};
  limits.max_bytes = 4;
  EXPECT_EQ(RunVm(testing::OsSystemPickle(2), &rec, limits).outcome, PickleOutcome::kLimit);
}

TEST(PickleVm, BulkPayloadsAreNotCopiedAndParseInProtocol5) {
  PickleWriter w;
  w.Proto(5).Op(0x96).Le(1 << 20, 8).Raw(std::string(1 << 20, 'x'));  // BYTEARRAY8
  w.Op(0x8e).Le(16, 8).Raw(std::string(16, 'y'));                     // BINBYTES8
  w.Op(0x8d).Le(3, 8).Raw("abc");                                     // BINUNICODE8
  w.Op(0x97).Op(0x98);                                                // NEXT/READONLY_BUFFER
  w.Op(0x8f).Mark().Int1(1).Op(0x90);                                 // EMPTY_SET ADDITEMS
  w.Mark().Int1(2).Op(0x91);                                          // FROZENSET
  w.Mark().Op('t').Op('0').Op('0').Op('0').Op('0').Op('0').Op('0').Stop();
  Recorder rec;
  PickleRunResult r = RunVm(w.str(), &rec);
  EXPECT_EQ(r.outcome, PickleOutcome::kComplete) << r.error;
  EXPECT_EQ(r.highest_protocol, 5);
}

// joblib.dump writes each array's bytes right after its NumpyArrayWrapper's BUILD. The VM
// reads the wrapper's state (dtype, shape, alignment) and steps over them as data.
std::string JoblibDict(bool aligned, std::string* expected_tail = nullptr) {
  std::string f8(6 * 8, '\x11');  // a (2, 3) float64 array
  std::string u2(2 * 8, '\0');    // array(['ab', 'c']): two UCS-4 strings of 2
  u2[0] = 'a';
  u2[4] = 'b';
  u2[8] = 'c';
  PickleWriter w;
  w.Proto(aligned ? 4 : 2).EmptyDict().Memoize().Mark();
  w.Str("w").JoblibArray("f8", {2, 3}, f8, aligned);
  w.Str("s").JoblibArray("U2", {2}, u2, aligned);
  w.Str("e").JoblibArray("<f8", {0, 3}, "", aligned);
  w.Str("z").JoblibArray("i8", {}, std::string(8, '\x7f'), aligned);
  w.SetItems().Stop();
  if (expected_tail != nullptr) *expected_tail = f8;
  return w.str();
}

TEST(PickleVm, JoblibInlineArraysAreSteppedOverAsData) {
  for (bool aligned : {true, false}) {
    std::string p = JoblibDict(aligned);
    Recorder rec;
    PickleRunResult r = RunVm(p, &rec);
    EXPECT_EQ(r.outcome, PickleOutcome::kComplete) << aligned << ": " << r.error;
    EXPECT_EQ(r.pickles, 1u);
    EXPECT_EQ(r.bytes_consumed, p.size());
    EXPECT_TRUE(rec.Of(PickleEventKind::kAnomaly).empty());
    EXPECT_TRUE(rec.Of(PickleEventKind::kTrailing).empty());
    EXPECT_EQ(rec.Of(PickleEventKind::kImport).size(), 4u * 3u);  // wrapper, ndarray, dtype
  }
}

TEST(PickleVm, JoblibArrayAfterACommittedFrameIsData) {
  // Protocol 4: joblib commits the frame that holds the wrapper before writing the bytes.
  PickleWriter body;
  body.EmptyDict().Mark().Str("w");
  PickleWriter w;
  w.Proto(4);
  std::string header = body.str();
  PickleWriter arr;
  arr.JoblibArray("f8", {1}, "", /*aligned=*/false);
  std::string wrapper = arr.str();
  w.Frame(header.size() + wrapper.size()).Raw(header).Raw(wrapper).Raw(std::string(8, '\x42'));
  w.Frame(2).SetItems().Stop();
  Recorder rec;
  PickleRunResult r = RunVm(w.str(), &rec);
  EXPECT_EQ(r.outcome, PickleOutcome::kComplete) << r.error;
  EXPECT_TRUE(rec.Of(PickleEventKind::kAnomaly).empty());
}

TEST(PickleVm, JoblibArrayDataInsideAFrameIsMalformed) {
  PickleWriter arr;
  arr.JoblibArray("f8", {1}, std::string(8, '\x42'), /*aligned=*/false);
  PickleWriter w;
  w.Proto(4).Frame(arr.size() + 1).Raw(arr.str()).Stop();
  Recorder rec;
  PickleRunResult r = RunVm(w.str(), &rec);
  EXPECT_EQ(r.outcome, PickleOutcome::kMalformed);
  EXPECT_NE(r.error.find("inside a FRAME"), std::string::npos) << r.error;
}

TEST(PickleVm, JoblibObjectArrayPickleIsInterpretedToo) {
  // An object array is stored as a whole pickle of its own; what it imports is reported.
  PickleWriter w;
  w.Proto(2).JoblibArray("O8", {1}, testing::OsSystemPickle(2), /*aligned=*/false).Stop();
  Recorder rec;
  PickleRunResult r = RunVm(w.str(), &rec);
  EXPECT_EQ(r.outcome, PickleOutcome::kComplete) << r.error;
  bool os_system = false;
  for (const auto& e : rec.Of(PickleEventKind::kCall)) {
    os_system |= e.module == "os" && e.name == "system";
  }
  EXPECT_TRUE(os_system);
}

TEST(PickleVm, JoblibArrayBytesThatAreOpcodesAreAnAnomaly) {
  // A plain pickle.load would run these "array bytes"; joblib.load would not.
  std::string payload = "cos\nsystem\n(S'id'\ntR";
  payload.resize(24, ' ');
  PickleWriter w;
  w.Proto(2).JoblibArray("u1", {24}, payload, /*aligned=*/false).Stop();
  Recorder rec;
  PickleRunResult r = RunVm(w.str(), &rec);
  EXPECT_EQ(r.outcome, PickleOutcome::kComplete) << r.error;
  EXPECT_EQ(rec.Of(PickleEventKind::kAnomaly).size(), 1u);
}

TEST(PickleVm, JoblibArrayHeadersThatCannotBeReadAreNeverClean) {
  struct Case {
    const char* name;
    std::string pickle;
    PickleOutcome outcome;
  };
  auto one = [](std::string_view dtype, std::vector<uint32_t> shape, std::string data) {
    PickleWriter w;
    w.Proto(2).JoblibArray(dtype, shape, data, /*aligned=*/false).Stop();
    return w.str();
  };
  PickleWriter no_state;
  no_state.Proto(2).Global("joblib.numpy_pickle", "NumpyArrayWrapper").EmptyTuple().NewObj();
  no_state.EmptyDict().Str("order").Str("C").SetItem().Build().Stop();
  std::vector<Case> cases = {
      {"truncated data", one("f8", {4}, std::string(31, '\0')), PickleOutcome::kTruncated},
      {"overflowing shape", one("f8", {0x7fffffff, 0x7fffffff, 0x7fffffff}, ""),
       PickleOutcome::kMalformed},
      {"structured dtype", one("V12", {1}, std::string(12, '\0')), PickleOutcome::kMalformed},
      {"no dtype or shape", no_state.str(), PickleOutcome::kMalformed},
  };
  for (const auto& c : cases) {
    Recorder rec;
    PickleRunResult r = RunVm(c.pickle, &rec);
    EXPECT_EQ(r.outcome, c.outcome) << c.name << ": " << r.error;
  }
}

TEST(PickleVm, NeverCrashesOnRandomBytes) {
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string data(rng() % 200, '\0');
    for (auto& c : data) c = static_cast<char>(rng());
    if (i % 2 == 0 && !data.empty()) data[0] = '\x80';
    Recorder rec;
    PickleRunResult r = RunVm(data, &rec);
    EXPECT_LE(r.bytes_consumed, data.size());
  }
}

TEST(PickleVm, SniffsPicklesByStructure) {
  EXPECT_TRUE(PickleVm::LooksLikePickle(testing::OsSystemPickle(2), true));
  EXPECT_TRUE(PickleVm::LooksLikePickle("cos\nsystem\n(S'id'\ntR.", true));
  EXPECT_TRUE(PickleVm::LooksLikePickle("\x80\x02", false));
  EXPECT_FALSE(PickleVm::LooksLikePickle("\x80\x02\xff\xff\xff", true));
  EXPECT_FALSE(PickleVm::LooksLikePickle("# README\nhello", false));
  EXPECT_FALSE(PickleVm::LooksLikePickle("{\"a\": 1}", false));
  EXPECT_FALSE(PickleVm::LooksLikePickle("config = 1\nother = 2\n", false));
  EXPECT_FALSE(PickleVm::LooksLikePickle("checkpoint: a\nname: b\nlr: 3\n", true));
}

}  // namespace
}  // namespace rampart::supply
