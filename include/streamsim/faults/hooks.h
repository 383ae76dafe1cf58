// What the nemesis needs from the system under test beyond its list of nodes:
// where the Kafka cluster is (to ask it which controller is active and which
// broker leads what), which coordinators an engine instance depends on, and how
// to start and stop engine instances (ENGINE_SCALE). The workload implements
// it (scenarios::Workload derives from it); every hook has a neutral default,
// and a fault kind whose hooks say "nothing there" is skipped and logged.
//
// Hooks are called from the nemesis's tasks and, at the heal, from the main
// context; none of them suspends.
#pragma once

#include <streamsim/core/time.h>

#include <cstdint>
#include <string>
#include <vector>

namespace streamsim::sim {
using NodeId = uint32_t;
}

namespace streamsim::faults {

class SystemHooks {
 public:
  virtual ~SystemHooks() = default;

  // The Kafka cluster: its controller quorum's nodes by controller index and its
  // brokers' nodes by broker id. Empty without a cluster.
  virtual std::vector<sim::NodeId> kafka_controllers() const { return {}; }
  virtual std::vector<sim::NodeId> kafka_brokers() const { return {}; }
  // The data topics whose partitions ISOLATE_LEADER and LEADER_MOVE choose
  // from (LEADER_MOVE also moves the internal topics' leaders, i.e. coordinators).
  virtual std::vector<std::string> leader_topics() const { return {}; }

  // Engine instances. The consumer group they share, and the transactional ids
  // the instance on `engine` uses now (every id it may use when it owns nothing
  // yet): ISOLATE_ENGINE cuts the instance off from their coordinators.
  virtual std::string engine_group_id() const { return {}; }
  virtual std::vector<std::string> engine_transactional_ids(sim::NodeId engine) const {
    (void)engine;
    return {};
  }
  // The instances' consumer group session timeout: ZOMBIE_ENGINE pauses an
  // instance for longer, so that the group evicts it while it is stopped.
  virtual Duration engine_session_timeout() const { return Duration::zero(); }
  // Engine nodes that run no instance until ENGINE_SCALE scales out.
  virtual std::vector<sim::NodeId> spare_engines() const { return {}; }
  // True while the node is meant to run an engine instance (started and not
  // scaled in), whether or not its process is up right now.
  virtual bool engine_active(sim::NodeId engine) const {
    (void)engine;
    return false;
  }
  // Scale out: an instance starts on an idle engine node and joins the group.
  // Scale in: the node's instance leaves cleanly at its next batch boundary (it
  // commits or aborts the open batch, then leaves the group) and the node idles.
  // Both take effect asynchronously, survive a crash of the node (a restarted
  // node keeps its role), and return false when there is nothing to do.
  virtual bool scale_out(sim::NodeId engine) {
    (void)engine;
    return false;
  }
  virtual bool scale_in(sim::NodeId engine) {
    (void)engine;
    return false;
  }
};

}  // namespace streamsim::faults
