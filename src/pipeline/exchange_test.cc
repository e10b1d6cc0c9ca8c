#include "pipeline/exchange.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace rampart::pipeline {
namespace {

TEST(ExchangeTest, OpenAiRequestTextsSkipOperatorPrompt) {
  config::RouteConfig route;
  route.kind = config::RouteKind::kOpenAi;
  Exchange ex;
  ex.route = &route;
  ex.request = boost::json::parse(R"({"model":"m","messages":[
      {"role":"system","content":"operator"},
      {"role":"user","content":"hello"},
      {"role":"tool","content":[{"type":"text","text":"doc"},{"type":"image_url"}]},
      {"role":"developer","content":"dev"}]})");
  auto texts = RequestTexts(ex);
  ASSERT_EQ(texts.size(), 2u);
  EXPECT_EQ(texts[0].pointer, "/messages/1/content");
  EXPECT_EQ(*texts[0].text, "hello");
  EXPECT_EQ(texts[1].pointer, "/messages/2/content/0/text");
  *texts[0].text = "edited";
  EXPECT_EQ(ex.request.at_pointer("/messages/1/content").as_string(), "edited");
}

TEST(ExchangeTest, JsonRouteUsesConfiguredPointers) {
  config::RouteConfig route;
  route.kind = config::RouteKind::kJson;
  route.request_fields = {"/inputs/0/data", "/missing"};
  route.response_fields = {"/outputs/0/data"};
  Exchange ex;
  ex.route = &route;
  ex.request = boost::json::parse(R"({"inputs":[{"data":["a","b",3]}]})");
  ex.response = boost::json::parse(R"({"outputs":[{"data":"out"}]})");
  auto in = RequestTexts(ex);
  ASSERT_EQ(in.size(), 2u);
  EXPECT_EQ(in[1].pointer, "/inputs/0/data/1");
  auto out = ResponseTexts(ex);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(*out[0].text, "out");
}

TEST(ExchangeTest, OpenAiResponseTexts) {
  config::RouteConfig route;
  Exchange ex;
  ex.route = &route;
  ex.response = boost::json::parse(
      R"({"choices":[{"message":{"role":"assistant","content":"x"}},{"text":"y"}]})");
  auto out = ResponseTexts(ex);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].pointer, "/choices/1/text");
}

}  // namespace
}  // namespace rampart::pipeline
