// The transaction coordinator hosted by a broker (internal to sim/kafka): the
// state of the transactional.ids whose __transaction_state partition this
// broker leads. Its state is written to that partition and rebuilt from it when
// the broker becomes the partition's leader.
#pragma once

#include <streamsim/sim/kafka/protocol.h>

namespace streamsim::sim::kafka {

class Broker;

class TxnCoordinator {
 public:
  explicit TxnCoordinator(Broker& broker);
  ~TxnCoordinator();

 private:
  Broker& broker_;
};

}  // namespace streamsim::sim::kafka
