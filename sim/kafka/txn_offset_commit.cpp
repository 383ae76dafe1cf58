// TxnOffsetCommit (group coordinator): offsets committed inside a transaction
// are appended as a transactional batch of the producer and held pending until
// the transaction's marker reaches this partition (on_txn_marker).
#include "broker.h"

namespace streamsim::sim::kafka {

std::shared_ptr<const Payload> Broker::handle_txn_offset_commit(const TxnOffsetCommitReq& r) {
  return groups_->txn_offset_commit(r);
}

std::shared_ptr<const Payload> GroupCoordinator::txn_offset_commit(const TxnOffsetCommitReq& r) {
  SimRuntime& rt = broker_.runtime();
  auto resp = std::make_shared<TxnOffsetCommitResp>();
  if (r.offsets.empty()) return resp;
  auto c = check_coordinator(r.group_id);
  if (!c.ok()) {
    resp->error = c.error();
    return resp;
  }
  const TopicPartition tp = *c;
  const int32_t epoch = loaded_epoch(tp);
  GroupPtr g = get_or_create(r.group_id, tp.partition);
  // Kafka's doTxnCommitOffsets: the member id and generation fence only when given (KIP-447).
  if (g->state == GroupState::dead) {
    resp->error = Errc::coordinator_not_available;
    return resp;
  }
  if (!r.member_id.empty() && !g->members.count(r.member_id)) {
    resp->error = Errc::unknown_member_id;
    return resp;
  }
  if (r.generation >= 0 && r.generation != g->generation) {
    rt.probe("kafka.commit_fenced_generation");
    resp->error = Errc::illegal_generation;
    return resp;
  }
  std::vector<OffsetCommitPartition> offs;
  for (const auto& [p, off] : r.offsets) offs.push_back(OffsetCommitPartition{p, off, -1, ""});
  auto stored = store_offsets(*g, tp, offs, r.producer_id, r.producer_epoch);
  if (!stored.ok()) {
    resp->error = stored.error();
    return resp;
  }
  if (still_loaded(tp, epoch) && g->state != GroupState::dead) {
    auto& pending = g->pending_txn[r.producer_id];
    for (size_t i = 0; i < offs.size(); ++i) {
      const int64_t at = *stored + static_cast<int64_t>(i);
      auto cur = pending.find(offs[i].tp);
      if (cur == pending.end() || cur->second.log_offset < at) {
        pending[offs[i].tp] = CommittedOffset{offs[i].offset, -1, "", at};
      }
    }
  }
  rt.trace("kafka/group_txn_offset_commit", static_cast<uint64_t>(r.producer_id), offs.size());
  return resp;
}

}  // namespace streamsim::sim::kafka
