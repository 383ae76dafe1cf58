// Always-on assertions for broken invariants.
//
// Expected failures (a timeout, a reset connection, a corrupt record) are values:
// see result.h. A broken invariant means the program itself is wrong, so it stops
// at once with the file, line, condition and a message, in every build type.
// Release builds keep these checks because a simulator that silently continues
// after its own state is corrupt produces results nobody should trust.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace streamsim::detail {
[[noreturn]] void assert_fail(const char* file, int line, const char* cond, const char* msg) noexcept;
}  // namespace streamsim::detail

#define SS_ASSERT(cond, msg)                                                      \
  do {                                                                            \
    if (__builtin_expect(!(cond), 0))                                             \
      ::streamsim::detail::assert_fail(__FILE__, __LINE__, #cond, (msg));         \
  } while (0)

#define SS_PANIC(msg) ::streamsim::detail::assert_fail(__FILE__, __LINE__, "panic", (msg))
