// Records as the engine sees them: a small typed Value, the input record as it
// came from a partition (InputRecord), the decoded Row that operators transform,
// and the OutputRow a sink receives.
//
// Every Row carries its provenance (topic, partition, offset) so a checker can
// trace each output, late drop and dead letter back to the input record.
#pragma once

#include <streamsim/engine/time.h>

#include <compare>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <variant>

namespace streamsim::engine {

// A null, an int64, a double or a string. Values are totally ordered (needed for
// deterministic state and output order): null < int64 < double < string; int64s
// and strings compare naturally; doubles compare by IEEE totalOrder (so -0.0 <
// +0.0 and NaNs sort at the ends), which makes every Value usable as a map key.
// Note that int 1 and double 1.0 are different values (and different keys).
class Value {
 public:
  Value() = default;
  Value(int v) : v_(int64_t{v}) {}  // NOLINT(implicit): Value is a literal-friendly sum type
  Value(int64_t v) : v_(v) {}       // NOLINT(implicit)
  Value(double v) : v_(v) {}        // NOLINT(implicit)
  Value(std::string v) : v_(std::move(v)) {}  // NOLINT(implicit)
  Value(const char* v) : v_(std::string(v)) {}  // NOLINT(implicit)
  Value(std::string_view v) : v_(std::string(v)) {}  // NOLINT(implicit)

  bool is_null() const { return v_.index() == 0; }
  bool is_int() const { return v_.index() == 1; }
  bool is_double() const { return v_.index() == 2; }
  bool is_string() const { return v_.index() == 3; }
  bool is_numeric() const { return is_int() || is_double(); }
  // Precondition: the matching is_*() holds (SS_ASSERT).
  int64_t as_int() const;
  double as_double() const;
  const std::string& as_string() const;
  // int64 or double as a double. Precondition: is_numeric().
  double to_double() const;

  // "null", "42", "2.5", "\"text\"".
  std::string to_string() const;

  friend std::strong_ordering operator<=>(const Value& a, const Value& b);
  friend bool operator==(const Value& a, const Value& b) { return (a <=> b) == 0; }

 private:
  std::variant<std::monostate, int64_t, double, std::string> v_;
};
std::ostream& operator<<(std::ostream& os, const Value& v);

// Where an input record came from: its Kafka coordinates.
struct Provenance {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = -1;
  auto operator<=>(const Provenance&) const = default;
};
// "clicks[0]@17"
std::string to_string(const Provenance& p);

// One record as read from a source partition: bytes plus the Kafka timestamp.
// The Kafka wiring builds it from a kafka::ConsumerRecord field by field.
struct InputRecord {
  Provenance source;
  std::optional<std::string> key;    // raw bytes; nullopt = null key
  std::optional<std::string> value;  // raw bytes; nullopt = null value (tombstone)
  int64_t timestamp_ms = -1;         // Kafka record timestamp; < 0 = none
};

// A decoded record flowing through the operators. Operators may change key and
// value; the engine keeps event_time and source from the input record, so no
// operator can move an event in time or hide where it came from.
struct Row {
  Value key;
  Value value;
  EventTime event_time;
  Provenance source;
};

// A window of event time, half-open: [start, end).
struct WindowBounds {
  EventTime start;
  EventTime end;
  auto operator<=>(const WindowBounds&) const = default;
};

// One row for the sink. For a windowed aggregation: key, window, aggregate value
// and event_time = window end - 1ms (the window's last instant). For an
// unwindowed aggregation: key, value, no window, event_time = the largest event
// time aggregated. For a stateless pipeline: the row as transformed, with its
// provenance.
struct OutputRow {
  int32_t partition = 0;  // the task that produced it
  Value key;
  Value value;
  std::optional<WindowBounds> window;
  EventTime event_time;
  std::optional<Provenance> source;  // stateless pipelines only
  auto operator<=>(const OutputRow&) const = default;
};
// "key=\"u1\" window=[0ms,60000ms) value=3" (partition and source omitted) --
// stable text that tests compare against.
std::string to_string(const OutputRow& r);
std::ostream& operator<<(std::ostream& os, const OutputRow& r);

// The engine's record encoding of a Value, used by decoders::typed() and the
// TestStream: one tag byte (0 null, 1 int64, 2 double, 3 string), then 8 bytes
// big-endian for int64 and double (IEEE bits), or the string's bytes. Strict:
// a wrong tag or length is refused, so garbage becomes a dead letter.
std::string encode_value(const Value& v);
// nullopt if bytes is not a valid encoding.
std::optional<Value> decode_value(std::string_view bytes);

}  // namespace streamsim::engine
