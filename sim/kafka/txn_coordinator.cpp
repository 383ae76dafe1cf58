#include "txn_coordinator.h"

#include "broker.h"

namespace streamsim::sim::kafka {

TxnCoordinator::TxnCoordinator(Broker& broker) : broker_(broker) {}
TxnCoordinator::~TxnCoordinator() = default;

}  // namespace streamsim::sim::kafka
