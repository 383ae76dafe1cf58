// Execution core, independent of I/O: partition tasks, the watermark tracker and
// the Query that runs micro-batches over them.
//
// One PartitionTask per input partition owns that partition's state. A micro-batch
// runs in two phases (docs/semantics.md, "Micro-batches"):
//   1. ingest: every task decodes and processes its records against the batch's
//      starting watermark W0 (late checks use W0);
//   2. the tracker computes the new global watermark W1 >= W0 from what every
//      task saw; then every task finishes the batch with W1: it emits what W1
//      closes, evicts expired state and writes its changelog entries.
// A batch's outputs, changelog entries and next input offset per task are what
// the Kafka wiring commits in one transaction per task (docs/semantics.md,
// "Exactly-once"). Nothing here suspends, reads a clock or does I/O: processing
// time comes in with each batch (Runtime::now at the batch boundary).
//
// Precondition (the consumer's contract): the records of a partition arrive in
// strictly increasing offset order, across batches and across a restore
// (SS_ASSERT). Keyed state is per input partition, so rows with the same key must
// arrive on the same partition (input keyed by the aggregation key).
#pragma once

#include <streamsim/core/result.h>
#include <streamsim/core/time.h>
#include <streamsim/engine/error.h>
#include <streamsim/engine/observer.h>
#include <streamsim/engine/pipeline.h>
#include <streamsim/engine/row.h>
#include <streamsim/engine/time.h>

#include <compare>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace streamsim::engine {

// One state change: key -> new value, or a tombstone (value unset). Maps onto a
// record of a compacted Kafka changelog topic. Bytes are engine.StateKey and
// engine.StateValue messages (proto/engine.proto).
struct ChangelogEntry {
  std::string key;
  std::optional<std::string> value;
  auto operator<=>(const ChangelogEntry&) const = default;
};

// Per partition, changelog entries whose in-order application rebuilds the
// state: either a task's snapshot, or every batch's changelog concatenated.
struct Checkpoint {
  std::map<int32_t, std::vector<ChangelogEntry>> partitions;
};

struct EngineLimits {
  size_t max_records_per_batch = 100'000;  // over all partitions of one batch
  size_t max_state_entries = 1'000'000;    // per task: windows + sessions + keys + dedup keys
  size_t max_flat_map_fanout = 1'024;      // rows one flat_map call may return
};

class JoinTables;  // table.h

struct EngineOptions {
  EngineLimits limits;
  EngineObserver* observer = nullptr;  // not owned; must outlive the Query
  // The tables of the pipeline's join_table stages, loaded by whoever runs the
  // query (TableLoader, TestStream) and changed only between batches. A batch
  // of a pipeline with joins fails (invalid_config, field "tables") while one
  // of its tables is not loaded.
  std::shared_ptr<const JoinTables> tables;
  // TEST ONLY: added to the computed global watermark (before monotonic
  // clamping). A positive skew makes the engine close windows early and drop
  // on-time events as late: the canary that proves a watermark checker works.
  int64_t TEST_watermark_skew_ms = 0;
};

struct MicroBatch {
  Instant processing_time;  // Runtime::now at the batch boundary; must not decrease
  std::map<int32_t, std::vector<InputRecord>> records;  // by partition, each in offset order
  // Raises the watermark to at least this at the start of the batch: a test
  // driver's "advance watermark", or Watermark::max() at the end of a bounded
  // input. Ignored by a pipeline without a watermark.
  Watermark watermark_floor = Watermark::min();
};

// What one task produced in one batch: everything its transaction commits.
struct TaskOutput {
  std::vector<OutputRow> rows;            // to the sink, in emission order
  std::vector<Row> late;                  // late rows routed to the late output
  std::vector<DeadLetter> dead_letters;   // with the dead-letter policy `route`
  std::vector<ChangelogEntry> changelog;  // state changes, then the task's meta entry
  int64_t next_offset = -1;               // offset to resume at; -1 before any input
  bool idle = false;  // the partition counted as idle at the batch's watermark advance (in the meta entry)
};

// What a task's meta entry says about its partition's progress: what another
// engine instance needs to count the partition in its global watermark
// (docs/semantics.md, "Watermarks").
struct PartitionProgress {
  std::optional<EventTime> max_event_time;  // unset: no event yet
  int64_t next_offset = -1;                 // -1 before any input
  bool idle = false;                        // its owner counted it as idle in that batch
  Watermark watermark = Watermark::min();   // the global watermark its owner committed with it
  bool operator==(const PartitionProgress&) const = default;
};

// The progress in a changelog entry if it is a task's meta entry (key and value
// as the changelog stores them, without the instance's topic/partition prefix),
// else nullopt. Does not suspend.
std::optional<PartitionProgress> decode_progress(std::string_view key, std::string_view value);
// Merges a newer reading into what was known of a partition: event time, offset
// and watermark only grow; idleness comes from the reading that is furthest
// along (by next offset).
PartitionProgress merge_progress(const PartitionProgress& known, const PartitionProgress& reading);

struct BatchOutput {
  uint64_t batch = 0;
  Watermark watermark_start;  // W0: late checks
  Watermark watermark_end;    // W1: emission and eviction
  std::map<int32_t, TaskOutput> tasks;  // every owned partition, also without input
  // Concatenations over tasks in partition order.
  std::vector<OutputRow> rows() const;
  std::vector<Row> late() const;
  std::vector<DeadLetter> dead_letters() const;
};

// Global watermark bookkeeping (docs/semantics.md, "Watermarks"). Knows each
// partition's max event time and when it last had records; the global watermark
// is min over non-idle partitions of (max event time - delay), plus the TEST
// skew, never below its previous value.
//
// Two kinds of partitions take part: owned ones (add_partition/observe: what
// this query's tasks saw) and remote ones, owned by another engine instance
// (set_remote: what their owners committed). A remote partition is idle when
// its owner said so in its last meta entry, or when its committed progress (its
// next offset) has not moved for the idle timeout of this tracker's processing
// time: a partition whose owner is gone must not hold the watermark forever.
class WatermarkTracker {
 public:
  WatermarkTracker(std::optional<int64_t> delay_ms, std::optional<Duration> idle_timeout, int64_t skew_ms);

  // Takes over a partition (dropping its remote entry, if any).
  void add_partition(int32_t partition, std::optional<EventTime> max_event_time, Instant now);
  void remove_partition(int32_t partition);
  // A partition another instance owns, with what its owner last committed
  // (nullopt: nothing yet; it holds the watermark like a silent new partition).
  // The first call starts tracking it; progress only counts when its next
  // offset moves. Raises the global watermark to the committed one (a valid
  // watermark of another instance). Precondition: not an owned partition.
  void set_remote(int32_t partition, const std::optional<PartitionProgress>& progress, Instant now);
  void remove_remote(int32_t partition);
  // Raises the global watermark to w if higher (a restore, a floor). Returns it.
  Watermark raise_to(Watermark w);
  // A partition's batch: its max event time (if it saw one) and whether it had records.
  void observe(int32_t partition, std::optional<EventTime> batch_max, bool had_records, Instant now);
  // Recomputes the global watermark at a batch boundary; fills counts if given.
  Watermark advance(Instant now, WatermarkAdvance* report = nullptr);

  Watermark current() const { return global_; }
  bool idle(int32_t partition, Instant now) const;
  std::optional<EventTime> max_event_time(int32_t partition) const;

 private:
  struct PartitionState {
    std::optional<EventTime> max_event_time;
    Instant last_active;
  };
  struct RemoteState {
    std::optional<EventTime> max_event_time;
    int64_t next_offset = -1;
    bool owner_idle = false;
    Instant last_active;  // this tracker's processing time when its progress last moved
  };
  bool remote_idle(const RemoteState& st, Instant now) const;
  std::optional<int64_t> delay_ms_;
  std::optional<Duration> idle_timeout_;
  int64_t skew_ms_;
  Watermark global_ = Watermark::min();
  std::map<int32_t, PartitionState> partitions_;
  std::map<int32_t, RemoteState> remote_;
};

// The state and operators of one input partition. Owned by a Query (or by the
// Kafka wiring's task runner); not thread-safe, never suspends.
class PartitionTask {
 public:
  PartitionTask(Pipeline pipeline, int32_t partition, const EngineOptions& options);
  ~PartitionTask();
  PartitionTask(const PartitionTask&) = delete;
  PartitionTask& operator=(const PartitionTask&) = delete;

  // Rebuilds state from changelog entries applied in order (a snapshot, or the
  // batches' changelogs concatenated). Only on a fresh task.
  Result<void, EngineError> restore(const std::vector<ChangelogEntry>& entries);

  // Phase 1: processes the records against watermark w0. On error the task is
  // unusable (the batch must be abandoned and the state restored).
  Result<void, EngineError> ingest(uint64_t batch, const std::vector<InputRecord>& records, Watermark w0,
                                   TaskOutput& out, EngineMetrics& metrics);
  // Phase 2: emits what w1 closes, evicts expired state, appends the changelog.
  // Precondition: w1 >= w0 of the same batch.
  void finish(uint64_t batch, Watermark w1, TaskOutput& out, EngineMetrics& metrics);

  // The whole state as changelog entries (restore() of it gives an equal task).
  std::vector<ChangelogEntry> snapshot() const;

  int32_t partition() const;
  std::optional<EventTime> max_event_time() const;
  int64_t next_offset() const;
  size_t state_entries() const;
  // From the last restore: the global watermark and batch the state was written at.
  Watermark restored_watermark() const;
  uint64_t restored_batch() const;
  // The max event time seen by the last ingest (unset if it saw none).
  std::optional<EventTime> batch_max_event_time() const;
  // Between ingest and finish: whether the partition counts as idle at this
  // batch's watermark advance; the meta entry records it for other instances.
  void mark_idle(bool idle);
  bool idle() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Runs micro-batches over a set of partition tasks, with one global watermark.
class Query {
 public:
  // A fresh query owning `partitions` of the pipeline's source topic.
  static Query create(Pipeline pipeline, const std::vector<int32_t>& partitions, Instant now,
                      EngineOptions options = {});
  // A query restored from a checkpoint: state, offsets, batch numbering and the
  // global watermark (max of what the tasks stored, so it never goes backwards).
  static Result<Query, EngineError> restore(Pipeline pipeline, const Checkpoint& checkpoint, Instant now,
                                            EngineOptions options = {});
  Query(Query&&) noexcept;
  Query& operator=(Query&&) noexcept;
  ~Query();

  // Runs one micro-batch. On error nothing of the batch may be committed and the
  // query refuses further batches (query_failed): restore from the last checkpoint.
  Result<BatchOutput, EngineError> run_batch(const MicroBatch& batch);

  // Rebalance: takes over a partition with its restored changelog, or gives one up.
  Result<void, EngineError> add_partition(int32_t partition, const std::vector<ChangelogEntry>& restored,
                                          Instant now);
  void remove_partition(int32_t partition);
  // Scale-out: the committed progress of a partition another instance owns
  // (WatermarkTracker::set_remote). Call between batches; the next batch's
  // watermark counts it. Precondition: the query does not own the partition.
  void set_remote_progress(int32_t partition, const std::optional<PartitionProgress>& progress, Instant now);
  void remove_remote(int32_t partition);

  Checkpoint checkpoint() const;
  std::vector<int32_t> partitions() const;
  Watermark watermark() const;
  const EngineMetrics& metrics() const;
  uint64_t next_batch() const;
  bool failed() const;
  const Pipeline& pipeline() const;
  // The task of a partition, or null.
  const PartitionTask* task(int32_t partition) const;

 private:
  Query(Pipeline pipeline, EngineOptions options);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace streamsim::engine
