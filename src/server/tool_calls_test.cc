#include "server/tool_calls.h"

#include <gtest/gtest.h>

namespace rampart::server {
namespace {

namespace json = boost::json;

TEST(ToolCallAssemblerTest, JoinsPiecesPerIndex) {
  ToolCallAssembler a(1024);
  EXPECT_TRUE(a.empty());
  ASSERT_TRUE(a.Add(json::parse(
      R"([{"index":0,"id":"call_1","type":"function","function":{"name":"send_","arguments":""}}])")));
  ASSERT_TRUE(
      a.Add(json::parse(R"([{"index":0,"function":{"name":"email","arguments":"{\"to\":"}}])")));
  ASSERT_TRUE(a.Add(json::parse(
      R"([{"index":0,"function":{"arguments":"\"x@y.z\"}"}},{"index":1,"id":"call_2","function":{"name":"get_weather","arguments":"{}"}}])")));
  json::array calls = a.Calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].at("id"), "call_1");
  EXPECT_EQ(calls[0].at_pointer("/function/name"), "send_email");
  EXPECT_EQ(calls[0].at_pointer("/function/arguments"), "{\"to\":\"x@y.z\"}");
  EXPECT_EQ(calls[1].at("type"), "function");
  json::array deltas = ToolCallDeltas(calls);
  EXPECT_EQ(deltas[1].at("index"), 1);
}

TEST(ToolCallAssemblerTest, RefusesMalformedAndOversized) {
  EXPECT_FALSE(ToolCallAssembler(1024).Add(json::parse(R"({"index":0})")));
  EXPECT_FALSE(ToolCallAssembler(1024).Add(json::parse(R"([{"index":-1}])")));
  EXPECT_FALSE(ToolCallAssembler(1024, 4).Add(json::parse(R"([{"index":4}])")));
  EXPECT_FALSE(
      ToolCallAssembler(1024).Add(json::parse(R"([{"index":0,"function":{"arguments":7}}])")));
  ToolCallAssembler small(8);
  EXPECT_TRUE(small.Add(json::parse(R"([{"index":0,"function":{"arguments":"{\"a\":"}}])")));
  EXPECT_FALSE(small.Add(json::parse(R"([{"index":0,"function":{"arguments":"\"long\"}"}}])")));
}

TEST(CompletionAsSseTest, OneChunkPerChoiceThenDone) {
  auto c = json::parse(R"({"id":"x","object":"chat.completion","model":"m","rampart":{"a":1},
    "choices":[{"index":0,"message":{"role":"assistant","content":null,
    "tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},
    "finish_reason":"tool_calls"}]})");
  std::string sse = CompletionAsSse(c.as_object());
  EXPECT_NE(sse.find("\"object\":\"chat.completion.chunk\""), std::string::npos) << sse;
  EXPECT_NE(sse.find("\"tool_calls\":[{\"id\":\"c\""), std::string::npos) << sse;
  EXPECT_NE(sse.find("\"index\":0"), std::string::npos);
  EXPECT_NE(sse.find("\"rampart\":{\"a\":1}"), std::string::npos);
  EXPECT_EQ(sse.substr(sse.size() - 14), "data: [DONE]\n\n");
}

}  // namespace
}  // namespace rampart::server
