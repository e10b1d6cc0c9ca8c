// Test helper for the kill -9 durability test (sqlite_sink_test.cc): appends records to the
// audit log argv[1] with the key in argv[2] until killed, printing each sequence number on
// standard output as soon as its durable callback fires.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "audit/chain.h"
#include "audit/sqlite_sink.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: audit_crash_helper DB KEYFILE\n");
    return 2;
  }
  auto key = rampart::audit::LoadKeyFile(argv[2]);
  if (!key.ok()) return 2;
  rampart::audit::SqliteSinkOptions o;
  o.path = argv[1];
  o.key = *key;
  o.queue_capacity = 256;
  auto sink = rampart::audit::SqliteSink::Open(o);
  if (!sink.ok()) {
    std::fprintf(stderr, "%s\n", sink.status().ToString().c_str());
    return 2;
  }
  for (uint64_t i = 0;; ++i) {
    rampart::audit::Record r;
    r.time_us = static_cast<int64_t>(i);
    r.request_id = "crash-" + std::to_string(i);
    r.verdict = "allow";
    auto st = (*sink)->Submit(std::move(r), [](absl::StatusOr<uint64_t> seq) {
      if (!seq.ok()) return;
      std::string line = std::to_string(*seq) + "\n";
      // One write per line: the parent never sees half a number from a whole line.
      if (::write(1, line.data(), line.size()) < 0) _exit(3);
    });
    if (!st.ok()) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}
