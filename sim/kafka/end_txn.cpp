// EndTxn (broker side): the transaction coordinator decides commit or abort
// (PrepareCommit / PrepareAbort, replicated before it answers) and then writes
// the markers in the background.
#include "broker.h"

namespace streamsim::sim::kafka {

std::shared_ptr<const Payload> Broker::handle_end_txn(const EndTxnReq& r) {
  auto resp = std::make_shared<EndTxnResp>();
  resp->error = txns_->end_txn(r);
  return resp;
}

}  // namespace streamsim::sim::kafka
