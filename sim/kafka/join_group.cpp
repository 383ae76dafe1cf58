// JoinGroup (group coordinator): admits members and parks their requests until
// the join phase of the rebalance completes (group_coordinator.h).
#include "broker.h"

#include <streamsim/core/assert.h>

namespace streamsim::sim::kafka {

std::shared_ptr<const Payload> Broker::handle_join_group(const JoinGroupReq& r) { return groups_->join_group(r); }

std::shared_ptr<const Payload> GroupCoordinator::join_group(const JoinGroupReq& r) {
  SimRuntime& rt = broker_.runtime();
  auto resp = std::make_shared<JoinGroupResp>();
  resp->member_id = r.member_id;
  auto fail = [&](Errc e) {
    resp->error = e;
    return resp;
  };
  auto c = check_coordinator(r.group_id);
  if (!c.ok()) return fail(c.error());
  const ClusterConfig& cfg = broker_.config();
  if (r.session_timeout < cfg.group_min_session_timeout || r.session_timeout > cfg.group_max_session_timeout)
    return fail(Errc::invalid_session_timeout);
  if (r.protocol_type.empty() || r.protocols.empty()) return fail(Errc::inconsistent_group_protocol);
  GroupPtr g = find(r.group_id);
  if (!g) {
    if (!r.member_id.empty()) return fail(Errc::unknown_member_id);
    g = get_or_create(r.group_id, c->partition);
  }
  if (g->state == GroupState::dead) return fail(Errc::coordinator_not_available);
  if (!g->members.empty() && (g->protocol_type != r.protocol_type || !supports_protocols(*g, r.protocols)))
    return fail(Errc::inconsistent_group_protocol);
  const Instant now = rt.now();

  if (r.member_id.empty()) {
    // KIP-394: hand out an id and make the member join again with it, so a
    // retried first join cannot leave an unknown member behind.
    std::string id = new_member_id(r.client_id);
    g->pending_members[id] = now + r.session_timeout;
    wake();
    rt.trace("kafka/group_member_id_required", g->pending_members.size(), 0);
    resp->member_id = id;
    return fail(Errc::member_id_required);
  }

  Member* m = nullptr;
  bool added = false;
  if (auto pit = g->pending_members.find(r.member_id); pit != g->pending_members.end()) {
    g->pending_members.erase(pit);
    Member nm;
    nm.id = r.member_id;
    nm.join_order = g->next_join_order++;
    m = &(g->members[r.member_id] = std::move(nm));
    if (g->members.size() == 1) g->protocol_type = r.protocol_type;
    added = true;
  } else {
    auto it = g->members.find(r.member_id);
    if (it == g->members.end()) return fail(Errc::unknown_member_id);
    m = &it->second;
    const bool same = m->protocols == r.protocols;
    if (g->state == GroupState::empty) return fail(Errc::unknown_member_id);
    if ((g->state == GroupState::completing_rebalance && same) ||
        (g->state == GroupState::stable && same && g->leader != m->id)) {
      // A retried join of the current generation: answer with it (Kafka does).
      m->last_heartbeat = now;
      resp->generation = g->generation;
      resp->protocol_type = g->protocol_type;
      resp->protocol_name = g->protocol_name;
      resp->leader = g->leader;
      if (g->leader == m->id) {
        for (const auto& [oid, om] : g->members) {
          JoinGroupMember jm{oid, om.instance_id, {}};
          for (const auto& p : om.protocols) {
            if (p.name == g->protocol_name) jm.metadata = p.metadata;
          }
          resp->members.push_back(std::move(jm));
        }
      }
      return resp;
    }
  }
  m->instance_id = r.group_instance_id;
  m->client_id = r.client_id;
  m->session_timeout = r.session_timeout;
  m->rebalance_timeout = r.rebalance_timeout;
  m->protocols = r.protocols;
  m->awaiting_join = true;
  m->join_ticket = ++next_ticket_;
  m->join_result.reset();
  m->last_heartbeat = now;
  const uint64_t ticket = m->join_ticket;
  const std::string member_id = r.member_id;
  rt.trace("kafka/group_join", static_cast<uint64_t>(g->generation), added ? 1 : 0);

  if (g->state == GroupState::preparing_rebalance) {
    if (added && g->initial_delay) {
      // Kafka's InitialDelayedJoin: each newcomer buys another delay, up to the rebalance timeout.
      g->join_deadline = std::min(now + cfg.group_initial_rebalance_delay,
                                  g->rebalance_started + max_rebalance_timeout(*g));
      wake();
    }
  } else {
    prepare_rebalance(*g, added ? "a member joined" : "a member rejoined");
  }
  maybe_complete_join(*g);

  // Parked until the join completes; bounded by the rebalance timeout (the join
  // completes by then at the latest) plus a margin.
  const Instant deadline = now + r.rebalance_timeout + Duration::seconds(5);
  for (;;) {
    if (g->state == GroupState::dead) return fail(Errc::not_coordinator);
    auto it = g->members.find(member_id);
    if (it == g->members.end() || it->second.join_ticket != ticket) return fail(Errc::unknown_member_id);
    if (it->second.join_result) {
      auto out = it->second.join_result;
      it->second.join_result.reset();
      SS_ASSERT(out->generation == g->generation || g->state != GroupState::completing_rebalance,
                "a join answer names the current generation");
      return out;
    }
    if (g->changed.wait_until(rt, deadline) == WakeReason::timed_out && !it->second.join_result) {
      return fail(Errc::rebalance_in_progress);
    }
  }
}

}  // namespace streamsim::sim::kafka
