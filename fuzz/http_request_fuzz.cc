// Fuzzes what the gateway does with a client's bytes before any stage runs: the HTTP/1.1
// request parser under the gateway's limits, then the JSON body parser (depth, UTF-8,
// message count), the validator that stands in for it where no stage reads a response (the
// two must agree), and the extraction of texts to inspect. Never crashes, never throws out.
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/config.h"
#include "pipeline/exchange.h"
#include "server/request_body.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace http = boost::beast::http;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  rampart::config::Limits limits;
  limits.max_body_bytes = 64 * 1024;

  // 1. The raw bytes as an HTTP request.
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
  parser.body_limit(limits.max_body_bytes);
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(in.data(), in.size()), ec);

  // 2. The validator used for responses no stage reads must accept exactly what the parser
  //    accepts.
  {
    boost::json::value v;
    if (rampart::server::ValidJsonBody(in, limits) !=
        rampart::server::ParseResponseBody(in, limits, &v)) {
      __builtin_trap();
    }
  }

  // 3. The raw bytes as a JSON body of each route kind, then the texts stages would see.
  for (auto kind : {rampart::config::RouteKind::kOpenAi, rampart::config::RouteKind::kJson}) {
    rampart::server::ParsedBody body;
    auto err = rampart::server::ParseRequestBody(in, kind, limits, &body);
    if (!err.ok()) continue;
    rampart::config::RouteConfig route;
    route.kind = kind;
    route.request_fields = {"/inputs/0/data", "/text", "/a/~1b"};
    rampart::pipeline::Exchange ex;
    ex.route = &route;
    ex.request = std::move(body.json);
    for (auto& t : rampart::pipeline::RequestTexts(ex)) *t.text = "x";
    ex.response = ex.request;
    rampart::pipeline::ResponseTexts(ex);
    (void)boost::json::serialize(ex.request);
  }
  return 0;
}
