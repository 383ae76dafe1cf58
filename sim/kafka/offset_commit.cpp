// OffsetCommit (group coordinator): generation-fenced commits of group members,
// and "simple" commits (generation -1) while the group has no members.
#include "broker.h"

#include <streamsim/core/assert.h>

namespace streamsim::sim::kafka {

std::shared_ptr<const Payload> Broker::handle_offset_commit(const OffsetCommitReq& r) {
  return groups_->offset_commit(r);
}

std::shared_ptr<const Payload> GroupCoordinator::offset_commit(const OffsetCommitReq& r) {
  SimRuntime& rt = broker_.runtime();
  auto resp = std::make_shared<OffsetCommitResp>();
  auto all = [&](Errc e) {
    resp->results.clear();
    for (const auto& o : r.offsets) resp->results.emplace_back(o.tp, e);
    return resp;
  };
  if (r.offsets.empty()) return resp;
  auto c = check_coordinator(r.group_id);
  if (!c.ok()) return all(c.error());
  const TopicPartition tp = *c;
  const int32_t epoch = loaded_epoch(tp);
  GroupPtr g = find(r.group_id);
  if (!g) {
    // Only a consumer that does not use group management may create a group by committing.
    if (r.generation >= 0) return all(Errc::illegal_generation);
    g = get_or_create(r.group_id, tp.partition);
  }
  // Kafka's validation order (GroupCoordinator.handleCommitOffsets).
  if (g->state == GroupState::dead) return all(Errc::coordinator_not_available);
  if (g->pending_members.count(r.member_id)) return all(Errc::unknown_member_id);
  const bool simple = r.generation < 0 && g->state == GroupState::empty;
  if (!simple) {
    if (g->state == GroupState::completing_rebalance) return all(Errc::rebalance_in_progress);
    auto it = g->members.find(r.member_id);
    if (it == g->members.end()) return all(Errc::unknown_member_id);
    if (r.generation != g->generation) {
      rt.probe("kafka.commit_fenced_generation");
      return all(Errc::illegal_generation);
    }
    it->second.last_heartbeat = rt.now();
  }
  auto stored = store_offsets(*g, tp, r.offsets, -1, -1);
  if (!stored.ok()) return all(stored.error());
  // The records are replicated: the commit holds even if this broker stopped
  // coordinating meanwhile (a reload reads them). Memory follows only while
  // the same load is current; a later record of a partition wins.
  if (still_loaded(tp, epoch) && g->state != GroupState::dead) {
    for (size_t i = 0; i < r.offsets.size(); ++i) {
      const auto& o = r.offsets[i];
      const int64_t at = *stored + static_cast<int64_t>(i);
      auto cur = g->offsets.find(o.tp);
      if (cur == g->offsets.end() || cur->second.log_offset < at) {
        g->offsets[o.tp] = CommittedOffset{o.offset, o.leader_epoch, o.metadata, at};
      }
    }
  }
  rt.trace("kafka/group_commit", static_cast<uint64_t>(r.generation < 0 ? 0 : r.generation), r.offsets.size());
  return all(Errc::no_error);
}

}  // namespace streamsim::sim::kafka
