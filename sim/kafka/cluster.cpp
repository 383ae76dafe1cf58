#include <streamsim/sim/kafka/cluster.h>

#include <streamsim/core/assert.h>

namespace streamsim::sim::kafka {

Cluster::Cluster(Simulation& sim, ClusterConfig cfg)
    : sim_(sim), cfg_(std::make_shared<const ClusterConfig>(std::move(cfg))) {
  SS_ASSERT(cfg_->brokers >= 1 && cfg_->brokers <= 64, "broker count out of range");
  // Node ids are assigned in add order: the controller, then the brokers.
  controller_ = static_cast<NodeId>(sim.node_count());
  for (int b = 0; b < cfg_->brokers; ++b) brokers_.push_back(controller_ + 1 + static_cast<NodeId>(b));
  auto& c = sim.add_node("controller", [cfg = cfg_, brokers = brokers_](SimRuntime& rt) { run_controller(rt, *cfg, brokers); });
  SS_ASSERT(c.id() == controller_, "controller node id differs from the plan");
  for (int b = 0; b < cfg_->brokers; ++b) {
    auto& n = sim.add_node("broker-" + std::to_string(b),
                           [cfg = cfg_, b, controller = controller_, brokers = brokers_](SimRuntime& rt) {
                             run_broker(rt, b, *cfg, controller, brokers);
                           });
    SS_ASSERT(n.id() == brokers_[static_cast<size_t>(b)], "broker node id differs from the plan");
  }
}

Cluster::~Cluster() = default;

std::string Cluster::bootstrap_servers() const {
  std::string s;
  for (int b = 0; b < cfg_->brokers; ++b) s += (b ? "," : "") + std::string("broker-") + std::to_string(b);
  return s;
}

}  // namespace streamsim::sim::kafka
