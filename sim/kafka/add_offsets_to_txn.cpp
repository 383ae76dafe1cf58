// AddOffsetsToTxn (broker side): adds the group's __consumer_offsets partition
// to the transaction, so the COMMIT or ABORT marker reaches it and the group
// coordinator there makes the TxnOffsetCommit's offsets visible (or drops them).
#include "broker.h"

#include <streamsim/core/assert.h>

namespace streamsim::sim::kafka {

std::shared_ptr<const Payload> Broker::handle_add_offsets_to_txn(const AddOffsetsToTxnReq& r) {
  auto resp = std::make_shared<AddOffsetsToTxnResp>();
  if (r.group_id.empty()) {
    resp->error = Errc::invalid_txn_state;  // Kafka rejects an empty group id before this point
    return resp;
  }
  if (!image_ || !image_->topics.count(kOffsetsTopic)) {
    // __consumer_offsets does not exist yet: create it as FindCoordinator does,
    // and let the client retry (coordinator_not_available is retriable).
    FindCoordinatorReq fc;
    fc.type = CoordinatorType::group;
    fc.key = r.group_id;
    (void)handle_find_coordinator(fc);
    resp->error = Errc::coordinator_not_available;
    return resp;
  }
  const int32_t partitions = image_->topics.at(kOffsetsTopic).partitions;
  const TopicPartition tp{kOffsetsTopic, coordinator_partition(r.group_id, partitions)};
  SS_ASSERT(image_->partitions.count(tp), "offsets topic without its partition in the image");
  resp->error = txns_->add_partitions(r.transactional_id, r.producer_id, r.producer_epoch, {tp});
  return resp;
}

}  // namespace streamsim::sim::kafka
