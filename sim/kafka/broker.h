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
  Broker(SimRuntime& rt, BrokerId id, const ClusterConfig& cfg, NodeId controller, const std::vector<NodeId>& brokers);
  void main();

  // Handlers (one file each). Each may suspend.
  std::shared_ptr<const Payload> handle_produce(const ProduceReq& r);
  std::shared_ptr<const Payload> handle_fetch(const FetchReq& r);
  std::shared_ptr<const Payload> handle_metadata(const MetadataReq& r);
  std::shared_ptr<const Payload> handle_init_producer_id(const InitProducerIdReq& r);
  std::shared_ptr<const Payload> handle_list_offsets(const ListOffsetsReq& r);
  std::shared_ptr<const Payload> handle_find_coordinator(const FindCoordinatorReq& r);
  // --- group API handlers ---
  // --- end group API handlers ---
  // --- transaction API handlers ---
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
  NodeId controller_node() const { return controller_; }
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
  NodeId controller_;
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
