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
// A pipeline is linear: one source; then map / filter / flat_map / key_by and at
// most one dedup, in any order; then optionally window + aggregate, which ends
// it. build() checks every rule (including Spark's output-mode restrictions)
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

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace streamsim::engine {

// Turns an input record's bytes into a row's key and value, or says why not.
struct Decoded {
  Value key;
  Value value;
};
using Decoder = std::function<Result<Decoded, std::string>(const InputRecord&)>;
// Extracts the event time of a decoded record; nullopt = the record has none.
using EventTimeFn = std::function<std::optional<EventTime>(const InputRecord&, const Row&)>;

namespace decoders {
// Key and value in the engine's record encoding (row.h, encode_value); a null
// key or value stays null. The TestStream produces this encoding.
Decoder typed();
// Key and value as UTF-8 strings (not validated); null stays null.
Decoder utf8();
// Key as a string, value as a decimal int64 ("-12"); anything else is refused.
Decoder int64_text();
}  // namespace decoders

namespace event_times {
// The Kafka record timestamp (InputRecord::timestamp_ms); none when negative.
EventTimeFn record_timestamp();
// The row's value as milliseconds, when it is an int64 (after decoding).
EventTimeFn value_ms();
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

// One stateless or dedup step, in pipeline order.
struct Stage {
  enum class Kind { map, filter, flat_map, key_by, dedup };
  Kind kind = Kind::map;
  std::function<Row(const Row&)> map;
  std::function<bool(const Row&)> filter;
  std::function<std::vector<Row>(const Row&)> flat_map;
  std::function<Value(const Row&)> key_by;
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
