// What the pipeline workload observed, for the checkers (harness/checkers/
// eos_checker.cpp, watermark_checker.cpp). Plain data: the producers' sends,
// the committed input and output as a final read_committed reader saw them,
// what the engine's observer reported, and how the liveness phase ended. The
// checkers never look inside the engine or the cluster.
#pragma once

#include <streamsim/core/time.h>
#include <streamsim/engine/pipeline.h>
#include <streamsim/engine/row.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace streamsim::scenarios {

// Keys of the end-of-input sentinels (one per source partition). Their
// windows are not part of the reference; a sentinel window in the output
// (closed by a skewed watermark, say) is ignored by the checkers.
inline constexpr const char* kSentinelKeyPrefix = "__end-";
inline bool is_sentinel_key(const std::string& key) { return key.rfind(kSentinelKeyPrefix, 0) == 0; }

// The part of the pipeline the batch reference evaluates (engine/reference.h):
// a keyed windowed aggregate of the record values over the record timestamps,
// append mode, late events routed to the late topic (the loader refuses
// anything else).
struct ReferenceSpec {
  std::string source_topic;
  int64_t window_ms = 0;  // the window size (tumbling, sliding) or the session gap
  int64_t watermark_delay_ms = 0;
  int64_t allowed_lateness_ms = 0;
  // The scenario's pipeline plan, built through the registry by the workload.
  // Null: a keyed count in tumbling windows of window_ms (hand-made histories
  // in tests).
  std::shared_ptr<const engine::PipelinePlan> plan;
};

// One produce() call of an input producer.
struct PipelineSend {
  uint32_t producer = 0;
  uint64_t id = 0;            // the record's value; a duplicate send repeats its original's id
  std::string key;
  int64_t event_time_ms = 0;
  int32_t partition = 0;
  bool duplicate = false;     // a deliberate second send of an event
  bool sentinel = false;      // end-of-input marker, in no reference window
  Instant sent_at;            // Runtime::now at produce()
  bool acked = false;
  int64_t offset = -1;        // when acked
  Instant acked_at;           // Runtime::now when its delivery report arrived (when acked)
};

// A committed record of the source topic (the final read).
struct InputEvent {
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  int64_t event_time_ms = 0;
  uint64_t id = 0;
  bool sentinel = false;
};

// A committed record of the sink topic: one window result.
struct WindowResult {
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  engine::Value value;  // the aggregate: an int64 (count, sum, min, max of ints) or a double (avg)
  std::string batch;  // ss.batch / ss.task headers, for evidence
  std::string task;
};

// A committed record of the late topic.
struct LateResult {
  int32_t partition = 0;
  int64_t offset = 0;
  std::string source;        // "clicks[0]@17"
  int64_t event_time_ms = 0;
  int64_t watermark_ms = 0;  // ss.watermark: what it was judged against
  bool watermark_known = false;
};

// Observer calls of one engine incarnation.
struct WatermarkReport {
  std::string engine;       // "engine-0#2": node and incarnation
  Instant at;               // processing time of the call
  int64_t from_ms = 0;      // INT64_MIN for -infinity
  int64_t to_ms = 0;
  uint64_t batch = 0;
};
// A task's batch the engine made durable (EngineObserver::on_commit), with the
// global watermark its meta entry recorded.
struct WatermarkCommit {
  std::string engine;
  Instant at;
  uint64_t batch = 0;
  int32_t partition = 0;
  int64_t watermark_ms = 0;
};
// A micro-batch an engine incarnation ran (EngineObserver::on_batch), for the
// report's consumer-lag series: its input records count as consumed once one
// of the batch's WatermarkCommits (same engine and batch) made it durable.
struct BatchReport {
  std::string engine;
  Instant at;
  uint64_t batch = 0;
  uint64_t records_in = 0;
};
// When an engine incarnation started, before it read anything.
struct EngineStart {
  std::string engine;
  Instant at;
};
struct LateReport {
  std::string engine;
  Instant at;
  std::string source;
  int64_t event_time_ms = 0;
  int64_t watermark_ms = 0;
};

struct PipelineHistory {
  ReferenceSpec spec;
  std::vector<PipelineSend> sends;
  std::vector<InputEvent> input;  // committed input, by (partition, offset)
  std::vector<WindowResult> output;
  std::vector<LateResult> late;
  std::vector<std::string> malformed;          // records the final reader could not decode
  std::vector<WatermarkReport> watermarks;
  std::vector<WatermarkCommit> watermark_commits;  // in time order
  std::vector<BatchReport> batches;                // in time order (reports only)
  std::vector<EngineStart> engine_starts;
  std::vector<LateReport> late_reports;
  // The end of the run, as the final reader saw it.
  bool final_read_done = false;     // input, output and late topics were read to their ends
  bool settled = false;             // lag drained, every input event in a window or late, no open transaction
  std::string stuck = "the input did not end: the producers did not flush or the sentinels were not acknowledged";
  std::vector<std::string> engine_errors;      // engine instances whose run() stopped with an error
  std::vector<std::string> open_transactions;  // partitions whose last stable offset trails the high watermark
  Duration settle_time;             // from the start of the liveness phase
  Duration settle_bound;
  // Coverage expectations.
  uint64_t min_input_events = 1, min_windows = 1, min_late_events = 0;
  uint64_t engine_crashes = 0, engine_crashes_in_txn = 0;
  // Faults' evidence: tasks dropped after their producer was fenced (a zombie's
  // commit refused), and instances that stopped on request (scaled in).
  uint64_t engine_fenced = 0, engine_stops = 0;
};

}  // namespace streamsim::scenarios
