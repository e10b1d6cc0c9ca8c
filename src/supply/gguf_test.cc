#include "supply/gguf.h"

#include <gtest/gtest.h>

#include <string>

#include "supply/model_scanner.h"

namespace rampart::supply {
namespace {

// Builds GGUF v3 files field by field.
class GgufWriter {
 public:
  GgufWriter(uint64_t tensors, uint64_t kvs, uint32_t version = 3) {
    out_ = "GGUF";
    U32(version).U64(tensors).U64(kvs);
  }
  GgufWriter& U32(uint32_t v) { return Le(v, 4); }
  GgufWriter& U64(uint64_t v) { return Le(v, 8); }
  GgufWriter& Str(std::string_view s) {
    U64(s.size());
    out_ += s;
    return *this;
  }
  GgufWriter& KvString(std::string_view key, std::string_view value) {
    return Str(key).U32(8).Str(value);
  }
  GgufWriter& KvU32(std::string_view key, uint32_t v) { return Str(key).U32(4).U32(v); }
  GgufWriter& KvStringArray(std::string_view key, std::initializer_list<std::string_view> v) {
    Str(key).U32(9).U32(8).U64(v.size());
    for (auto s : v) Str(s);
    return *this;
  }
  // One F32 tensor of `n` elements (1-D) at `offset` in the data section.
  GgufWriter& Tensor(std::string_view name, uint64_t n, uint64_t offset, uint32_t type = 0) {
    return Str(name).U32(1).U64(n).U32(type).U64(offset);
  }
  GgufWriter& PadTo(uint64_t alignment) {
    while (out_.size() % alignment != 0) out_ += '\0';
    return *this;
  }
  GgufWriter& Bytes(size_t n, char c = '\x01') {
    out_.append(n, c);
    return *this;
  }
  const std::string& str() const { return out_; }

 private:
  GgufWriter& Le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_ += static_cast<char>((v >> (8 * i)) & 0xff);
    return *this;
  }
  std::string out_;
};

const char* kBenignTemplate =
    "{% for message in messages %}{{ '<|' + message['role'] + '|>\\n' + message['content'] }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}";

std::string BenignModel() {
  GgufWriter w(2, 3);
  w.KvString("general.architecture", "llama").KvString("tokenizer.chat_template", kBenignTemplate);
  w.KvStringArray("tokenizer.ggml.tokens", {"<s>", "</s>", "hello"});
  w.Tensor("tok_embd.weight", 8, 0).Tensor("output.weight", 4, 32);
  w.PadTo(32).Bytes(32).Bytes(16);
  return w.str();
}

std::string Ids(const CheckResult& r) {
  std::string s;
  for (const auto& f : r.findings) s += f.id + "(" + f.subject + ": " + f.message + ") ";
  return s;
}

bool Has(const CheckResult& r, std::string_view id) {
  for (const auto& f : r.findings) {
    if (f.id == id) return true;
  }
  return false;
}

TEST(Gguf, WellFormedModelIsClean) {
  std::string file = BenignModel();
  CheckResult r = CheckGguf(file);
  EXPECT_TRUE(r.findings.empty()) << Ids(r);
  EXPECT_TRUE(r.incomplete.empty());
  ScanReport scan = ModelScanner().Scan(file);
  EXPECT_EQ(scan.format, Format::kGguf);
  EXPECT_TRUE(scan.findings.empty());
}

TEST(Gguf, ChatTemplateSandboxEscapesAreCritical) {
  const char* kEscapes[] = {
      "{{ ''.__class__.__mro__[1].__subclasses__() }}",
      "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
      "{{ (messages|attr('\\x5f\\x5fclass\\x5f\\x5f')) }}",
      "{{ lipsum | attr ( 'x' ) }}",
  };
  for (const char* t : kEscapes) {
    GgufWriter w(0, 1);
    w.KvString("tokenizer.chat_template", t);
    CheckResult r = CheckGguf(w.str());
    ASSERT_TRUE(Has(r, "gguf.chat_template")) << t;
    EXPECT_EQ(r.findings[0].severity, Severity::kCritical);
  }
  GgufWriter named(0, 1);
  named.KvString("tokenizer.chat_template.tool_use", "{{ self._TemplateReference__context }}");
  EXPECT_TRUE(Has(CheckGguf(named.str()), "gguf.chat_template"));
  EXPECT_TRUE(ChatTemplateRisks(kBenignTemplate).empty());
}

TEST(Gguf, DuplicateKeysAndTensorNames) {
  GgufWriter w(2, 2);
  w.KvString("general.name", "a").KvString("general.name", "b");
  w.Tensor("t", 8, 0).Tensor("t", 8, 32).PadTo(32).Bytes(64);
  CheckResult r = CheckGguf(w.str());
  int dups = 0;
  for (const auto& f : r.findings) dups += f.id == "gguf.duplicate_key";
  EXPECT_EQ(dups, 2) << Ids(r);
}

TEST(Gguf, TensorsOutOfBoundsOverlappingOrMisaligned) {
  GgufWriter past(1, 0);
  past.Tensor("t", 1024, 0).PadTo(32).Bytes(16);
  EXPECT_TRUE(Has(CheckGguf(past.str()), "gguf.layout"));

  GgufWriter overlap(2, 0);
  overlap.Tensor("a", 16, 0).Tensor("b", 8, 32).PadTo(32).Bytes(96);
  EXPECT_TRUE(Has(CheckGguf(overlap.str()), "gguf.layout")) << Ids(CheckGguf(overlap.str()));

  GgufWriter misaligned(1, 0);
  misaligned.Tensor("a", 4, 4).PadTo(32).Bytes(64);
  EXPECT_TRUE(Has(CheckGguf(misaligned.str()), "gguf.alignment"));

  GgufWriter bad_alignment(0, 1);
  bad_alignment.KvU32("general.alignment", 24);
  EXPECT_TRUE(Has(CheckGguf(bad_alignment.str()), "gguf.alignment"));

  GgufWriter block(1, 0);
  block.Tensor("q", 40, 0, /*Q4_0*/ 2).PadTo(32).Bytes(64);
  EXPECT_TRUE(Has(CheckGguf(block.str()), "gguf.tensor"));
}

TEST(Gguf, LengthsPastTheEndAreMalformedAndIncomplete) {
  std::string file = BenignModel();
  for (size_t cut : {size_t{6}, size_t{30}, file.size() / 2}) {
    CheckResult r = CheckGguf(file.substr(0, cut));
    EXPECT_FALSE(r.incomplete.empty()) << cut << " " << Ids(r);
  }
  GgufWriter huge(0, 1);
  huge.Str("k").U32(8).U64(uint64_t{1} << 62);
  CheckResult r = CheckGguf(huge.str());
  EXPECT_TRUE(Has(r, "gguf.limit"));
  EXPECT_FALSE(r.incomplete.empty());

  GgufWriter many(0, uint64_t{1} << 40);
  EXPECT_TRUE(Has(CheckGguf(many.str()), "gguf.limit"));

  GgufWriter v1(0, 0, /*version=*/1);
  CheckResult old = CheckGguf(v1.str());
  EXPECT_TRUE(Has(old, "gguf.unsupported"));
  EXPECT_FALSE(old.incomplete.empty());
}

}  // namespace
}  // namespace rampart::supply
