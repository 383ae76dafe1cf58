// WriteTxnMarkers (partition leader side): appends a COMMIT or ABORT control
// batch for the producer to each partition, acks=all (the coordinator completes
// the transaction only once every marker is replicated). On a __consumer_offsets
// partition the group coordinator then applies or drops the producer's pending
// transactional offset commits.
#include "broker.h"

#include <streamsim/core/assert.h>

namespace streamsim::sim::kafka {

std::shared_ptr<const Payload> Broker::handle_write_txn_markers(const WriteTxnMarkersReq& r) {
  auto resp = std::make_shared<WriteTxnMarkersResp>();
  for (const TxnMarker& m : r.markers) {
    SS_ASSERT(m.producer_id >= 0 && m.producer_epoch >= 0, "a marker without producer id or epoch");
    std::vector<std::pair<TopicPartition, Errc>> results;
    for (const TopicPartition& tp : m.partitions) {
      Batch b = make_marker(m.producer_id, m.producer_epoch, m.coordinator_epoch, m.committed,
                            rt_.now().ns() / 1'000'000);
      ProducePartitionResult res = append_and_wait(tp, b, -1, r.timeout);
      if (res.error == Errc::no_error) {
        rt_.trace("kafka/txn_marker", static_cast<uint64_t>(m.producer_id),
                  (static_cast<uint64_t>(res.base_offset) << 1) | (m.committed ? 1 : 0));
        if (tp.topic == kOffsetsTopic) groups().on_txn_marker(tp, m.producer_id, m.committed);
      }
      results.emplace_back(tp, res.error);
    }
    resp->results.push_back(std::move(results));
  }
  return resp;
}

}  // namespace streamsim::sim::kafka
