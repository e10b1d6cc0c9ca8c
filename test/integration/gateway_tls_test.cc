// Integration tests for TLS and hop-by-hop headers: the real `rampart serve` with a TLS
// listener, in front of `rampart mock-upstream --tls-cert` instances. Certificates (two CAs,
// leaves for the right and a wrong host name) are made at test time with OpenSSL's C API in
// a temp directory. The gateway's handshake timeout is header_timeout_ms (500 ms here).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "gateway_client.h"
#include "process.h"
#include "tls_test_util.h"

namespace rampart::testing {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

constexpr const char* kAdminToken = "admin-tls-token";

std::string ReadText(const fs::path& p) {
  std::ifstream in(p);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class GatewayTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    setenv("RAMPART_TEST_TLS_ADMIN_TOKEN", kAdminToken, 1);
    dir_ = fs::temp_directory_path() / ("rampart-gw-tls-" + std::to_string(getpid()));
    fs::create_directories(dir_);
    ca_ = new KeyAndCert(MakeCert("Rampart Test CA", nullptr));
    KeyAndCert other_ca = MakeCert("Some Other CA", nullptr);
    KeyAndCert gateway = MakeCert("gateway", ca_, "DNS:localhost,IP:127.0.0.1", 1);
    KeyAndCert upstream = MakeCert("upstream", ca_, "DNS:localhost,IP:127.0.0.1", 11);
    KeyAndCert wrong_name = MakeCert("elsewhere", ca_, "DNS:other.example", 12);
    ASSERT_TRUE(WritePem(*ca_, Path("ca.pem")));
    ASSERT_TRUE(WritePem(other_ca, Path("other-ca.pem")));
    ASSERT_TRUE(WritePem(gateway, Path("gw.crt"), Path("gw.key")));
    ASSERT_TRUE(WritePem(upstream, Path("up.crt"), Path("up.key")));
    ASSERT_TRUE(WritePem(wrong_name, Path("wrong.crt"), Path("wrong.key")));

    mock_ = new Process();
    ASSERT_TRUE(mock_->Start({RAMPART_BINARY, "mock-upstream", "--port", "0", "--tls-cert",
                              Path("up.crt"), "--tls-key", Path("up.key")}));
    mock_port_ = Process::PortFrom(mock_->ReadLine());
    ASSERT_GT(mock_port_, 0);
    wrong_mock_ = new Process();
    ASSERT_TRUE(wrong_mock_->Start({RAMPART_BINARY, "mock-upstream", "--port", "0", "--tls-cert",
                                    Path("wrong.crt"), "--tls-key", Path("wrong.key")}));
    wrong_port_ = Process::PortFrom(wrong_mock_->ReadLine());
    ASSERT_GT(wrong_port_, 0);

    config_path_ = Path("gateway.yaml");
    WriteConfig(ConfigYaml("tls: {cert_file: gw.crt, key_file: gw.key}"));
    gw_ = new Process();
    ASSERT_TRUE(gw_->Start(
        {RAMPART_BINARY, "serve", "--config", config_path_, "--rules", RAMPART_RULES_DIR},
        Path("gateway.log")));
    port_ = Process::PortFrom(gw_->ReadLine());
    admin_port_ = Process::PortFrom(gw_->ReadLine());
    ASSERT_GT(port_, 0);
    ASSERT_GT(admin_port_, 0);
  }
  static void TearDownTestSuite() {
    delete gw_;
    delete mock_;
    delete wrong_mock_;
    delete ca_;
    fs::remove_all(dir_);
  }

  static std::string Path(const std::string& name) { return (dir_ / name).string(); }

  // Relative cert paths: resolved against the config file's directory.
  static std::string ConfigYaml(const std::string& tls_line) {
    std::string mock = "127.0.0.1:" + std::to_string(mock_port_);
    std::string wrong = "127.0.0.1:" + std::to_string(wrong_port_);
    return R"(
server:
  listen: 127.0.0.1:0
  admin_listen: 127.0.0.1:0
  threads: 2
  admin_token_env: RAMPART_TEST_TLS_ADMIN_TOKEN
  )" + tls_line +
           R"(
  limits:
    header_timeout_ms: 500
    body_timeout_ms: 2000
upstreams:
  - {name: trusted, url: "https://)" +
           mock + R"(", ca_file: ca.pem, first_byte_timeout_ms: 3000}
  - {name: untrusted, url: "https://)" +
           mock + R"("}
  - {name: wrong_name, url: "https://)" +
           wrong + R"(", ca_file: ca.pem}
  - {name: insecure, url: "https://)" +
           wrong + R"(", tls_insecure_skip_verify: true}
routes:
  - {name: chat, kind: openai, path: /v1, upstream: trusted}
  - {name: untrusted, kind: openai, path: /untrusted, upstream: untrusted}
  - {name: wrong_name, kind: openai, path: /wrong, upstream: wrong_name}
  - {name: insecure, kind: passthrough, path: /insecure, upstream: insecure}
)";
  }
  static void WriteConfig(const std::string& yaml) {
    std::string tmp = config_path_ + ".tmp";
    std::ofstream(tmp) << yaml;
    fs::rename(tmp, config_path_);
  }
  static std::map<std::string, std::string> Admin() {
    return {{"Authorization", std::string("Bearer ") + kAdminToken}};
  }
  static std::string Metrics() { return Http(admin_port_, "GET", "/metrics", "", Admin()).body; }
  // A chat exchange over TLS, verified against our CA.
  static Response Chat(const std::string& text, bool stream = false,
                       const std::map<std::string, std::string>& headers = {}) {
    TlsClient c(port_, Path("ca.pem"));
    EXPECT_TRUE(c.handshake_ok()) << c.error();
    return c.Request("POST", "/v1/chat/completions", testing::Chat(text, stream), headers);
  }
  void ExpectStillServing() {
    auto r = Chat("still there?");
    EXPECT_EQ(r.status, 200) << r.raw;
  }

  static inline fs::path dir_;
  static inline KeyAndCert* ca_ = nullptr;
  static inline Process* mock_ = nullptr;
  static inline Process* wrong_mock_ = nullptr;
  static inline Process* gw_ = nullptr;
  static inline int mock_port_ = 0;
  static inline int wrong_port_ = 0;
  static inline int port_ = 0;
  static inline int admin_port_ = 0;
  static inline std::string config_path_;
};

TEST_F(GatewayTlsTest, ClientOverTlsToTlsUpstreamSucceeds) {
  TlsClient c(port_, Path("ca.pem"));
  ASSERT_TRUE(c.handshake_ok()) << c.error();
  EXPECT_EQ(c.PeerSerial(), 1);
  auto r = c.Request("POST", "/v1/chat/completions", testing::Chat("hello over tls"));
  ASSERT_EQ(r.status, 200) << r.raw;
  auto body = json::parse(r.body);
  EXPECT_EQ(body.at("choices").at(0).at("message").at("content").as_string(),
            "You said: hello over tls");
  // By host name too (SNI + name check on the client side).
  TlsClient named(port_, Path("ca.pem"), "localhost");
  EXPECT_TRUE(named.handshake_ok()) << named.error();
  // Several in a row: the gateway reuses its pooled TLS connection to the upstream.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Chat("again " + std::to_string(i)).status, 200);
}

TEST_F(GatewayTlsTest, StreamingOverTlsBothWays) {
  auto r = Chat("stream me over tls", /*stream=*/true);
  ASSERT_EQ(r.status, 200) << r.raw;
  auto s = ReadStream(r.body);
  EXPECT_TRUE(s.done) << r.body;
  EXPECT_EQ(s.error_code, "");
  EXPECT_EQ(s.text, "You said: stream me over tls");
}

TEST_F(GatewayTlsTest, ClientVerifyingAgainstAnotherCaFails) {
  TlsClient c(port_, Path("other-ca.pem"));
  EXPECT_FALSE(c.handshake_ok());
  EXPECT_NE(c.error().find("local issuer"), std::string::npos) << c.error();
  TlsClient wrong_name(port_, Path("ca.pem"), "not-the-gateway.example");
  EXPECT_FALSE(wrong_name.handshake_ok());
  EXPECT_NE(wrong_name.error().find("mismatch"), std::string::npos) << wrong_name.error();
  ExpectStillServing();
}

TEST_F(GatewayTlsTest, PlainHttpOnTheTlsPortFailsCleanly) {
  auto r = Http(port_, "POST", "/v1/chat/completions", testing::Chat("plain"));
  EXPECT_EQ(r.status, 400) << r.raw;
  EXPECT_NE(r.body.find("this port speaks HTTPS"), std::string::npos) << r.raw;
  ExpectStillServing();
  EXPECT_NE(Metrics().find("rampart_tls_handshake_failures_total{reason=\"plain_http\"}"),
            std::string::npos);
}

TEST_F(GatewayTlsTest, HandshakeGarbageIsClosed) {
  Conn c(port_, 5000);
  ASSERT_TRUE(c.ok());
  // A TLS record header announcing a handshake, then bytes that are no ClientHello.
  std::string garbage("\x16\x03\x01\x00\x20", 5);
  garbage += std::string(32, '\x7f');
  ASSERT_TRUE(c.Send(garbage));
  auto start = std::chrono::steady_clock::now();
  std::string reply = c.ReadAll();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  // At most a TLS alert record; never an HTTP answer.
  EXPECT_EQ(reply.find("HTTP/1.1"), std::string::npos);
  if (!reply.empty()) {
    EXPECT_EQ(reply[0], '\x15') << "expected a TLS alert";
  }
  ExpectStillServing();
}

TEST_F(GatewayTlsTest, SlowHandshakeTimesOutWithoutBlockingOthers) {
  Conn slow(port_, 5000);
  ASSERT_TRUE(slow.ok());
  // The first bytes of a ClientHello, then nothing.
  ASSERT_TRUE(slow.Send(std::string("\x16\x03\x01\x02\x00\x01", 6)));
  auto start = std::chrono::steady_clock::now();
  // Others are served meanwhile.
  ExpectStillServing();
  ASSERT_TRUE(slow.WaitReadable(4000)) << "the stalled handshake was not closed";
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(slow.ReadAll(), "");
  EXPECT_GE(waited, std::chrono::milliseconds(300));
  EXPECT_LT(waited, std::chrono::milliseconds(3000));
  EXPECT_NE(Metrics().find("rampart_tls_handshake_failures_total{reason=\"timeout\"}"),
            std::string::npos);
}

TEST_F(GatewayTlsTest, SlowRequestHeadAfterTheHandshakeGets408OverTls) {
  TlsClient c(port_, Path("ca.pem"));
  ASSERT_TRUE(c.handshake_ok()) << c.error();
  ASSERT_TRUE(c.Send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"));
  auto start = std::chrono::steady_clock::now();
  auto r = ParseResponse(c.ReadAll());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  EXPECT_EQ(r.status, 408) << r.raw;
  EXPECT_EQ(ErrorCode(r), "request.timeout");
}

TEST_F(GatewayTlsTest, UntrustedUpstreamCertificateIs502UpstreamTls) {
  TlsClient c(port_, Path("ca.pem"));
  ASSERT_TRUE(c.handshake_ok()) << c.error();
  auto r = c.Request("POST", "/untrusted/v1/chat/completions", testing::Chat("hi"));
  EXPECT_EQ(r.status, 502) << r.raw;
  EXPECT_EQ(ErrorCode(r), "upstream.tls") << r.body;
  EXPECT_NE(r.body.find("certificate could not be verified"), std::string::npos) << r.body;
  EXPECT_NE(
      Metrics().find("rampart_upstream_errors_total{upstream=\"untrusted\",kind=\"tls_verify\"}"),
      std::string::npos);
  EXPECT_NE(WaitForText(Path("gateway.log"), "certificate verify failed")
                .find("certificate verify failed"),
            std::string::npos);
}

TEST_F(GatewayTlsTest, UpstreamHostNameMismatchIs502) {
  TlsClient c(port_, Path("ca.pem"));
  ASSERT_TRUE(c.handshake_ok()) << c.error();
  auto r = c.Request("POST", "/wrong/v1/chat/completions", testing::Chat("hi"));
  EXPECT_EQ(r.status, 502) << r.raw;
  EXPECT_EQ(ErrorCode(r), "upstream.tls") << r.body;
  std::string log = WaitForText(Path("gateway.log"), "IP address mismatch");
  EXPECT_NE(log.find("IP address mismatch"), std::string::npos) << log;
}

TEST_F(GatewayTlsTest, InsecureSkipVerifyConnectsAndIsWarnedAtStart) {
  TlsClient c(port_, Path("ca.pem"));
  ASSERT_TRUE(c.handshake_ok()) << c.error();
  // The mock answers an unknown path with its own 404: the TLS connection was made.
  auto r = c.Request("POST", "/insecure/x", "{}");
  EXPECT_EQ(r.status, 404) << r.raw;
  EXPECT_NE(r.body.find("mock_authorization"), std::string::npos) << r.body;
  std::string log = WaitForText(Path("gateway.log"), "upstream_tls_unverified");
  EXPECT_NE(log.find("upstream_tls_unverified"), std::string::npos) << log;
  EXPECT_NE(log.find("upstream insecure: tls_insecure_skip_verify is set"), std::string::npos);
}

TEST_F(GatewayTlsTest, HopByHopRequestHeadersAreNotForwarded) {
  auto r = Chat("MOCK_HEADERS please", false,
                {{"Connection", "X-Secret, keep-alive"},
                 {"X-Secret", "client-hop-only"},
                 {"Keep-Alive", "timeout=5"},
                 {"Proxy-Foo", "p"},
                 {"TE", "trailers"},
                 {"Trailer", "X-Later"},
                 {"Upgrade", "websocket"},
                 {"X-Kept", "end-to-end"}});
  ASSERT_EQ(r.status, 200) << r.raw;
  auto names = json::parse(r.body).at("mock_headers").as_array();
  std::set<std::string> got;
  for (const auto& n : names) got.insert(Conn::Lower(std::string(n.as_string())));
  EXPECT_TRUE(got.count("x-kept")) << r.body;
  for (const char* hop : {"x-secret", "keep-alive", "proxy-foo", "te", "trailer", "upgrade",
                          "connection", "transfer-encoding"}) {
    EXPECT_FALSE(got.count(hop)) << hop << " was forwarded: " << r.body;
  }
}

TEST_F(GatewayTlsTest, HopByHopResponseHeadersAreNotForwarded) {
  auto r = Chat("MOCK_HOP please");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.headers.count("x-upstream-secret"), 0u) << r.raw;
  EXPECT_EQ(Conn::Lower(r.headers["connection"]).find("x-upstream-secret"), std::string::npos)
      << r.raw;
}

// Runs last in this suite (gtest keeps declaration order): it swaps the certificate.
TEST_F(GatewayTlsTest, ReloadPicksUpANewCertificateAndRefusesTurningTlsOff) {
  KeyAndCert fresh = MakeCert("gateway", ca_, "DNS:localhost,IP:127.0.0.1", 2);
  ASSERT_TRUE(WritePem(fresh, Path("gw2.crt"), Path("gw2.key")));
  // A broken key: the reload is refused and the old certificate stays.
  { std::ofstream(Path("bad.key")) << "not a key\n"; }
  WriteConfig(ConfigYaml("tls: {cert_file: gw2.crt, key_file: bad.key}"));
  auto r = Http(admin_port_, "POST", "/admin/reload", "", Admin());
  EXPECT_EQ(r.status, 422) << r.raw;
  EXPECT_NE(r.body.find("server.tls.key_file"), std::string::npos) << r.body;
  {
    TlsClient c(port_, Path("ca.pem"));
    ASSERT_TRUE(c.handshake_ok()) << c.error();
    EXPECT_EQ(c.PeerSerial(), 1);
  }
  // Dropping server.tls would make the port plain HTTP: refused too.
  WriteConfig(ConfigYaml(""));
  r = Http(admin_port_, "POST", "/admin/reload", "", Admin());
  EXPECT_EQ(r.status, 422) << r.raw;
  EXPECT_NE(r.body.find("server.tls: turning TLS on or off needs a restart"), std::string::npos)
      << r.body;
  // The new pair: new connections get the new certificate.
  WriteConfig(ConfigYaml("tls: {cert_file: gw2.crt, key_file: gw2.key, min_version: '1.3'}"));
  r = Http(admin_port_, "POST", "/admin/reload", "", Admin());
  ASSERT_EQ(r.status, 200) << r.raw;
  TlsClient c(port_, Path("ca.pem"));
  ASSERT_TRUE(c.handshake_ok()) << c.error();
  EXPECT_EQ(c.PeerSerial(), 2);
  EXPECT_EQ(c.version(), "TLSv1.3");
  auto ok = c.Request("POST", "/v1/chat/completions", testing::Chat("after reload"));
  EXPECT_EQ(ok.status, 200) << ok.raw;
}

TEST(GatewayTlsStartTest, MissingCertificateExitsTwoWithFieldPath) {
  auto dir = fs::temp_directory_path() / ("rampart-gw-tls-bad-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::string cfg = (dir / "g.yaml").string();
  std::ofstream(cfg) << "server: {listen: '127.0.0.1:0', admin_listen: '127.0.0.1:0', "
                        "tls: {cert_file: missing.crt, key_file: missing.key}}\n"
                        "upstreams: [{name: u, url: 'http://127.0.0.1:1'}]\n"
                        "routes: [{name: r, path: /v1, upstream: u}]\n";
  Process gw;
  std::string log = (dir / "log").string();
  ASSERT_TRUE(
      gw.Start({RAMPART_BINARY, "serve", "--config", cfg, "--rules", RAMPART_RULES_DIR}, log));
  EXPECT_EQ(gw.Wait(20000), 2);
  std::string text = ReadText(log);
  EXPECT_NE(text.find("server.tls.cert_file: cannot load a PEM certificate chain from '" +
                      (dir / "missing.crt").string()),
            std::string::npos)
      << text;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace rampart::testing
