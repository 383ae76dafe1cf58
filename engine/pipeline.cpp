// The pipeline builder and its rules (docs/semantics.md, "Output modes").
#include <streamsim/core/assert.h>
#include <streamsim/engine/pipeline.h>

#include <algorithm>
#include <charconv>

namespace streamsim::engine {

namespace {

// A sliding window spec may not put one event into more windows than this:
// every window is a state entry and an output row, so size/slide is a cost
// multiplier that must stay bounded.
constexpr int64_t kMaxWindowsPerEvent = 1'024;

std::string ms_text(int64_t ms) { return std::to_string(ms) + "ms"; }

}  // namespace

const char* to_string(OutputMode m) {
  switch (m) {
    case OutputMode::append: return "append";
    case OutputMode::update: return "update";
    case OutputMode::complete: return "complete";
  }
  return "?";
}
const char* to_string(LatePolicy p) { return p == LatePolicy::drop ? "drop" : "route"; }
const char* to_string(DeadLetterPolicy p) { return p == DeadLetterPolicy::route ? "route" : "fail"; }
const char* to_string(JoinKind k) { return k == JoinKind::inner ? "inner" : "left"; }

namespace decoders {

Decoder typed() {
  return [](const InputRecord& r) -> Result<Decoded, std::string> {
    Decoded d;
    if (r.key) {
      auto k = decode_value(*r.key);
      if (!k) return unexpected(std::string("key is not in the engine's value encoding"));
      d.key = std::move(*k);
    }
    if (r.value) {
      auto v = decode_value(*r.value);
      if (!v) return unexpected(std::string("value is not in the engine's value encoding"));
      d.value = std::move(*v);
    }
    return d;
  };
}

Decoder utf8() {
  return [](const InputRecord& r) -> Result<Decoded, std::string> {
    Decoded d;
    if (r.key) d.key = Value(*r.key);
    if (r.value) d.value = Value(*r.value);
    return d;
  };
}

Decoder int64_text() {
  return [](const InputRecord& r) -> Result<Decoded, std::string> {
    Decoded d;
    if (r.key) d.key = Value(*r.key);
    if (!r.value) return unexpected(std::string("value is null, expected a decimal int64"));
    const std::string& s = *r.value;
    int64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || s.empty())
      return unexpected("value '" + s.substr(0, 32) + "' is not a decimal int64");
    d.value = Value(v);
    return d;
  };
}

}  // namespace decoders

namespace event_times {

EventTimeFn record_timestamp() {
  return [](const InputRecord& r, const Row&) -> std::optional<EventTime> {
    if (r.timestamp_ms < 0) return std::nullopt;
    return EventTime::from_ms(r.timestamp_ms);
  };
}

EventTimeFn value_ms() {
  return [](const InputRecord&, const Row& row) -> std::optional<EventTime> {
    if (!row.value.is_int()) return std::nullopt;
    return EventTime::from_ms(row.value.as_int());
  };
}

EventTimeFn from_payload() {
  // The task hands the decoder's event time over in Row::event_time (see
  // EventTimeFn), so the payload is parsed once.
  return [](const InputRecord&, const Row& row) -> std::optional<EventTime> {
    if (row.event_time == kNoPayloadEventTime) return std::nullopt;
    return row.event_time;
  };
}

}  // namespace event_times

PipelineBuilder::PipelineBuilder(std::string source_topic) {
  plan_.source_topic = std::move(source_topic);
  plan_.decoder = decoders::typed();
  plan_.event_time = event_times::record_timestamp();
}

void PipelineBuilder::fail(std::string field, std::string message) {
  // Only the first misuse is kept: later ones are often consequences of it.
  if (!error_) error_ = EngineError{EngineErrc::invalid_pipeline, std::move(field), std::move(message)};
}

PipelineBuilder& PipelineBuilder::decoder(Decoder d) {
  if (!d) fail("decoder", "the decoder is empty");
  plan_.decoder = std::move(d);
  return *this;
}
PipelineBuilder& PipelineBuilder::decoder(CheckedDecoder d) {
  if (!d) {
    const EngineError& e = d.error();
    fail(e.field.empty() ? "decoder" : e.field, e.message);
    return *this;
  }
  return decoder(std::move(*d));
}
PipelineBuilder& PipelineBuilder::event_time(EventTimeFn f) {
  if (!f) fail("event_time", "the event-time extractor is empty");
  plan_.event_time = std::move(f);
  return *this;
}
PipelineBuilder& PipelineBuilder::with_watermark(Duration delay) {
  if (watermark_delay_) fail("with_watermark", "the watermark is set twice");
  watermark_delay_ = delay;
  return *this;
}
PipelineBuilder& PipelineBuilder::idle_timeout(Duration timeout) {
  if (timeout <= Duration::zero()) fail("idle_timeout", "must be positive, got " + format_duration(timeout));
  plan_.idle_timeout = timeout;
  return *this;
}

namespace {
const char* stage_name(Stage::Kind k) {
  switch (k) {
    case Stage::Kind::map: return "map";
    case Stage::Kind::filter: return "filter";
    case Stage::Kind::flat_map: return "flat_map";
    case Stage::Kind::key_by: return "key_by";
    case Stage::Kind::dedup: return "dedup";
    case Stage::Kind::join: return "join_table";
  }
  return "?";
}
}  // namespace

#define SS_ADD_STAGE(KIND, MEMBER, FN)                                                                   \
  do {                                                                                                  \
    if (plan_.aggregate || window_)                                                                     \
      fail(stage_name(KIND), std::string(stage_name(KIND)) +                                            \
                                 " after window/aggregate: a pipeline ends with its aggregation");     \
    if (!(FN)) fail(stage_name(KIND), "the function is empty");                                         \
    Stage s;                                                                                            \
    s.kind = KIND;                                                                                      \
    s.MEMBER = std::move(FN);                                                                           \
    plan_.stages.push_back(std::move(s));                                                               \
  } while (0)

PipelineBuilder& PipelineBuilder::map(std::function<Row(const Row&)> fn) {
  SS_ADD_STAGE(Stage::Kind::map, map, fn);
  return *this;
}
PipelineBuilder& PipelineBuilder::filter(std::function<bool(const Row&)> fn) {
  SS_ADD_STAGE(Stage::Kind::filter, filter, fn);
  return *this;
}
PipelineBuilder& PipelineBuilder::flat_map(std::function<std::vector<Row>(const Row&)> fn) {
  SS_ADD_STAGE(Stage::Kind::flat_map, flat_map, fn);
  return *this;
}
PipelineBuilder& PipelineBuilder::key_by(std::function<Value(const Row&)> fn) {
  SS_ADD_STAGE(Stage::Kind::key_by, key_by, fn);
  return *this;
}
#undef SS_ADD_STAGE

PipelineBuilder& PipelineBuilder::dedup() {
  if (plan_.aggregate || window_) fail("dedup", "dedup after window/aggregate: a pipeline ends with its aggregation");
  if (plan_.has_dedup) fail("dedup", "dedup is given twice");
  plan_.has_dedup = true;
  Stage s;
  s.kind = Stage::Kind::dedup;
  plan_.stages.push_back(std::move(s));
  return *this;
}

PipelineBuilder& PipelineBuilder::join_table(std::string table_topic, JoinFn fn, JoinKind kind,
                                             Decoder table_decoder) {
  if (plan_.aggregate || window_)
    fail("join_table", "join_table after window/aggregate: a pipeline ends with its aggregation");
  if (!fn) fail("join_table", "the join function is empty");
  if (!table_decoder) fail("join_table", "the table decoder is empty");
  if (table_topic.empty()) fail("join_table", "the table topic is empty");
  // One table per topic: two joins against the same topic share its contents,
  // so they must read its records the same way. Decoders cannot be compared,
  // so a second join against a topic keeps the first join's decoder.
  bool known = false;
  for (const TableSpec& t : plan_.tables) known = known || t.topic == table_topic;
  if (!known) plan_.tables.push_back(TableSpec{table_topic, std::move(table_decoder)});
  Stage s;
  s.kind = Stage::Kind::join;
  s.join = std::move(fn);
  s.table_topic = std::move(table_topic);
  s.join_kind = kind;
  plan_.stages.push_back(std::move(s));
  return *this;
}
PipelineBuilder& PipelineBuilder::refresh_tables_every(uint64_t batches) {
  if (batches == 0) fail("refresh_tables_every", "must be at least 1 batch");
  plan_.table_refresh_batches = batches;
  return *this;
}

PipelineBuilder& PipelineBuilder::window(WindowSpec w) {
  if (window_) fail("window", "the window is set twice");
  if (plan_.aggregate) fail("window", "window after aggregate: give the window first");
  window_ = w;
  return *this;
}
PipelineBuilder& PipelineBuilder::aggregate(Aggregate a) {
  if (plan_.aggregate) fail("aggregate", "the aggregate is set twice (one aggregate per pipeline)");
  if (a.kind == Aggregate::Kind::fold && !a.fold_fn) fail("aggregate", "fold needs a fold function");
  plan_.aggregate = std::move(a);
  return *this;
}
PipelineBuilder& PipelineBuilder::select_max_per_window() {
  if (!plan_.aggregate) fail("select_max_per_window", "select_max_per_window needs a window and an aggregate before it");
  if (plan_.select_max_per_window) fail("select_max_per_window", "select_max_per_window is set twice");
  plan_.select_max_per_window = true;
  return *this;
}
PipelineBuilder& PipelineBuilder::allowed_lateness(Duration lateness) {
  lateness_ = lateness;
  return *this;
}
PipelineBuilder& PipelineBuilder::late_events(LatePolicy p) {
  plan_.late_policy = p;
  late_policy_set_ = true;
  return *this;
}
PipelineBuilder& PipelineBuilder::dead_letters(DeadLetterPolicy p) {
  plan_.dead_letter_policy = p;
  return *this;
}
PipelineBuilder& PipelineBuilder::output(OutputMode m) {
  plan_.output_mode = m;
  return *this;
}
PipelineBuilder& PipelineBuilder::sink(std::string topic) {
  plan_.sink_topic = std::move(topic);
  return *this;
}

Result<Pipeline, EngineError> PipelineBuilder::build() const {
  if (error_) return unexpected(*error_);
  auto err = [](std::string field, std::string message) {
    return unexpected(EngineError{EngineErrc::invalid_pipeline, std::move(field), std::move(message)});
  };
  PipelinePlan plan = plan_;
  if (plan.source_topic.empty()) return err("source", "the source topic is empty");
  for (const TableSpec& t : plan.tables) {
    // Reading the source or the sink as a table would make a row's result
    // depend on the pipeline's own progress: refused.
    if (t.topic == plan.source_topic)
      return err("join_table", "the table topic '" + t.topic + "' is the source topic");
    if (!plan.sink_topic.empty() && t.topic == plan.sink_topic)
      return err("join_table", "the table topic '" + t.topic + "' is the sink topic");
  }
  if (plan.table_refresh_batches > 0 && plan.tables.empty())
    return err("refresh_tables_every", "the pipeline has no join_table to refresh");

  if (watermark_delay_) {
    const int64_t ms = event_duration_ms(*watermark_delay_);
    if (ms < 0)
      return err("with_watermark", "the delay must be a whole number of milliseconds in [0, 2^58], got " +
                                       format_duration(*watermark_delay_));
    plan.watermark_delay_ms = ms;
  }
  const bool wm = plan.watermark_delay_ms.has_value();
  if (plan.idle_timeout && !wm)
    return err("idle_timeout", "an idle timeout needs a watermark (it only decides which partitions hold it)");
  if (plan.has_dedup && !wm)
    return err("dedup", "dedup needs a watermark: it forgets a key once the watermark passes it, which bounds its state");

  if (window_ && !plan.aggregate) return err("window", "a window needs an aggregate after it");
  if (window_) {
    const WindowSpec& w = *window_;
    plan.window_kind = w.kind;
    if (w.kind == WindowSpec::Kind::session) {
      const int64_t gap = event_duration_ms(w.gap);
      if (gap <= 0) return err("window", "the session gap must be a positive whole number of milliseconds, got " +
                                             format_duration(w.gap));
      plan.session_gap_ms = gap;
      if (plan.aggregate->kind == Aggregate::Kind::fold && !plan.aggregate->merge_fn)
        return err("aggregate", "fold over session windows needs a merge function (merging sessions merges accumulators)");
    } else {
      const int64_t size = event_duration_ms(w.size);
      const int64_t slide = event_duration_ms(w.slide);
      if (size <= 0) return err("window", "the window size must be a positive whole number of milliseconds, got " +
                                              format_duration(w.size));
      if (slide <= 0) return err("window", "the slide must be a positive whole number of milliseconds, got " +
                                               format_duration(w.slide));
      if (slide > size) return err("window", "the slide (" + ms_text(slide) + ") exceeds the size (" + ms_text(size) +
                                                 "): some events would be in no window");
      if ((size + slide - 1) / slide > kMaxWindowsPerEvent)
        return err("window", "size/slide puts one event in more than " + std::to_string(kMaxWindowsPerEvent) +
                                 " windows");
      plan.window_size_ms = size;
      plan.window_slide_ms = slide;
    }
  }

  if (plan.select_max_per_window) {
    // The selection needs every result of a window at once, which only a closing
    // window in append mode provides (an update row is not final; a session is
    // per key, so it has no other keys to compare with).
    if (!plan.window_kind || *plan.window_kind == WindowSpec::Kind::session)
      return err("select_max_per_window", "select_max_per_window needs a tumbling or sliding window");
    if (plan.output_mode != OutputMode::append)
      return err("select_max_per_window", "select_max_per_window needs append mode (a window's results are "
                                          "compared once, when it closes)");
  }

  if (lateness_) {
    if (!wm) return err("allowed_lateness", "allowed lateness needs a watermark");
    const int64_t ms = event_duration_ms(*lateness_);
    if (ms < 0)
      return err("allowed_lateness", "must be a whole number of milliseconds in [0, 2^58], got " +
                                         format_duration(*lateness_));
    plan.allowed_lateness_ms = ms;
  }
  if (late_policy_set_ && plan.late_policy == LatePolicy::route && !wm)
    return err("late_events", "routing late events needs a watermark (without one nothing is late)");

  // Spark's output-mode rules (docs/semantics.md, "Output modes").
  const bool agg = plan.aggregate.has_value();
  switch (plan.output_mode) {
    case OutputMode::append:
      if (agg && !wm)
        return err("output_mode", "append mode on an aggregation needs a watermark: without one no window ever "
                                  "closes, so nothing would be emitted; call with_watermark(delay) on the source");
      if (agg && !plan.window_kind)
        return err("output_mode", "append mode on an aggregation needs an event-time window: an unwindowed "
                                  "aggregate is never final; use update or complete mode");
      break;
    case OutputMode::update:
      if (plan.window_kind == WindowSpec::Kind::session)
        return err("output_mode", "update mode is not supported for session windows (a session's bounds change "
                                  "when it merges, so an update cannot name the row it replaces); use append or "
                                  "complete");
      break;
    case OutputMode::complete:
      if (!agg)
        return err("output_mode", "complete mode needs an aggregation (it re-emits the whole result table every "
                                  "batch)");
      if (lateness_)
        return err("allowed_lateness", "complete mode keeps all state and drops no late rows, so allowed lateness "
                                       "does not apply");
      if (late_policy_set_ && plan.late_policy == LatePolicy::route)
        return err("late_events", "complete mode drops no late rows, so there is nothing to route");
      break;
  }

  // A readable one-line plan, for logs and reports.
  std::string d = "source(" + plan.source_topic + ")";
  if (wm) d += " -> with_watermark(" + ms_text(*plan.watermark_delay_ms) + ")";
  for (const Stage& s : plan.stages) {
    d += std::string(" -> ") + stage_name(s.kind);
    if (s.kind == Stage::Kind::join) d += std::string("(") + to_string(s.join_kind) + " " + s.table_topic + ")";
  }
  if (plan.window_kind) {
    switch (*plan.window_kind) {
      case WindowSpec::Kind::tumbling: d += " -> window(tumbling " + ms_text(plan.window_size_ms) + ")"; break;
      case WindowSpec::Kind::sliding:
        d += " -> window(sliding " + ms_text(plan.window_size_ms) + " every " + ms_text(plan.window_slide_ms) + ")";
        break;
      case WindowSpec::Kind::session: d += " -> window(session gap " + ms_text(plan.session_gap_ms) + ")"; break;
    }
  }
  if (agg) {
    static const char* const names[] = {"count", "sum", "min", "max", "avg", "fold"};
    d += std::string(" -> ") + names[static_cast<int>(plan.aggregate->kind)];
  }
  if (plan.select_max_per_window) d += " -> select_max_per_window";
  if (plan.allowed_lateness_ms > 0) d += " -> allowed_lateness(" + ms_text(plan.allowed_lateness_ms) + ")";
  d += std::string(" -> ") + to_string(plan.output_mode);
  if (!plan.sink_topic.empty()) d += "(" + plan.sink_topic + ")";
  plan.description = std::move(d);

  SS_ASSERT(plan.decoder && plan.event_time, "a built plan has a decoder and an event-time extractor");
  SS_ASSERT(!plan.window_kind || plan.aggregate, "a window always has an aggregate");
  SS_ASSERT(std::all_of(plan.stages.begin(), plan.stages.end(),
                        [&](const Stage& s) {
                          return s.kind != Stage::Kind::join ||
                                 std::any_of(plan.tables.begin(), plan.tables.end(),
                                             [&](const TableSpec& t) { return t.topic == s.table_topic; });
                        }),
            "every join stage's table is in the plan's tables");
  return Pipeline(std::make_shared<const PipelinePlan>(std::move(plan)));
}

}  // namespace streamsim::engine
