#include "server/http_io.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "server/timed_socket.h"

namespace rampart::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using std::chrono::milliseconds;

// `ours` as the gateway holds a connection (a plain Stream over a TimedSocket) and `peer`, a
// blocking socket the test writes and reads from its own thread.
struct Conn {
  asio::io_context ioc{1};
  std::optional<DeadlineSweeper> sweeper;
  std::optional<Stream> ours;
  asio::io_context peer_ioc;
  tcp::socket peer{peer_ioc};

  Conn() {
    sweeper.emplace(ioc);
    tcp::acceptor acceptor(ioc, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    peer.connect(acceptor.local_endpoint());
    ours.emplace(TimedSocket(acceptor.accept(), *sweeper));
  }

  // Runs `coro` on the gateway side to completion (at most 10 s).
  template <class T>
  T Run(asio::awaitable<T> coro) {
    std::optional<T> out;
    asio::co_spawn(ioc, std::move(coro), [&](std::exception_ptr e, T v) {
      if (e) std::rethrow_exception(e);
      out = std::move(v);
      ioc.stop();  // the sweeper's timer may still be running
    });
    ioc.restart();
    ioc.run_for(std::chrono::seconds(10));
    EXPECT_TRUE(out.has_value()) << "did not complete";
    return out.value_or(T{});
  }

  void Send(const std::string& s) { asio::write(peer, asio::buffer(s)); }
};

template <bool isRequest>
asio::awaitable<boost::system::error_code> Read(Stream& s, beast::flat_buffer& b,
                                                http::basic_parser<isRequest>& p, ReadUntil u) {
  co_return co_await ReadHttp(s, b, p, u);
}

constexpr const char* kRequest =
    "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";

TEST(ReadHttpTest, HeadThenBodyAsBeastReadsThem) {
  Conn c;
  c.Send(kRequest);
  beast::flat_buffer buf;
  http::request_parser<http::string_body> p;
  EXPECT_FALSE(c.Run(Read(*c.ours, buf, p, ReadUntil::kHeader)));
  EXPECT_TRUE(p.is_header_done());
  EXPECT_EQ(p.get().target(), "/v1/chat/completions");
  EXPECT_FALSE(c.Run(Read(*c.ours, buf, p, ReadUntil::kMessage)));
  ASSERT_TRUE(p.is_done());
  EXPECT_EQ(p.get().body(), "hello");
  EXPECT_EQ(buf.size(), 0u);
}

TEST(ReadHttpTest, AMessageInManySmallPiecesIsReassembled) {
  Conn c;
  const std::string req = kRequest;
  std::thread writer([&] {
    for (char ch : req) {
      c.Send(std::string(1, ch));
      std::this_thread::sleep_for(milliseconds(1));
    }
  });
  beast::flat_buffer buf;
  http::request_parser<http::string_body> p;
  auto ec = c.Run(Read(*c.ours, buf, p, ReadUntil::kMessage));
  writer.join();
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(p.get().body(), "hello");
}

TEST(ReadHttpTest, PipelinedBytesStayInTheBufferForTheNextMessage) {
  Conn c;
  c.Send(std::string(kRequest) + "GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n");
  beast::flat_buffer buf;
  http::request_parser<http::string_body> first;
  ASSERT_FALSE(c.Run(Read(*c.ours, buf, first, ReadUntil::kMessage)));
  EXPECT_EQ(first.get().body(), "hello");
  EXPECT_GT(buf.size(), 0u);
  // The second request is parsed from the buffer alone: the peer sends nothing more.
  http::request_parser<http::string_body> second;
  ASSERT_FALSE(c.Run(Read(*c.ours, buf, second, ReadUntil::kMessage)));
  EXPECT_EQ(second.get().target(), "/v1/models");
  EXPECT_EQ(buf.size(), 0u);
}

// Sends `bytes` on a fresh connection (then closes its sending side when `then_close`) and
// reads one request from it with `p` into `buf`.
boost::system::error_code ReadSent(const std::string& bytes, bool then_close,
                                   http::request_parser<http::string_body>& p, ReadUntil until,
                                   beast::flat_buffer buf = beast::flat_buffer()) {
  Conn c;
  if (!bytes.empty()) c.Send(bytes);
  if (then_close) c.peer.shutdown(tcp::socket::shutdown_send);
  return c.Run(Read(*c.ours, buf, p, until));
}

TEST(ReadHttpTest, CloseBeforeAnyByteIsEndOfStreamAndMidHeadIsPartial) {
  http::request_parser<http::string_body> p1, p2, p3;
  EXPECT_EQ(ReadSent("", true, p1, ReadUntil::kHeader), http::error::end_of_stream);
  EXPECT_EQ(ReadSent("POST /v1 HTTP/1.1\r\nHost:", true, p2, ReadUntil::kHeader),
            http::error::partial_message);
  // A body cut short by the close.
  EXPECT_EQ(
      ReadSent("POST /v1 HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", true, p3, ReadUntil::kMessage),
      http::error::partial_message);
}

TEST(ReadHttpTest, AResponseBodyEndedByTheCloseIsComplete) {
  Conn c;
  c.Send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"a\":1}");
  c.peer.shutdown(tcp::socket::shutdown_send);
  beast::flat_buffer buf;
  http::response_parser<http::string_body> p;
  ASSERT_FALSE(c.Run(Read(*c.ours, buf, p, ReadUntil::kHeader)));
  EXPECT_FALSE(c.Run(Read(*c.ours, buf, p, ReadUntil::kMessage)));
  ASSERT_TRUE(p.is_done());
  EXPECT_EQ(p.get().body(), "{\"a\":1}");
}

TEST(ReadHttpTest, LimitsAndMalformedInputAreTheParsersErrors) {
  http::request_parser<http::string_body> big_head, big_body, garbage, overflow;
  big_head.header_limit(1024);
  EXPECT_EQ(ReadSent("POST /v1 HTTP/1.1\r\nX: " + std::string(2000, 'a') + "\r\n\r\n", false,
                     big_head, ReadUntil::kHeader),
            http::error::header_limit);
  big_body.body_limit(10);
  EXPECT_EQ(ReadSent("POST /v1 HTTP/1.1\r\nContent-Length: 100\r\n\r\n", false, big_body,
                     ReadUntil::kMessage),
            http::error::body_limit);
  auto ec = ReadSent("NOT HTTP AT ALL\r\n\r\n", false, garbage, ReadUntil::kHeader);
  EXPECT_TRUE(ec);
  EXPECT_NE(ec, http::error::need_more);
  // A full buffer before the head ends.
  EXPECT_EQ(ReadSent("POST /v1 HTTP/1.1\r\nX: " + std::string(4000, 'a') + "\r\n\r\n", false,
                     overflow, ReadUntil::kHeader, beast::flat_buffer(256)),
            http::error::buffer_overflow);
}

TEST(ReadHttpTest, ASilentPeerTimesOutAtTheDeadline) {
  Conn c;
  c.Send("POST /v1 HTTP/1.1\r\n");
  beast::flat_buffer buf;
  http::request_parser<http::string_body> p;
  c.ours->expires_after(milliseconds(100));
  EXPECT_EQ(c.Run(Read(*c.ours, buf, p, ReadUntil::kHeader)), beast::error::timeout);
}

asio::awaitable<boost::system::error_code> WriteBoth(Stream& s, const std::string& head,
                                                     const std::string& body) {
  co_return co_await WriteHeadAndBody(s, head, body);
}

std::string ReadAll(tcp::socket& s, size_t n) {
  std::string out(n, '\0');
  asio::read(s, asio::buffer(out));
  return out;
}

TEST(WriteHeadAndBodyTest, ASmallMessageIsWrittenWhole) {
  Conn c;
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
  EXPECT_FALSE(c.Run(WriteBoth(*c.ours, head, "hello")));
  EXPECT_EQ(ReadAll(c.peer, head.size() + 5), head + "hello");
}

TEST(WriteHeadAndBodyTest, MoreThanTheSocketTakesAtOnceIsFinishedAsynchronously) {
  Conn c;
  // Larger than any loopback send buffer plus the peer's receive buffer, so the first
  // non-blocking write stops short and the rest waits for the peer to read.
  std::string body(32 << 20, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
  const std::string head = "HEAD-";
  std::string got;
  std::thread reader([&] { got = ReadAll(c.peer, head.size() + body.size()); });
  c.ours->expires_after(std::chrono::seconds(30));
  auto ec = c.Run(WriteBoth(*c.ours, head, body));
  reader.join();
  EXPECT_FALSE(ec) << ec.message();
  ASSERT_EQ(got.size(), head.size() + body.size());
  EXPECT_TRUE(got == head + body);
}

TEST(WriteHeadAndBodyTest, APeerThatIsGoneIsAnErrorNotASignal) {
  Conn c;
  c.peer.close();
  std::this_thread::sleep_for(milliseconds(50));
  // The first write may still be accepted (the reset arrives with it); the next fails.
  std::string body(1 << 20, 'x');
  boost::system::error_code ec;
  for (int i = 0; i < 5 && !ec; ++i) ec = c.Run(WriteBoth(*c.ours, "h", body));
  EXPECT_TRUE(ec);
}

TEST(WriteHeadAndBodyTest, APassedDeadlineFailsTheWrite) {
  Conn c;
  c.ours->expires_after(milliseconds(10));
  asio::steady_timer wait(c.ioc);
  wait.expires_after(milliseconds(200));
  wait.async_wait([](const boost::system::error_code&) {});
  c.ioc.run_for(std::chrono::seconds(5));
  EXPECT_EQ(c.Run(WriteBoth(*c.ours, "h", "b")), beast::error::timeout);
}

}  // namespace
}  // namespace rampart::server
