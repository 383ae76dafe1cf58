// An engine instance: runs one pipeline against Kafka, through kafka.h only.
//
// An instance is one member of the consumer group `application_id`. It
// subscribes to the pipeline's source topic; the group spreads the source
// partitions over the instances, and each assigned partition becomes a
// PartitionTask of the instance's Query (query.h). Every trigger interval (or
// sooner, when max_records_per_batch records are buffered) the instance runs a
// micro-batch and commits each task's output (docs/semantics.md,
// "Exactly-once"):
//
//   exactly_once (default): one transactional producer per task, with the
//     stable transactional.id "<application_id>-<source topic>-<partition>". A
//     task's batch is one transaction: its output rows (sink topic), late rows
//     (late topic), dead letters (dead-letter topic), changelog records
//     (changelog topic "<application_id>-changelog", partition = the task's
//     input partition, key "<topic>/<partition>/" + state key) and its next
//     input offset (send_offsets_to_transaction with the consumer's group
//     metadata). On assignment a task first calls init_transactions, which
//     fences the previous owner (a zombie) and aborts its open transaction,
//     then restores its state from the changelog with read_committed and
//     resumes at the restored state's next offset (checked against the group's
//     committed offset). An abortable error aborts the transaction and rewinds
//     the task to its last committed state; a fatal one (fenced) drops the task
//     and makes the instance rejoin the group, giving the partition up.
//   at_least_once (explicit choice): one idempotent, non-transactional
//     producer. A batch's outputs are produced and flushed, then the offsets
//     are committed with commit_sync, then the changelog is produced and
//     flushed. A crash anywhere between the first produce and the changelog
//     flush re-runs the batch after restart and duplicates its outputs: this
//     mode exists so checkers can be shown to catch that.
//
// Ownership and tasks: the instance belongs to the tasks of one Runtime. run()
// runs on the calling task; start() spawns a task "engine/<application_id>"
// that calls run(). Every wait is on the Runtime. Nothing assumes a graceful
// end: a crash cancels the task, TaskCancelled unwinds run() and the
// destructors release the clients; the next incarnation recovers from Kafka
// alone (changelog, committed offsets, transactional ids).
//
// Determinism: no clock but Runtime::now, no randomness, ordered containers.
#pragma once

#include <streamsim/core/result.h>
#include <streamsim/core/runtime.h>
#include <streamsim/core/time.h>
#include <streamsim/engine/error.h>
#include <streamsim/engine/pipeline.h>
#include <streamsim/engine/query.h>
#include <streamsim/kafka.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace streamsim::engine {

enum class DeliveryMode { exactly_once, at_least_once };
const char* to_string(DeliveryMode m);

// One output row as Kafka bytes. The instance adds its provenance headers
// (headers:: below) after the encoder's own.
struct EncodedRecord {
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<kafka::Header> headers;
  std::optional<int64_t> timestamp_ms;  // unset: the row's event time
};
using RowEncoder = std::function<EncodedRecord(const OutputRow&)>;

namespace encoders {
// Key and value in the engine's record encoding (row.h, encode_value), so a
// pipeline with decoders::typed() can read its own output.
RowEncoder typed();
// Key and value as Value::to_string() text ("\"u1\"", "42"), for people and logs.
RowEncoder text();
}  // namespace encoders

// Header names the instance writes, so checkers can trace every record back.
namespace headers {
inline constexpr const char* kWindowStart = "ss.window.start";  // decimal ms, windowed rows
inline constexpr const char* kWindowEnd = "ss.window.end";      // decimal ms, windowed rows
inline constexpr const char* kBatch = "ss.batch";               // decimal batch id
inline constexpr const char* kTask = "ss.task";                 // the input partition of the task
inline constexpr const char* kSource = "ss.source";             // "clicks[0]@17": stateless rows, late rows, dead letters
inline constexpr const char* kEventTime = "ss.event_time";      // decimal ms: late rows
inline constexpr const char* kWatermark = "ss.watermark";       // the watermark a late row was judged against
inline constexpr const char* kReason = "ss.reason";             // dead letters
inline constexpr const char* kBatchEnd = "ss.batch_end";        // changelog: the task's meta entry, last of a batch
}  // namespace headers

struct InstanceConfig {
  // Consumer group id, transactional.id prefix and changelog topic prefix.
  // Instances with the same id share the work; a restarted instance must reuse it.
  std::string application_id;
  std::string bootstrap_servers;
  DeliveryMode mode = DeliveryMode::exactly_once;
  Duration trigger_interval = Duration::millis(200);
  size_t max_records_per_batch = 10'000;  // at most EngineLimits::max_records_per_batch
  // Where late rows go when the pipeline routes them (LatePolicy::route), and
  // dead letters with DeadLetterPolicy::route. Required in those cases.
  std::string late_topic;
  std::string dead_letter_topic;
  RowEncoder encoder = encoders::typed();
  // Extra client properties (librdkafka names), applied before the instance's
  // own. The instance sets bootstrap.servers, group.id, transactional.id,
  // isolation.level and enable.auto.commit itself and refuses conflicting values.
  std::vector<std::pair<std::string, std::string>> producer_properties;
  std::vector<std::pair<std::string, std::string>> consumer_properties;
  // Bound of each Kafka call (init_transactions, send_offsets, commit, flush,
  // one changelog read) and of the attempts around it.
  Duration kafka_timeout = Duration::seconds(10);
  // The changelog topic the instance creates if it is missing (same partition
  // count as the source topic).
  int16_t changelog_replication = 3;
  int32_t changelog_min_insync = 2;
  // Bounds: changelog records one restore may read; group rejoins after fatal
  // producer errors before run() gives up.
  size_t max_restore_records = 10'000'000;
  int max_rejoins = 100;
  EngineOptions engine;  // observer and limits of the Query
  // TEST ONLY: sleeps this long after a batch's outputs are produced and
  // before its commit (the transaction's commit, or commit_sync), widening the
  // window where a crash falls between produce and commit.
  Duration TEST_pause_before_commit = Duration::zero();
};

// Cumulative counters of one instance object (an incarnation starts at zero).
struct InstanceStats {
  uint64_t batches = 0;
  uint64_t commits = 0;            // task transactions committed (at-least-once: batches committed)
  uint64_t aborts = 0;             // task transactions aborted and rewound
  uint64_t fenced = 0;             // tasks dropped after a fatal producer error
  uint64_t rejoins = 0;            // group rejoins after fatal errors
  uint64_t restores = 0;           // tasks restored from the changelog
  uint64_t restored_records = 0;   // changelog records read by restores
  uint64_t partial_batches_dropped = 0;  // changelog tails without their batch end (at-least-once crashes)
  uint64_t offset_mismatches = 0;  // restored state's next offset != the group's committed offset
  uint64_t records_in = 0;
  uint64_t rows_out = 0;
  uint64_t late_out = 0;
  uint64_t dead_letters_out = 0;
};

// The names the instance derives from its configuration.
std::string changelog_topic(const std::string& application_id);
std::string transactional_id(const std::string& application_id, const std::string& topic, int32_t partition);

class EngineInstance {
 public:
  // Checks the configuration against the pipeline: an error names the field
  // ("trigger_interval", "producer_properties.transaction.timeout.ms",
  // "late_topic", ...). In exactly-once mode transaction.timeout.ms must be at
  // least trigger_interval + 2 * kafka_timeout: the coordinator must not expire
  // a batch's transaction while the instance can still be committing it. Does
  // not suspend. rt and kafka must outlive the instance.
  static Result<std::unique_ptr<EngineInstance>, EngineError> create(Runtime& rt, kafka::Kafka& kafka,
                                                                     Pipeline pipeline, InstanceConfig config);
  ~EngineInstance();
  EngineInstance(const EngineInstance&) = delete;
  EngineInstance& operator=(const EngineInstance&) = delete;

  // Runs micro-batches until request_stop() (then leaves the group and
  // returns ok) or an error that stops the pipeline: a failed batch (e.g.
  // bad_record with DeadLetterPolicy::fail, state_limit), a corrupt changelog,
  // a source topic that cannot be described, more than max_rejoins rejoins.
  // Suspends; throws TaskCancelled when its task is cancelled. Call once.
  Result<void, EngineError> run();
  // Spawns a task that calls run(); the result is kept in result().
  TaskHandle start();
  // Set when run() returned (not when it was cancelled).
  const std::optional<Result<void, EngineError>>& result() const;

  // Asks run() to stop at the next batch boundary. Does not suspend.
  void request_stop();

  const InstanceStats& stats() const;
  // The input partitions this instance owns now.
  std::vector<int32_t> partitions() const;
  Watermark watermark() const;
  // True from a batch's first produce until its commit (or abort) returned:
  // a crash now falls between produce and commit. For harness coverage.
  bool committing() const;

 private:
  struct Impl;
  explicit EngineInstance(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace streamsim::engine
