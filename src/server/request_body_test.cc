#include "server/request_body.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace rampart::server {
namespace {

BodyError Parse(std::string_view body, config::Limits limits = {}) {
  ParsedBody out;
  return ParseRequestBody(body, config::RouteKind::kOpenAi, limits, &out);
}

TEST(RequestBodyTest, AcceptsChatRequest) {
  ParsedBody out;
  auto e = ParseRequestBody(R"({"model":"m","stream":true,"messages":[]})",
                            config::RouteKind::kOpenAi, {}, &out);
  EXPECT_TRUE(e.ok());
  EXPECT_EQ(out.model, "m");
  EXPECT_TRUE(out.stream);
}

TEST(RequestBodyTest, RejectsMalformedJson) {
  EXPECT_EQ(Parse("{\"a\":").reason, "request.invalid_json");
}

TEST(RequestBodyTest, RejectsInvalidUtf8) {
  EXPECT_EQ(Parse("{\"a\":\"\xff\xfe\"}").reason, "request.invalid_utf8");
}

TEST(RequestBodyTest, RejectsDeepNesting) {
  std::string deep = "{\"a\":" + std::string(10000, '[') + std::string(10000, ']') + "}";
  auto e = Parse(deep);
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.reason, "request.too_deep");
}

TEST(RequestBodyTest, RejectsTooManyMessages) {
  config::Limits l;
  l.max_messages = 2;
  EXPECT_EQ(Parse(R"({"messages":[{},{},{}]})", l).reason, "request.too_many_messages");
}

TEST(RequestBodyTest, RejectsNonObjectAndWrongTypes) {
  EXPECT_EQ(Parse("[1]").reason, "request.invalid_json");
  EXPECT_EQ(Parse(R"({"model":1})").reason, "request.invalid_field");
  EXPECT_EQ(Parse(R"({"stream":"yes"})").reason, "request.invalid_field");
}

TEST(RequestBodyTest, RejectsKeysThatDifferOnlyInCase) {
  // An upstream in Go fills its "messages" field from both keys, the last one winning; the
  // stages would inspect only "messages".
  const auto e = Parse(R"({"messages":[{"role":"user","content":"hi"}],"MESSAGES":[]})");
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.reason, "request.ambiguous_keys");
  EXPECT_EQ(e.message.find("MESSAGES"), std::string::npos);  // never echoes the request
  // At any depth, and for the non-ASCII letters Go folds to ASCII ones: U+017F (long s) in
  // "me\u017f\u017fages", U+212A (Kelvin sign) in "\u212aey".
  EXPECT_EQ(Parse(R"({"messages":[{"role":"user","content":"a","Content":"b"}]})").reason,
            "request.ambiguous_keys");
  EXPECT_EQ(Parse("{\"messages\":[],\"me\xC5\xBF\xC5\xBF"
                  "ages\":[]}")
                .reason,
            "request.ambiguous_keys");
  EXPECT_EQ(Parse("{\"a\":{\"key\":1,\"\xE2\x84\xAA"
                  "ey\":2}}")
                .reason,
            "request.ambiguous_keys");
  EXPECT_EQ(Parse(R"({"model":"m","Model":"n"})", config::Limits{}).reason,
            "request.ambiguous_keys");
  // Not ambiguous: one key per object in any case, the same key in different objects, and
  // exact duplicates, which the parser merges (the last wins and only it is sent on).
  EXPECT_TRUE(Parse(R"({"Model":"m","messages":[{"Role":"user","content":"hi"}]})").ok());
  EXPECT_TRUE(Parse(R"({"a":{"a":1},"b":[{"a":2},{"A":3}]})").ok());
  EXPECT_TRUE(Parse(R"({"x":1,"x":2})").ok());
  EXPECT_TRUE(Parse("{\"\xC3\xA9\":1,\"\xC3\x89\":2}").ok());  // é and É: no ASCII name
  // The json route kind checks it too.
  ParsedBody out;
  EXPECT_EQ(ParseRequestBody(R"({"inputs":[{"data":"x","DATA":"y"}]})", config::RouteKind::kJson,
                             config::Limits{}, &out)
                .reason,
            "request.ambiguous_keys");
}

TEST(RequestBodyTest, OversizedBody) {
  config::Limits l;
  l.max_body_bytes = 4;
  EXPECT_EQ(Parse("{\"a\":1}", l).status, 413);
}

TEST(RequestBodyTest, BodyLivesInItsOwnArenaAndSurvivesAdoption) {
  ParsedBody parsed;
  ASSERT_TRUE(ParseRequestBody(R"({"model":"m","messages":[{"role":"user","content":"hi"}]})",
                               config::RouteKind::kOpenAi, config::Limits{}, &parsed)
                  .ok());
  EXPECT_TRUE(parsed.json.storage().is_deallocate_trivial());
  boost::json::value target;  // default storage, as Exchange::request
  AdoptJson(&target, std::move(parsed.json));
  EXPECT_TRUE(target.storage().is_deallocate_trivial());  // not copied out of the arena
  // Edits allocate in the arena and outlive the parser and the original value.
  target.at_pointer("/messages/0/content") = "[redacted] and a longer text than before";
  boost::json::value shared = target;                          // a copy shares the (counted) arena
  boost::json::value own(target, boost::json::storage_ptr());  // or gets its own storage
  EXPECT_FALSE(own.storage().is_deallocate_trivial());
  target = boost::json::value();
  EXPECT_EQ(shared.at_pointer("/messages/0/content").as_string(),
            "[redacted] and a longer text than before");
  EXPECT_EQ(own, shared);
}

TEST(RequestBodyTest, ValidJsonBodyAgreesWithTheParser) {
  config::Limits l;
  l.max_json_depth = 4;
  const std::string cases[] = {
      R"({"a":[1,2,{"b":null}],"c":"d\u00e9"})",
      " [true, false] ",
      "1",
      "",
      "{",
      R"({"a":1} x)",
      R"({"a":1}{"b":2})",
      R"({"a":1,})",
      "[[[[1]]]]",    // depth 4
      "[[[[[1]]]]]",  // depth 5
      "\"\xff\"",     // invalid UTF-8
      "// c\n1",
      "nul",
  };
  for (const auto& c : cases) {
    boost::json::value v;
    EXPECT_EQ(ValidJsonBody(c, l), ParseResponseBody(c, l, &v)) << c;
  }
  EXPECT_TRUE(ValidJsonBody(R"({"ok":true})", l));
  EXPECT_FALSE(ValidJsonBody("[[[[[1]]]]]", l));
}

TEST(ErrorBodyTest, OpenAiShapeNeverEchoesInput) {
  std::string b =
      ErrorBody(config::RouteKind::kOpenAi, 429, "rate_limit.requests", "slow down", "req_1");
  auto v = boost::json::parse(b);
  EXPECT_EQ(v.at_pointer("/error/type").as_string(), "rate_limit_error");
  EXPECT_EQ(v.at_pointer("/error/code").as_string(), "rate_limit.requests");
  EXPECT_EQ(v.at_pointer("/error/message").as_string(), "slow down");
  EXPECT_EQ(v.at("request_id").as_string(), "req_1");
}

}  // namespace
}  // namespace rampart::server
