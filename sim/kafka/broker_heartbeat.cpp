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
  if (it->second.fenced) broker_up(r.broker);
  resp->controller_epoch = image_.controller_epoch;
  if (r.known_version != image_.version) resp->image = snapshot();
  return resp;
}

}  // namespace streamsim::sim::kafka
