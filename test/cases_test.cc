// Runs every data-driven case under test/cases/scan/: a text in, the expected verdict, rules
// and redaction out. Every attack found by hand or by the red-team harness becomes a case.
//
// Case format:
//   {"description": "...", "text": "...",
//    "expect": {"verdict": "block", "reason": "prompt_injection.blocked",
//               "rules": ["injection.ignore_previous"], "absent_rules": ["pii.email"],
//               "redacted": "call [PHONE]"}}
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <set>

#include "common/file.h"
#include "detectors/scanner.h"

namespace rampart {
namespace {

std::vector<std::string> CaseFiles() {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(RAMPART_CASES_DIR "/scan")) {
    if (e.path().extension() == ".json") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

class ScanCase : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    auto s = detectors::Scanner::FromFiles(RAMPART_RULES_DIR, "");
    ASSERT_TRUE(s.ok()) << s.status();
    scanner_ = s->release();
  }
  static void TearDownTestSuite() { delete scanner_; }
  static detectors::Scanner* scanner_;
};
detectors::Scanner* ScanCase::scanner_ = nullptr;

TEST_P(ScanCase, MatchesExpectation) {
  auto raw = ReadFileBounded(GetParam(), 1 << 20);
  ASSERT_TRUE(raw.ok()) << raw.status();
  boost::system::error_code ec;
  auto doc = boost::json::parse(*raw, ec);
  ASSERT_FALSE(ec) << GetParam() << ": " << ec.message();
  const auto& c = doc.as_object();
  std::string text(c.at("text").as_string());
  const auto& expect = c.at("expect").as_object();

  auto ctx = scanner_->NewContext();
  auto v = scanner_->Scan(text, *ctx);
  ASSERT_TRUE(v.ok()) << v.status();
  std::set<std::string> rules;
  for (const auto& f : v->findings) rules.insert(f.rule);
  std::string fired;
  for (const auto& r : rules) fired += r + " ";

  if (auto* verdict = expect.if_contains("verdict")) {
    EXPECT_EQ(ActionName(v->action), verdict->as_string().c_str()) << "rules fired: " << fired;
  }
  if (auto* reason = expect.if_contains("reason")) {
    EXPECT_EQ(v->reason, reason->as_string().c_str());
  }
  if (auto* want = expect.if_contains("rules")) {
    for (const auto& r : want->as_array()) {
      EXPECT_TRUE(rules.count(std::string(r.as_string())))
          << "missing " << r.as_string() << "; fired: " << fired;
    }
  }
  if (auto* absent = expect.if_contains("absent_rules")) {
    for (const auto& r : absent->as_array()) {
      EXPECT_FALSE(rules.count(std::string(r.as_string()))) << "unexpected " << r.as_string();
    }
  }
  if (auto* redacted = expect.if_contains("redacted")) {
    ASSERT_TRUE(v->edited_text.has_value()) << "nothing was redacted; fired: " << fired;
    EXPECT_EQ(*v->edited_text, redacted->as_string().c_str());
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, ScanCase, ::testing::ValuesIn(CaseFiles()),
                         [](const ::testing::TestParamInfo<std::string>& param_info) {
                           std::string name =
                               std::filesystem::path(param_info.param).stem().string();
                           for (char& ch : name) {
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace rampart
