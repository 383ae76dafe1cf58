// The pipeline API: a builder in the style of Spark Structured Streaming.
//
//   auto p = engine::source("clicks")
//                .with_watermark(Duration::seconds(5))
//                .key_by([](const Row& r) { return r.key; })
//                .window(WindowSpec::tumbling(Duration::seconds(60)))
//                .aggregate(Aggregate::count())
//                .output(OutputMode::append)
//                .sink("click-counts")
//                .build();  // Result<Pipeline, EngineError>
//
// A pipeline is linear: one source; then map / filter / flat_map / key_by /
// join_table and at most one dedup, in any order; then optionally window +
// aggregate, which ends it. build() checks every rule (including Spark's output-mode restrictions)
// and names the offending setting in EngineError::field. The rules and the exact
// semantics are in docs/semantics.md.
//
// Ownership: a Pipeline is an immutable, shareable plan (a shared_ptr inside);
// the user functions it holds must be pure (no clock, no randomness, no I/O):
// the engine may run them again after a restore, and determinism depends on it.
#pragma once

#include <streamsim/core/result.h>
#include <streamsim/core/time.h>
#include <streamsim/engine/error.h>
#include <streamsim/engine/row.h>
#include <streamsim/engine/time.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

// The protobuf decoder takes a message Descriptor; this header does not need
// the protobuf headers for that (engine/decoders.cpp includes them).
namespace google::protobuf {
class Descriptor;
}

namespace streamsim::engine {

// Turns an input record's bytes into a row's key and value, or says why not.
// A decoder that reads a payload field as the event time also returns it
// (event_time), so the record is parsed once; event_times::from_payload()
// hands it to the pipeline.
struct Decoded {
  Value key;
  Value value;
  std::optional<EventTime> event_time;  // from the payload; unset: the decoder reads none
};
using Decoder = std::function<Result<Decoded, std::string>(const InputRecord&)>;
// A decoder whose settings are checked when it is made (a field the message
// type does not have, say): PipelineBuilder::decoder() takes it and build()
// reports the error, whose field names the setting ("decoder.value_field").
using CheckedDecoder = Result<Decoder, EngineError>;

// Extracts the event time of a decoded record; nullopt = the record has none.
// The Row it receives carries, in event_time, the decoder's payload event time
// (Decoded::event_time), or kNoPayloadEventTime when the decoder read none.
using EventTimeFn = std::function<std::optional<EventTime>(const InputRecord&, const Row&)>;
// Outside the accepted event-time range (time.h), so it can never be mistaken
// for a real event time.
inline constexpr EventTime kNoPayloadEventTime = EventTime::from_ms(std::numeric_limits<int64_t>::min());

namespace decoders {
// Key and value in the engine's record encoding (row.h, encode_value); a null
// key or value stays null. The TestStream produces this encoding.
Decoder typed();
// Key and value as UTF-8 strings (not validated); null stays null.
Decoder utf8();
// Key as a string, value as a decimal int64 ("-12"); anything else is refused.
Decoder int64_text();

// The record value parsed as a Protocol Buffers message of type `message`
// (binary wire format, through reflection), its fields mapped to the row
// (docs/semantics.md, "Decoders"):
//   key_field   -> Row::key; empty: the Kafka record key as a UTF-8 string;
//   value_field -> Row::value; empty: null;
//   event_time_field (optional) -> Decoded::event_time: an integral field in
//     milliseconds, or a google.protobuf.Timestamp message.
// Field types: integers (and enums, by number) -> int64 (a uint64 above
// INT64_MAX is refused per record), bool -> int64 0/1, float and double ->
// double, string and bytes -> string. Repeated, map and message fields are
// refused when the decoder is made (error field "decoder.<which>_field").
// Per record, a value that does not parse, a null value, or a field with
// presence (proto2, proto3 `optional`, oneof members) that is absent is a
// decode error (a dead letter). A proto3 field without presence reads as its
// default: absent and zero cannot be told apart on the wire.
// Precondition: the descriptor (and its pool) outlives the decoder; generated
// types' descriptors live for the whole program.
CheckedDecoder protobuf(const google::protobuf::Descriptor* message, std::string key_field, std::string value_field,
                        std::string event_time_field = {});
// The same for a generated message type: decoders::protobuf<ClickEvent>("user", "amount").
template <class Message>
CheckedDecoder protobuf(std::string key_field, std::string value_field, std::string event_time_field = {}) {
  return protobuf(Message::descriptor(), std::move(key_field), std::move(value_field), std::move(event_time_field));
}

// The record value as a JSON object (parsed by Protocol Buffers' JSON support
// into a google.protobuf.Struct), its members mapped like protobuf() above:
// key_field (empty: the Kafka key as a string), value_field (empty: null),
// event_time_field (optional: integral milliseconds, or an RFC 3339 string
// such as "2024-01-01T00:00:00.250Z"). Member values: null -> null, a number
// that is integral and fits in an int64 -> int64 (JSON numbers are doubles, so
// integers beyond 2^53 are not exact), other numbers -> double, string ->
// string, true/false -> int64 1/0; an object or array is a decode error, as is
// a missing member, a value that is not a JSON object, or a null value.
Decoder json(std::string key_field, std::string value_field, std::string event_time_field = {});
}  // namespace decoders

namespace event_times {
// The Kafka record timestamp (InputRecord::timestamp_ms); none when negative.
EventTimeFn record_timestamp();
// The row's value as milliseconds, when it is an int64 (after decoding).
EventTimeFn value_ms();
// The event time the decoder read from the payload (Decoded::event_time);
// none when it read none. Use with a decoder given an event_time_field.
EventTimeFn from_payload();
}  // namespace event_times

struct WindowSpec {
  enum class Kind { tumbling, sliding, session };
  Kind kind = Kind::tumbling;
  Duration size;   // tumbling, sliding
  Duration slide;  // sliding
  Duration gap;    // session
  // Windows [k*size, (k+1)*size), aligned to the epoch.
  static WindowSpec tumbling(Duration size) { return {Kind::tumbling, size, size, Duration::zero()}; }
  // Windows [k*slide, k*slide + size); an event is in every window covering it.
  static WindowSpec sliding(Duration size, Duration slide) { return {Kind::sliding, size, slide, Duration::zero()}; }
  // Per key: an event at t opens [t, t+gap); overlapping sessions merge.
  static WindowSpec session(Duration gap) { return {Kind::session, Duration::zero(), Duration::zero(), gap}; }
};

// The aggregate over Row::value. Nulls are skipped by sum/min/max/avg (as in
// SQL) and counted by count. sum/avg of a string is a dead letter.
struct Aggregate {
  enum class Kind { count, sum, min, max, avg, fold };
  using FoldFn = std::function<Value(const Value& acc, const Row& row)>;
  using MergeFn = std::function<Value(const Value& a, const Value& b)>;
  Kind kind = Kind::count;
  Value init;      // fold: the initial accumulator
  FoldFn fold_fn;  // fold
  MergeFn merge_fn;  // fold over session windows: combines two sessions' accumulators

  static Aggregate count() { return {Kind::count, {}, {}, {}}; }
  static Aggregate sum() { return {Kind::sum, {}, {}, {}}; }
  static Aggregate min() { return {Kind::min, {}, {}, {}}; }
  static Aggregate max() { return {Kind::max, {}, {}, {}}; }
  static Aggregate avg() { return {Kind::avg, {}, {}, {}}; }
  static Aggregate fold(Value init, FoldFn fn, MergeFn merge = {}) {
    return {Kind::fold, std::move(init), std::move(fn), std::move(merge)};
  }
};

enum class OutputMode { append, update, complete };
enum class LatePolicy { drop, route };        // route: to the late output (a late-events topic)
enum class DeadLetterPolicy { route, fail };  // fail: the batch fails with bad_record
const char* to_string(OutputMode m);
const char* to_string(LatePolicy p);
const char* to_string(DeadLetterPolicy p);

// Stream-static join (docs/semantics.md, "Stream-static join"): inner drops a
// row whose key has no table entry (counted in EngineMetrics::join_unmatched);
// left passes it on with a null table value.
enum class JoinKind { inner, left };
const char* to_string(JoinKind k);
// Combines a row with the table value of its key (null: no entry, left join
// only). Like map, it may change key and value; event time and provenance stay.
using JoinFn = std::function<Row(const Row& row, const Value& table_value)>;

// A table a pipeline joins against: a (compacted) topic read to its end, the
// last value per record key; `decoder` turns its records into key and value.
struct TableSpec {
  std::string topic;
  Decoder decoder;
};

// One stateless, join or dedup step, in pipeline order.
struct Stage {
  enum class Kind { map, filter, flat_map, key_by, dedup, join };
  Kind kind = Kind::map;
  std::function<Row(const Row&)> map;
  std::function<bool(const Row&)> filter;
  std::function<std::vector<Row>(const Row&)> flat_map;
  std::function<Value(const Row&)> key_by;
  JoinFn join;               // join: looked up by the row's current key
  std::string table_topic;   // join
  JoinKind join_kind = JoinKind::inner;
};

// The validated plan that tasks execute. All durations are in event-time
// milliseconds; processing-time settings stay Durations.
struct PipelinePlan {
  std::string source_topic;
  std::string sink_topic;
  Decoder decoder;
  EventTimeFn event_time;
  std::optional<int64_t> watermark_delay_ms;  // unset: no watermark
  std::optional<Duration> idle_timeout;        // processing time; unset: never idle
  std::vector<Stage> stages;
  bool has_dedup = false;
  // The tables the join stages read, one per topic, in first-use order.
  std::vector<TableSpec> tables;
  // Reload the tables after this many batches (0: only at start-up and after
  // a restore). docs/semantics.md, "Stream-static join".
  uint64_t table_refresh_batches = 0;
  std::optional<WindowSpec::Kind> window_kind;  // set with aggregate only
  int64_t window_size_ms = 0;
  int64_t window_slide_ms = 0;
  int64_t session_gap_ms = 0;
  std::optional<Aggregate> aggregate;
  // Per closed window, only the results whose value is the window's maximum
  // (all ties, in key order) are emitted: select_max_per_window().
  bool select_max_per_window = false;
  int64_t allowed_lateness_ms = 0;
  LatePolicy late_policy = LatePolicy::drop;
  DeadLetterPolicy dead_letter_policy = DeadLetterPolicy::route;
  OutputMode output_mode = OutputMode::append;
  std::string description;  // "source(clicks) -> ... -> append"
};

class Pipeline {
 public:
  const PipelinePlan& plan() const { return *plan_; }
  const std::string& describe() const { return plan_->description; }

 private:
  friend class PipelineBuilder;
  explicit Pipeline(std::shared_ptr<const PipelinePlan> plan) : plan_(std::move(plan)) {}
  std::shared_ptr<const PipelinePlan> plan_;
};

class PipelineBuilder {
 public:
  explicit PipelineBuilder(std::string source_topic);

  // Source settings. Defaults: decoders::typed(), event_times::record_timestamp(),
  // no watermark, never idle.
  PipelineBuilder& decoder(Decoder d);
  // A decoder checked when it was made (decoders::protobuf): its error, if
  // any, is build()'s error.
  PipelineBuilder& decoder(CheckedDecoder d);
  PipelineBuilder& event_time(EventTimeFn f);
  // Per-partition watermark = max event time seen - delay (whole milliseconds).
  PipelineBuilder& with_watermark(Duration delay);
  // A partition with no records for this long (processing time) stops holding
  // the global watermark back until it has records again.
  PipelineBuilder& idle_timeout(Duration timeout);

  // Stateless operators, applied in the order given.
  PipelineBuilder& map(std::function<Row(const Row&)> fn);
  PipelineBuilder& filter(std::function<bool(const Row&)> fn);
  // At most EngineLimits::max_flat_map_fanout rows per input row (else a dead letter).
  PipelineBuilder& flat_map(std::function<std::vector<Row>(const Row&)> fn);
  PipelineBuilder& key_by(std::function<Value(const Row&)> fn);
  // Drops a row whose key was seen within the watermark (docs/semantics.md,
  // "Deduplication"). Needs with_watermark.
  PipelineBuilder& dedup();
  // Stream-static join: looks the row's current key up in the table held by
  // `table_topic` (the last value per key; a null value deletes the key) and
  // calls fn(row, value). The table is loaded when the query starts, after
  // every restore and, with refresh_tables_every(n), every n batches; it is not
  // part of the watermark, and a table change never re-emits past results
  // (docs/semantics.md, "Stream-static join"). The table's records are decoded
  // with table_decoder (default: the engine's record encoding). The topic must
  // differ from the source and the sink (field "join_table").
  PipelineBuilder& join_table(std::string table_topic, JoinFn fn, JoinKind kind = JoinKind::inner,
                              Decoder table_decoder = decoders::typed());
  // Reloads the join tables after every n batches (n >= 1).
  PipelineBuilder& refresh_tables_every(uint64_t batches);

  // Aggregation: window is optional, aggregate ends the operator chain.
  PipelineBuilder& window(WindowSpec w);
  PipelineBuilder& aggregate(Aggregate a);
  PipelineBuilder& allowed_lateness(Duration lateness);
  // A second stage after a tumbling or sliding window's aggregate (append mode
  // only): when a window closes, emit only the keys whose aggregate value is the
  // largest of that window (ties: every such key, in key order); the others are
  // dropped. Values compare as for max (numbers numerically, an int and an
  // equal double by the Value order, null lowest); ties are equal values.
  // Examples: the hottest items per window (count, then select), or the highest
  // bids of a window joined back to the bids (key = the bid, max of its price,
  // then select). The selection is per task: the window's keys must all arrive
  // on one input partition for the result to be the global maximum.
  PipelineBuilder& select_max_per_window();

  PipelineBuilder& late_events(LatePolicy p);
  PipelineBuilder& dead_letters(DeadLetterPolicy p);
  PipelineBuilder& output(OutputMode m);
  PipelineBuilder& sink(std::string topic);

  // Checks every rule; the first violation is the error, with its field.
  Result<Pipeline, EngineError> build() const;

 private:
  void fail(std::string field, std::string message);
  PipelinePlan plan_;
  std::optional<WindowSpec> window_;
  std::optional<Duration> watermark_delay_, lateness_;
  bool late_policy_set_ = false;
  std::optional<EngineError> error_;  // the first misuse of the builder
};

// The entry point: source("clicks").with_watermark(...)...build().
inline PipelineBuilder source(std::string topic) { return PipelineBuilder(std::move(topic)); }

}  // namespace streamsim::engine
