// OffsetFetch (group coordinator): a group's committed offsets. With
// require_stable, a partition whose transactional commit is still pending
// answers unstable_offset_commit (the client retries) instead of an offset the
// pending transaction may be about to replace.
#include "broker.h"

namespace streamsim::sim::kafka {

std::shared_ptr<const Payload> Broker::handle_offset_fetch(const OffsetFetchReq& r) { return groups_->offset_fetch(r); }

std::shared_ptr<const Payload> GroupCoordinator::offset_fetch(const OffsetFetchReq& r) {
  auto resp = std::make_shared<OffsetFetchResp>();
  auto c = check_coordinator(r.group_id);
  if (!c.ok()) {
    resp->error = c.error();
    return resp;
  }
  GroupPtr g = find(r.group_id);
  auto pending = [&](const TopicPartition& tp) {
    if (!g) return false;
    for (const auto& [pid, offs] : g->pending_txn) {
      if (offs.count(tp)) return true;
    }
    return false;
  };
  auto answer = [&](const TopicPartition& tp) {
    OffsetFetchPartition p;
    p.tp = tp;
    if (r.require_stable && pending(tp)) {
      p.error = Errc::unstable_offset_commit;
    } else if (g) {
      auto it = g->offsets.find(tp);
      if (it != g->offsets.end()) {
        p.offset = it->second.offset;
        p.leader_epoch = it->second.leader_epoch;
        p.metadata = it->second.metadata;
      }
    }
    resp->partitions.push_back(std::move(p));
  };
  if (r.partitions.empty()) {
    // No partitions named: every committed offset of the group (Kafka's null list).
    if (g) {
      for (const auto& [tp, o] : g->offsets) answer(tp);
    }
  } else {
    for (const auto& tp : r.partitions) answer(tp);
  }
  return resp;
}

}  // namespace streamsim::sim::kafka
