// Runs the built `rampart` binary (RAMPART_BINARY, set by CMake) for integration tests.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace rampart::testing {

struct RunResult {
  int exit_code = -1;  // -1 when the process did not exit normally
  std::string out;     // standard output (and standard error when asked)
};

// Runs `rampart <args>` through the shell; standard error is discarded unless
// `with_stderr`, in which case it is captured with standard output.
inline RunResult RunRampart(const std::string& args, bool with_stderr = false) {
  std::string cmd =
      std::string(RAMPART_BINARY) + " " + args + (with_stderr ? " 2>&1" : " 2>/dev/null");
  RunResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace rampart::testing
