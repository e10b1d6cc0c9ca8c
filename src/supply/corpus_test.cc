// The malicious/benign corpus: a generator builds every payload trick the scanner must see
// through, each in several pickle protocols, and wraps each in every container the scanner
// opens. Every malicious artifact must be flagged with the right finding (or reported as not
// fully read); every benign artifact must come out clean and complete.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "supply/model_scanner.h"
#include "supply/test_archives.h"
#include "supply/test_pickles.h"

namespace rampart::supply {
namespace {

using testing::PickleWriter;
using testing::ZipWriter;

struct Payload {
  std::string name;
  std::string bytes;
  // The finding that must be present (subject may be empty: any subject).
  std::string id;
  std::string subject;
  // Truncated payloads: the scan must also be incomplete.
  bool incomplete = false;
};

// A call of module.name("id"), in the given protocol, through GLOBAL (0-3) or STACK_GLOBAL
// with memoized operands (4, 5).
std::string CallPickle(int proto, std::string_view module, std::string_view name) {
  PickleWriter w;
  if (proto == 0) {
    w.Global(module, name).Mark().String0("'id'").Tuple().Reduce().Stop();
    return w.str();
  }
  w.Proto(proto);
  if (proto >= 4) {
    w.Str(module).Memoize().Str(name).Memoize().StackGlobal().Memoize();
  } else {
    w.Global(module, name);
  }
  w.Str("id").Tuple1().Reduce().Stop();
  return w.str();
}

std::vector<Payload> MaliciousPayloads() {
  std::vector<Payload> out;
  for (int proto : {0, 2, 3, 4, 5}) {
    const std::string p = std::to_string(proto);
    out.push_back({"os.system/p" + p, CallPickle(proto, "os", "system"), "pickle.import.denied",
                   "os.system"});
    out.push_back({"subprocess/p" + p, CallPickle(proto, "subprocess", "check_output"),
                   "pickle.import.denied", "subprocess.check_output"});
    // Python 2 module names, mapped as CPython's fix_imports does.
    out.push_back({"__builtin__.eval/p" + p, CallPickle(proto, "__builtin__", "eval"),
                   "pickle.import.denied", "builtins.eval"});
    // A dotted name is a getattr chain: builtins + "getattr" reached through a module.
    out.push_back({"dotted/p" + p, CallPickle(proto, "torch", "storage._load_from_bytes"),
                   "pickle.import.denied", "torch.storage._load_from_bytes"});
  }
  // INST and OBJ (protocol 0/1 class instantiation).
  out.push_back({"inst", "(S'id'\nios\nsystem\n.", "pickle.import.denied", "os.system"});
  {
    PickleWriter w;
    w.Mark().Global("posix", "system").String0("'id'").Op('o').Stop();
    out.push_back({"obj", w.str(), "pickle.import.denied", "posix.system"});
  }
  // STACK_GLOBAL whose module name is computed by a call: cannot be resolved statically.
  {
    PickleWriter w;
    w.Proto(4).Global("builtins", "str").Str("os").Tuple1().Reduce().Str("system");
    w.StackGlobal().Str("id").Tuple1().Reduce().Stop();
    out.push_back({"computed-name", w.str(), "pickle.unresolved_global", ""});
  }
  // A pickle inside a pickle: pickle.loads(b"...") with the inner payload as bytes.
  {
    PickleWriter w;
    w.Proto(3).Global("pickle", "loads").Bytes(CallPickle(2, "os", "system")).Tuple1();
    w.Reduce().Stop();
    out.push_back({"nested-loads", w.str(), "pickle.import.denied", "os.system"});
  }
  // The copyreg extension registry (EXT1).
  {
    PickleWriter w;
    w.Proto(2).Op(0x82).Le(7, 1).Str("id").Tuple1().Reduce().Stop();
    out.push_back({"ext1", w.str(), "pickle.ext_code", "ext:7"});
  }
  // FRAME that ends in the middle of the GLOBAL opcode (the C unpickler reads across it).
  {
    std::string body = std::string("cos\nsystem\n", 11) + "X\x02\x00\x00\x00id\x85R.";
    PickleWriter w;
    w.Proto(4).Frame(5).Raw(body);
    out.push_back({"frame-trimmed", w.str(), "pickle.import.denied", "os.system"});
  }
  // Truncated right after the dangerous call: found, and the scan is never "clean".
  {
    std::string evil = CallPickle(2, "os", "system");
    out.push_back({"truncated", evil.substr(0, evil.size() - 1), "pickle.import.denied",
                   "os.system", /*incomplete=*/true});
  }
  return out;
}

struct Container {
  std::string name;
  std::function<std::string(const std::string&)> wrap;
  // Only whole-pickle containers can carry the .npy object-array form.
};

std::string Npy(const std::string& pickle) {
  std::string header = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  return out + header + pickle;
}

std::vector<Container> Containers() {
  using testing::Filter;
  using testing::WriteArchive;
  return {
      {"raw", [](const std::string& p) { return p; }},
      {"torch-zip-stored",
       [](const std::string& p) {
         return ZipWriter().Add("archive/data.pkl", p).Add("archive/version", "3\n").Build();
       }},
      {"torch-zip-deflated",
       [](const std::string& p) {
         return ZipWriter()
             .Add("archive/data.pkl", p, true)
             .Add("archive/byteorder", "little")
             .Build();
       }},
      {"zip-in-zip",
       [](const std::string& p) {
         std::string inner = ZipWriter().Add("archive/data.pkl", p, true).Build();
         return ZipWriter().Add("model.pt", inner).Build();
       }},
      {"gzip", [](const std::string& p) { return testing::Gzip(p); }},
      {"zlib", [](const std::string& p) { return testing::Zlib(p); }},
      {"legacy-tar",
       [](const std::string& p) {
         return WriteArchive(
             "ustar", Filter::kNone,
             {{"sys_info", "\x80\x02}."}, {"pickle", p}, {"tensors", "\x80\x02K\x00."}});
       }},
      {"tar.xz",
       [](const std::string& p) {
         return WriteArchive("pax", Filter::kXz, {{"model.pkl", p}});
       }},
      {"7z",
       [](const std::string& p) {
         return WriteArchive("7zip", Filter::kNone, {{"m.pkl", p}});
       }},
      {"bz2",
       [](const std::string& p) {
         return WriteArchive("raw", Filter::kBzip2, {{"data", p}});
       }},
      {"zst",
       [](const std::string& p) {
         return WriteArchive("raw", Filter::kZstd, {{"data", p}});
       }},
      {"lz4",
       [](const std::string& p) {
         return WriteArchive("raw", Filter::kLz4, {{"data", p}});
       }},
      {"npy-object-array", [](const std::string& p) { return Npy(p); }},
  };
}

std::string Describe(const ScanReport& r) {
  std::string s = std::string(FormatName(r.format)) + ":";
  for (const auto& f : r.findings) s += " " + f.id + "@" + f.location + "(" + f.subject + ")";
  for (const auto& i : r.incomplete) s += " [" + i + "]";
  return s;
}

TEST(Corpus, EveryMaliciousArtifactIsFlagged) {
  const ModelScanner scanner;
  size_t artifacts = 0;
  for (const Payload& p : MaliciousPayloads()) {
    for (const Container& c : Containers()) {
      const std::string artifact = c.wrap(p.bytes);
      ScanReport r = scanner.Scan(artifact);
      ++artifacts;
      bool found = false;
      for (const auto& f : r.findings) {
        found = found || (f.id == p.id && (p.subject.empty() || f.subject == p.subject));
      }
      EXPECT_TRUE(found) << p.name << " in " << c.name << ": " << Describe(r);
      EXPECT_GE(r.MaxSeverity(), Severity::kHigh) << p.name << " in " << c.name;
      if (p.incomplete) {
        EXPECT_FALSE(r.complete()) << p.name << " in " << c.name;
      }
    }
  }
  EXPECT_GE(artifacts, 300u);
}

// Benign artifacts as their libraries write them.
std::string TorchStateDictPickle() {
  PickleWriter w;
  w.Proto(2).Global("collections", "OrderedDict").BinPut(0).EmptyTuple().Reduce().BinPut(1);
  w.Mark();
  for (int i = 0; i < 2; ++i) {
    w.Str(i == 0 ? "fc.weight" : "fc.bias").Global("torch._utils", "_rebuild_tensor_v2");
    w.Mark().Mark().Str("storage").Global("torch", "FloatStorage").Str(std::to_string(i));
    w.Str("cpu").Int1(4).Tuple().BinPersId();
    w.Int1(0).Int1(4).Tuple1().Int1(1).Tuple1().Op(0x89);
    w.Global("collections", "OrderedDict").EmptyTuple().Reduce().Tuple().Reduce();
  }
  w.SetItems().Stop();
  return w.str();
}

// joblib.dump(LogisticRegression()): the estimator, its attribute dict, and coef_ and
// intercept_ as joblib stores arrays: a NumpyArrayWrapper, then the array's raw bytes in the
// stream (aligned to 16, as joblib >= 1.2 writes them to a file).
std::string JoblibSklearnPickle() {
  std::string coef(4 * 8, '\0');
  for (size_t i = 0; i < coef.size(); i += 8) coef[i + 6] = '\xf0', coef[i + 7] = '\x3f';  // 1.0
  PickleWriter w;
  w.Proto(4).Global("sklearn.linear_model._logistic", "LogisticRegression").EmptyTuple();
  w.NewObj().EmptyDict().Mark().Str("C").Float(1.0);
  w.Str("coef_").JoblibArray("f8", {1, 4}, coef);
  w.Str("intercept_").JoblibArray("f8", {1}, coef.substr(0, 8));
  w.Str("classes_").JoblibArray("i8", {2}, std::string(16, '\0'));
  w.SetItems().Build().Stop();
  return w.str();
}

std::string Safetensors() {
  std::string header = R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})";
  while (header.size() % 8 != 0) header += ' ';
  std::string out;
  for (int i = 0; i < 8; ++i) out += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return out + header + std::string(16, '\x01');
}

std::string Gguf() {
  std::string out = "GGUF";
  auto le = [&](uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
  };
  auto str = [&](std::string_view s) {
    le(s.size(), 8);
    out += s;
  };
  le(3, 4);
  le(1, 8);
  le(1, 8);
  str("tokenizer.chat_template");
  le(8, 4);
  str("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}");
  str("w");
  le(1, 4);
  le(8, 8);
  le(0, 4);
  le(0, 8);
  while (out.size() % 32 != 0) out += '\0';
  out += std::string(32, '\x02');
  return out;
}

TEST(Corpus, EveryBenignArtifactIsClean) {
  using testing::Filter;
  using testing::WriteArchive;
  ScanOptions with_profiles;
  with_profiles.policy.AddProfile("joblib");
  with_profiles.policy.AddProfile("sklearn");
  const ModelScanner scanner(with_profiles);
  const std::vector<std::pair<std::string, std::string>> benign = {
      {"torch-state-dict", TorchStateDictPickle()},
      {"joblib-sklearn", JoblibSklearnPickle()},
      {"safetensors", Safetensors()},
      {"gguf", Gguf()},
  };
  size_t artifacts = 0;
  for (const auto& [name, bytes] : benign) {
    const std::vector<std::pair<std::string, std::string>> wrapped = {
        {"raw", bytes},
        {"torch-zip", ZipWriter().Add("archive/data.pkl", bytes, true).Build()},
        {"gzip", testing::Gzip(bytes)},
        {"tar.xz", WriteArchive("pax", Filter::kXz, {{"model.bin", bytes}})},
        {"zst", WriteArchive("raw", Filter::kZstd, {{"data", bytes}})},
    };
    for (const auto& [container, artifact] : wrapped) {
      ScanReport r = scanner.Scan(artifact);
      ++artifacts;
      EXPECT_TRUE(r.findings.empty()) << name << " in " << container << ": " << Describe(r);
      EXPECT_TRUE(r.complete()) << name << " in " << container << ": " << Describe(r);
    }
  }
  EXPECT_EQ(artifacts, 20u);
}

}  // namespace
}  // namespace rampart::supply
