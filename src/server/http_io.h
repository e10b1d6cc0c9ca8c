// ReadHttp and WriteHeadAndBody: the gateway's HTTP/1.1 reads and writes on its hot path,
// with the work Beast's composed operations add per message taken out.
//
// http::async_read_header / async_read stack two composed operations (read_op over
// read_some_op) on every read, each with its own work guard and executor copies, and post
// their completion through the scheduler even when the whole message was already in the
// buffer. ReadHttp is one coroutine that feeds the same Beast parser from the same buffer with
// the same results (see http_io_test.cc), and reads the socket only when the parser needs
// more. WriteHeadAndBody first writes what a plain TCP socket takes at once, without
// blocking; only what remains (a full socket buffer) goes through an asynchronous write.
#pragma once

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <cstddef>
#include <string_view>
#include <type_traits>

#include "server/tls.h"

namespace rampart::server {

enum class ReadUntil {
  kHeader,   // the parser has the whole head (what http::async_read_header waits for)
  kMessage,  // the parser has the whole message (http::async_read)
};

// Reads into `buffer` and parses with `parser` until it is done as `until` says, as Beast's
// http::async_read_header / http::async_read do: the same errors (end_of_stream when the
// peer closed before a byte of the message, buffer_overflow when `buffer` is full, the
// parser's own errors), and a message whose body ends at the peer's close is completed by it.
// Bytes after the message stay in `buffer`. Sets the parser's eager mode as Beast does.
template <class AnyStream, bool isRequest>
boost::asio::awaitable<boost::system::error_code> ReadHttp(
    AnyStream& stream, boost::beast::flat_buffer& buffer,
    boost::beast::http::basic_parser<isRequest>& parser, ReadUntil until) {
  namespace http = boost::beast::http;
  parser.eager(until == ReadUntil::kMessage);
  auto done = [&] {
    return until == ReadUntil::kHeader ? parser.is_header_done() : parser.is_done();
  };
  boost::system::error_code ec;
  while (!done()) {
    if (buffer.size() > 0) {
      const std::size_t used = parser.put(buffer.data(), ec);
      buffer.consume(used);
      if (ec != http::error::need_more) {
        if (ec) co_return ec;
        if (used > 0) continue;  // parsed part of it; it may take the rest of the buffer now
      }
      ec = {};
    }
    const std::size_t size = boost::beast::read_size(buffer, 65536);
    if (size == 0) co_return http::error::buffer_overflow;
    auto [rec, n] = co_await stream.async_read_some(
        buffer.prepare(size), boost::asio::as_tuple(boost::asio::use_awaitable));
    buffer.commit(n);
    if (rec == boost::asio::error::eof) {
      if (!parser.got_some()) co_return http::error::end_of_stream;
      parser.put_eof(ec);  // a body delimited by the close ends here; anything else is partial
      co_return ec;
    }
    if (rec) co_return rec;
  }
  co_return ec;
}

// Writes `head` then `body` (one gathered write) within the stream's current deadline. On a
// plain TCP connection, what the socket takes at once is written without blocking and
// without an asynchronous operation; the rest, if any, is written asynchronously.
template <class AnyStream>
boost::asio::awaitable<boost::system::error_code> WriteHeadAndBody(AnyStream& stream,
                                                                   std::string_view head,
                                                                   std::string_view body) {
  namespace asio = boost::asio;
  std::array<asio::const_buffer, 2> bufs{asio::buffer(head), asio::buffer(body)};
  if constexpr (std::is_same_v<AnyStream, Stream>) {
    if (stream.tls() == nullptr) {
      boost::system::error_code ec;
      const std::size_t n = stream.lowest().write_some_now(bufs, ec);
      if (ec) co_return ec;
      if (n == head.size() + body.size()) co_return ec;
      // The socket's buffer is full: the rest asynchronously, from where it stopped.
      if (n < head.size()) {
        bufs[0] += n;
      } else {
        bufs[0] = asio::const_buffer();
        bufs[1] += n - head.size();
      }
    }
  }
  auto [ec, n] = co_await asio::async_write(stream, bufs, asio::as_tuple(asio::use_awaitable));
  (void)n;
  co_return ec;
}

}  // namespace rampart::server
