// What the engine reports about itself, for traces, metrics and checkers.
//
// The engine never includes sim/ or live/, so it cannot write trace events
// itself: it calls an EngineObserver, and whoever runs the engine (the harness,
// the Kafka wiring, a test) turns the calls into TraceEvents (core/trace.h) and
// metrics. Calls are synchronous, on the caller of Query::run_batch, in a
// deterministic order: per batch, late drops and dead letters in input order
// (partition by partition, ascending), then the watermark, then the batch.
#pragma once

#include <streamsim/engine/row.h>
#include <streamsim/engine/time.h>

#include <cstdint>
#include <string>

namespace streamsim::engine {

// The global watermark moved (from < to) at the end of batch `batch`.
struct WatermarkAdvance {
  uint64_t batch = 0;
  Watermark from;
  Watermark to;
  int32_t active_partitions = 0;  // partitions that held it (not idle)
  int32_t idle_partitions = 0;
};

// A row refused because its window (or, for sessions and dedup, its event
// time) is behind the watermark. routed: sent to the late output, else dropped.
struct LateEvent {
  uint64_t batch = 0;
  Provenance source;
  EventTime event_time;
  Watermark watermark;  // the watermark it was judged against
  bool routed = false;
};

// An input record, or a row an operator could not process.
struct DeadLetter {
  Provenance source;
  std::string reason;
  std::optional<std::string> key;    // the raw input bytes, for the dead-letter topic
  std::optional<std::string> value;
  int64_t timestamp_ms = -1;
};

// Counters, cumulative over a Query's life (a restore starts them at zero).
struct EngineMetrics {
  uint64_t batches = 0;
  uint64_t records_in = 0;
  uint64_t rows_out = 0;
  uint64_t late_dropped = 0;
  uint64_t late_routed = 0;
  uint64_t late_window_parts = 0;  // sliding: a row's contribution to an already-closed window, skipped
  uint64_t dead_letters = 0;
  uint64_t duplicates_dropped = 0;
  uint64_t filtered = 0;
  uint64_t join_unmatched = 0;   // inner join_table: rows whose key had no table entry, dropped
  uint64_t windows_emitted = 0;  // append mode: windows and sessions closed and emitted
  uint64_t state_entries = 0;    // current, summed over tasks
  Watermark watermark;           // current global watermark
};

// A task's batch became durable with this global watermark in its meta entry
// (exactly-once: its transaction committed; at-least-once: its changelog was
// flushed). Reported by the Kafka wiring (EngineInstance), after the batch's
// on_batch. An engine never starts below a watermark committed before it
// started (docs/semantics.md, "Watermarks"): checkers judge restarts by these.
struct WatermarkCommit {
  uint64_t batch = 0;
  int32_t partition = 0;
  Watermark watermark;
};

struct BatchSummary {
  uint64_t batch = 0;
  uint64_t records_in = 0;
  uint64_t rows_out = 0;
  Watermark watermark_start;
  Watermark watermark_end;
};

class EngineObserver {
 public:
  virtual ~EngineObserver() = default;
  virtual void on_watermark(const WatermarkAdvance&) {}
  virtual void on_late(const LateEvent&) {}
  virtual void on_dead_letter(const DeadLetter&) {}
  virtual void on_batch(const BatchSummary&) {}
  virtual void on_commit(const WatermarkCommit&) {}
};

}  // namespace streamsim::engine
