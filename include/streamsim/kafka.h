// The one Kafka client interface: what the engine and the workloads use, and
// nothing else talks to Kafka. Two implementations: sim/ (simulated brokers over
// the simulated network) and live/ (a thin librdkafka adapter).
//
// Semantics follow librdkafka, so code written against this interface behaves
// the same in both worlds: property names and validation (kafka/config.h), the
// partitioner (kafka/partitioner.h), delivery reports, transactional error
// classes (retriable, abortable, fatal), consumer group rebalance callbacks.
//
// Threading: a client belongs to the tasks of one Runtime. Calls marked
// "suspends" wait on the Runtime (virtual time in simulation) and throw
// TaskCancelled if the task is cancelled; no call blocks the OS thread.
//
// Status: this header is the contract for the Kafka issue; the simulated and the
// librdkafka implementations are built against it there.
#pragma once

#include <streamsim/core/result.h>
#include <streamsim/core/time.h>
#include <streamsim/kafka/config.h>

#include <compare>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace streamsim::kafka {

// Kafka protocol error codes (positive, as on the wire) and librdkafka's local
// error codes (negative), under librdkafka's names in lower case.
enum class Errc : int32_t {
  no_error = 0,
  offset_out_of_range = 1,
  corrupt_message = 2,
  unknown_topic_or_partition = 3,
  leader_not_available = 5,
  not_leader_or_follower = 6,
  request_timed_out = 7,
  message_too_large = 10,
  coordinator_load_in_progress = 14,
  coordinator_not_available = 15,
  not_coordinator = 16,
  not_enough_replicas = 19,
  not_enough_replicas_after_append = 20,
  illegal_generation = 22,
  inconsistent_group_protocol = 23,
  unknown_member_id = 25,
  invalid_session_timeout = 26,
  rebalance_in_progress = 27,
  topic_already_exists = 36,
  invalid_partitions = 37,
  invalid_replication_factor = 38,
  not_controller = 41,
  out_of_order_sequence_number = 45,
  duplicate_sequence_number = 46,
  invalid_producer_epoch = 47,
  invalid_txn_state = 48,
  invalid_producer_id_mapping = 49,
  invalid_transaction_timeout = 50,
  concurrent_transactions = 51,
  transaction_coordinator_fenced = 52,
  unknown_producer_id = 59,
  fenced_leader_epoch = 74,
  unknown_leader_epoch = 75,
  member_id_required = 79,
  unstable_offset_commit = 88,
  producer_fenced = 90,
  // librdkafka local errors.
  local_bad_msg = -199,
  local_transport = -195,
  local_msg_timed_out = -192,
  local_partition_eof = -191,
  local_all_brokers_down = -187,
  local_invalid_arg = -186,
  local_timed_out = -185,
  local_queue_full = -184,
  local_state = -172,
  local_purge_queue = -152,
  local_fatal = -150,
  local_fenced = -144,
  local_assignment_lost = -142,
};
// librdkafka's name for the code (rd_kafka_err2name), e.g. NOT_LEADER_FOR_PARTITION
// for not_leader_or_follower, so reports read the same in both worlds.
const char* to_string(Errc e);

// An error with librdkafka's classification (rd_kafka_error_t).
struct Error {
  Errc code = Errc::no_error;
  std::string message;
  bool retriable = false;           // the same call may succeed if retried
  bool txn_requires_abort = false;  // abort_transaction() and start over
  bool fatal = false;               // the client is unusable; create a new one
};

// A partition offset. Special values follow librdkafka.
struct KafkaOffset {
  int64_t value = -1001;
  static constexpr KafkaOffset beginning() { return {-2}; }
  static constexpr KafkaOffset end() { return {-1}; }
  static constexpr KafkaOffset stored() { return {-1000}; }
  static constexpr KafkaOffset invalid() { return {-1001}; }
  bool is_logical() const { return value < 0; }
  auto operator<=>(const KafkaOffset&) const = default;
};

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;
  auto operator<=>(const TopicPartition&) const = default;
};

struct TopicPartitionOffset {
  TopicPartition tp;
  KafkaOffset offset;
  std::optional<Error> error;  // per-partition result where a call reports one
};

struct Header {
  std::string key;
  std::optional<std::string> value;
};

struct ProducerRecord {
  std::string topic;
  std::optional<int32_t> partition;  // unset: the configured partitioner decides
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<Header> headers;
  std::optional<int64_t> timestamp_ms;  // unset: the client's clock (Runtime::now)
  uint64_t opaque = 0;                  // returned in the delivery report
};

// Like rd_kafka_message_status_t: whether a failed record may still be in the log.
enum class Persistence { not_persisted, possibly_persisted, persisted };

struct DeliveryReport {
  TopicPartition tp;
  KafkaOffset offset;          // valid when !error
  int64_t timestamp_ms = 0;
  uint64_t opaque = 0;
  std::optional<Error> error;
  Persistence status = Persistence::not_persisted;
};

struct ConsumerRecord {
  TopicPartition tp;
  KafkaOffset offset;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<Header> headers;
  int64_t timestamp_ms = 0;
  int32_t leader_epoch = -1;
};

// What send_offsets_to_transaction needs to fence zombies by group generation.
struct GroupMetadata {
  std::string group_id;
  int32_t generation = -1;
  std::string member_id;
  std::optional<std::string> group_instance_id;
};

class Producer {
 public:
  virtual ~Producer() = default;
  // Enqueues a record; never waits for a broker. Errors: local_queue_full
  // (queue.buffering.max.messages reached: poll() and retry), unknown topic,
  // local_state (closed, or outside a transaction for a transactional producer),
  // local_fatal. Does not suspend.
  virtual Result<void, Error> produce(ProducerRecord r) = 0;
  // Returns the delivery reports that are ready, waiting up to timeout for at
  // least one. Suspends.
  virtual std::vector<DeliveryReport> poll(Duration timeout) = 0;
  // Waits until every produced record has its delivery report (served through
  // poll). local_timed_out if some are still outstanding. Suspends.
  virtual Result<void, Error> flush(Duration timeout) = 0;
  // Records produced but not yet reported.
  virtual size_t outstanding() const = 0;
  virtual Result<int32_t, Error> partition_count(const std::string& topic, Duration timeout) = 0;

  // Transactions (transactional.id set). Each suspends.
  virtual Result<void, Error> init_transactions(Duration timeout) = 0;
  virtual Result<void, Error> begin_transaction() = 0;
  virtual Result<void, Error> send_offsets_to_transaction(const std::vector<TopicPartitionOffset>& offsets,
                                                          const GroupMetadata& group, Duration timeout) = 0;
  virtual Result<void, Error> commit_transaction(Duration timeout) = 0;
  virtual Result<void, Error> abort_transaction(Duration timeout) = 0;
};

class Consumer;

// Called from inside Consumer::poll, on the polling task.
class RebalanceListener {
 public:
  virtual ~RebalanceListener() = default;
  virtual void on_assigned(Consumer& c, const std::vector<TopicPartition>& partitions) = 0;
  virtual void on_revoked(Consumer& c, const std::vector<TopicPartition>& partitions) = 0;
  // Partitions taken away without a clean revoke (session lost); by default the
  // same handling as a revoke.
  virtual void on_lost(Consumer& c, const std::vector<TopicPartition>& partitions) { on_revoked(c, partitions); }
};

class Consumer {
 public:
  virtual ~Consumer() = default;
  // Joins group.id for these topics; assignments arrive through the listener
  // during poll(). listener may be null (assignments are applied as given).
  virtual Result<void, Error> subscribe(const std::vector<std::string>& topics, RebalanceListener* listener) = 0;
  virtual Result<void, Error> unsubscribe() = 0;
  // Manual assignment (no group membership).
  virtual Result<void, Error> assign(const std::vector<TopicPartitionOffset>& partitions) = 0;
  virtual std::vector<TopicPartition> assignment() const = 0;
  // Up to max_records records, waiting up to timeout for the first. Suspends.
  virtual Result<std::vector<ConsumerRecord>, Error> poll(Duration timeout, size_t max_records) = 0;
  // Commits offsets (empty: the current positions). Generation-fenced for group
  // members (illegal_generation, unknown_member_id). Suspends.
  virtual Result<void, Error> commit_sync(const std::vector<TopicPartitionOffset>& offsets, Duration timeout) = 0;
  // Starts a commit and returns at once; its result is reported by a later poll.
  virtual Result<void, Error> commit_async(const std::vector<TopicPartitionOffset>& offsets) = 0;
  virtual Result<std::vector<TopicPartitionOffset>, Error> committed(const std::vector<TopicPartition>& partitions,
                                                                     Duration timeout) = 0;
  virtual Result<KafkaOffset, Error> position(const TopicPartition& tp) const = 0;
  virtual Result<void, Error> seek(const TopicPartition& tp, KafkaOffset offset, Duration timeout) = 0;
  virtual Result<void, Error> pause(const std::vector<TopicPartition>& partitions) = 0;
  virtual Result<void, Error> resume(const std::vector<TopicPartition>& partitions) = 0;
  virtual GroupMetadata group_metadata() const = 0;
  // Leaves the group (revoking through the listener) and stops. Suspends.
  virtual Result<void, Error> close(Duration timeout) = 0;
};

struct TopicSpec {
  std::string name;
  int32_t partitions = 1;
  int16_t replication = 1;
  std::map<std::string, std::string> config;  // e.g. min.insync.replicas, unclean.leader.election.enable
};

struct BrokerInfo {
  int32_t id = 0;
  std::string host;
  int32_t port = 0;
};

struct PartitionInfo {
  int32_t partition = 0;
  int32_t leader = -1;
  int32_t leader_epoch = -1;
  std::vector<int32_t> replicas;
  std::vector<int32_t> isr;
};

struct TopicInfo {
  std::string name;
  std::vector<PartitionInfo> partitions;
};

struct ClusterInfo {
  std::string cluster_id;
  int32_t controller = -1;
  std::vector<BrokerInfo> brokers;
};

enum class OffsetSpec { earliest, latest };

class Admin {
 public:
  virtual ~Admin() = default;
  // Per-topic results, in request order. Each call suspends.
  virtual Result<std::vector<std::optional<Error>>, Error> create_topics(const std::vector<TopicSpec>& topics,
                                                                         Duration timeout) = 0;
  virtual Result<std::vector<std::optional<Error>>, Error> delete_topics(const std::vector<std::string>& topics,
                                                                         Duration timeout) = 0;
  virtual Result<ClusterInfo, Error> describe_cluster(Duration timeout) = 0;
  virtual Result<std::vector<TopicInfo>, Error> describe_topics(const std::vector<std::string>& topics,
                                                                Duration timeout) = 0;
  virtual Result<std::vector<TopicPartitionOffset>, Error> list_offsets(const std::vector<TopicPartition>& partitions,
                                                                        OffsetSpec spec, bool read_committed,
                                                                        Duration timeout) = 0;
};

// The world clients are created in: simulated or live. Handed to the engine and
// workloads together with their Runtime.
class Kafka {
 public:
  virtual ~Kafka() = default;
  virtual Result<std::unique_ptr<Producer>, Error> producer(const Config& cfg) = 0;
  virtual Result<std::unique_ptr<Consumer>, Error> consumer(const Config& cfg) = 0;
  virtual Result<std::unique_ptr<Admin>, Error> admin(const Config& cfg) = 0;
};

}  // namespace streamsim::kafka
