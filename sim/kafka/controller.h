// The controller process (internal to sim/kafka). Handlers live one per file:
// broker_heartbeat.cpp, alter_partition.cpp, create_topics.cpp.
#pragma once

#include <streamsim/sim/kafka/cluster.h>

#include <map>
#include <memory>

namespace streamsim::sim::kafka {

class Controller {
 public:
  Controller(SimRuntime& rt, const ClusterConfig& cfg, const std::vector<NodeId>& brokers);
  void main();

  // Handlers (one file each).
  std::shared_ptr<const Payload> handle_heartbeat(const BrokerHeartbeatReq& r);
  std::shared_ptr<const Payload> handle_alter_partition(const AlterPartitionReq& r);
  std::shared_ptr<const Payload> handle_create_topics(const CreateTopicsReq& r);

 private:
  friend class ControllerTest;
  void load();
  void persist();  // writes the image as one framed snapshot and fsyncs
  void changed();  // bump the image version, persist
  void check_liveness();
  void broker_down(BrokerId b);
  void broker_up(BrokerId b);
  void elect(PartitionState& p, const TopicState& t);
  bool live(BrokerId b) const;
  std::shared_ptr<const MetadataImage> snapshot();

  SimRuntime& rt_;
  const ClusterConfig& cfg_;
  std::vector<NodeId> brokers_;
  MetadataImage image_;
  std::shared_ptr<const MetadataImage> snapshot_;
  struct Liveness {
    Instant last_heartbeat;
    uint64_t incarnation = 0;
    bool fenced = true;
  };
  std::map<BrokerId, Liveness> liveness_;
  bool name_durable_ = false;
};

std::string encode_image(const MetadataImage& m);
bool decode_image(std::string_view text, MetadataImage* out);

}  // namespace streamsim::sim::kafka
