// AddPartitionsToTxn (broker side): the transaction coordinator registers
// partitions in the producer's transaction before the producer writes to them,
// so EndTxn knows where to write markers.
#include "broker.h"

namespace streamsim::sim::kafka {

std::shared_ptr<const Payload> Broker::handle_add_partitions_to_txn(const AddPartitionsToTxnReq& r) {
  auto resp = std::make_shared<AddPartitionsToTxnResp>();
  // Kafka answers per partition; one decision covers them all here, so every
  // partition gets the request's outcome.
  resp->error = r.partitions.empty()
                    ? Errc::no_error
                    : txns_->add_partitions(r.transactional_id, r.producer_id, r.producer_epoch, r.partitions);
  for (const TopicPartition& tp : r.partitions) resp->results.emplace_back(tp, resp->error);
  return resp;
}

}  // namespace streamsim::sim::kafka
