// foreign_wait_probe: a task that suspends through Boost.Fiber directly, instead of
// through the kernel (Runtime::park and what core/sync.h builds on it), must stop
// the run: such a wait reads the real steady clock or bypasses the seeded
// scheduler, so the run could not replay. The kernel reports it with
// "task '<name>' suspended outside the kernel" and aborts.
//
// Not a Catch2 test, because the expected outcome is the process aborting. CTest
// counts any process killed by a signal as failed, whatever its output, so this
// program turns the expected SIGABRT into exit status 0; the test passes only if
// the output also contains the kernel's message (PASS_REGULAR_EXPRESSION in
// tests/CMakeLists.txt). If the kernel lets the wait through, run() returns and
// the probe prints "PROBE FAILED" (matched by FAIL_REGULAR_EXPRESSION).
//
// Usage: foreign_wait_probe [sleep|condvar|yield|mutex]   (default: sleep)
//   sleep    boost::this_fiber::sleep_for(1 ms)
//   condvar  boost::fibers::condition_variable::wait_for(lock, 1 ms)
//   yield    boost::this_fiber::yield()
//   mutex    a contended boost::fibers::mutex (another task holds it)
#include <streamsim/sim/simulation.h>

#include <boost/fiber/condition_variable.hpp>
#include <boost/fiber/mutex.hpp>
#include <boost/fiber/operations.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <string>

#include <unistd.h>

namespace {

extern "C" void on_abort(int) {
  static const char msg[] = "foreign_wait_probe: the kernel aborted the run, as expected\n";
  // Only async-signal-safe calls here.
  [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, msg, sizeof msg - 1);
  ::_exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  using streamsim::sim::SimRuntime;
  const std::string mode = argc > 1 ? argv[1] : "sleep";
  if (mode != "sleep" && mode != "condvar" && mode != "yield" && mode != "mutex") {
    std::fprintf(stderr, "PROBE FAILED: unknown mode '%s' (use sleep, condvar, yield or mutex)\n", mode.c_str());
    return 2;
  }
  std::signal(SIGABRT, on_abort);

  boost::fibers::mutex shared;  // for "mutex"; declared before the simulation that uses it
  streamsim::sim::Simulation sim(1);
  sim.add_node("n", [&mode, &shared](SimRuntime& rt) {
    if (mode == "sleep") {
      boost::this_fiber::sleep_for(std::chrono::milliseconds(1));
    } else if (mode == "condvar") {
      boost::fibers::mutex m;
      boost::fibers::condition_variable cv;
      std::unique_lock<boost::fibers::mutex> lk(m);
      cv.wait_for(lk, std::chrono::milliseconds(1));
    } else if (mode == "yield") {
      boost::this_fiber::yield();
    } else {
      rt.spawn("holder", [&rt, &shared] {
        std::unique_lock<boost::fibers::mutex> lk(shared);
        rt.sleep_for(streamsim::Duration::millis(5));  // holds it across a kernel wait
      });
      rt.sleep_for(streamsim::Duration::millis(1));
      std::unique_lock<boost::fibers::mutex> lk(shared);  // contended: Boost suspends this task
    }
  });
  const streamsim::sim::RunStop stop = sim.run();
  std::fprintf(stderr, "PROBE FAILED: run() returned '%s'; the kernel let a raw Boost.Fiber wait (%s) through\n",
               streamsim::sim::to_string(stop), mode.c_str());
  return 1;
}
