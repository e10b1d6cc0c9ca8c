#include "server/timed_socket.h"

#include <gtest/gtest.h>

#include <array>
#include <boost/asio.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace rampart::server {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// A connected pair on loopback: `ours` wrapped in a TimedSocket, `peer` a plain socket.
struct Pair {
  asio::io_context ioc{1};
  std::optional<DeadlineSweeper> sweeper;
  std::optional<TimedSocket> ours;
  tcp::socket peer{ioc};

  Pair() {
    sweeper.emplace(ioc);
    tcp::acceptor acceptor(ioc, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    tcp::socket client(ioc);
    client.connect(acceptor.local_endpoint());
    peer = acceptor.accept();
    ours.emplace(std::move(client), *sweeper);
  }
};

TEST(TimedSocketTest, ReadPastItsDeadlineTimesOutAndTheSocketStaysUsable) {
  Pair p;
  std::array<char, 16> buf{};
  boost::system::error_code got;
  bool done = false;
  // The clock starts before the deadline is set: the deadline counts from then, and a slow
  // (sanitized, loaded) run must not see it as early.
  const auto t0 = Clock::now();
  p.ours->expires_after(milliseconds(100));
  p.ours->async_read_some(asio::buffer(buf), [&](boost::system::error_code ec, size_t) {
    got = ec;
    done = true;
  });
  p.ioc.run_for(std::chrono::seconds(5));
  const auto waited = Clock::now() - t0;
  ASSERT_TRUE(done);
  EXPECT_EQ(got, boost::beast::error::timeout) << got.message();
  EXPECT_GE(waited, milliseconds(100));
  EXPECT_EQ(p.sweeper->armed(), 0u);
  // Cancelled, not closed: the gateway can still answer on it.
  p.ours->expires_after(milliseconds(1000));
  std::string msg = "HTTP/1.1 408";
  size_t n = asio::write(p.ours->socket(), asio::buffer(msg));
  EXPECT_EQ(n, msg.size());
  std::array<char, 16> in{};
  EXPECT_EQ(p.peer.read_some(asio::buffer(in)), msg.size());
}

TEST(TimedSocketTest, ReadBeforeTheDeadlineAndWithoutOneIsUntouched) {
  Pair p;
  std::array<char, 16> buf{};
  boost::system::error_code got = asio::error::would_block;
  size_t got_n = 0;
  p.ours->expires_after(milliseconds(50));
  p.ours->expires_never();  // cleared: the read below may wait as long as it takes
  p.ours->async_read_some(asio::buffer(buf), [&](boost::system::error_code ec, size_t n) {
    got = ec;
    got_n = n;
  });
  asio::steady_timer later(p.ioc);
  later.expires_after(milliseconds(300));
  later.async_wait([&](const boost::system::error_code&) {
    asio::write(p.peer, asio::buffer(std::string("hello")));
  });
  p.ioc.run_for(std::chrono::seconds(5));
  EXPECT_FALSE(got) << got.message();
  EXPECT_EQ(got_n, 5u);

  // A deadline far away does not disturb a read that completes.
  p.ioc.restart();
  got = asio::error::would_block;
  p.ours->expires_after(std::chrono::seconds(30));
  asio::write(p.peer, asio::buffer(std::string("again")));
  p.ours->async_read_some(asio::buffer(buf), [&](boost::system::error_code ec, size_t) {
    got = ec;
    p.ours->expires_never();
  });
  p.ioc.run_for(std::chrono::seconds(5));
  EXPECT_FALSE(got) << got.message();
  EXPECT_EQ(p.sweeper->armed(), 0u);
}

TEST(TimedSocketTest, DeadlinePassedWithNothingPendingFailsTheNextOperation) {
  Pair p;
  p.ours->expires_after(milliseconds(20));
  // Let the sweeper fire while no operation is pending.
  asio::steady_timer wait(p.ioc);
  wait.expires_after(milliseconds(300));
  wait.async_wait([](const boost::system::error_code&) {});
  p.ioc.run_for(std::chrono::seconds(5));
  p.ioc.restart();
  boost::system::error_code got;
  std::string msg = "x";
  p.ours->async_write_some(asio::buffer(msg),
                           [&](boost::system::error_code ec, size_t) { got = ec; });
  p.ioc.run_for(std::chrono::seconds(5));
  EXPECT_EQ(got, boost::beast::error::timeout);
  // A new deadline starts afresh.
  p.ioc.restart();
  p.ours->expires_after(std::chrono::seconds(30));
  p.ours->async_write_some(asio::buffer(msg), [&](boost::system::error_code ec, size_t) {
    got = ec;
    p.ours->expires_never();  // nothing left armed: run_for returns
  });
  p.ioc.run_for(std::chrono::seconds(5));
  EXPECT_FALSE(got) << got.message();
}

TEST(TimedSocketTest, ConnectWithinTheDeadline) {
  asio::io_context ioc{1};
  DeadlineSweeper sweeper(ioc);
  tcp::acceptor acceptor(ioc, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  TimedSocket s(tcp::socket(ioc), sweeper);
  s.expires_after(std::chrono::seconds(5));
  std::array<tcp::endpoint, 1> eps{acceptor.local_endpoint()};
  boost::system::error_code got = asio::error::would_block;
  s.async_connect(eps, [&](boost::system::error_code ec, const tcp::endpoint&) {
    got = ec;
    s.expires_never();
  });
  ioc.run_for(std::chrono::seconds(5));
  EXPECT_FALSE(got) << got.message();
  EXPECT_TRUE(s.socket().is_open());
}

TEST(TimedSocketTest, SocketsMayOutliveTheirSweeper) {
  // At shutdown the io_context's pending handlers (and the sockets they own) are destroyed
  // after the worker's sweeper.
  Pair p;
  p.ours->expires_after(std::chrono::seconds(30));
  TimedSocket moved(std::move(*p.ours));
  p.ours.reset();
  EXPECT_EQ(p.sweeper->armed(), 1u);  // the deadline moved with the socket
  p.sweeper.reset();
  moved.expires_after(milliseconds(10));  // no sweeper: nothing to arm, nothing to crash
  moved.expires_never();
}

}  // namespace
}  // namespace rampart::server
