// paced_load: an open-loop HTTP/1.1 load generator for the half-load latency runs of
// bench/gateway_bench.sh.
//
// wrk is a closed loop: a connection sends its next request only after the previous answer,
// so a slow answer delays the requests behind it and is timed once instead of many times
// ("coordinated omission"), and wrk cannot hold a fixed rate at all. wrk2 fixes both and is
// not packaged in Debian. paced_load schedules request i at t0 + i / rate, whatever the server
// is doing, and sends it on an idle keep-alive connection (opening another, up to
// --connections, when none is idle). Each response is timed from its request's *scheduled*
// time to the kernel's receive timestamp of its answer (SO_TIMESTAMPNS), so a wait for a
// free connection or for this client's own loop counts against the server, never in its
// favour. The lag from scheduled to sent (which holds those waits) is reported apart.
//
//   paced_load --port P --rate R [--duration S] [--warmup S] [--connections N]
//              [--tick-us T] [--path P] [--body FILE] [--header 'Name: value']...
//
// Output, one line in the format of bench/gateway/chat_1k.lua's (times in microseconds):
//   BENCH requests=N duration_us=D rps=X p50_us= p90_us= p99_us= p999_us= max_us= non2xx=
//   sockerr= lag_p99_us= lag_max_us= connections=
// Only requests scheduled after the warm-up and within the duration are counted.
//
// Only 127.0.0.1 is used. Responses must carry Content-Length (every target of the gateway
// benchmark does); one without it, or over 1 MiB, ends the run with an error. Exit status: 0
// after a run (failed requests are counted in non2xx and sockerr), 1 when the run could not
// be made, 2 on bad usage.
//
// Single-threaded: one epoll loop, polled once per tick (--tick-us, 200 us): the client
// sleeps to the next tick, reads every answer that has arrived and sends every request that
// is due. On a virtual machine a wake-up per request costs more CPU than the request, and
// this client shares its core with the upstream in the gateway benchmark. A request is sent
// up to one tick late; that lateness is in its latency, the same for every target.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "bench/http_response_head.h"

namespace {

using rampart::bench::Head;
using rampart::bench::kMaxResponseBytes;
using rampart::bench::ParseHead;

constexpr int kMaxConnections = 4096;
constexpr int64_t kDrainNs = 2'000'000'000;  // wait for in-flight answers after the run

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

[[noreturn]] void Fail(const std::string& message) {
  std::fprintf(stderr, "paced_load: %s\n", message.c_str());
  std::exit(1);
}

[[noreturn]] void Usage(const std::string& message) {
  std::fprintf(stderr,
               "paced_load: %s\n"
               "usage: paced_load --port P --rate R [--duration S] [--warmup S] "
               "[--connections N] [--tick-us T] [--path P] [--body FILE] "
               "[--header 'Name: value']...\n",
               message.c_str());
  std::exit(2);
}

struct Options {
  int port = 0;
  double rate = 0;        // requests per second
  double duration = 10;   // seconds, measured
  double warmup = 2;      // seconds, before the measured part, at the same rate
  int connections = 256;  // at most this many open at once
  int tick_us = 200;      // the loop wakes once per tick
  std::string path = "/v1/chat/completions";
  std::string body_file;
  std::vector<std::string> headers;
};

double ParseNumber(std::string_view flag, const char* text, double lo, double hi) {
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(text, &end);
  if (errno != 0 || end == text || *end != '\0' || !(v >= lo && v <= hi)) {
    char range[64];
    std::snprintf(range, sizeof range, "[%g, %g]", lo, hi);
    Usage(std::string(flag) + ": expected a number in " + range + ", got '" + text + "'");
  }
  return v;
}

Options ParseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      std::printf(
          "paced_load: open-loop HTTP/1.1 load at a fixed rate against 127.0.0.1 (see the "
          "header of bench/paced_load.cc)\n"
          "  --port P          target port on 127.0.0.1 (required)\n"
          "  --rate R          requests per second (required)\n"
          "  --duration S      measured seconds [10]\n"
          "  --warmup S        seconds at the same rate before measuring [2]\n"
          "  --connections N   most keep-alive connections open at once [256]\n"
          "  --tick-us T       the client wakes once every T microseconds [200]\n"
          "  --path P          request target [/v1/chat/completions]\n"
          "  --body FILE       POST this file's bytes (without it: GET)\n"
          "  --header 'N: V'   extra request header (repeatable)\n");
      std::exit(0);
    }
    if (i + 1 >= argc) Usage(std::string(a) + " needs a value");
    const char* v = argv[++i];
    if (a == "--port") {
      o.port = static_cast<int>(ParseNumber(a, v, 1, 65535));
    } else if (a == "--rate") {
      o.rate = ParseNumber(a, v, 1, 10'000'000);
    } else if (a == "--duration") {
      o.duration = ParseNumber(a, v, 0.1, 3600);
    } else if (a == "--warmup") {
      o.warmup = ParseNumber(a, v, 0, 3600);
    } else if (a == "--connections") {
      o.connections = static_cast<int>(ParseNumber(a, v, 1, kMaxConnections));
    } else if (a == "--tick-us") {
      o.tick_us = static_cast<int>(ParseNumber(a, v, 10, 10'000));
    } else if (a == "--path") {
      o.path = v;
      if (o.path.empty() || o.path[0] != '/' || o.path.find_first_of(" \r\n") != std::string::npos)
        Usage("--path must start with / and hold no spaces or line breaks");
    } else if (a == "--body") {
      o.body_file = v;
    } else if (a == "--header") {
      std::string h = v;
      if (h.find(':') == std::string::npos || h.find_first_of("\r\n") != std::string::npos)
        Usage("--header must be 'Name: value' on one line");
      o.headers.push_back(h);
    } else {
      Usage("unknown option " + std::string(a));
    }
  }
  if (o.port == 0) Usage("--port is required");
  if (o.rate == 0) Usage("--rate is required");
  return o;
}

std::string BuildRequest(const Options& o) {
  std::string body;
  if (!o.body_file.empty()) {
    std::ifstream in(o.body_file, std::ios::binary);
    if (!in) Fail("cannot read " + o.body_file);
    std::ostringstream ss;
    ss << in.rdbuf();
    body = ss.str();
  }
  std::string req = (o.body_file.empty() ? "GET " : "POST ") + o.path + " HTTP/1.1\r\n";
  req += "Host: 127.0.0.1:" + std::to_string(o.port) + "\r\n";
  for (const auto& h : o.headers) req += h + "\r\n";
  if (!o.body_file.empty()) req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n";
  req += body;
  return req;
}

struct Conn {
  int fd = -1;
  bool busy = false;
  int64_t scheduled_ns = 0;
  size_t sent = 0;    // bytes of the request written so far
  int64_t rx_ns = 0;  // kernel receive time of the last bytes read (monotonic)
  std::string in;
};

class Loop {
 public:
  Loop(const Options& o, std::string request) : o_(o), request_(std::move(request)) {}

  void Run() {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0) Fail(std::string("epoll_create1: ") + std::strerror(errno));
    // Sleep to the tick, not 50 us past it (the default timer slack).
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    realtime_offset_ns_ = RealtimeOffsetNs();
    conns_.resize(static_cast<size_t>(o_.connections));
    // One connection up front: a target that is not listening is an error, not a run of
    // socket errors.
    if (!Open(0)) Fail("cannot connect to 127.0.0.1:" + std::to_string(o_.port));
    open_count_ = max_open_ = 1;
    idle_.push_back(0);

    const double period_ns = 1e9 / o_.rate;
    const int64_t tick_ns = static_cast<int64_t>(o_.tick_us) * 1000;
    start_ns_ = NowNs() + 1'000'000;
    measure_from_ns_ = start_ns_ + static_cast<int64_t>(o_.warmup * 1e9);
    stop_ns_ = measure_from_ns_ + static_cast<int64_t>(o_.duration * 1e9);
    uint64_t next_index = 0;
    auto scheduled = [&](uint64_t i) {
      return start_ns_ + static_cast<int64_t>(static_cast<double>(i) * period_ns);
    };
    int64_t next_tick = start_ns_;
    std::vector<epoll_event> events(256);
    for (;;) {
      // Harvest every answer that has arrived, without blocking.
      int n;
      do {
        n = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), 0);
        if (n < 0 && errno != EINTR) Fail(std::string("epoll_wait: ") + std::strerror(errno));
        for (int k = 0; k < n; ++k)
          OnEvent(static_cast<size_t>(events[k].data.u64), events[k].events);
      } while (n == static_cast<int>(events.size()) || (n < 0 && errno == EINTR));
      // Everything due by now joins the queue; then the queue goes out on idle connections.
      const int64_t now = NowNs();
      while (scheduled(next_index) <= now && scheduled(next_index) < stop_ns_) {
        pending_.push_back(scheduled(next_index));
        ++next_index;
      }
      Dispatch();
      const bool schedule_done = scheduled(next_index) >= stop_ns_;
      if (schedule_done && pending_.empty() && in_flight_ == 0) break;
      if (schedule_done && now > stop_ns_ + kDrainNs) {
        sockerr_ += in_flight_ + pending_.size();  // never answered
        break;
      }
      // One wake-up per tick, however many requests and answers it covers: on a virtual
      // machine a sleep and wake-up costs more CPU than the request itself, and this client
      // shares its core with the upstream.
      next_tick += tick_ns;
      if (next_tick < now) next_tick = now;
      timespec ts{next_tick / 1'000'000'000, next_tick % 1'000'000'000};
      while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
      }
    }
    Report();
  }

 private:
  // CLOCK_REALTIME minus CLOCK_MONOTONIC, to read the kernel's receive timestamps (realtime).
  static int64_t RealtimeOffsetNs() {
    int64_t best = 0, best_gap = INT64_MAX;
    for (int i = 0; i < 5; ++i) {
      timespec a, r, b;
      clock_gettime(CLOCK_MONOTONIC, &a);
      clock_gettime(CLOCK_REALTIME, &r);
      clock_gettime(CLOCK_MONOTONIC, &b);
      const int64_t an = a.tv_sec * 1'000'000'000LL + a.tv_nsec;
      const int64_t bn = b.tv_sec * 1'000'000'000LL + b.tv_nsec;
      const int64_t rn = r.tv_sec * 1'000'000'000LL + r.tv_nsec;
      if (bn - an < best_gap) {
        best_gap = bn - an;
        best = rn - (an + (bn - an) / 2);
      }
    }
    return best;
  }

  bool Open(size_t i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(o_.port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // Blocking connect: on loopback it completes at once.
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      close(fd);
      return false;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    // The kernel stamps each received segment: an answer is timed when it arrived, not
    // when the next tick read it.
    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP;
    ev.data.u64 = i;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
    conns_[i] = Conn{};
    conns_[i].fd = fd;
    return true;
  }

  // Closes connection i. A request in flight on it is lost and counted as a socket error.
  void Drop(size_t i) {
    Conn& c = conns_[i];
    if (c.busy) {
      ++sockerr_;
      --in_flight_;
    }
    close(c.fd);
    c = Conn{};
    --open_count_;
  }

  void Dispatch() {
    while (!pending_.empty()) {
      size_t i;
      if (!idle_.empty()) {
        i = idle_.back();
        idle_.pop_back();
      } else if (open_count_ < o_.connections) {
        i = NextClosed();
        if (!Open(i)) {
          ++sockerr_;
          pending_.pop_front();
          continue;
        }
        ++open_count_;
        max_open_ = std::max(max_open_, open_count_);
      } else {
        return;  // every connection is busy: the queue waits, and its wait is timed
      }
      Conn& c = conns_[i];
      c.busy = true;
      c.scheduled_ns = pending_.front();
      c.sent = 0;
      pending_.pop_front();
      ++in_flight_;
      const int64_t lag = NowNs() - c.scheduled_ns;
      if (c.scheduled_ns >= measure_from_ns_) lags_.push_back(lag);
      Send(i);
    }
  }

  size_t NextClosed() const {
    for (size_t i = 0; i < conns_.size(); ++i)
      if (conns_[i].fd < 0) return i;
    Fail("internal: no free connection slot");
  }

  void Send(size_t i) {
    Conn& c = conns_[i];
    while (c.busy && c.sent < request_.size()) {
      ssize_t n = write(c.fd, request_.data() + c.sent, request_.size() - c.sent);
      if (n > 0) {
        c.sent += static_cast<size_t>(n);
      } else if (n < 0 && errno == EAGAIN) {
        return;  // EPOLLOUT resumes it
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        Drop(i);
        return;
      }
    }
  }

  void OnEvent(size_t i, uint32_t events) {
    Conn& c = conns_[i];
    if (c.fd < 0) return;
    if (events & EPOLLOUT) Send(i);
    if (c.fd < 0) return;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) Read(i);
  }

  void Read(size_t i) {
    Conn& c = conns_[i];
    char buf[16384];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
    bool eof = false;
    for (;;) {
      iovec iov{buf, sizeof buf};
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      ssize_t n = recvmsg(c.fd, &msg, 0);
      if (n > 0) {
        c.rx_ns = NowNs();
        for (cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm != nullptr; cm = CMSG_NXTHDR(&msg, cm)) {
          if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SO_TIMESTAMPNS) {
            timespec ts;
            std::memcpy(&ts, CMSG_DATA(cm), sizeof ts);
            const int64_t rx = ts.tv_sec * 1'000'000'000LL + ts.tv_nsec - realtime_offset_ns_;
            if (rx > 0 && rx <= c.rx_ns) c.rx_ns = rx;
          }
        }
        c.in.append(buf, static_cast<size_t>(n));
        if (c.in.size() > kMaxResponseBytes + 65536) Fail("a response is over 1 MiB");
      } else if (n == 0) {
        eof = true;
        break;
      } else if (errno == EINTR) {
        continue;
      } else if (errno == EAGAIN) {
        break;
      } else {
        eof = true;
        break;
      }
    }
    while (!c.in.empty()) {
      size_t head_end = c.in.find("\r\n\r\n");
      if (head_end == std::string::npos) {
        if (c.in.size() > 65536) Fail("a response head is over 64 KiB");
        break;
      }
      Head h;
      std::string error;
      if (!ParseHead(c.in, head_end, &h, &error)) Fail(error);
      if (c.in.size() < h.head_bytes + h.body_bytes) break;
      if (!c.busy) Fail("a response arrived on a connection with no request in flight");
      if (c.scheduled_ns >= measure_from_ns_) {
        latencies_.push_back(std::max<int64_t>(0, c.rx_ns - c.scheduled_ns));
        if (h.status < 200 || h.status > 299) ++non2xx_;
      }
      c.in.erase(0, h.head_bytes + h.body_bytes);
      c.busy = false;
      --in_flight_;
      if (h.close) {
        eof = true;
        break;
      }
      idle_.push_back(i);
    }
    if (eof) {
      // The server closed: a request in flight is lost; the slot opens again on demand.
      std::erase(idle_, i);
      Drop(i);
    }
  }

  static int64_t Percentile(const std::vector<int64_t>& sorted, double q) {
    if (sorted.empty()) return 0;
    size_t k = static_cast<size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5);
    return sorted[std::min(k, sorted.size() - 1)];
  }

  void Report() {
    std::sort(latencies_.begin(), latencies_.end());
    std::sort(lags_.begin(), lags_.end());
    auto us = [](int64_t ns) { return static_cast<long long>(ns / 1000); };
    std::printf(
        "BENCH requests=%zu duration_us=%lld rps=%.1f p50_us=%lld p90_us=%lld p99_us=%lld "
        "p999_us=%lld max_us=%lld non2xx=%llu sockerr=%llu lag_p99_us=%lld lag_max_us=%lld "
        "connections=%d\n",
        latencies_.size(), static_cast<long long>(o_.duration * 1e6),
        static_cast<double>(latencies_.size()) / o_.duration, us(Percentile(latencies_, 0.50)),
        us(Percentile(latencies_, 0.90)), us(Percentile(latencies_, 0.99)),
        us(Percentile(latencies_, 0.999)), us(latencies_.empty() ? 0 : latencies_.back()),
        static_cast<unsigned long long>(non2xx_), static_cast<unsigned long long>(sockerr_),
        us(Percentile(lags_, 0.99)), us(lags_.empty() ? 0 : lags_.back()), max_open_);
  }

  const Options& o_;
  const std::string request_;
  int epoll_ = -1;
  int64_t realtime_offset_ns_ = 0;
  std::vector<Conn> conns_;
  std::vector<size_t> idle_;
  std::deque<int64_t> pending_;  // scheduled times waiting for a connection
  int open_count_ = 0;
  int max_open_ = 0;
  uint64_t in_flight_ = 0;
  uint64_t non2xx_ = 0;
  uint64_t sockerr_ = 0;
  int64_t start_ns_ = 0;
  int64_t measure_from_ns_ = 0;
  int64_t stop_ns_ = 0;
  std::vector<int64_t> latencies_;
  std::vector<int64_t> lags_;
};

}  // namespace

int main(int argc, char** argv) {
  Options o = ParseArgs(argc, argv);
  Loop loop(o, BuildRequest(o));
  loop.Run();
  return 0;
}
