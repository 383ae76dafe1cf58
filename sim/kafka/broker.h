// The broker process (internal to sim/kafka). Handlers live one per file:
// produce.cpp, fetch.cpp, metadata.cpp, init_producer_id.cpp, list_offsets.cpp,
// find_coordinator.cpp, and the group and transaction APIs (see their sections).
#pragma once

#include <streamsim/core/sync.h>
#include "group_coordinator.h"
#include "txn_coordinator.h"
#include <streamsim/sim/kafka/cluster.h>
#include <streamsim/sim/kafka/replica.h>

#include <map>
#include <memory>

namespace streamsim::sim::kafka {

// One partition hosted by this broker. Owned by Broker; destroyed with the
// process on a crash (the log's durable part stays on disk).
struct PartitionHost {
  PartitionHost(Storage& s, LogConfig lc, BrokerId self, PartitionConfig pc, TopicState t)
      : log(s, std::move(lc)), replica(self, log, pc), topic(std::move(t)) {}
  PartitionLog log;
  Replica replica;
  TopicState topic;
  CondVar changed;          // new data appended or high watermark moved
  Mutex write;              // serialises log mutations (appends, truncation, flush) across tasks
  bool fetcher_running = false;
  int64_t appended_since_flush = 0;
};

class Broker {
 public:
  Broker(SimRuntime& rt, BrokerId id, const ClusterConfig& cfg, const std::vector<NodeId>& controllers,
         const std::vector<NodeId>& brokers);
  void main();

  // Handlers (one file each). Each may suspend.
  std::shared_ptr<const Payload> handle_produce(const ProduceReq& r);
  std::shared_ptr<const Payload> handle_fetch(const FetchReq& r);
  std::shared_ptr<const Payload> handle_metadata(const MetadataReq& r);
  std::shared_ptr<const Payload> handle_init_producer_id(const InitProducerIdReq& r);
  std::shared_ptr<const Payload> handle_list_offsets(const ListOffsetsReq& r);
  std::shared_ptr<const Payload> handle_find_coordinator(const FindCoordinatorReq& r);
  // --- group API handlers ---
  // Served by the group coordinator (groups()); each may suspend.
  std::shared_ptr<const Payload> handle_join_group(const JoinGroupReq& r);
  std::shared_ptr<const Payload> handle_sync_group(const SyncGroupReq& r);
  std::shared_ptr<const Payload> handle_heartbeat(const HeartbeatReq& r);
  std::shared_ptr<const Payload> handle_leave_group(const LeaveGroupReq& r);
  std::shared_ptr<const Payload> handle_offset_commit(const OffsetCommitReq& r);
  std::shared_ptr<const Payload> handle_offset_fetch(const OffsetFetchReq& r);
  std::shared_ptr<const Payload> handle_txn_offset_commit(const TxnOffsetCommitReq& r);
  // --- end group API handlers ---
  // --- transaction API handlers ---
  // Client to transaction coordinator (txn_coordinator.*), and coordinator to
  // partition leader (write_txn_markers.cpp). Each suspends.
  std::shared_ptr<const Payload> handle_add_partitions_to_txn(const AddPartitionsToTxnReq& r);
  std::shared_ptr<const Payload> handle_add_offsets_to_txn(const AddOffsetsToTxnReq& r);
  std::shared_ptr<const Payload> handle_end_txn(const EndTxnReq& r);
  std::shared_ptr<const Payload> handle_write_txn_markers(const WriteTxnMarkersReq& r);
  // A producer id unique in the cluster: broker id, process incarnation and a
  // counter (init_producer_id.cpp). Does not suspend.
  int64_t allocate_producer_id();
  // --- end transaction API handlers ---

  // Appends a batch as the partition leader and, for acks=-1, waits until the
  // high watermark passes it (Kafka's DelayedProduce): not_leader_or_follower
  // if leadership moves, not_enough_replicas_after_append if the ISR shrinks
  // below min.insync.replicas, request_timed_out at the deadline. Used by
  // Produce and by the coordinators writing their internal topics. Suspends.
  ProducePartitionResult append_and_wait(const TopicPartition& tp, const Batch& batch, int16_t acks,
                                         Duration timeout);
  // The partition this broker hosts, or null.
  PartitionHost* host(const TopicPartition& tp);
  SimRuntime& runtime() { return rt_; }
  const ClusterConfig& config() const { return cfg_; }
  BrokerId id() const { return id_; }
  NodeId broker_node(BrokerId b) const { return brokers_.at(static_cast<size_t>(b)); }
  // The controller this broker last found active (controller_client.cpp).
  NodeId controller_node() const { return controllers_.at(active_controller_); }
  // Sends a controller request to the active controller, found as
  // call_active_controller (controller_client.h) describes: the last known one,
  // then hints, then the others in turn; timed_out if none answered within
  // timeout. Suspends.
  Result<std::shared_ptr<const Payload>, NetErrc> call_controller(std::shared_ptr<const Payload> req,
                                                                  Duration timeout);
  // True if m is newer than this broker's image by (controller epoch, version):
  // an image from a controller that has since been replaced is ignored.
  bool newer_image(const MetadataImage& m) const;
  const MetadataImage* image() const { return image_.get(); }
  GroupCoordinator& groups() { return *groups_; }
  TxnCoordinator& txns() { return *txns_; }

 private:
  void heartbeat_loop();
  void apply_image(std::shared_ptr<const MetadataImage> image);
  PartitionHost& ensure_host(const PartitionState& p, const TopicState& t);
  void follower_loop(TopicPartition tp);
  void isr_loop();
  void flush_if_configured(PartitionHost& h, int64_t records);

  SimRuntime& rt_;
  BrokerId id_;
  const ClusterConfig& cfg_;
  std::vector<NodeId> controllers_;  // the controller quorum, by index
  size_t active_controller_ = 0;     // index of the last controller found active
  std::vector<NodeId> brokers_;
  std::shared_ptr<const MetadataImage> image_;
  std::map<TopicPartition, std::unique_ptr<PartitionHost>> hosts_;
  uint64_t next_producer_ = 0;
  size_t handlers_ = 0;
  bool creating_internal_topic_ = false;
  // Declared last: destroyed first, while the partitions they use still exist.
  // --- coordinator members ---
  std::unique_ptr<GroupCoordinator> groups_;
  std::unique_ptr<TxnCoordinator> txns_;
  // --- end coordinator members ---
};

}  // namespace streamsim::sim::kafka
