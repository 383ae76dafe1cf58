// BrokerHeartbeat (controller side): liveness, registration, and the metadata
// image handed to brokers.
#include "controller.h"

namespace streamsim::sim::kafka {

std::shared_ptr<const Payload> Controller::handle_heartbeat(const BrokerHeartbeatReq& r) {
  auto resp = std::make_shared<BrokerHeartbeatResp>();
  auto it = liveness_.find(r.broker);
  if (it == liveness_.end()) return resp;  // not a broker of this cluster
  it->second.last_heartbeat = rt_.now();
  it->second.incarnation = r.incarnation;
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
  resp->controller_epoch = image_.controller_epoch;
  if (r.known_version != image_.version) resp->image = snapshot();
  return resp;
}

}  // namespace streamsim::sim::kafka
