// EndTxn (broker side): the transaction coordinator decides commit or abort
// (PrepareCommit / PrepareAbort, replicated before it answers) and then writes
// the markers in the background.
#include "broker.h"

namespace streamsim::sim::kafka {

std::shared_ptr<const Payload> Broker::handle_end_txn(const EndTxnReq& r) {
  auto resp = std::make_shared<EndTxnResp>();
  resp->error = txns_->end_txn(r);
  // BUGGIFY: the decision is durable but the answer is NOT_COORDINATOR (the
  // coordinator moved just after writing it, or the response was lost and the
  // retry reached the new one). The client retries EndTxn, which must find the
  // same decision (a retry after success), never abort a committed transaction.
  if (resp->error == Errc::no_error && rt_.buggify("kafka.end_txn.retriable_after_commit")) {
    resp->error = Errc::not_coordinator;
  }
  return resp;
}

}  // namespace streamsim::sim::kafka
