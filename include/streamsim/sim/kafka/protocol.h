// Messages of the simulated Kafka protocol. They carry the fields of the real
// Kafka APIs that change behaviour under faults; they travel as typed payloads
// over the simulated network (no encoding), one request/response pair per API.
//
// Controller <-> broker follows KRaft's shape: a quorum of controllers elects an
// active controller (sim/kafka/controller.h), brokers heartbeat to it and receive
// the partition states they host in the heartbeat response (the committed
// metadata image), leaders ask it to change an ISR (AlterPartition). The quorum
// is the source of truth for leaders, leader epochs and ISRs; a controller that
// is not the active one answers not_controller with a hint.
#pragma once

#include <streamsim/kafka.h>
#include <streamsim/sim/kafka/log.h>
#include <streamsim/sim/network.h>

#include <map>
#include <string>
#include <vector>

namespace streamsim::sim::kafka {

using BrokerId = int32_t;
using streamsim::kafka::Errc;
using streamsim::kafka::TopicPartition;

constexpr uint32_t kBrokerPort = 9092;      // client and inter-broker requests
constexpr uint32_t kControllerPort = 9093;  // broker heartbeats, AlterPartition, CreateTopics

struct PartitionState {
  TopicPartition tp;
  BrokerId leader = -1;  // -1: offline
  int32_t leader_epoch = 0;
  int32_t partition_epoch = 0;  // bumps on every change (leader or ISR)
  std::vector<BrokerId> replicas;
  std::vector<BrokerId> isr;
};

struct TopicState {
  std::string name;
  int32_t partitions = 1;
  int16_t replication = 1;
  int32_t min_insync_replicas = 1;
  bool unclean_leader_election = false;
  int64_t flush_messages = 0;  // 0: never fsync per append (Kafka's default)
};

struct MetadataImage {
  // (controller_epoch, version) orders committed images: the epoch is the
  // controller quorum's term in which this version was written, and versions
  // grow by one per change. Brokers ignore an image that is not newer than theirs.
  int64_t version = 0;
  int32_t controller_epoch = 0;
  std::map<std::string, TopicState> topics;
  std::map<TopicPartition, PartitionState> partitions;
  std::vector<BrokerId> live_brokers;
  // The process incarnation each broker last registered with (KRaft's broker
  // epoch). A heartbeat with a different one is a restart: the controller fences
  // the old incarnation first (leaders move, the ISR shrinks), so a broker that
  // lost unflushed data never resumes leadership from stale metadata.
  std::map<BrokerId, uint64_t> broker_epochs;
};

// --- Controller API ---
// Every controller response carries an error: not_controller from a controller
// that is not the active one, with the index of the controller it believes
// active (leader_hint, -1 if unknown) so callers can go there directly.
struct ControllerResp : Payload {
  Errc error = Errc::no_error;
  int32_t leader_hint = -1;
};
struct BrokerHeartbeatReq final : Payload {
  BrokerId broker = 0;
  uint64_t incarnation = 0;
  int64_t known_version = -1;
  const char* type_name() const override { return "BrokerHeartbeat"; }
};
struct BrokerHeartbeatResp final : ControllerResp {
  int32_t controller_epoch = 0;
  std::shared_ptr<const MetadataImage> image;  // null if known_version is current
  const char* type_name() const override { return "BrokerHeartbeatResponse"; }
};
struct AlterPartitionReq final : Payload {
  BrokerId leader = 0;
  TopicPartition tp;
  int32_t leader_epoch = 0;
  int32_t partition_epoch = 0;
  std::vector<BrokerId> new_isr;
  const char* type_name() const override { return "AlterPartition"; }
};
struct AlterPartitionResp final : ControllerResp {
  PartitionState state;
  const char* type_name() const override { return "AlterPartitionResponse"; }
};
struct CreateTopicsReq final : Payload {
  std::vector<TopicState> topics;
  const char* type_name() const override { return "CreateTopics"; }
};
struct CreateTopicsResp final : ControllerResp {
  std::vector<Errc> errors;
  const char* type_name() const override { return "CreateTopicsResponse"; }
};
struct ControllerMetadataReq final : Payload {
  const char* type_name() const override { return "ControllerMetadata"; }
};
struct ControllerMetadataResp final : ControllerResp {
  std::shared_ptr<const MetadataImage> image;
  const char* type_name() const override { return "ControllerMetadataResponse"; }
};
// ElectLeaders (admin; Kafka's kafka-leader-election.sh after a reassignment
// made `preferred` the preferred replica): moves tp's leadership to
// `preferred`, which must be a live member of the ISR. The leader epoch and
// partition epoch bump, so the old leader steps down and fetchers see the new
// epoch. Answered once the change has committed, with the partition's state;
// leader_not_available when `preferred` is not eligible, no_error without a
// change when it already leads.
struct ElectLeadersReq final : Payload {
  TopicPartition tp;
  BrokerId preferred = -1;
  const char* type_name() const override { return "ElectLeaders"; }
};
struct ElectLeadersResp final : ControllerResp {
  PartitionState state;
  const char* type_name() const override { return "ElectLeadersResponse"; }
};

// --- Broker API ---
struct MetadataReq final : Payload {
  const char* type_name() const override { return "Metadata"; }
};
struct MetadataResp final : Payload {
  std::shared_ptr<const MetadataImage> image;
  const char* type_name() const override { return "MetadataResponse"; }
};

struct ProducePartition {
  TopicPartition tp;
  std::shared_ptr<const Batch> batch;  // the client's batch, shared across its retries
};
struct ProduceReq final : Payload {
  int16_t acks = -1;
  Duration timeout = Duration::seconds(30);
  std::vector<ProducePartition> partitions;
  const char* type_name() const override { return "Produce"; }
};
struct ProducePartitionResult {
  TopicPartition tp;
  Errc error = Errc::no_error;
  int64_t base_offset = -1;
};
struct ProduceResp final : Payload {
  std::vector<ProducePartitionResult> results;
  const char* type_name() const override { return "ProduceResponse"; }
};

struct FetchPartition {
  TopicPartition tp;
  int64_t fetch_offset = 0;
  int32_t current_leader_epoch = -1;
  int32_t last_fetched_epoch = -1;
};
struct FetchReq final : Payload {
  BrokerId replica = -1;  // -1: a consumer
  Duration max_wait = Duration::millis(100);
  bool read_committed = true;
  std::vector<FetchPartition> partitions;
  const char* type_name() const override { return "Fetch"; }
};
// An aborted transaction overlapping a fetch's range: a read_committed
// consumer drops this producer's data batches from first_offset up to its ABORT
// marker (KIP-98's aborted-transactions index).
struct AbortedTxn {
  int64_t producer_id = -1;
  int64_t first_offset = 0;
};

struct FetchPartitionResult {
  TopicPartition tp;
  Errc error = Errc::no_error;
  int32_t leader_epoch = -1;
  int64_t high_watermark = 0;
  // read_committed fetches return data only below the last stable offset, and
  // the aborted transactions among it.
  int64_t last_stable_offset = -1;
  std::vector<AbortedTxn> aborted;
  std::optional<int64_t> truncate_to;
  int32_t diverging_epoch = -1;
  std::vector<BatchPtr> batches;  // shared with the leader's log
};
struct FetchResp final : Payload {
  std::vector<FetchPartitionResult> results;
  const char* type_name() const override { return "FetchResponse"; }
};

struct ListOffsetsReq final : Payload {
  std::vector<TopicPartition> partitions;
  bool latest = true;
  // With latest: the last stable offset instead of the high watermark (what a
  // read_committed consumer can read up to).
  bool read_committed = false;
  const char* type_name() const override { return "ListOffsets"; }
};
struct ListOffsetsResp final : Payload {
  std::vector<std::pair<Errc, int64_t>> results;
  const char* type_name() const override { return "ListOffsetsResponse"; }
};

// Without transactional_id: any broker hands out a fresh idempotent producer id.
// With it: the transaction coordinator of that id (see FindCoordinator) bumps
// the epoch, fencing older producers with the same id, and aborts or completes
// their open transaction first.
struct InitProducerIdReq final : Payload {
  std::optional<std::string> transactional_id;
  Duration transaction_timeout = Duration::seconds(60);
  // KIP-360: a producer that knows its current id and epoch sends them, so the
  // coordinator can tell a retry from a zombie; -1 when unknown.
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  const char* type_name() const override { return "InitProducerId"; }
};
struct InitProducerIdResp final : Payload {
  Errc error = Errc::no_error;
  int64_t producer_id = -1;
  int16_t producer_epoch = 0;
  const char* type_name() const override { return "InitProducerIdResponse"; }
};

// --- Coordinators ---
// The group coordinator of a group id is the leader of partition
// java_hash(group id) % partitions of __consumer_offsets; the transaction
// coordinator of a transactional.id the leader of its partition of
// __transaction_state (Kafka's placement). A broker asked for a coordinator
// whose internal topic does not exist yet asks the controller to create it and
// answers coordinator_not_available meanwhile (Kafka auto-creates it the same way).
enum class CoordinatorType : int8_t { group = 0, transaction = 1 };
constexpr const char* kOffsetsTopic = "__consumer_offsets";
constexpr const char* kTransactionTopic = "__transaction_state";

struct FindCoordinatorReq final : Payload {
  CoordinatorType type = CoordinatorType::group;
  std::string key;
  const char* type_name() const override { return "FindCoordinator"; }
};
struct FindCoordinatorResp final : Payload {
  Errc error = Errc::no_error;
  BrokerId coordinator = -1;
  const char* type_name() const override { return "FindCoordinatorResponse"; }
};

// Java's String.hashCode over the UTF-8 bytes as Kafka sees them for ASCII ids
// (Utils.abs(hashCode) % partitions picks the coordinator partition).
int32_t java_string_hash(std::string_view s);
int32_t coordinator_partition(std::string_view key, int32_t partitions);

}  // namespace streamsim::sim::kafka

// The group and transaction APIs, one header each.
#include <streamsim/sim/kafka/protocol_group.h>
#include <streamsim/sim/kafka/protocol_txn.h>
