// PartitionTask: the operators and state of one input partition
// (docs/semantics.md has the rules this file implements).
//
// State is typed and ordered (std::map/std::set only), so emission order and
// changelog bytes are a pure function of the input. Every change to state marks
// its key dirty; finish() turns the dirty keys into changelog entries (the new
// value, or a tombstone when the key is gone), so a changelog replayed in order
// rebuilds exactly the state that produced it. Within a batch, window entries
// are written in the order they were first changed (then the other kinds, each
// in key order): a key appears at most once per batch, so the order does not
// change what a replay rebuilds, and it follows the input, so it is deterministic.
#include "state_codec.h"

#include <streamsim/core/assert.h>
#include <streamsim/engine/query.h>
#include <streamsim/engine/table.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <set>
#include <tuple>
#include <vector>

namespace streamsim::engine {

using detail::Acc;
using detail::StateKey;
using detail::StateKind;
using detail::TaskMeta;

namespace {

// Tumbling and sliding windows, ordered by end so the windows a watermark closes
// are a prefix of the map.
struct WinKey {
  int64_t end = 0;
  int64_t start = 0;
  Value key;
  auto operator<=>(const WinKey&) const = default;
  bool operator==(const WinKey&) const = default;
};

// A window and a borrowed key: looking a row's window up must not copy the
// row's key (a string key would cost an allocation per window per row).
struct WinProbe {
  int64_t end = 0;
  int64_t start = 0;
  const Value* key = nullptr;
};

// The WinKey order, also between a WinKey and a WinProbe (heterogeneous lookup).
struct WinLess {
  using is_transparent = void;
  static const Value& key_of(const WinKey& k) { return k.key; }
  static const Value& key_of(const WinProbe& k) { return *k.key; }
  template <class A, class B>
  bool operator()(const A& a, const B& b) const {
    if (a.end != b.end) return a.end < b.end;
    if (a.start != b.start) return a.start < b.start;
    return key_of(a) < key_of(b);
  }
};

constexpr size_t kClean = SIZE_MAX;

// A window's accumulator, and where it sits in the batch's dirty list (kClean:
// unchanged in this batch), so marking it dirty again costs nothing.
struct WinState {
  Acc acc;
  size_t dirty = kClean;
};
using WindowMap = std::map<WinKey, WinState, WinLess>;

// A window changed in this batch: alive (its entry), or gone (its key, for the
// tombstone; the entry was erased).
struct DirtyWindow {
  WindowMap::iterator live;
  std::optional<WinKey> gone;
};

struct Session {
  int64_t end = 0;
  Acc acc;
};

// Sessions by end, for the same prefix scan.
struct SessionEnd {
  int64_t end = 0;
  Value key;
  int64_t start = 0;
  auto operator<=>(const SessionEnd&) const = default;
  bool operator==(const SessionEnd&) const = default;
};

// Dedup keys by first event time, for expiry.
struct DedupFirst {
  int64_t first = 0;
  Value key;
  auto operator<=>(const DedupFirst&) const = default;
  bool operator==(const DedupFirst&) const = default;
};

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if (a % b != 0 && a < 0) --q;
  return q;
}

// Numbers compare numerically across int64 and double (min/max of mixed
// input); everything else uses the total order of Values.
std::strong_ordering compare_for_minmax(const Value& a, const Value& b) {
  if (a.is_numeric() && b.is_numeric() && a.is_int() != b.is_int()) {
    const double x = a.to_double(), y = b.to_double();
    if (x < y) return std::strong_ordering::less;
    if (x > y) return std::strong_ordering::greater;
    return a <=> b;  // equal numerically (or NaN): fall back to the total order
  }
  return a <=> b;
}

// int64 sums wrap (two's complement), as Spark's non-ANSI long sum does; a
// double on either side makes the sum a double.
Value add_values(const Value& a, const Value& b) {
  if (a.is_int() && b.is_int())
    return Value(static_cast<int64_t>(static_cast<uint64_t>(a.as_int()) + static_cast<uint64_t>(b.as_int())));
  return Value(a.to_double() + b.to_double());
}

}  // namespace

struct PartitionTask::Impl {
  Impl(Pipeline p, int32_t part, const EngineOptions& opts)
      : pipeline(std::move(p)), plan(pipeline.plan()), partition(part), options(opts) {}

  Pipeline pipeline;
  const PipelinePlan& plan;
  int32_t partition;
  EngineOptions options;

  // Progress.
  int64_t next_offset = -1;
  std::optional<EventTime> max_event_time;
  std::optional<EventTime> batch_max;
  Watermark last_w1 = Watermark::min();  // the watermark the last finished batch ended with
  Watermark batch_w0 = Watermark::min();
  uint64_t next_batch = 1;
  bool fresh = true;    // no batch and no restore yet
  bool in_batch = false;
  bool broken = false;  // a batch failed half-way: the state is not trustworthy
  Watermark restored_wm = Watermark::min();
  uint64_t restored_batch = 0;
  bool idle = false;  // the partition counted as idle at the last watermark advance (meta entry)

  // State.
  WindowMap windows;
  std::vector<DirtyWindow> dirty_windows;  // in the order first changed
  std::map<Value, std::map<int64_t, Session>> sessions;
  std::set<SessionEnd> session_index;
  std::set<std::pair<Value, int64_t>> dirty_sessions;
  size_t session_count = 0;
  std::map<Value, Acc> keyed;
  std::set<Value> dirty_keys;
  std::map<Value, int64_t> dedup;
  std::set<DedupFirst> dedup_index;
  std::set<Value> dirty_dedup;

  // The batch being processed.
  uint64_t batch = 0;
  TaskOutput* out = nullptr;
  EngineMetrics* metrics = nullptr;
  const InputRecord* current = nullptr;

  int64_t lateness() const { return plan.allowed_lateness_ms; }
  // Windows are judged late and evicted by the watermark, except in complete
  // mode (which keeps every result) or without a watermark.
  bool windows_use_watermark() const {
    return plan.watermark_delay_ms.has_value() && plan.output_mode != OutputMode::complete;
  }
  // A window [.., end) is closed once the watermark reaches end + lateness.
  bool closed(int64_t end_ms, Watermark w) const { return w.ms() >= end_ms + lateness(); }
  // Sessions and dedup judge the event itself: late when t + lateness < watermark.
  bool event_late(EventTime t, Watermark w) const { return t.ms() + lateness() < w.ms(); }

  size_t entries() const { return windows.size() + session_count + keyed.size() + dedup.size(); }

  Result<void, EngineError> reserve_entry() {
    if (entries() < options.limits.max_state_entries) return {};
    return unexpected(EngineError{EngineErrc::state_limit, to_string(current->source),
                                  "the state of partition " + std::to_string(partition) + " is full (" +
                                      std::to_string(entries()) + " entries, EngineLimits::max_state_entries)"});
  }

  Result<void, EngineError> dead_letter(const Provenance& src, std::string reason) {
    if (plan.dead_letter_policy == DeadLetterPolicy::fail)
      return unexpected(EngineError{EngineErrc::bad_record, to_string(src), std::move(reason)});
    DeadLetter d{src, std::move(reason), current->key, current->value, current->timestamp_ms};
    ++metrics->dead_letters;
    if (options.observer) options.observer->on_dead_letter(d);
    out->dead_letters.push_back(std::move(d));
    return {};
  }

  void late(const Row& row, Watermark w) {
    const bool routed = plan.late_policy == LatePolicy::route;
    if (routed) ++metrics->late_routed;
    else ++metrics->late_dropped;
    if (options.observer) options.observer->on_late(LateEvent{batch, row.source, row.event_time, w, routed});
    if (routed) out->late.push_back(row);
  }

  // --- window entries -----------------------------------------------------

  void mark_dirty(WindowMap::iterator it) {
    if (it->second.dirty != kClean) return;
    it->second.dirty = dirty_windows.size();
    dirty_windows.push_back(DirtyWindow{it, std::nullopt});
  }

  // Erases a window; its changelog entry becomes a tombstone. The key moves out
  // of the erased node (no copy).
  void erase_window(WindowMap::iterator it) {
    const size_t slot = it->second.dirty;
    auto node = windows.extract(it);
    DirtyWindow gone{windows.end(), std::move(node.key())};
    if (slot == kClean) {
      dirty_windows.push_back(std::move(gone));
    } else {
      SS_ASSERT(slot < dirty_windows.size() && !dirty_windows[slot].gone, "a dirty window's slot names it");
      dirty_windows[slot] = std::move(gone);
    }
  }

  // --- aggregates ---------------------------------------------------------

  Acc new_acc() const {
    Acc a;
    if (plan.aggregate->kind == Aggregate::Kind::fold) a.value = plan.aggregate->init;
    return a;
  }

  // Why the row cannot be aggregated, if it cannot (checked before any state
  // changes, so a refused row touches no window).
  std::optional<std::string> refuse(const Row& row) const {
    const auto k = plan.aggregate->kind;
    if ((k == Aggregate::Kind::sum || k == Aggregate::Kind::avg) && row.value.is_string())
      return std::string(k == Aggregate::Kind::sum ? "sum" : "avg") + " of a string value";
    return std::nullopt;
  }

  void apply(Acc& acc, const Row& row) const {
    ++acc.rows;
    acc.max_event_time_ms = std::max(acc.max_event_time_ms, row.event_time.ms());
    const Value& v = row.value;
    switch (plan.aggregate->kind) {
      case Aggregate::Kind::count: break;
      case Aggregate::Kind::sum:
        if (v.is_null()) break;
        ++acc.non_null;
        acc.value = acc.value.is_null() ? v : add_values(acc.value, v);
        break;
      case Aggregate::Kind::min:
      case Aggregate::Kind::max: {
        if (v.is_null()) break;
        ++acc.non_null;
        const bool want_less = plan.aggregate->kind == Aggregate::Kind::min;
        if (acc.value.is_null()) acc.value = v;
        else if (want_less ? compare_for_minmax(v, acc.value) < 0 : compare_for_minmax(v, acc.value) > 0)
          acc.value = v;
        break;
      }
      case Aggregate::Kind::avg:
        if (v.is_null()) break;
        ++acc.non_null;
        acc.value = Value((acc.value.is_null() ? 0.0 : acc.value.as_double()) + v.to_double());
        break;
      case Aggregate::Kind::fold: acc.value = plan.aggregate->fold_fn(acc.value, row); break;
    }
  }

  // Combines the accumulators of two sessions being merged (a before b in start order).
  Acc merge(const Acc& a, const Acc& b) const {
    Acc r;
    r.rows = a.rows + b.rows;
    r.non_null = a.non_null + b.non_null;
    r.max_event_time_ms = std::max(a.max_event_time_ms, b.max_event_time_ms);
    switch (plan.aggregate->kind) {
      case Aggregate::Kind::count: break;
      case Aggregate::Kind::sum:
        r.value = a.value.is_null() ? b.value : b.value.is_null() ? a.value : add_values(a.value, b.value);
        break;
      case Aggregate::Kind::min:
      case Aggregate::Kind::max: {
        if (a.value.is_null() || b.value.is_null()) {
          r.value = a.value.is_null() ? b.value : a.value;
          break;
        }
        const auto c = compare_for_minmax(b.value, a.value);
        const bool take_b = plan.aggregate->kind == Aggregate::Kind::min ? c < 0 : c > 0;
        r.value = take_b ? b.value : a.value;
        break;
      }
      case Aggregate::Kind::avg:
        r.value = a.value.is_null() ? b.value
                  : b.value.is_null() ? a.value
                                      : Value(a.value.as_double() + b.value.as_double());
        break;
      case Aggregate::Kind::fold: r.value = plan.aggregate->merge_fn(a.value, b.value); break;
    }
    return r;
  }

  Value result(const Acc& acc) const {
    switch (plan.aggregate->kind) {
      case Aggregate::Kind::count: return Value(acc.rows);
      case Aggregate::Kind::avg:
        return acc.non_null == 0 ? Value() : Value(acc.value.as_double() / static_cast<double>(acc.non_null));
      default: return acc.value;
    }
  }

  void emit(OutputRow r) {
    ++metrics->rows_out;
    out->rows.push_back(std::move(r));
  }
  void emit_window(const Value& key, int64_t start, int64_t end, const Acc& acc) {
    emit(OutputRow{partition, key, result(acc), WindowBounds{EventTime::from_ms(start), EventTime::from_ms(end)},
                   EventTime::from_ms(end - 1), std::nullopt});
  }
  void emit_keyed(const Value& key, const Acc& acc) {
    emit(OutputRow{partition, key, result(acc), std::nullopt, EventTime::from_ms(acc.max_event_time_ms),
                   std::nullopt});
  }

  // --- ingest -------------------------------------------------------------

  Result<void, EngineError> process_record(const InputRecord& r) {
    auto decoded = plan.decoder(r);
    if (!decoded) return dead_letter(r.source, "cannot decode: " + decoded.error());
    // The extractor receives the decoder's payload event time in the row
    // (EventTimeFn), so event_times::from_payload() needs no second parse.
    Row row{std::move(decoded->key), std::move(decoded->value), decoded->event_time.value_or(kNoPayloadEventTime),
            r.source};
    const std::optional<EventTime> et = plan.event_time(r, row);
    if (!et) return dead_letter(r.source, "no event time");
    if (et->ms() > kMaxEventTimeMs || et->ms() < -kMaxEventTimeMs)
      return dead_letter(r.source, "event time " + to_string(*et) + " is out of range");
    row.event_time = *et;
    // Every record with an event time moves the partition's watermark, also one
    // that a filter drops or that turns out late (docs/semantics.md).
    if (!batch_max || *et > *batch_max) batch_max = et;
    if (!max_event_time || *et > *max_event_time) max_event_time = et;
    return run_stages(std::move(row), 0);
  }

  Result<void, EngineError> run_stages(Row row, size_t i) {
    for (; i < plan.stages.size(); ++i) {
      const Stage& s = plan.stages[i];
      switch (s.kind) {
        case Stage::Kind::map: {
          Row mapped = s.map(row);
          // No operator moves an event in time or hides its origin.
          mapped.event_time = row.event_time;
          mapped.source = row.source;
          row = std::move(mapped);
          break;
        }
        case Stage::Kind::filter:
          if (!s.filter(row)) {
            ++metrics->filtered;
            return {};
          }
          break;
        case Stage::Kind::key_by: row.key = s.key_by(row); break;
        case Stage::Kind::flat_map: {
          std::vector<Row> rows = s.flat_map(row);
          if (rows.size() > options.limits.max_flat_map_fanout)
            return dead_letter(row.source, "flat_map returned " + std::to_string(rows.size()) +
                                               " rows, more than EngineLimits::max_flat_map_fanout (" +
                                               std::to_string(options.limits.max_flat_map_fanout) + ")");
          for (Row& r : rows) {
            r.event_time = row.event_time;
            r.source = row.source;
            if (auto res = run_stages(std::move(r), i + 1); !res) return res;
          }
          return {};
        }
        case Stage::Kind::dedup: {
          if (event_late(row.event_time, batch_w0)) {
            late(row, batch_w0);
            return {};
          }
          if (dedup.count(row.key)) {
            ++metrics->duplicates_dropped;
            return {};
          }
          if (auto r = reserve_entry(); !r) return r;
          dedup.emplace(row.key, row.event_time.ms());
          dedup_index.insert(DedupFirst{row.event_time.ms(), row.key});
          dirty_dedup.insert(row.key);
          break;
        }
        case Stage::Kind::join: {
          // Stream-static join: the static side is read, never written, and
          // holds no state of this task (docs/semantics.md, "Stream-static join").
          SS_ASSERT(options.tables && options.tables->loaded(s.table_topic),
                    "a join's table is loaded before the batch (checked by ingest)");
          const Value* match = options.tables->find(s.table_topic, row.key);
          if (!match && s.join_kind == JoinKind::inner) {
            ++metrics->join_unmatched;
            return {};
          }
          static const Value kNoMatch;
          Row joined = s.join(row, match ? *match : kNoMatch);
          joined.event_time = row.event_time;
          joined.source = row.source;
          row = std::move(joined);
          break;
        }
      }
    }
    return sink(std::move(row));
  }

  // Every table the pipeline joins against must be loaded before a batch:
  // without it an inner join would silently drop every row.
  Result<void, EngineError> tables_ready() const {
    for (const TableSpec& t : plan.tables) {
      if (options.tables && options.tables->loaded(t.topic)) continue;
      return unexpected(EngineError{EngineErrc::invalid_config, "tables",
                                    "the pipeline joins table '" + t.topic +
                                        "' but EngineOptions::tables does not hold it (load the tables before the "
                                        "first batch)"});
    }
    return {};
  }

  Result<void, EngineError> sink(Row row) {
    if (!plan.aggregate) {
      emit(OutputRow{partition, std::move(row.key), std::move(row.value), std::nullopt, row.event_time, row.source});
      return {};
    }
    if (auto why = refuse(row)) return dead_letter(row.source, *why);
    if (!plan.window_kind) return add_keyed(row);
    if (*plan.window_kind == WindowSpec::Kind::session) return add_session(row);
    return add_windows(row);
  }

  Result<void, EngineError> add_keyed(const Row& row) {
    auto it = keyed.find(row.key);
    if (it == keyed.end()) {
      if (auto r = reserve_entry(); !r) return r;
      it = keyed.emplace(row.key, new_acc()).first;
    }
    apply(it->second, row);
    dirty_keys.insert(row.key);
    return {};
  }

  Result<void, EngineError> add_windows(const Row& row) {
    const int64_t t = row.event_time.ms();
    const int64_t size = plan.window_size_ms, slide = plan.window_slide_ms;
    const bool use_wm = windows_use_watermark();
    bool any = false;
    uint64_t late_parts = 0;
    // Every window [s, s+size) with s a multiple of slide and s <= t < s+size.
    for (int64_t s = floor_div(t, slide) * slide; s > t - size; s -= slide) {
      const WinProbe k{s + size, s, &row.key};
      if (use_wm && closed(k.end, batch_w0)) {
        ++late_parts;
        continue;
      }
      // One descent finds the window or where it goes.
      auto it = windows.lower_bound(k);
      if (it == windows.end() || WinLess{}(k, it->first)) {
        // The previous batch ended with last_w1 <= batch_w0, so an open window
        // under batch_w0 was never closed, hence never emitted.
        SS_ASSERT(!use_wm || !closed(k.end, last_w1), "a window the watermark closed is never reopened");
        if (auto r = reserve_entry(); !r) return r;
        it = windows.emplace_hint(it, WinKey{k.end, k.start, row.key}, WinState{new_acc()});
      }
      apply(it->second.acc, row);
      mark_dirty(it);
      any = true;
    }
    if (!any) late(row, batch_w0);
    else metrics->late_window_parts += late_parts;
    return {};
  }

  void erase_session(std::map<Value, std::map<int64_t, Session>>::iterator per_key,
                     std::map<int64_t, Session>::iterator it) {
    session_index.erase(SessionEnd{it->second.end, per_key->first, it->first});
    dirty_sessions.insert({per_key->first, it->first});
    per_key->second.erase(it);
    --session_count;
  }

  Result<void, EngineError> add_session(const Row& row) {
    const int64_t t = row.event_time.ms();
    const int64_t gap = plan.session_gap_ms;
    if (windows_use_watermark() && event_late(row.event_time, batch_w0)) {
      late(row, batch_w0);
      return {};
    }
    auto per_key = sessions.find(row.key);
    if (per_key == sessions.end()) per_key = sessions.emplace(row.key, std::map<int64_t, Session>{}).first;
    auto& list = per_key->second;
    // Sessions of a key are disjoint, so sorted by start they are sorted by end
    // too: the ones overlapping [t, t+gap) are a contiguous run ending before the
    // first session that starts at or after t+gap.
    std::vector<int64_t> overlapping;  // starts, descending
    for (auto it = list.lower_bound(t + gap); it != list.begin();) {
      --it;
      if (it->second.end <= t) break;
      overlapping.push_back(it->first);
    }
    int64_t start = t, end = t + gap;
    Acc acc;
    if (overlapping.empty()) {
      if (auto r = reserve_entry(); !r) {
        if (list.empty()) sessions.erase(per_key);
        return r;
      }
      acc = new_acc();
    } else {
      std::reverse(overlapping.begin(), overlapping.end());
      for (size_t i = 0; i < overlapping.size(); ++i) {
        auto it = list.find(overlapping[i]);
        SS_ASSERT(it != list.end(), "an overlapping session is in the key's list");
        start = std::min(start, it->first);
        end = std::max(end, it->second.end);
        acc = i == 0 ? it->second.acc : merge(acc, it->second.acc);
        erase_session(per_key, it);
      }
    }
    apply(acc, row);
    // t + lateness >= batch_w0 >= last_w1 and end > t, so the session is open.
    SS_ASSERT(!windows_use_watermark() || !closed(end, last_w1), "a session the watermark closed is never extended");
    list.emplace(start, Session{end, std::move(acc)});
    session_index.insert(SessionEnd{end, row.key, start});
    dirty_sessions.insert({row.key, start});
    ++session_count;
    return {};
  }

  // --- finish -------------------------------------------------------------

  void evict_and_emit(Watermark w1) {
    const bool append = plan.output_mode == OutputMode::append;
    while (!windows.empty() && closed(windows.begin()->first.end, w1)) {
      if (plan.select_max_per_window) {
        close_window_selecting_max();
        continue;
      }
      auto it = windows.begin();
      if (append) {
        emit_window(it->first.key, it->first.start, it->first.end, it->second.acc);
        ++metrics->windows_emitted;
      }
      erase_window(it);
    }
    while (!session_index.empty() && closed(session_index.begin()->end, w1)) {
      const SessionEnd idx = *session_index.begin();
      auto per_key = sessions.find(idx.key);
      SS_ASSERT(per_key != sessions.end(), "an indexed session's key has sessions");
      auto it = per_key->second.find(idx.start);
      SS_ASSERT(it != per_key->second.end() && it->second.end == idx.end, "the session index matches the sessions");
      if (append) {
        emit_window(idx.key, idx.start, idx.end, it->second.acc);
        ++metrics->windows_emitted;
      }
      erase_session(per_key, it);
      if (per_key->second.empty()) sessions.erase(per_key);
    }
  }

  // select_max_per_window: closes the first window of the map (all its keys:
  // they share its end, so the watermark closes them together) and emits only
  // the keys whose result is the window's maximum, in key order.
  void close_window_selecting_max() {
    SS_ASSERT(plan.output_mode == OutputMode::append, "the selection runs on closing windows in append mode");
    const auto first = windows.begin();
    const int64_t end = first->first.end, start = first->first.start;
    auto last = first;
    Value best = result(first->second.acc);
    for (; last != windows.end() && last->first.end == end && last->first.start == start; ++last) {
      Value v = result(last->second.acc);
      if (compare_for_minmax(v, best) > 0) best = std::move(v);
    }
    for (auto it = first; it != last;) {
      if (compare_for_minmax(result(it->second.acc), best) == 0) {
        emit_window(it->first.key, start, end, it->second.acc);
        ++metrics->windows_emitted;
      }
      auto next = std::next(it);
      erase_window(it);
      it = next;
    }
  }

  void write_changelog() {
    auto& log = out->changelog;
    for (DirtyWindow& d : dirty_windows) {
      const WinKey& k = d.gone ? *d.gone : d.live->first;
      ChangelogEntry e{detail::encode_key(StateKey{StateKind::window, k.key, k.start, k.end}), std::nullopt};
      if (!d.gone) {
        e.value = detail::encode_acc(d.live->second.acc);
        d.live->second.dirty = kClean;
      }
      log.push_back(std::move(e));
    }
    for (const auto& [key, start] : dirty_sessions) {
      ChangelogEntry e{detail::encode_key(StateKey{StateKind::session, key, start, 0}), std::nullopt};
      if (auto pk = sessions.find(key); pk != sessions.end()) {
        if (auto it = pk->second.find(start); it != pk->second.end())
          e.value = detail::encode_session(it->second.end, it->second.acc);
      }
      log.push_back(std::move(e));
    }
    for (const Value& key : dirty_keys) {
      ChangelogEntry e{detail::encode_key(StateKey{StateKind::key, key, 0, 0}), std::nullopt};
      if (auto it = keyed.find(key); it != keyed.end()) e.value = detail::encode_acc(it->second);
      log.push_back(std::move(e));
    }
    for (const Value& key : dirty_dedup) {
      ChangelogEntry e{detail::encode_key(StateKey{StateKind::dedup, key, 0, 0}), std::nullopt};
      if (auto it = dedup.find(key); it != dedup.end()) e.value = detail::encode_dedup(it->second);
      log.push_back(std::move(e));
    }
    log.push_back(meta_entry());
    dirty_windows.clear();
    dirty_sessions.clear();
    dirty_keys.clear();
    dirty_dedup.clear();
  }

  ChangelogEntry meta_entry() const {
    TaskMeta m;
    m.topic = plan.source_topic;
    m.partition = partition;
    m.next_batch = next_batch;
    m.watermark = last_w1;
    m.max_event_time = max_event_time;
    m.next_offset = next_offset;
    m.idle = idle;
    return ChangelogEntry{detail::encode_key(StateKey{StateKind::meta, Value(), 0, 0}), detail::encode_meta(m)};
  }
};

PartitionTask::PartitionTask(Pipeline pipeline, int32_t partition, const EngineOptions& options)
    : impl_(std::make_unique<Impl>(std::move(pipeline), partition, options)) {}
PartitionTask::~PartitionTask() = default;

Result<void, EngineError> PartitionTask::ingest(uint64_t batch, const std::vector<InputRecord>& records, Watermark w0,
                                                TaskOutput& out, EngineMetrics& metrics) {
  Impl& s = *impl_;
  SS_ASSERT(!s.broken, "a task whose batch failed is not used again (restore a new one)");
  SS_ASSERT(!s.in_batch, "ingest is followed by finish before the next batch");
  SS_ASSERT(w0 >= s.last_w1, "a batch starts at or above the watermark the previous batch ended with");
  s.fresh = false;
  s.in_batch = true;
  s.batch = batch;
  s.batch_w0 = w0;
  s.batch_max.reset();
  s.out = &out;
  s.metrics = &metrics;
  if (auto t = s.tables_ready(); !t) {
    s.broken = true;
    return t;
  }
  for (const InputRecord& r : records) {
    SS_ASSERT(r.source.partition == s.partition, "a task receives only its own partition's records");
    SS_ASSERT(r.source.offset >= 0 && r.source.offset >= s.next_offset,
              "records of a partition arrive in increasing offset order, also across a restore");
    s.next_offset = r.source.offset + 1;
    ++metrics.records_in;
    s.current = &r;
    if (auto res = s.process_record(r); !res) {
      s.broken = true;
      return res;
    }
  }
  s.current = nullptr;
  return {};
}

void PartitionTask::finish(uint64_t batch, Watermark w1, TaskOutput& out, EngineMetrics& metrics) {
  Impl& s = *impl_;
  SS_ASSERT(!s.broken && s.in_batch && s.batch == batch, "finish closes the batch that ingest opened");
  SS_ASSERT(w1 >= s.batch_w0 && w1 >= s.last_w1, "the watermark never goes backwards");
  s.out = &out;
  s.metrics = &metrics;

  // Update mode: this batch's changed results, before eviction can remove them.
  if (s.plan.output_mode == OutputMode::update && s.plan.aggregate) {
    // By (end, start, key): the dirty list is in change order, so sort it.
    std::vector<WindowMap::iterator> changed;
    changed.reserve(s.dirty_windows.size());
    for (const DirtyWindow& d : s.dirty_windows)
      if (!d.gone) changed.push_back(d.live);
    std::sort(changed.begin(), changed.end(), [](auto a, auto b) { return WinLess{}(a->first, b->first); });
    for (auto it : changed) s.emit_window(it->first.key, it->first.start, it->first.end, it->second.acc);
    for (const Value& k : s.dirty_keys)
      if (auto it = s.keyed.find(k); it != s.keyed.end()) s.emit_keyed(k, it->second);
  }
  if (s.windows_use_watermark()) s.evict_and_emit(w1);
  if (s.plan.output_mode == OutputMode::complete) {
    for (const auto& [k, w] : s.windows) s.emit_window(k.key, k.start, k.end, w.acc);
    for (const auto& [key, list] : s.sessions)
      for (const auto& [start, sess] : list) s.emit_window(key, start, sess.end, sess.acc);
    for (const auto& [key, acc] : s.keyed) s.emit_keyed(key, acc);
  }
  if (s.plan.has_dedup) {
    // A key is forgotten once no on-time duplicate within the delay can come.
    const int64_t keep = *s.plan.watermark_delay_ms + s.lateness();
    while (!s.dedup_index.empty() && s.dedup_index.begin()->first + keep < w1.ms()) {
      const DedupFirst d = *s.dedup_index.begin();
      s.dedup_index.erase(s.dedup_index.begin());
      s.dedup.erase(d.key);
      s.dirty_dedup.insert(d.key);
    }
  }
  s.last_w1 = w1;
  s.next_batch = batch + 1;
  s.write_changelog();
  out.next_offset = s.next_offset;
  s.in_batch = false;
  s.out = nullptr;
  s.metrics = nullptr;
  SS_ASSERT(s.dedup.size() == s.dedup_index.size() && s.session_index.size() == s.session_count,
            "indexes match the state they index");
  SS_ASSERT(s.entries() <= s.options.limits.max_state_entries, "state stays within its limit");
}

std::vector<ChangelogEntry> PartitionTask::snapshot() const {
  const Impl& s = *impl_;
  SS_ASSERT(!s.in_batch, "a snapshot is taken between batches");
  std::vector<ChangelogEntry> v;
  v.reserve(s.entries() + 1);
  for (const auto& [k, w] : s.windows)
    v.push_back({detail::encode_key(StateKey{StateKind::window, k.key, k.start, k.end}), detail::encode_acc(w.acc)});
  for (const auto& [key, list] : s.sessions)
    for (const auto& [start, sess] : list)
      v.push_back({detail::encode_key(StateKey{StateKind::session, key, start, 0}),
                   detail::encode_session(sess.end, sess.acc)});
  for (const auto& [key, acc] : s.keyed)
    v.push_back({detail::encode_key(StateKey{StateKind::key, key, 0, 0}), detail::encode_acc(acc)});
  for (const auto& [key, first] : s.dedup)
    v.push_back({detail::encode_key(StateKey{StateKind::dedup, key, 0, 0}), detail::encode_dedup(first)});
  v.push_back(s.meta_entry());
  return v;
}

Result<void, EngineError> PartitionTask::restore(const std::vector<ChangelogEntry>& entries) {
  Impl& s = *impl_;
  SS_ASSERT(s.fresh, "restore only into a fresh task");
  s.fresh = false;
  const std::string where = s.plan.source_topic + "[" + std::to_string(s.partition) + "]";
  auto bad = [&](std::string msg) { return unexpected(EngineError{EngineErrc::bad_checkpoint, where, std::move(msg)}); };
  // Later entries win and tombstones delete, exactly as log compaction does.
  std::map<std::string, std::string> latest;
  for (const ChangelogEntry& e : entries) {
    if (e.value) latest[e.key] = *e.value;
    else latest.erase(e.key);
  }
  const bool windowed = s.plan.window_kind && *s.plan.window_kind != WindowSpec::Kind::session;
  const bool session = s.plan.window_kind == WindowSpec::Kind::session;
  const bool keyed = s.plan.aggregate && !s.plan.window_kind;
  bool have_meta = false;
  for (const auto& [kb, vb] : latest) {
    auto k = detail::decode_key(kb);
    if (!k) return bad("a changelog key does not decode");
    const std::string not_ours = "holds state this pipeline does not have (was the pipeline changed?)";
    switch (k->kind) {
      case StateKind::meta: {
        auto m = detail::decode_meta(vb);
        if (!m) return bad("the task's meta entry does not decode");
        if (m->topic != s.plan.source_topic || m->partition != s.partition)
          return bad("the checkpoint is for " + m->topic + "[" + std::to_string(m->partition) + "]");
        s.max_event_time = m->max_event_time;
        s.next_offset = m->next_offset;
        s.last_w1 = m->watermark;
        s.restored_wm = m->watermark;
        s.next_batch = m->next_batch;
        s.restored_batch = m->next_batch;
        s.idle = m->idle;
        have_meta = true;
        break;
      }
      case StateKind::window: {
        if (!windowed) return bad(not_ours);
        auto a = detail::decode_acc(vb);
        if (!a) return bad("a window's value does not decode");
        s.windows.emplace(WinKey{k->end_ms, k->start_ms, k->key}, WinState{std::move(*a)});
        break;
      }
      case StateKind::session: {
        if (!session) return bad(not_ours);
        auto sess = detail::decode_session(vb);
        if (!sess) return bad("a session's value does not decode");
        s.sessions[k->key].emplace(k->start_ms, Session{sess->first, std::move(sess->second)});
        s.session_index.insert(SessionEnd{sess->first, k->key, k->start_ms});
        ++s.session_count;
        break;
      }
      case StateKind::key: {
        if (!keyed) return bad(not_ours);
        auto a = detail::decode_acc(vb);
        if (!a) return bad("a key's aggregate does not decode");
        s.keyed.emplace(k->key, std::move(*a));
        break;
      }
      case StateKind::dedup: {
        if (!s.plan.has_dedup) return bad(not_ours);
        auto first = detail::decode_dedup(vb);
        if (!first) return bad("a dedup entry does not decode");
        s.dedup.emplace(k->key, *first);
        s.dedup_index.insert(DedupFirst{*first, k->key});
        break;
      }
    }
  }
  if (!latest.empty() && !have_meta) return bad("state without the task's meta entry");
  if (s.entries() > s.options.limits.max_state_entries)
    return unexpected(EngineError{EngineErrc::state_limit, where, "the checkpoint holds more state entries than "
                                                                  "EngineLimits::max_state_entries"});
  SS_ASSERT(s.entries() + (have_meta ? 1 : 0) == latest.size(), "every live changelog key became one state entry");
  return {};
}

int32_t PartitionTask::partition() const { return impl_->partition; }
std::optional<EventTime> PartitionTask::max_event_time() const { return impl_->max_event_time; }
int64_t PartitionTask::next_offset() const { return impl_->next_offset; }
size_t PartitionTask::state_entries() const { return impl_->entries(); }
Watermark PartitionTask::restored_watermark() const { return impl_->restored_wm; }
uint64_t PartitionTask::restored_batch() const { return impl_->restored_batch; }
std::optional<EventTime> PartitionTask::batch_max_event_time() const { return impl_->batch_max; }
void PartitionTask::mark_idle(bool idle) {
  SS_ASSERT(impl_->in_batch, "idleness is recorded between ingest and finish");
  impl_->idle = idle;
}
bool PartitionTask::idle() const { return impl_->idle; }

}  // namespace streamsim::engine
