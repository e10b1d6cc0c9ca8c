// ONNX, TensorFlow SavedModel and Keras (.keras and .h5) checks, on files built field by field
// with the protobuf wire format and the ZIP writer of the tests.
#include <gtest/gtest.h>

#include <string>

#include "supply/keras.h"
#include "supply/model_scanner.h"
#include "supply/onnx.h"
#include "supply/tensorflow.h"
#include "supply/test_pickles.h"

namespace rampart::supply {
namespace {

// Protobuf wire-format builders.
std::string Varint(uint64_t v) {
  std::string out;
  do {
    unsigned char b = v & 0x7f;
    v >>= 7;
    if (v != 0) b |= 0x80;
    out += static_cast<char>(b);
  } while (v != 0);
  return out;
}
std::string VarintField(uint32_t n, uint64_t v) { return Varint(uint64_t{n} << 3) + Varint(v); }
std::string BytesField(uint32_t n, std::string_view b) {
  return Varint((uint64_t{n} << 3) | 2) + Varint(b.size()) + std::string(b);
}

// ONNX messages.
std::string Node(std::string_view op, std::string_view domain = "", std::string attrs = "") {
  return BytesField(1, "x") + BytesField(2, "y") + BytesField(4, op) +
         (domain.empty() ? "" : BytesField(7, domain)) + attrs;
}
std::string ExternalTensor(std::string_view name, std::string_view location) {
  return BytesField(8, name) + BytesField(13, BytesField(1, "location") + BytesField(2, location)) +
         VarintField(14, 1);
}
std::string Model(std::string graph, std::string extra = "") {
  return VarintField(1, 9) + BytesField(2, "pytorch") + BytesField(7, graph) +
         BytesField(8, VarintField(2, 17)) + extra;
}

std::string Ids(const ScanReport& r) {
  std::string s = std::string(FormatName(r.format)) + ":";
  for (const auto& f : r.findings) s += " " + f.id + "(" + f.subject + ")";
  return s;
}

const ModelFinding* Find(const ScanReport& r, std::string_view id) {
  for (const auto& f : r.findings) {
    if (f.id == id) return &f;
  }
  return nullptr;
}

TEST(Onnx, PlainModelIsClean) {
  std::string graph = BytesField(1, Node("Conv")) + BytesField(1, Node("Relu")) +
                      BytesField(5, ExternalTensor("w", "weights/w.bin"));
  ScanReport r = ModelScanner().Scan(Model(graph));
  EXPECT_EQ(r.format, Format::kOnnx);
  EXPECT_TRUE(r.findings.empty()) << Ids(r);
  EXPECT_TRUE(r.complete());
}

TEST(Onnx, ExternalDataOutsideTheModelDirectory) {
  for (std::string_view loc :
       {"/etc/shadow", "../../home/user/.ssh/id_rsa", "C:\\secret", "weights/../../x"}) {
    ScanReport r = ModelScanner().Scan(Model(BytesField(5, ExternalTensor("w", loc))));
    const ModelFinding* f = Find(r, "onnx.external_data");
    ASSERT_NE(f, nullptr) << loc << " " << Ids(r);
    EXPECT_EQ(f->subject, loc);
    EXPECT_EQ(f->severity, Severity::kHigh);
  }
}

TEST(Onnx, CustomDomainsNeedALibraryButLocalFunctionsDoNot) {
  ScanReport custom = ModelScanner().Scan(Model(BytesField(1, Node("Evil", "com.attacker"))));
  const ModelFinding* f = Find(custom, "onnx.custom_domain");
  ASSERT_NE(f, nullptr) << Ids(custom);
  EXPECT_EQ(f->subject, "com.attacker");

  // FunctionProto { 1: name, 7: node, 10: domain } defines operator local.MyOp.
  std::string function =
      BytesField(1, "MyOp") + BytesField(7, Node("Relu")) + BytesField(10, "local");
  ScanReport local =
      ModelScanner().Scan(Model(BytesField(1, Node("MyOp", "local")), BytesField(25, function)));
  EXPECT_TRUE(local.findings.empty()) << Ids(local);

  ScanReport ms = ModelScanner().Scan(Model(BytesField(1, Node("FusedConv", "com.microsoft"))));
  EXPECT_TRUE(ms.findings.empty()) << Ids(ms);
}

TEST(Onnx, SubgraphsAreWalkedAndBounded) {
  // If node whose then_branch (AttributeProto.g = 6) holds a tensor with escaping data.
  std::string sub = BytesField(5, ExternalTensor("w", "/etc/passwd"));
  std::string attr = BytesField(1, "then_branch") + BytesField(6, sub);
  ScanReport r = ModelScanner().Scan(Model(BytesField(1, Node("If", "", BytesField(5, attr)))));
  EXPECT_NE(Find(r, "onnx.external_data"), nullptr) << Ids(r);

  std::string deep = BytesField(1, Node("Relu"));
  for (int i = 0; i < 40; ++i) {
    deep = BytesField(1, Node("If", "", BytesField(5, BytesField(1, "g") + BytesField(6, deep))));
  }
  ScanReport d = ModelScanner().Scan(Model(deep));
  EXPECT_NE(Find(d, "onnx.limit"), nullptr) << Ids(d);
  EXPECT_FALSE(d.complete());
}

TEST(Onnx, TruncatedModelIsIncomplete) {
  std::string m = Model(BytesField(1, Node("Conv")) + BytesField(1, Node("Relu")));
  CheckResult r = CheckOnnx(m.substr(0, m.size() - 3));
  EXPECT_FALSE(r.incomplete.empty());
}

// SavedModel { 1: version, 2: MetaGraphDef { 2: GraphDef { 1: NodeDef {1: name, 2: op},
// 2: FunctionDefLibrary { 1: FunctionDef { 3: NodeDef } } } } }
std::string SavedModel(std::string graph) {
  return VarintField(1, 1) + BytesField(2, BytesField(2, graph));
}
std::string TfNode(std::string_view name, std::string_view op) {
  return BytesField(1, BytesField(1, name) + BytesField(2, op));
}

TEST(SavedModel, FileAndPythonOpsAreFound) {
  ScanReport clean =
      ModelScanner().Scan(SavedModel(TfNode("x", "Placeholder") + TfNode("save/SaveV2", "SaveV2")));
  EXPECT_EQ(clean.format, Format::kSavedModel);
  EXPECT_TRUE(clean.findings.empty()) << Ids(clean);

  std::string function = BytesField(3, BytesField(1, "leak") + BytesField(2, "ReadFile"));
  ScanReport bad =
      ModelScanner().Scan(SavedModel(TfNode("w", "WriteFile") + TfNode("p", "EagerPyFunc") +
                                     BytesField(2, BytesField(1, function))));
  int file_ops = 0;
  for (const auto& f : bad.findings) file_ops += f.id == "tf.file_access";
  EXPECT_EQ(file_ops, 2) << Ids(bad);
  const ModelFinding* py = Find(bad, "tf.python_call");
  ASSERT_NE(py, nullptr);
  EXPECT_EQ(py->severity, Severity::kCritical);
}

const char* kCleanKeras =
    R"({"module": "keras", "class_name": "Sequential", "config": {"layers": [)"
    R"({"module": "keras.layers", "class_name": "Dense", "config": {"units": 4},)"
    R"( "registered_name": null}]}, "registered_name": null})";

TEST(Keras, LambdaModuleInjectionAndCustomObjects) {
  EXPECT_TRUE(CheckKerasConfig(kCleanKeras).findings.empty());
  CheckResult lambda = CheckKerasConfig(
      R"({"class_name": "Functional", "config": {"layers": [{"class_name": "Lambda", )"
      R"("config": {"name": "exfil", "function": ["4wEAAAAAAAA=", null, null]}}]}})");
  ASSERT_EQ(lambda.findings.size(), 1u);
  EXPECT_EQ(lambda.findings[0].id, "keras.lambda");
  EXPECT_EQ(lambda.findings[0].subject, "Lambda exfil");

  CheckResult module = CheckKerasConfig(
      R"({"module": "keras.layers", "class_name": "Dense", "config": {"activation": )"
      R"({"module": "subprocess", "class_name": "check_output", "config": {}}}})");
  ASSERT_EQ(module.findings.size(), 1u);
  EXPECT_EQ(module.findings[0].id, "keras.module");
  EXPECT_EQ(module.findings[0].subject, "subprocess.check_output");

  CheckResult custom = CheckKerasConfig(
      R"({"module": "mypkg.layers", "class_name": "Mine", "registered_name": "mypkg>Mine"})");
  EXPECT_EQ(custom.findings.size(), 2u);

  CheckResult broken = CheckKerasConfig("{\"class_name\": ");
  EXPECT_FALSE(broken.incomplete.empty());
}

TEST(Keras, KerasArchiveConfigIsChecked) {
  std::string lambda_config =
      R"({"class_name": "Sequential", "config": {"layers": [{"class_name": "Lambda"}]}})";
  testing::ZipWriter zip;
  zip.Add("metadata.json", R"({"keras_version": "3.3.3"})");
  zip.Add("config.json", lambda_config);
  zip.Add("model.weights.h5", std::string("\x89HDF\r\n\x1a\n", 8));
  ScanReport r = ModelScanner().Scan(zip.Build());
  const ModelFinding* f = Find(r, "keras.lambda");
  ASSERT_NE(f, nullptr) << Ids(r);
  EXPECT_EQ(f->location, "config.json");

  // A config.json in an arbitrary zip is not a Keras model.
  testing::ZipWriter other;
  other.Add("config.json", lambda_config);
  EXPECT_EQ(Find(ModelScanner().Scan(other.Build()), "keras.lambda"), nullptr);
}

TEST(Keras, Hdf5ModelConfigIsFound) {
  std::string h5("\x89HDF\r\n\x1a\n", 8);
  h5 += std::string(300, '\0') + "model_config" + std::string(5, '\x01');
  h5 += R"({"class_name": "Functional", "config": {"layers": [{"class_name": "Lambda"}]}})";
  h5 += std::string(64, '\0') + R"({"class_name": broken)" + std::string(16, '\0');
  ScanReport r = ModelScanner().Scan(h5);
  EXPECT_EQ(r.format, Format::kHdf5);
  const ModelFinding* f = Find(r, "keras.lambda");
  ASSERT_NE(f, nullptr) << Ids(r);
  EXPECT_EQ(f->offset, 8u + 300 + 12 + 5);
  EXPECT_EQ(FindKerasConfigs(h5).size(), 1u);
  size_t unreadable = 0;
  FindKerasConfigs(h5, 16, &unreadable);
  EXPECT_EQ(unreadable, 1u);
  EXPECT_FALSE(r.complete()) << "the broken config start must not pass as clean";
}

// A config split by the HDF5 layout (dense attribute storage puts big attributes in heap
// blocks) cannot be read whole: the file is not called clean. A whole benign one is.
TEST(Keras, Hdf5ConfigThatCannotBeReadWholeIsNotClean) {
  const std::string head = std::string("\x89HDF\r\n\x1a\n", 8) + std::string(100, '\0');
  const std::string config =
      R"({"class_name": "Sequential", "config": {"layers": [{"class_name": "Dense"}]}})";
  ScanReport whole = ModelScanner().Scan(head + "model_config" + config + std::string(32, '\0'));
  EXPECT_TRUE(whole.complete());
  EXPECT_TRUE(whole.findings.empty()) << Ids(whole);
  std::string split = head + "model_config" + config.substr(0, 40) + std::string(64, '\0') +
                      config.substr(40) + std::string(32, '\0');
  ScanReport r = ModelScanner().Scan(split);
  EXPECT_FALSE(r.complete());
  // No config start at all, but the attribute name is there.
  ScanReport nameless = ModelScanner().Scan(head + "model_config" + std::string(64, '\1'));
  EXPECT_FALSE(nameless.complete());
}

}  // namespace
}  // namespace rampart::supply
