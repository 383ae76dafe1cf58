// The broker process (internal to sim/kafka). Handlers live one per file:
// produce.cpp, fetch.cpp, metadata.cpp, init_producer_id.cpp, list_offsets.cpp.
#pragma once

#include <streamsim/core/sync.h>
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

 private:
  void heartbeat_loop();
  void apply_image(std::shared_ptr<const MetadataImage> image);
  PartitionHost* host(const TopicPartition& tp);
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
};

}  // namespace streamsim::sim::kafka
