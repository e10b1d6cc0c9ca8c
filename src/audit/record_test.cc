#include "audit/record.h"

#include <gtest/gtest.h>

#include "audit/test_util.h"

namespace rampart::audit {
namespace {

using testing::SampleRecord;

TEST(Record, CanonicalFormHasFixedKeyOrderAndNoWhitespace) {
  Record r;
  r.seq = 7;
  r.time_us = 42;
  r.verdict = "allow";
  r.latency_us = {{"upstream", 2}, {"total", 3}};
  EXPECT_EQ(EncodeRecord(r),
            R"({"v":1,"seq":7,"time_us":42,"request_id":"","principal":"","route":"","model":"",)"
            R"("client_ip":"","verdict":"allow","reason":"","http_status":0,"findings":[],)"
            R"("latency_us":{"total":3,"upstream":2},"request_bytes":0,"response_bytes":0,)"
            R"("request_sha256":"","response_sha256":""})");
}

TEST(Record, RoundTripsEveryMember) {
  Record r = SampleRecord(3);
  r.seq = 99;
  r.redacted_prompt = "call me at [PHONE]";
  r.redacted_response = "";
  auto back = DecodeRecord(EncodeRecord(r));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, r);
  EXPECT_EQ(EncodeRecord(*back), EncodeRecord(r));
}

TEST(Record, EscapesControlCharactersAndReplacesInvalidUtf8) {
  Record r;
  r.principal = std::string("a\"b\\c\n\x01\x7f", 8) + "\xff" + "é";
  std::string enc = EncodeRecord(r);
  EXPECT_NE(enc.find(R"("principal":"a\"b\\c\n\u0001\u007f\ufffdé")"), std::string::npos) << enc;
  auto back = DecodeRecord(enc);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->principal,
            "a\"b\\c\n\x01\x7f\xEF\xBF\xBD"
            "é");
}

TEST(Record, FromFindingKeepsSpansAndIdsOnly) {
  Finding f;
  f.detector = "rules.pii";
  f.rule = "pii.email";
  f.category = Category::kPii;
  f.severity = Severity::kMedium;
  f.field = "/messages/1/content";
  f.span = {5, 22};
  f.label = "EMAIL";
  AuditFinding a = FromFinding(f);
  EXPECT_EQ(a.rule, "pii.email");
  EXPECT_EQ(a.begin, 5u);
  EXPECT_EQ(a.end, 22u);
  EXPECT_EQ(a.category, Category::kPii);
}

TEST(Record, DecoderRejectsMalformedInput) {
  EXPECT_FALSE(DecodeRecord("").ok());
  EXPECT_FALSE(DecodeRecord("[]").ok());
  EXPECT_FALSE(DecodeRecord(R"({"seq":1})").ok());                  // no version
  EXPECT_FALSE(DecodeRecord(R"({"v":2,"seq":1})").ok());            // unknown version
  EXPECT_FALSE(DecodeRecord(R"({"v":1})").ok());                    // no seq
  EXPECT_FALSE(DecodeRecord(R"({"v":1,"seq":-1})").ok());           // negative seq
  EXPECT_FALSE(DecodeRecord(R"({"v":1,"seq":1,"extra":1})").ok());  // unknown member
  EXPECT_FALSE(DecodeRecord(R"({"v":1,"seq":1,"principal":3})").ok());
  EXPECT_FALSE(DecodeRecord(R"({"v":1,"seq":1,"findings":[{"begin":5,"end":2,)"
                            R"("category":"pii","severity":"low"}]})")
                   .ok());
  EXPECT_FALSE(DecodeRecord(R"({"v":1,"seq":1,"findings":[{"begin":1,"end":2,)"
                            R"("category":"nope","severity":"low"}]})")
                   .ok());
  EXPECT_FALSE(DecodeRecord(R"({"v":1,"seq":1,"latency_us":{"a":[[[[1]]]]}})").ok());
  EXPECT_TRUE(DecodeRecord(R"({"v":1,"seq":1})").ok());
}

}  // namespace
}  // namespace rampart::audit
