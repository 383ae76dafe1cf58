// Metadata (broker side): the broker's view of the cluster, which may lag the
// controller's (clients then hit NOT_LEADER_OR_FOLLOWER and refresh).
#include "broker.h"

namespace streamsim::sim::kafka {

std::shared_ptr<const Payload> Broker::handle_metadata(const MetadataReq&) {
  auto resp = std::make_shared<MetadataResp>();
  resp->image = image_;
  return resp;
}

}  // namespace streamsim::sim::kafka
