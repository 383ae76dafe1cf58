// The live implementation of kafka.h: a thin adapter over librdkafka's C API.
//
// Every client is one rd_kafka_t created from Config::explicit_values(): each
// property the user set is passed to rd_kafka_conf_set unchanged (SASL and SSL
// ones included), so a scenario's client settings mean what librdkafka says they
// mean. Secret values never leave this adapter: every error message and every
// forwarded librdkafka log line is scrubbed of the configured secret values, and
// configurations are printed only through Config::describe().
//
// Waiting. Calls marked "suspends" in kafka.h poll librdkafka without blocking
// (rd_kafka_poll / rd_kafka_consumer_poll / rd_kafka_queue_poll with timeout 0)
// and wait on the Runtime (rt.sleep_for(1 ms)) between polls, so other tasks
// keep running. librdkafka has no non-blocking form of a few calls; those run in
// bounded slices (50 ms growing to 500 ms, never beyond the call's deadline) and
// are retried until the deadline: rd_kafka_metadata (partition_count,
// describe_cluster, describe_topics), rd_kafka_committed, rd_kafka_seek_partitions.
//
// Helper threads: rd_kafka_query_watermark_offsets (list_offsets) and the
// transactional calls (init_transactions, send_offsets_to_transaction,
// commit_transaction, abort_transaction) block their thread, and some ignore
// their timeout while a broker is unreachable (measured on the mock: 60 s, the
// socket timeout). Each runs on a thread of its own while the calling task
// waits on the Runtime, so the other tasks keep running. A task cancelled
// meanwhile leaves the call to finish; the client's destructor joins it.
// Duration::max() passes librdkafka's -1 (commit/abort: the remaining
// transaction time, which librdkafka recommends; init: 2 x
// transaction.timeout.ms). A timed-out init/commit/abort is retriable and
// resumes where it stopped when called again.
//
// Mock cluster: LiveKafka(rt, ledger) emulates transaction isolation, the
// offsets of send_offsets_to_transaction, and CreateTopics for existing topics,
// which librdkafka's mock cluster lacks (live/txn_ledger.h).
//
// Differences from the simulated client that users may notice:
// - ProducerRecord::timestamp_ms unset: librdkafka stamps the record with the
//   wall clock (CreateTime), not Runtime::now (a live runtime's clock counts from
//   its start, which is not a Kafka timestamp).
// - Consumer::poll returns an error only when it has no records to return; the
//   error is kept for the next poll otherwise. Transport-level events
//   (__TRANSPORT, __ALL_BROKERS_DOWN, __RESOLVE) and partition EOF are logged, not
//   returned: librdkafka recovers from them by itself.
// - RebalanceListener: on_assigned runs after the partitions are assigned (so the
//   listener may seek or read positions), on_revoked / on_lost before they are
//   unassigned (so the listener may commit). Cooperative protocols use
//   incremental assign/unassign.
// - A consumer destroyed without close() leaves its group by session timeout.
// - A consumer without group.id may assign() and poll (librdkafka needs a group
//   for that, so the handle gets a private group.id with auto commit off);
//   subscribe, commits and committed() fail with local_invalid_arg.
// - Error codes librdkafka returns that kafka::Errc does not list (e.g.
//   _NOT_CONFIGURED, _PURGE_QUEUE after abort_transaction) keep their number;
//   kafka::to_string names them UNKNOWN.
// - librdkafka 2.0 exposes no leader epochs: ConsumerRecord::leader_epoch and
//   PartitionInfo::leader_epoch are -1.
//
// Threading: a client belongs to the tasks of one Runtime and must be used by one
// task at a time (librdkafka callbacks run inside our polls, on this thread). The
// Runtime and the LiveKafka must outlive the clients they create.
#pragma once

#include <streamsim/core/runtime.h>
#include <streamsim/kafka.h>
#include <streamsim/live/txn_ledger.h>

#include <memory>

namespace streamsim::live {

class LiveKafka final : public kafka::Kafka {
 public:
  explicit LiveKafka(Runtime& rt) : rt_(rt) {}
  // With a ledger, every client this object creates emulates transaction
  // isolation for librdkafka's mock cluster (live/txn_ledger.h); the ledger is
  // shared by those clients and must outlive them.
  LiveKafka(Runtime& rt, std::shared_ptr<TxnLedger> ledger) : rt_(rt), ledger_(std::move(ledger)) {}

  // Each creates an rd_kafka_t. Errors: local_invalid_arg when the config is for
  // another role, or librdkafka rejects a property or the combination (message
  // from librdkafka, secrets scrubbed). Does not suspend (rd_kafka_new returns
  // without contacting a broker).
  Result<std::unique_ptr<kafka::Producer>, kafka::Error> producer(const kafka::Config& cfg) override;
  Result<std::unique_ptr<kafka::Consumer>, kafka::Error> consumer(const kafka::Config& cfg) override;
  Result<std::unique_ptr<kafka::Admin>, kafka::Error> admin(const kafka::Config& cfg) override;

 private:
  Runtime& rt_;
  std::shared_ptr<TxnLedger> ledger_;
};

}  // namespace streamsim::live
