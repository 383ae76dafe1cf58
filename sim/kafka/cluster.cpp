#include <streamsim/sim/kafka/cluster.h>

#include <streamsim/core/assert.h>

namespace streamsim::sim::kafka {

Cluster::Cluster(Simulation& sim, ClusterConfig cfg)
    : sim_(sim), cfg_(std::make_shared<const ClusterConfig>(std::move(cfg))) {
  SS_ASSERT(cfg_->brokers >= 1 && cfg_->brokers <= 64, "broker count out of range");
  SS_ASSERT(cfg_->controllers >= 1 && cfg_->controllers <= 9, "controller count out of range");
  // Node ids are assigned in add order: the controllers, then the brokers.
  const NodeId first = static_cast<NodeId>(sim.node_count());
  for (int c = 0; c < cfg_->controllers; ++c) controllers_.push_back(first + static_cast<NodeId>(c));
  for (int b = 0; b < cfg_->brokers; ++b) {
    brokers_.push_back(first + static_cast<NodeId>(cfg_->controllers) + static_cast<NodeId>(b));
  }
  for (int c = 0; c < cfg_->controllers; ++c) {
    auto& n = sim.add_node("controller-" + std::to_string(c),
                           [cfg = cfg_, c, controllers = controllers_, brokers = brokers_](SimRuntime& rt) {
                             run_controller(rt, c, *cfg, controllers, brokers);
                           });
    SS_ASSERT(n.id() == controllers_[static_cast<size_t>(c)], "controller node id differs from the plan");
  }
  for (int b = 0; b < cfg_->brokers; ++b) {
    auto& n = sim.add_node("broker-" + std::to_string(b),
                           [cfg = cfg_, b, controllers = controllers_, brokers = brokers_](SimRuntime& rt) {
                             run_broker(rt, b, *cfg, controllers, brokers);
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
