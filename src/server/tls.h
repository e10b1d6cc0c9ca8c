// TLS for the gateway: the client listener's context (`server.tls`), one client context per
// https:// upstream, and Stream, a TCP connection with or without TLS chosen at run time.
//
// Contexts are built from one validated config and belong to its Generation, so a reload
// that changes a certificate, key or CA file takes effect for new connections only.
// Upstream certificates are verified by default (chain against `ca_file` or the system
// store, then the host name or IP address of the url); `tls_insecure_skip_verify` turns the
// check off and is logged at start and reload.
//
// Thread safety: TlsContexts is immutable after Build and may be shared across threads
// (OpenSSL's SSL_CTX is safe for concurrent SSL_new). A Stream belongs to one io thread.
#pragma once

#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "config/config.h"
#include "server/timed_socket.h"

namespace rampart::server {

class TlsContexts {
 public:
  // Loads every certificate, key and CA file the config names. Errors name the field:
  // "server.tls.cert_file: cannot load certificate chain from '...': <OpenSSL reason>".
  static absl::StatusOr<std::shared_ptr<const TlsContexts>> Build(const config::Config& config);

  // The listener's context, or nullptr when the listener is plain HTTP.
  boost::asio::ssl::context* listener() const { return listener_.get(); }
  // The context for an https:// upstream, or nullptr for an http:// one.
  boost::asio::ssl::context* upstream(const std::string& name) const;

 private:
  std::shared_ptr<boost::asio::ssl::context> listener_;
  std::map<std::string, std::shared_ptr<boost::asio::ssl::context>> upstreams_;
};

// Prepares a client SSL object for `host`: SNI (host names only, as RFC 6066 asks) and,
// unless `verify` is false, verification of the chain and of the name or IP address.
absl::Status PrepareUpstreamTls(SSL* ssl, const std::string& host, bool verify);

// After a failed client handshake: why, in words ("certificate verify failed: certificate has
// expired"), and whether it was the peer's certificate that failed verification.
std::string UpstreamTlsFailure(SSL* ssl, const boost::system::error_code& ec, bool* verify_failed);

// True when a server handshake failed because the client spoke plain HTTP to the TLS port.
bool IsPlainHttpOnTls(const boost::system::error_code& ec);

// A TCP connection, with TLS or without. Models Beast's AsyncReadStream and AsyncWriteStream;
// expires_after/expires_never/socket reach the TCP layer (a TimedSocket: a passed deadline
// cancels its operations, which ends any TLS operation too).
class Stream {
 public:
  using executor_type = TimedSocket::executor_type;
  using TlsLayer = boost::beast::ssl_stream<TimedSocket>;

  explicit Stream(TimedSocket tcp) : tcp_(std::move(tcp)) {}
  Stream(TimedSocket tcp, boost::asio::ssl::context& ctx)
      : tls_(std::make_unique<TlsLayer>(std::move(tcp), ctx)) {}

  executor_type get_executor() { return lowest().get_executor(); }
  TimedSocket& lowest() { return tls_ ? tls_->next_layer() : *tcp_; }
  boost::asio::ip::tcp::socket& socket() { return lowest().socket(); }
  void expires_after(std::chrono::steady_clock::duration d) { lowest().expires_after(d); }
  void expires_never() { lowest().expires_never(); }
  // The TLS layer (for the handshake and shutdown), or nullptr on a plain connection.
  TlsLayer* tls() { return tls_.get(); }

  template <class MutableBufferSequence, class ReadToken>
  auto async_read_some(const MutableBufferSequence& buffers, ReadToken&& token) {
    return boost::asio::async_initiate<ReadToken, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const MutableBufferSequence& b) {
          if (tls_) {
            tls_->async_read_some(b, std::move(handler));
          } else {
            tcp_->async_read_some(b, std::move(handler));
          }
        },
        token, buffers);
  }

  template <class ConstBufferSequence, class WriteToken>
  auto async_write_some(const ConstBufferSequence& buffers, WriteToken&& token) {
    return boost::asio::async_initiate<WriteToken, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const ConstBufferSequence& b) {
          if (tls_) {
            tls_->async_write_some(b, std::move(handler));
          } else {
            tcp_->async_write_some(b, std::move(handler));
          }
        },
        token, buffers);
  }

 private:
  std::optional<TimedSocket> tcp_;  // plain
  std::unique_ptr<TlsLayer> tls_;   // or TLS over TCP
};

}  // namespace rampart::server
