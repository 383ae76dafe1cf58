// The failure path of SS_ASSERT and SS_PANIC.
//
// It lives out of line so every assertion site costs one compare and a cold call.
// It uses stdio rather than a logger on purpose: the program's own state is
// already known to be broken, so the report must not depend on any of it.
#include <streamsim/core/assert.h>

#include <cstdio>
#include <cstdlib>

namespace streamsim::detail {

void assert_fail(const char* file, int line, const char* cond, const char* msg) noexcept {
  // A null message would be undefined behaviour in printf; print it as empty
  // rather than lose the file and line of the report.
  std::fprintf(stderr, "streamsim: assertion failed at %s:%d: %s: %s\n", file, line, cond,
               msg != nullptr ? msg : "");
  // stderr is normally unbuffered, but it may have been redirected or given a
  // buffer, and abort() is not required to flush stdio, so flush before stopping.
  std::fflush(stderr);
  std::abort();
}

}  // namespace streamsim::detail
