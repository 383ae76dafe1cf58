// SyncGroup (group coordinator): the leader's assignment is stored, then every
// member's parked SyncGroup gets its own partitions (group_coordinator.h).
#include "broker.h"

#include <streamsim/core/assert.h>

#include <set>

namespace streamsim::sim::kafka {

std::shared_ptr<const Payload> Broker::handle_sync_group(const SyncGroupReq& r) { return groups_->sync_group(r); }

std::shared_ptr<const Payload> GroupCoordinator::sync_group(const SyncGroupReq& r) {
  SimRuntime& rt = broker_.runtime();
  auto resp = std::make_shared<SyncGroupResp>();
  auto fail = [&](Errc e) {
    resp->error = e;
    return resp;
  };
  auto c = check_coordinator(r.group_id);
  if (!c.ok()) return fail(c.error());
  const TopicPartition tp = *c;
  const int32_t epoch = loaded_epoch(tp);
  GroupPtr g = find(r.group_id);
  if (!g) return fail(Errc::unknown_member_id);
  if (g->state == GroupState::dead) return fail(Errc::coordinator_not_available);
  auto it = g->members.find(r.member_id);
  if (it == g->members.end()) return fail(Errc::unknown_member_id);
  if (r.generation != g->generation) return fail(Errc::illegal_generation);
  if ((!r.protocol_type.empty() && r.protocol_type != g->protocol_type) ||
      (!r.protocol_name.empty() && r.protocol_name != g->protocol_name))
    return fail(Errc::inconsistent_group_protocol);
  Member& m = it->second;
  switch (g->state) {
    case GroupState::empty:
    case GroupState::dead:
      return fail(Errc::unknown_member_id);
    case GroupState::preparing_rebalance:
      return fail(Errc::rebalance_in_progress);
    case GroupState::stable:
      m.last_heartbeat = rt.now();
      resp->protocol_type = g->protocol_type;
      resp->protocol_name = g->protocol_name;
      resp->assignment = m.assignment;
      return resp;
    case GroupState::completing_rebalance:
      break;
  }
  m.awaiting_sync = true;
  m.sync_ticket = ++next_ticket_;
  m.sync_result.reset();
  m.last_heartbeat = rt.now();
  const uint64_t ticket = m.sync_ticket;
  const std::string member_id = r.member_id;
  const int32_t generation = g->generation;

  if (r.member_id == g->leader) {
    for (auto& [id, om] : g->members) om.assignment.clear();
    std::set<TopicPartition> seen;
    for (const auto& a : r.assignments) {
      auto mit = g->members.find(a.member_id);
      if (mit == g->members.end()) continue;  // left meanwhile; Kafka ignores it too
      mit->second.assignment = a.partitions;
      for (const auto& p : a.partitions) {
        // The leader's assignor is client code: record a double assignment, do not trust it.
        if (!seen.insert(p).second) rt.trace("kafka/group_double_assignment", static_cast<uint64_t>(p.partition), 0);
      }
    }
    const Errc e = store_group(*g, tp);
    if (g->state == GroupState::completing_rebalance && g->generation == generation && still_loaded(tp, epoch)) {
      if (e == Errc::no_error) {
        g->state = GroupState::stable;
        g->sync_deadline = Instant::never();
        set_sync_results(*g, Errc::no_error);
        rt.trace("kafka/group_stable", static_cast<uint64_t>(g->generation), g->members.size());
      } else {
        for (auto& [id, om] : g->members) om.assignment.clear();
        set_sync_results(*g, e);
        prepare_rebalance(*g, "storing the assignment failed");
      }
    }
  }

  // Parked until the leader's assignment is stored (or the generation ends).
  const Instant deadline = rt.now() + m.rebalance_timeout + Duration::seconds(5);
  for (;;) {
    if (g->state == GroupState::dead) return fail(Errc::not_coordinator);
    auto mit = g->members.find(member_id);
    if (mit == g->members.end() || mit->second.sync_ticket != ticket) return fail(Errc::unknown_member_id);
    if (mit->second.sync_result) {
      auto out = mit->second.sync_result;
      mit->second.sync_result.reset();
      return out;
    }
    if (g->generation != generation) return fail(Errc::rebalance_in_progress);
    if (g->changed.wait_until(rt, deadline) == WakeReason::timed_out && !mit->second.sync_result) {
      return fail(Errc::rebalance_in_progress);
    }
  }
}

}  // namespace streamsim::sim::kafka
