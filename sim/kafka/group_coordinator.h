// The group coordinator hosted by a broker (internal to sim/kafka): consumer
// group membership and committed offsets for the groups whose
// __consumer_offsets partition this broker leads. Its state is written to that
// partition and rebuilt from it when the broker becomes the partition's leader.
#pragma once

#include <streamsim/sim/kafka/protocol.h>

namespace streamsim::sim::kafka {

class Broker;

class GroupCoordinator {
 public:
  explicit GroupCoordinator(Broker& broker);
  ~GroupCoordinator();

  // Called by the WriteTxnMarkers handler after the marker of producer_id's
  // transaction is in the log of `offsets_partition` (a __consumer_offsets
  // partition): a commit makes that producer's pending transactional offset
  // commits the group's committed offsets, an abort drops them. May suspend.
  void on_txn_marker(const TopicPartition& offsets_partition, int64_t producer_id, bool commit);

 private:
  Broker& broker_;
};

}  // namespace streamsim::sim::kafka
