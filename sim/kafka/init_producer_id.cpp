// InitProducerId (broker side). Without a transactional.id: a cluster-unique
// producer id with epoch 0 for an idempotent producer; uniqueness comes from the
// broker id and the broker process incarnation in the high bits. With one: the
// transaction coordinator of that id answers (not_coordinator elsewhere), bumping
// the epoch to fence older producers (txn_coordinator.h).
#include "broker.h"

#include <streamsim/core/assert.h>

namespace streamsim::sim::kafka {

int64_t Broker::allocate_producer_id() {
  SS_ASSERT(next_producer_ < (uint64_t{1} << 24), "producer ids of this incarnation exhausted");
  return (static_cast<int64_t>(id_) << 40) | (static_cast<int64_t>(rt_.incarnation() & 0xffff) << 24) |
         static_cast<int64_t>(next_producer_++ & 0xffffff);
}

std::shared_ptr<const Payload> Broker::handle_init_producer_id(const InitProducerIdReq& r) {
  auto resp = std::make_shared<InitProducerIdResp>();
  if (r.transactional_id) {
    auto res = txns_->init_producer_id(r);
    resp->error = res.error;
    resp->producer_id = res.producer_id;
    resp->producer_epoch = res.producer_epoch;
    return resp;
  }
  resp->producer_id = allocate_producer_id();
  resp->producer_epoch = 0;
  return resp;
}

}  // namespace streamsim::sim::kafka
