// The batch reference evaluator: the oracle that streaming output is judged
// against, by the engine's property tests (tests/engine/) and by the end-to-end
// exactly-once checker (harness/checkers/eos_checker.cpp).
//
// It is deliberately simple, so that it is obviously correct: no incremental
// state, no watermark, no batches, no restores. It is given the complete set of
// events the streaming run is required to count (every event that was not
// judged late) and computes each window's final result directly from the
// definitions in docs/semantics.md:
//   - the pipeline's stateless stages (map, filter, flat_map, key_by) applied
//     to each event in turn, the event time kept as the engine keeps it;
//   - windows: tumbling [k*size, (k+1)*size); sliding, every
//     [k*slide, k*slide + size) that covers the event; session, per key, the
//     union of overlapping [t, t + gap) intervals (found by sorting the key's
//     event times and sweeping once);
//   - aggregates over each window's values: count (rows, nulls included), sum
//     (int64 wraps, a double makes the sum a double), min and max (numbers
//     numerically, otherwise the Value order), avg (a double, null when no
//     non-null value); nulls skipped except by count;
//   - select_max_per_window: the keys holding each window's maximum value;
//   - dedup: the first row of a dedup key in the given order is kept, a later
//     row with the same key is dropped.
// Because nothing here depends on arrival timing, equality with the streaming
// output is exactly the statement "batching, disorder within the watermark,
// crashes and restores do not change the result".
//
// Contracts and limits (each refusal is an EngineError naming the setting):
//   - The plan must be an append-mode windowed aggregation (field
//     "output_mode" / "aggregate"); joins ("join_table") and fold aggregates
//     ("aggregate") are refused: their results depend on the table's load
//     times or on the user's merge function, which the reference cannot know.
//   - Events are given in arrival order per key (the streaming engine sees a
//     key's rows in its partition's offset order). Arrival order only matters
//     for dedup (which row is kept) and for the rounding of double sums/avgs.
//   - Dedup is judged only where its result does not depend on the watermark:
//     two rows of one dedup key whose event times differ by more than the
//     watermark delay may or may not both pass in a streaming run, so such an
//     input is refused (field "dedup") rather than guessed.
//   - A sliding window event that is late for some of its windows but not all
//     (docs/semantics.md, late_window_parts) is counted by the engine only in
//     its open windows; the reference cannot know which were closed, so the
//     caller must only give it inputs where this does not happen (disorder
//     within the watermark delay) or leave such events out.
//   - A row whose value the aggregate cannot take (a string for sum/avg) is a
//     dead letter in the engine and is not counted here either.
//   - select_max_per_window is per task in the engine: the reference's global
//     maximum equals it when all keys of a window arrive on one partition.
#pragma once

#include <streamsim/core/result.h>
#include <streamsim/engine/error.h>
#include <streamsim/engine/pipeline.h>
#include <streamsim/engine/row.h>

#include <compare>
#include <cstdint>
#include <map>
#include <vector>

namespace streamsim::engine {

// One input event as the pipeline's source would decode it.
struct ReferenceEvent {
  Value key;
  Value value;
  int64_t event_time_ms = 0;
};

// A window of one key: [start_ms, end_ms).
struct ReferenceWindow {
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  Value key;
  auto operator<=>(const ReferenceWindow&) const = default;
  bool operator==(const ReferenceWindow&) const = default;
};

// The final result of every window that received at least one row.
using ReferenceResult = std::map<ReferenceWindow, Value>;

// Evaluates `plan` over `events` (see the contracts above).
Result<ReferenceResult, EngineError> evaluate_reference(const PipelinePlan& plan,
                                                        const std::vector<ReferenceEvent>& events);

// The smallest watermark W0 at which an event at event time t is late under
// `plan` (docs/semantics.md, "Lateness"): for tumbling and sliding windows the
// end of the last window covering t plus the allowed lateness; for sessions
// t + allowed lateness + 1 (late when t + L < W0). Precondition: the plan has
// a window (SS_ASSERT).
int64_t late_from_watermark_ms(const PipelinePlan& plan, int64_t t);

// Aggregate comparison as the engine's min/max and select_max_per_window use
// it: numbers numerically (an int and an equal double by the Value order),
// otherwise the Value order (so null is lowest).
std::strong_ordering compare_aggregate_values(const Value& a, const Value& b);

}  // namespace streamsim::engine
