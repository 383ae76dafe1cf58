// BrokerHeartbeat (active controller side): liveness, registration, and the
// committed metadata image handed to brokers.
#include "controller.h"

#include <streamsim/core/assert.h>

namespace streamsim::sim::kafka {

Controller::Answer Controller::handle_heartbeat(const BrokerHeartbeatReq& r) {
  SS_ASSERT(role_ == Role::leader, "only the active controller takes heartbeats");
  auto resp = std::make_shared<BrokerHeartbeatResp>();
  Answer a;
  a.resp = resp;
  auto it = liveness_.find(r.broker);
  if (it == liveness_.end()) return a;  // not a broker of this cluster
  const int64_t before = image_.version;
  it->second.last_heartbeat = rt_.now();
  auto known = image_.broker_epochs.find(r.broker);
  if (known != image_.broker_epochs.end() && known->second != r.incarnation) {
    // The broker restarted since it last registered: fence the old incarnation.
    rt_.trace("kafka/broker_restart_fenced", static_cast<uint64_t>(r.broker), r.incarnation);
    if (!it->second.fenced) broker_down(r.broker);
  }
  if (known == image_.broker_epochs.end() || known->second != r.incarnation) {
    image_.broker_epochs[r.broker] = r.incarnation;
    if (!it->second.fenced) changed();
  }
  if (it->second.fenced) broker_up(r.broker);
  SS_ASSERT(!it->second.fenced, "a heartbeating broker is registered");
  resp->controller_epoch = term_;
  // A registration or fencing change is answered once committed, so the broker
  // learns it from this answer; an unchanged heartbeat is answered at once.
  if (image_.version != before) a.commit_version = image_.version;
  // So is any heartbeat of an incarnation whose registration has not committed
  // yet (a second heartbeat of a restarted broker, delayed with the first): the
  // committed image still gives the previous incarnation's leaderships, and a
  // restarted broker that lost unflushed data must never act on them.
  const auto committed_epoch = committed_ ? committed_->broker_epochs.find(r.broker)
                                          : std::map<BrokerId, uint64_t>::const_iterator{};
  if (!committed_ || committed_epoch == committed_->broker_epochs.end() || committed_epoch->second != r.incarnation) {
    a.commit_version = image_.version;
  }
  SS_ASSERT(image_.broker_epochs.at(r.broker) == r.incarnation, "a heartbeat is answered for its own incarnation");
  a.on_commit = [this, known_version = r.known_version](ControllerResp& c) {
    auto& h = static_cast<BrokerHeartbeatResp&>(c);
    if (committed_ && committed_->version != known_version) h.image = committed_;
  };
  return a;
}

}  // namespace streamsim::sim::kafka
