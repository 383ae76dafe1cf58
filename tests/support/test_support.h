// Helpers shared by the test executables (header-only; tests/ may fork and pipe).
#pragma once

#include <streamsim/sim/simulation.h>

#include <spdlog/sinks/null_sink.h>

#include <csignal>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

namespace streamsim::testing {

// What a child process did: whether SIGABRT ended it, and its stderr.
struct Death {
  bool aborted = false;
  std::string stderr_text;
};

// Catch2 has no death tests: runs fn in a forked child whose stderr goes to a
// pipe, and reports whether the child was ended by SIGABRT (an SS_ASSERT).
inline Death run_expecting_abort(const std::function<void()>& fn) {
  Death d;
  int fds[2];
  if (::pipe(fds) != 0) return d;
  // Flush first so the child cannot inherit, and later repeat, buffered output.
  std::cout.flush();
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return d;
  if (pid == 0) {
    ::close(fds[0]);
    ::dup2(fds[1], STDERR_FILENO);
    // The child inherits Catch2's fatal-signal handler, which would report a
    // failed test on the shared stdout; the default action just terminates.
    std::signal(SIGABRT, SIG_DFL);
    fn();
    ::_exit(0);  // reached only if no assertion fired
  }
  ::close(fds[1]);
  char buf[256];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) d.stderr_text.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  if (::waitpid(pid, &status, 0) == pid) d.aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
  return d;
}

// A simulation configuration whose node logs go nowhere.
inline sim::SimulationConfig quiet_config() {
  sim::SimulationConfig c;
  c.log_level = "off";
  c.log_sink = std::make_shared<spdlog::sinks::null_sink_st>();
  return c;
}

}  // namespace streamsim::testing
