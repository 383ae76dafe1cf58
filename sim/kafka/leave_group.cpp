// LeaveGroup (group coordinator): members leave at once instead of waiting for
// their session to expire, which starts a rebalance of the rest.
#include "broker.h"

namespace streamsim::sim::kafka {

std::shared_ptr<const Payload> Broker::handle_leave_group(const LeaveGroupReq& r) { return groups_->leave_group(r); }

std::shared_ptr<const Payload> GroupCoordinator::leave_group(const LeaveGroupReq& r) {
  auto resp = std::make_shared<LeaveGroupResp>();
  auto c = check_coordinator(r.group_id);
  if (!c.ok()) {
    resp->error = c.error();
    return resp;
  }
  GroupPtr g = find(r.group_id);
  if (!g || g->state == GroupState::dead) {
    resp->error = g ? Errc::coordinator_not_available : Errc::unknown_member_id;
    return resp;
  }
  for (const auto& lm : r.members) {
    Errc e = Errc::no_error;
    if (g->pending_members.erase(lm.member_id) > 0) {
      maybe_complete_join(*g);
    } else if (g->members.count(lm.member_id)) {
      broker_.runtime().trace("kafka/group_leave", static_cast<uint64_t>(g->generation), 0);
      remove_member(*g, lm.member_id, "left the group");
    } else {
      e = Errc::unknown_member_id;
    }
    resp->members.emplace_back(lm.member_id, e);
  }
  return resp;
}

}  // namespace streamsim::sim::kafka
