// ElectLeaders (active controller side) and the operator's tools built on the
// controller API (cluster.h, "Operator tools"): a fault injector reads the
// committed metadata and moves leaders the way an operator's admin commands do.
#include "controller.h"
#include "controller_client.h"

#include <streamsim/core/assert.h>

#include <spdlog/logger.h>

#include <algorithm>

namespace streamsim::sim::kafka {

Controller::Answer Controller::handle_elect_leaders(const ElectLeadersReq& r) {
  SS_ASSERT(role_ == Role::leader, "only the active controller elects leaders");
  auto resp = std::make_shared<ElectLeadersResp>();
  Answer a;
  a.resp = resp;
  auto it = image_.partitions.find(r.tp);
  if (it == image_.partitions.end()) {
    resp->error = Errc::unknown_topic_or_partition;
    return a;
  }
  PartitionState& p = it->second;
  // Only a live in-sync replica may lead after a clean election: anything else
  // could lose acknowledged writes (Kafka answers PREFERRED_LEADER_NOT_AVAILABLE).
  const bool eligible = std::find(p.isr.begin(), p.isr.end(), r.preferred) != p.isr.end() && live(r.preferred);
  if (!eligible) {
    resp->error = Errc::leader_not_available;
    resp->state = p;
    return a;
  }
  if (p.leader != r.preferred) {
    p.leader = r.preferred;
    ++p.leader_epoch;
    ++p.partition_epoch;
    rt_.trace("kafka/preferred_election", static_cast<uint64_t>(r.preferred + 1), static_cast<uint64_t>(p.leader_epoch));
    rt_.probe("kafka.leader_epoch_change");
    rt_.log().info("{}-{}: leader {} epoch {} (elected on request)", p.tp.topic, p.tp.partition, p.leader,
                   p.leader_epoch);
    changed();
  }
  SS_ASSERT(std::find(p.isr.begin(), p.isr.end(), p.leader) != p.isr.end(), "the leader is in its ISR");
  resp->state = p;
  // The answer states a committed leadership, even when nothing changed.
  a.commit_version = image_.version;
  return a;
}

Result<ControllerView, Errc> describe_controller(SimRuntime& rt, const std::vector<NodeId>& controllers,
                                                 Duration timeout) {
  SS_ASSERT(!controllers.empty(), "a cluster has controllers");
  size_t active = 0;
  auto r = call_active_controller(rt, controllers, active, std::make_shared<ControllerMetadataReq>(), timeout);
  if (!r.ok()) return unexpected(Errc::request_timed_out);
  const auto& resp = payload_as<ControllerMetadataResp>(*r);
  if (resp.error != Errc::no_error) return unexpected(resp.error);
  SS_ASSERT(resp.image != nullptr, "a committed image comes with the answer");
  return ControllerView{static_cast<int>(active), resp.image};
}

Result<PartitionState, Errc> elect_leader(SimRuntime& rt, const std::vector<NodeId>& controllers,
                                          const TopicPartition& tp, BrokerId preferred, Duration timeout) {
  SS_ASSERT(!controllers.empty(), "a cluster has controllers");
  auto req = std::make_shared<ElectLeadersReq>();
  req->tp = tp;
  req->preferred = preferred;
  size_t active = 0;
  auto r = call_active_controller(rt, controllers, active, req, timeout);
  if (!r.ok()) return unexpected(Errc::request_timed_out);
  const auto& resp = payload_as<ElectLeadersResp>(*r);
  if (resp.error != Errc::no_error) return unexpected(resp.error);
  return resp.state;
}

}  // namespace streamsim::sim::kafka
