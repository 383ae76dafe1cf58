// The batch reference evaluator (reference.h): definitions, not machinery.
#include <streamsim/core/assert.h>
#include <streamsim/engine/reference.h>

#include <algorithm>
#include <set>
#include <string>
#include <utility>

namespace streamsim::engine {

namespace {

EngineError refused(std::string field, std::string message) {
  return EngineError{EngineErrc::invalid_pipeline, std::move(field), "the batch reference " + std::move(message)};
}

// Floor division: windows are aligned to the epoch also for negative times.
int64_t floor_div(int64_t a, int64_t b) {
  SS_ASSERT(b > 0, "window sizes and slides are positive");
  int64_t q = a / b;
  if (a % b != 0 && a < 0) --q;
  return q;
}

// A row after the stateless stages: only key, value and event time matter.
struct Item {
  Value key;
  Value value;
  int64_t t = 0;
};

// The sum of docs/semantics.md: int64 wraps in two's complement; a double on
// either side makes it a double.
Value add(const Value& a, const Value& b) {
  if (a.is_int() && b.is_int())
    return Value(static_cast<int64_t>(static_cast<uint64_t>(a.as_int()) + static_cast<uint64_t>(b.as_int())));
  return Value(a.to_double() + b.to_double());
}

// The aggregate of one window's values, in the given order.
Value aggregate(Aggregate::Kind kind, const std::vector<Value>& values) {
  SS_ASSERT(!values.empty(), "a window exists only once a row entered it");
  if (kind == Aggregate::Kind::count) return Value(static_cast<int64_t>(values.size()));
  Value acc;  // null until the first non-null value
  int64_t non_null = 0;
  double avg_sum = 0;
  for (const Value& v : values) {
    if (v.is_null()) continue;
    ++non_null;
    switch (kind) {
      case Aggregate::Kind::sum: acc = acc.is_null() ? v : add(acc, v); break;
      case Aggregate::Kind::min:
        if (acc.is_null() || compare_aggregate_values(v, acc) < 0) acc = v;
        break;
      case Aggregate::Kind::max:
        if (acc.is_null() || compare_aggregate_values(v, acc) > 0) acc = v;
        break;
      case Aggregate::Kind::avg: avg_sum += v.to_double(); break;
      default: SS_PANIC("the reference refuses fold and handles count above");
    }
  }
  if (kind == Aggregate::Kind::avg) return non_null == 0 ? Value() : Value(avg_sum / static_cast<double>(non_null));
  return acc;
}

}  // namespace

std::strong_ordering compare_aggregate_values(const Value& a, const Value& b) {
  if (a.is_numeric() && b.is_numeric() && a.is_int() != b.is_int()) {
    const double x = a.to_double(), y = b.to_double();
    if (x < y) return std::strong_ordering::less;
    if (x > y) return std::strong_ordering::greater;
  }
  return a <=> b;
}

int64_t late_from_watermark_ms(const PipelinePlan& plan, int64_t t) {
  SS_ASSERT(plan.window_kind.has_value(), "lateness is defined for windowed aggregations");
  const int64_t lateness = plan.allowed_lateness_ms;
  switch (*plan.window_kind) {
    case WindowSpec::Kind::tumbling: return floor_div(t, plan.window_size_ms) * plan.window_size_ms + plan.window_size_ms + lateness;
    case WindowSpec::Kind::sliding:
      // The last window covering t starts at the largest multiple of the slide <= t.
      return floor_div(t, plan.window_slide_ms) * plan.window_slide_ms + plan.window_size_ms + lateness;
    case WindowSpec::Kind::session: return t + lateness + 1;
  }
  SS_PANIC("unknown window kind");
}

Result<ReferenceResult, EngineError> evaluate_reference(const PipelinePlan& plan,
                                                        const std::vector<ReferenceEvent>& events) {
  if (!plan.aggregate || !plan.window_kind) return unexpected(refused("aggregate", "needs a windowed aggregation"));
  if (plan.aggregate->kind == Aggregate::Kind::fold)
    return unexpected(refused("aggregate", "cannot evaluate a fold (its merge function is the user's)"));
  if (plan.output_mode != OutputMode::append)
    return unexpected(refused("output_mode", "evaluates append mode only (each window's final result)"));
  for (const auto& s : plan.stages)
    if (s.kind == Stage::Kind::join)
      return unexpected(refused("join_table", "cannot evaluate a join (its result depends on when the table loads)"));

  // 1. The stateless stages and dedup, one event at a time.
  std::vector<Item> items;
  std::map<Value, int64_t> dedup_first;  // dedup key -> event time of the row kept
  const int64_t dedup_delay = plan.watermark_delay_ms.value_or(0);
  for (const auto& ev : events) {
    std::vector<Item> rows{{ev.key, ev.value, ev.event_time_ms}};
    for (const auto& stage : plan.stages) {
      std::vector<Item> next;
      for (const Item& it : rows) {
        const Row row{it.key, it.value, EventTime::from_ms(it.t), Provenance{}};
        switch (stage.kind) {
          case Stage::Kind::map: {
            Row r = stage.map(row);
            next.push_back({std::move(r.key), std::move(r.value), it.t});
            break;
          }
          case Stage::Kind::filter:
            if (stage.filter(row)) next.push_back(it);
            break;
          case Stage::Kind::flat_map:
            for (Row& r : stage.flat_map(row)) next.push_back({std::move(r.key), std::move(r.value), it.t});
            break;
          case Stage::Kind::key_by: next.push_back({stage.key_by(row), it.value, it.t}); break;
          case Stage::Kind::dedup: {
            auto [at, first] = dedup_first.emplace(it.key, it.t);
            if (first) {
              next.push_back(it);
            } else if (std::max(it.t, at->second) - std::min(it.t, at->second) > dedup_delay) {
              return unexpected(refused("dedup", "cannot judge key " + it.key.to_string() + " seen at " +
                                                     std::to_string(at->second) + "ms and " + std::to_string(it.t) +
                                                     "ms, further apart than the watermark delay"));
            }
            break;
          }
          case Stage::Kind::join: SS_PANIC("joins were refused above");
        }
      }
      rows = std::move(next);
    }
    for (Item& it : rows) {
      // A value the aggregate cannot take is a dead letter, in no window.
      const auto k = plan.aggregate->kind;
      if ((k == Aggregate::Kind::sum || k == Aggregate::Kind::avg) && it.value.is_string()) continue;
      items.push_back(std::move(it));
    }
  }

  // 2. Every window of every row, with the row's value, in input order.
  std::map<ReferenceWindow, std::vector<Value>> windows;
  switch (*plan.window_kind) {
    case WindowSpec::Kind::tumbling:
      for (const Item& it : items) {
        const int64_t start = floor_div(it.t, plan.window_size_ms) * plan.window_size_ms;
        windows[{start, start + plan.window_size_ms, it.key}].push_back(it.value);
      }
      break;
    case WindowSpec::Kind::sliding:
      for (const Item& it : items) {
        // From the last window covering t back to the first: k*slide <= t < k*slide + size.
        for (int64_t k = floor_div(it.t, plan.window_slide_ms);
             k * plan.window_slide_ms + plan.window_size_ms > it.t; --k) {
          const int64_t start = k * plan.window_slide_ms;
          SS_ASSERT(start <= it.t, "a sliding window starts at or before its event");
          windows[{start, start + plan.window_size_ms, it.key}].push_back(it.value);
        }
      }
      break;
    case WindowSpec::Kind::session: {
      // Per key, sort by event time and sweep: the next interval [t, t + gap)
      // overlaps the current session exactly when t < its end.
      std::map<Value, std::vector<size_t>> by_key;
      for (size_t i = 0; i < items.size(); ++i) by_key[items[i].key].push_back(i);
      for (auto& [key, idx] : by_key) {
        std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return items[a].t < items[b].t; });
        size_t first = 0;
        while (first < idx.size()) {
          const int64_t start = items[idx[first]].t;
          int64_t end = start + plan.session_gap_ms;
          size_t last = first + 1;
          while (last < idx.size() && items[idx[last]].t < end) end = std::max(end, items[idx[last++]].t + plan.session_gap_ms);
          // Values in input order, as the engine folds a key's rows.
          std::vector<size_t> members(idx.begin() + static_cast<std::ptrdiff_t>(first),
                                      idx.begin() + static_cast<std::ptrdiff_t>(last));
          std::sort(members.begin(), members.end());
          auto& values = windows[{start, end, key}];
          for (size_t m : members) values.push_back(items[m].value);
          first = last;
        }
      }
      break;
    }
  }

  // 3. The aggregate per window; then, if asked, only each window's maxima.
  ReferenceResult out;
  for (const auto& [w, values] : windows) out.emplace(w, aggregate(plan.aggregate->kind, values));
  if (plan.select_max_per_window) {
    std::map<std::pair<int64_t, int64_t>, Value> best;
    for (const auto& [w, v] : out) {
      auto [it, first] = best.emplace(std::pair{w.start_ms, w.end_ms}, v);
      if (!first && compare_aggregate_values(v, it->second) > 0) it->second = v;
    }
    std::erase_if(out, [&](const auto& e) {
      return compare_aggregate_values(e.second, best.at({e.first.start_ms, e.first.end_ms})) != 0;
    });
  }
  SS_ASSERT(out.size() <= windows.size(), "selection only removes windows");
  return out;
}

}  // namespace streamsim::engine
