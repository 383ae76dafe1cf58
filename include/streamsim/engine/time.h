// Event time for the streaming engine: EventTime and Watermark, int64 milliseconds.
//
// The engine counts event time in milliseconds because Kafka record timestamps
// are milliseconds; the Runtime's Instant/Duration (core/time.h, nanoseconds) are
// processing time and never mix with event time. Pipeline settings are given as
// core Durations and must be whole milliseconds (the builder checks it).
//
// Range: event times the engine accepts lie in [-kMaxEventTimeMs, kMaxEventTimeMs]
// (about 36 million years either side of the epoch); a record outside it is a
// dead letter. Durations (window size, delay, lateness) are at most
// kMaxEventDurationMs. Together these bounds make every sum the engine forms
// (time + size + lateness + delay) fit in an int64, so no comparison overflows.
#pragma once

#include <streamsim/core/time.h>

#include <compare>
#include <cstdint>
#include <limits>
#include <string>

namespace streamsim::engine {

inline constexpr int64_t kMaxEventTimeMs = int64_t{1} << 60;
inline constexpr int64_t kMaxEventDurationMs = int64_t{1} << 58;

// A point in event time: milliseconds since the Unix epoch, as in a Kafka record
// timestamp or a payload field.
class EventTime {
 public:
  constexpr EventTime() = default;
  static constexpr EventTime from_ms(int64_t ms) { return EventTime(ms); }
  constexpr int64_t ms() const { return ms_; }
  constexpr auto operator<=>(const EventTime&) const = default;

 private:
  constexpr explicit EventTime(int64_t ms) : ms_(ms) {}
  int64_t ms_ = 0;
};

// The engine's claim that no more on-time events with a smaller event time will
// arrive (docs/semantics.md, "Watermarks"). min() means "no watermark yet"
// (nothing is late, nothing closes); max() means "end of input" (everything
// closes). Watermarks only move forward.
class Watermark {
 public:
  constexpr Watermark() = default;
  static constexpr Watermark from_ms(int64_t ms) { return Watermark(ms); }
  static constexpr Watermark min() { return Watermark(std::numeric_limits<int64_t>::min()); }
  static constexpr Watermark max() { return Watermark(std::numeric_limits<int64_t>::max()); }
  constexpr int64_t ms() const { return ms_; }
  constexpr bool is_min() const { return ms_ == std::numeric_limits<int64_t>::min(); }
  constexpr bool is_max() const { return ms_ == std::numeric_limits<int64_t>::max(); }
  constexpr auto operator<=>(const Watermark&) const = default;

 private:
  constexpr explicit Watermark(int64_t ms) : ms_(ms) {}
  int64_t ms_ = std::numeric_limits<int64_t>::min();
};

// "1234ms", "-inf" for Watermark::min(), "+inf" for Watermark::max().
std::string to_string(EventTime t);
std::string to_string(Watermark w);

// Whole milliseconds in d, or -1 if d is negative, not a whole number of
// milliseconds, or larger than kMaxEventDurationMs.
constexpr int64_t event_duration_ms(Duration d) {
  if (d.ns() < 0 || d.ns() % 1'000'000 != 0) return -1;
  const int64_t ms = d.ns() / 1'000'000;
  return ms > kMaxEventDurationMs ? -1 : ms;
}

}  // namespace streamsim::engine
