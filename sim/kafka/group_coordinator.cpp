#include "group_coordinator.h"

#include "broker.h"

namespace streamsim::sim::kafka {

GroupCoordinator::GroupCoordinator(Broker& broker) : broker_(broker) {}
GroupCoordinator::~GroupCoordinator() = default;

void GroupCoordinator::on_txn_marker(const TopicPartition&, int64_t, bool) {}

}  // namespace streamsim::sim::kafka
