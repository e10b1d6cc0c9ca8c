// Test helper: a throw-away redis-server on loopback (no persistence), for the RedisStore unit
// tests, its benchmark and the gateway integration tests. The binary is redis-server from
// PATH's usual place (/usr/bin) or $RAMPART_REDIS_SERVER.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace rampart::testing {

class RedisTestServer {
 public:
  RedisTestServer() = default;
  RedisTestServer(const RedisTestServer&) = delete;
  RedisTestServer& operator=(const RedisTestServer&) = delete;
  ~RedisTestServer() { Kill(); }

  static std::string Binary() {
    const char* env = std::getenv("RAMPART_REDIS_SERVER");
    return env != nullptr && *env != '\0' ? env : "/usr/bin/redis-server";
  }

  // Starts the server on a free loopback port (and on `unix_socket` when not empty) with
  // `extra` arguments (e.g. {"--requirepass", "pw"}); waits until it answers. On failure
  // returns false and error() says why.
  bool Start(std::vector<std::string> extra = {}, std::string unix_socket = "") {
    extra_ = std::move(extra);
    unix_socket_ = std::move(unix_socket);
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = FreePort();
      if (port_ <= 0) {
        error_ = "no free port";
        return false;
      }
      if (Spawn()) return true;
    }
    return false;
  }

  // Starts again on the same port after Kill() (the data is gone: no persistence).
  bool Restart() {
    Kill();
    for (int attempt = 0; attempt < 50; ++attempt) {  // the port may linger briefly
      if (Spawn()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  void Kill() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

  int port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  const std::string& error() const { return error_; }

  // A direct connection for assertions (the caller frees it with redisFree).
  redisContext* Connect() const {
    timeval tv{1, 0};
    redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, tv);
    if (c != nullptr && c->err == 0) redisSetTimeout(c, tv);
    return c;
  }

 private:
  static int FreePort() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      port = ntohs(a.sin_port);
    }
    close(fd);
    return port;
  }

  bool Spawn() {
    std::vector<std::string> argv = {
        Binary(),       "--port", std::to_string(port_), "--bind", "127.0.0.1",  "--save", "",
        "--appendonly", "no",     "--daemonize",         "no",     "--loglevel", "warning"};
    if (!unix_socket_.empty()) {
      argv.insert(argv.end(), {"--unixsocket", unix_socket_, "--unixsocketperm", "700"});
    }
    argv.insert(argv.end(), extra_.begin(), extra_.end());
    std::vector<char*> args;
    for (auto& s : argv) args.push_back(s.data());
    args.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
      pid_ = -1;
      error_ = "cannot start " + argv[0] + " (is redis-server installed?)";
      return false;
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        error_ = argv[0] + " exited at start (port " + std::to_string(port_) + " taken?)";
        return false;
      }
      redisContext* c = Connect();
      bool up = false;
      if (c != nullptr && c->err == 0) {
        auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
        up = r != nullptr;  // PONG, or NOAUTH with --requirepass: either way it serves
        if (r != nullptr) freeReplyObject(r);
      }
      if (c != nullptr) redisFree(c);
      if (up) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    error_ = argv[0] + " did not answer PING within 10 s";
    Kill();
    return false;
  }

  std::vector<std::string> extra_;
  std::string unix_socket_;
  pid_t pid_ = -1;
  int port_ = -1;
  std::string error_;
};

}  // namespace rampart::testing
