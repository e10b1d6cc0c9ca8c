// TimedSocket: a TCP socket with one deadline for whatever it does next, and DeadlineSweeper,
// the per-worker timer that enforces the deadlines of all its sockets.
//
// Beast's tcp_stream arms and cancels a timer around every read and write (a timer-queue
// insertion and removal, and a clock read, several times per proxied request). Here a
// deadline is a time stored in the socket; one periodic timer per worker (running only while
// some deadline is set) cancels the pending operations of every socket whose deadline has
// passed, and those operations complete with beast::error::timeout, as tcp_stream's do.
// Unlike tcp_stream, a timed-out socket is cancelled, not closed: the gateway can still
// answer 408 on it. A deadline fires between its time and one sweep period later.
//
// Thread safety: a sweeper and its sockets belong to one io_context run by one thread.
#pragma once

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/error.hpp>
#include <chrono>
#include <cstddef>
#include <utility>

namespace rampart::server {

class TimedSocket;

class DeadlineSweeper {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kPeriod{50};

  explicit DeadlineSweeper(boost::asio::io_context& ioc) : timer_(ioc) {}
  DeadlineSweeper(const DeadlineSweeper&) = delete;
  DeadlineSweeper& operator=(const DeadlineSweeper&) = delete;
  ~DeadlineSweeper();

  size_t armed() const { return armed_; }

 private:
  friend class TimedSocket;
  void Link(TimedSocket* s);
  void Unlink(TimedSocket* s);
  void Armed();     // a socket got a deadline
  void Disarmed();  // a socket's deadline was cleared or fired
  void StartTimer();
  void Sweep();

  boost::asio::steady_timer timer_;
  TimedSocket* head_ = nullptr;
  size_t armed_ = 0;
  bool running_ = false;
};

class TimedSocket {
 public:
  using Clock = DeadlineSweeper::Clock;
  using socket_type = boost::asio::ip::tcp::socket;
  using executor_type = socket_type::executor_type;
  using lowest_layer_type = socket_type::lowest_layer_type;

  TimedSocket(socket_type socket, DeadlineSweeper& sweeper)
      : socket_(std::move(socket)), sweeper_(&sweeper) {
    if (sweeper_ != nullptr) sweeper_->Link(this);
  }
  TimedSocket(TimedSocket&& other) noexcept
      : socket_(std::move(other.socket_)), sweeper_(other.sweeper_) {
    if (sweeper_ != nullptr) sweeper_->Link(this);
    if (other.armed_) {
      deadline_ = other.deadline_;
      armed_ = true;
      other.armed_ = false;  // the count moves with it
    }
    timed_out_ = other.timed_out_;
  }
  TimedSocket& operator=(TimedSocket&&) = delete;
  TimedSocket(const TimedSocket&) = delete;
  TimedSocket& operator=(const TimedSocket&) = delete;
  ~TimedSocket() {
    expires_never();
    if (sweeper_ != nullptr) sweeper_->Unlink(this);
  }

  executor_type get_executor() noexcept { return socket_.get_executor(); }
  socket_type& socket() noexcept { return socket_; }
  lowest_layer_type& lowest_layer() noexcept { return socket_.lowest_layer(); }

  // Operations from now on fail with beast::error::timeout once `d` has passed.
  void expires_after(Clock::duration d) {
    deadline_ = Clock::now() + d;
    timed_out_ = false;
    if (!armed_ && sweeper_ != nullptr) {
      armed_ = true;
      sweeper_->Armed();
    }
  }
  void expires_never() {
    timed_out_ = false;
    if (armed_) {
      armed_ = false;
      if (sweeper_ != nullptr) sweeper_->Disarmed();
    }
  }

  template <class MutableBufferSequence, class Token>
  auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const MutableBufferSequence& b) {
          if (timed_out_) return Fail(std::move(handler));
          socket_.async_read_some(b, Wrap(std::move(handler)));
        },
        token, buffers);
  }

  template <class ConstBufferSequence, class Token>
  auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const ConstBufferSequence& b) {
          if (timed_out_) return Fail(std::move(handler));
          socket_.async_write_some(b, Wrap(std::move(handler)));
        },
        token, buffers);
  }

  // Writes what the socket takes now, without blocking and without the deadline (it cannot
  // wait): the bytes written, which are fewer than asked when the socket's send buffer
  // filled. `ec` is set only on a real error (a full buffer is not one).
  template <class ConstBufferSequence>
  std::size_t write_some_now(const ConstBufferSequence& buffers, boost::system::error_code& ec) {
    ec = {};
    if (timed_out_) {
      ec = boost::beast::error::timeout;
      return 0;
    }
    if (!socket_.non_blocking()) {
      socket_.non_blocking(true, ec);
      if (ec) return 0;
    }
    std::size_t total = 0;
    const std::size_t want = boost::asio::buffer_size(buffers);
    boost::beast::buffers_suffix<ConstBufferSequence> rest(buffers);
    while (total < want) {
      const std::size_t n = socket_.write_some(rest, ec);
      rest.consume(n);
      total += n;
      if (ec) {
        if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) ec = {};
        break;
      }
    }
    return total;
  }

  // Connects to the first endpoint of `endpoints` that accepts, within the deadline.
  template <class EndpointSequence, class Token>
  auto async_connect(const EndpointSequence& endpoints, Token&& token) {
    using Endpoint = boost::asio::ip::tcp::endpoint;
    return boost::asio::async_initiate<Token, void(boost::system::error_code, Endpoint)>(
        [this](auto handler, const EndpointSequence& e) {
          if (timed_out_) return Fail(std::move(handler), Endpoint());
          boost::asio::async_connect(socket_, e, Wrap(std::move(handler)));
        },
        token, endpoints);
  }

 private:
  friend class DeadlineSweeper;

  // The completion handler of a socket operation, on the caller's executor, reporting a
  // cancellation by the sweeper as beast::error::timeout.
  template <class Handler>
  auto Wrap(Handler handler) {
    auto ex = boost::asio::get_associated_executor(handler, socket_.get_executor());
    return boost::asio::bind_executor(
        ex, [this, h = std::move(handler)](boost::system::error_code ec, auto&& result) mutable {
          if (ec == boost::asio::error::operation_aborted && timed_out_)
            ec = boost::beast::error::timeout;
          std::move(h)(ec, std::forward<decltype(result)>(result));
        });
  }

  // Completes an operation started after the deadline passed: timeout, without touching the
  // socket (as a handler, never inline).
  template <class Handler, class Result = std::size_t>
  void Fail(Handler handler, Result result = Result{}) {
    auto ex = boost::asio::get_associated_executor(handler, socket_.get_executor());
    boost::asio::post(ex, [h = std::move(handler), result]() mutable {
      std::move(h)(boost::beast::error::timeout, result);
    });
  }

  // Called by the sweeper when the deadline has passed.
  void Fire() {
    armed_ = false;
    timed_out_ = true;
    boost::system::error_code ignored;
    socket_.cancel(ignored);
  }

  socket_type socket_;
  DeadlineSweeper* sweeper_;  // null once the sweeper is gone (shutdown): no deadlines then
  Clock::time_point deadline_{};
  bool armed_ = false;
  bool timed_out_ = false;
  TimedSocket* prev_ = nullptr;  // the sweeper's list
  TimedSocket* next_ = nullptr;
};

}  // namespace rampart::server
