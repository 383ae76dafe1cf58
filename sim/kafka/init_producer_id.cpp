// InitProducerId (broker side), for idempotent producers without a
// transactional.id: a cluster-unique producer id with epoch 0. Uniqueness comes
// from the broker id and the broker process incarnation in the high bits.
#include "broker.h"

namespace streamsim::sim::kafka {

std::shared_ptr<const Payload> Broker::handle_init_producer_id(const InitProducerIdReq&) {
  auto resp = std::make_shared<InitProducerIdResp>();
  resp->producer_id = (static_cast<int64_t>(id_) << 40) | (static_cast<int64_t>(rt_.incarnation() & 0xffff) << 24) |
                      static_cast<int64_t>(next_producer_++ & 0xffffff);
  resp->producer_epoch = 0;
  return resp;
}

}  // namespace streamsim::sim::kafka
