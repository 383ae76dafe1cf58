// Text forms of Instant and Duration for logs, traces and reports.
//
// Formatting works on the integer nanosecond count, never on a double: a double
// has 53 bits of mantissa, so beyond about 104 days of nanoseconds it would drop
// digits, and two different instants could print the same.
#include <streamsim/core/time.h>

#include <cstdint>
#include <cstdio>
#include <string>

namespace streamsim {

namespace {

// "[-]S.NNNNNNNNNs": whole seconds without padding, then exactly nine fraction
// digits so that the fraction always has the same width.
std::string format_ns(int64_t ns) {
  // The magnitude is taken in uint64_t because negating INT64_MIN as an int64_t
  // overflows; unsigned negation is modular and gives the right magnitude.
  const bool negative = ns < 0;
  const uint64_t magnitude =
      negative ? uint64_t{0} - static_cast<uint64_t>(ns) : static_cast<uint64_t>(ns);
  const unsigned long long whole = magnitude / 1'000'000'000ULL;
  const unsigned long long frac = magnitude % 1'000'000'000ULL;
  // Sign, 20 digits of seconds, point, 9 digits, 's' and the terminator fit in 40.
  char buf[40];
  const int len = std::snprintf(buf, sizeof buf, "%s%llu.%09llus", negative ? "-" : "", whole, frac);
  return std::string(buf, static_cast<size_t>(len));
}

}  // namespace

std::string format_instant(Instant t) { return format_ns(t.ns()); }

std::string format_duration(Duration d) { return format_ns(d.ns()); }

}  // namespace streamsim
