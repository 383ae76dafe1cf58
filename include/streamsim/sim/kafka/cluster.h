// A simulated Kafka cluster: one controller node and N broker nodes in a
// sim::Simulation, speaking the protocol of protocol.h over the simulated network.
//
// Fidelity notes (docs/fidelity.md): a single KRaft-style controller whose
// failover is a crash and restart from its fsynced metadata (no controller
// quorum); no transactions or consumer groups yet; one in-flight produce request
// per partition per client.
#pragma once

#include <streamsim/sim/kafka/protocol.h>
#include <streamsim/sim/simulation.h>

#include <memory>
#include <string>
#include <vector>

namespace streamsim::sim::kafka {

struct ClusterConfig {
  int brokers = 3;
  Duration heartbeat_interval = Duration::millis(100);
  Duration broker_session_timeout = Duration::millis(1500);
  Duration replica_lag_time_max = Duration::millis(1000);
  Duration replica_fetch_max_wait = Duration::millis(50);
  Duration isr_check_interval = Duration::millis(100);
  uint64_t segment_bytes = 1 << 20;
  // Internal topics, created on first use (FindCoordinator). Kafka defaults to
  // 50 partitions each; a few keep simulations small while still spreading
  // coordinators over brokers. Replication is min(3, brokers), min ISR
  // min(2, replication), as Kafka's offsets.topic.replication.factor and
  // transaction.state.log.min.isr.
  int32_t offsets_topic_partitions = 3;
  int32_t transaction_topic_partitions = 3;
  std::vector<TopicState> topics;  // created when the controller first starts
};

class Cluster {
 public:
  // Adds the controller and broker nodes to sim and starts them.
  Cluster(Simulation& sim, ClusterConfig cfg);
  ~Cluster();

  const ClusterConfig& config() const { return *cfg_; }
  NodeId controller_node() const { return controller_; }
  const std::vector<NodeId>& broker_nodes() const { return brokers_; }
  NodeId broker_node(BrokerId id) const { return brokers_.at(static_cast<size_t>(id)); }
  // The broker nodes, for bootstrap.servers ("broker-0,broker-1,...").
  std::string bootstrap_servers() const;

 private:
  Simulation& sim_;
  // Shared with the node boot functions, which may outlive this object while a
  // simulation unwinds.
  std::shared_ptr<const ClusterConfig> cfg_;
  NodeId controller_ = 0;
  std::vector<NodeId> brokers_;
};

// Runs a controller process on rt (the boot function of the controller node).
void run_controller(SimRuntime& rt, const ClusterConfig& cfg, const std::vector<NodeId>& brokers);
// Runs broker `id` on rt (the boot function of a broker node).
void run_broker(SimRuntime& rt, BrokerId id, const ClusterConfig& cfg, NodeId controller,
                const std::vector<NodeId>& brokers);

}  // namespace streamsim::sim::kafka
