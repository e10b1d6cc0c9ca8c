#include "server/log_writer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <future>
#include <string>
#include <thread>
#include <vector>

namespace rampart::server {
namespace {

// Reads what is in the pipe now (non-blocking).
std::string Drain(int fd) {
  std::string out;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

class LogWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::pipe(fds_), 0);
    ASSERT_EQ(::fcntl(fds_[0], F_SETFL, O_NONBLOCK), 0);
  }
  void TearDown() override {
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  int fds_[2] = {-1, -1};
};

TEST_F(LogWriterTest, LinesFromManyThreadsArriveWholeAndInOrderPerThread) {
  {
    LogWriter log(fds_[1]);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&log, t] {
        for (int i = 0; i < 100; ++i) log.Write(std::to_string(t) + ":" + std::to_string(i));
      });
    }
    for (auto& th : threads) th.join();
    ASSERT_TRUE(log.Flush(5'000));
  }
  std::string all = Drain(fds_[0]);
  int next[4] = {0, 0, 0, 0};
  size_t lines = 0, pos = 0;
  while (pos < all.size()) {
    size_t nl = all.find('\n', pos);
    ASSERT_NE(nl, std::string::npos);
    std::string line = all.substr(pos, nl - pos);
    pos = nl + 1;
    int t = line[0] - '0';
    ASSERT_GE(t, 0);
    ASSERT_LT(t, 4);
    EXPECT_EQ(line.substr(2), std::to_string(next[t])) << line;
    ++next[t];
    ++lines;
  }
  EXPECT_EQ(lines, 400u);
}

// A reader that stops reading (a full pipe) must not block Write(): lines are dropped,
// counted, and reported once the reader catches up.
TEST_F(LogWriterTest, BlockedReaderDropsAndReportsInsteadOfBlocking) {
  ::fcntl(fds_[1], F_SETPIPE_SZ, 4096);
  LogWriter log(fds_[1], /*capacity_bytes=*/8192);
  const std::string line(100, 'x');
  // Liveness, not speed: a Write() that waited for the reader would never return here (the
  // pipe is not drained until below), so the writes run on a thread and the test gives up
  // after a generous bound instead of hanging.
  auto writes = std::async(std::launch::async, [&] {
    for (int i = 0; i < 2000; ++i) log.Write(line);  // 200 KB into a 4 KB pipe + 8 KB queue
  });
  if (writes.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    ADD_FAILURE() << "Write() blocked on a reader that does not read";
    while (writes.wait_for(std::chrono::milliseconds(10)) != std::future_status::ready) {
      Drain(fds_[0]);  // unblock it, so the test ends instead of hanging
    }
    return;
  }
  EXPECT_GT(log.dropped(), 1000u);
  EXPECT_FALSE(log.Flush(50));  // the reader is not reading
  // The reader catches up; the next line that fits is preceded by the count of what was
  // lost (lines written while the queue is still full are dropped too).
  std::string got;
  for (int i = 0; i < 200 && got.find("after\n") == std::string::npos; ++i) {
    got += Drain(fds_[0]);
    log.Write("after");
    log.Flush(20);
    got += Drain(fds_[0]);
  }
  EXPECT_NE(got.find("{\"level\":\"warn\",\"event\":\"log_lines_dropped\",\"count\":"),
            std::string::npos);
  EXPECT_NE(got.find("after\n"), std::string::npos);
}

}  // namespace
}  // namespace rampart::server
