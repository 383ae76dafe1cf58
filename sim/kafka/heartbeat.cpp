// Heartbeat (group coordinator): keeps a member's session alive and tells it
// when the group is rebalancing.
#include "broker.h"

namespace streamsim::sim::kafka {

std::shared_ptr<const Payload> Broker::handle_heartbeat(const HeartbeatReq& r) { return groups_->heartbeat(r); }

std::shared_ptr<const Payload> GroupCoordinator::heartbeat(const HeartbeatReq& r) {
  auto resp = std::make_shared<HeartbeatResp>();
  auto c = check_coordinator(r.group_id);
  if (!c.ok()) {
    resp->error = c.error();
    return resp;
  }
  GroupPtr g = find(r.group_id);
  if (!g || g->state == GroupState::empty) {
    resp->error = Errc::unknown_member_id;
    return resp;
  }
  if (g->state == GroupState::dead) {
    resp->error = Errc::coordinator_not_available;
    return resp;
  }
  auto it = g->members.find(r.member_id);
  if (it == g->members.end()) {
    resp->error = Errc::unknown_member_id;
    return resp;
  }
  if (r.generation != g->generation) {
    resp->error = Errc::illegal_generation;
    return resp;
  }
  it->second.last_heartbeat = broker_.runtime().now();
  // BUGGIFY: the coordinator starts a rebalance nobody asked for (Kafka does
  // when a member rejoins with new metadata or a static member is replaced);
  // members must rejoin and keep one owner per partition per generation.
  if (g->state == GroupState::stable && broker_.runtime().buggify("kafka.group.spurious_rebalance")) {
    prepare_rebalance(*g, "buggify: spurious rebalance");
  }
  // CompletingRebalance: members may heartbeat between their JoinGroup and
  // SyncGroup answers; that is a normal heartbeat (Kafka).
  if (g->state == GroupState::preparing_rebalance) resp->error = Errc::rebalance_in_progress;
  return resp;
}

}  // namespace streamsim::sim::kafka
