// A simulated Kafka cluster: a quorum of controller nodes ("controller-0" ..)
// and N broker nodes ("broker-0" ..) in a sim::Simulation, speaking the protocol
// of protocol.h over the simulated network.
//
// Fidelity notes (docs/fidelity.md): a KRaft-style controller quorum (Raft
// election with persisted votes, the metadata image replicated to a majority as
// a whole snapshot rather than as a record log; see sim/kafka/controller.h);
// the active controller fails over to another voter when it crashes or is cut
// off from the quorum; transactions (KIP-98: coordinator, markers, last stable
// offset; sim/kafka/txn_coordinator.h); consumer groups with the classic (eager)
// rebalance protocol; one in-flight produce request per partition per client.
#pragma once

#include <streamsim/sim/kafka/protocol.h>
#include <streamsim/sim/simulation.h>

#include <memory>
#include <string>
#include <vector>

namespace streamsim::sim::kafka {

struct ClusterConfig {
  int brokers = 3;
  // Controller quorum voters (1 to 9). A majority must be up and connected for
  // metadata to change; 1 gives the old single controller that fails over only
  // by restarting.
  int controllers = 3;
  // Raft's election timeout: a voter that hears no leader for a random time in
  // [timeout, 2 * timeout) starts an election, and an active controller that has
  // not heard from a majority for this long resigns (KRaft's check-quorum).
  Duration controller_election_timeout = Duration::millis(300);
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
  // Group coordinator: Kafka's group.initial.rebalance.delay.ms (3 s by
  // default; short here so simulations stay short) and the session timeouts a
  // JoinGroup may ask for (group.min/max.session.timeout.ms, Kafka's defaults).
  Duration group_initial_rebalance_delay = Duration::millis(300);
  Duration group_min_session_timeout = Duration::millis(6000);
  Duration group_max_session_timeout = Duration::seconds(1800);
  std::vector<TopicState> topics;  // created when the controller first starts
};

class Cluster {
 public:
  // Adds the controller and broker nodes to sim and starts them.
  Cluster(Simulation& sim, ClusterConfig cfg);
  ~Cluster();

  const ClusterConfig& config() const { return *cfg_; }
  // The controller quorum's nodes, by controller index ("controller-<index>").
  const std::vector<NodeId>& controller_nodes() const { return controllers_; }
  NodeId controller_node(int index) const { return controllers_.at(static_cast<size_t>(index)); }
  const std::vector<NodeId>& broker_nodes() const { return brokers_; }
  NodeId broker_node(BrokerId id) const { return brokers_.at(static_cast<size_t>(id)); }
  // The broker nodes, for bootstrap.servers ("broker-0,broker-1,...").
  std::string bootstrap_servers() const;

 private:
  Simulation& sim_;
  // Shared with the node boot functions, which may outlive this object while a
  // simulation unwinds.
  std::shared_ptr<const ClusterConfig> cfg_;
  std::vector<NodeId> controllers_;
  std::vector<NodeId> brokers_;
};

// --- Operator tools (what kafka-metadata-quorum.sh and
// kafka-leader-election.sh do), for the nemesis. They go over the network from
// the calling node to the controller quorum, so faults can make them fail.

// The active controller and the committed metadata image it serves.
struct ControllerView {
  int active = -1;  // index into the controllers (node "controller-<active>")
  std::shared_ptr<const MetadataImage> image;
};
// Asks the quorum which controller is active and for its committed image.
// request_timed_out when none answered within timeout. Precondition: called
// from a task of rt; controllers is not empty. Suspends.
Result<ControllerView, Errc> describe_controller(SimRuntime& rt, const std::vector<NodeId>& controllers,
                                                 Duration timeout);
// Moves tp's leadership to `preferred`, a live in-sync replica, through the
// active controller (ElectLeaders), and returns the committed partition state.
// leader_not_available when `preferred` is not eligible. Same preconditions;
// suspends.
Result<PartitionState, Errc> elect_leader(SimRuntime& rt, const std::vector<NodeId>& controllers,
                                          const TopicPartition& tp, BrokerId preferred, Duration timeout);

// Runs controller `index` of the quorum on rt (the boot function of a
// controller node).
void run_controller(SimRuntime& rt, int index, const ClusterConfig& cfg, const std::vector<NodeId>& controllers,
                    const std::vector<NodeId>& brokers);
// Runs broker `id` on rt (the boot function of a broker node).
void run_broker(SimRuntime& rt, BrokerId id, const ClusterConfig& cfg, const std::vector<NodeId>& controllers,
                const std::vector<NodeId>& brokers);

}  // namespace streamsim::sim::kafka
