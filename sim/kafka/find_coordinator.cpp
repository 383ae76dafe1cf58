// FindCoordinator (broker side): the coordinator of a group or transactional.id
// is the leader of its partition of the internal topic. A missing internal topic
// is created through the controller, as Kafka auto-creates __consumer_offsets
// and __transaction_state on first use; until its leaders are known the answer
// is coordinator_not_available, which clients retry after a backoff.
#include "broker.h"

#include <streamsim/core/assert.h>

#include <algorithm>

namespace streamsim::sim::kafka {

int32_t java_string_hash(std::string_view s) {
  uint32_t h = 0;  // Java int arithmetic wraps; do it unsigned to stay defined
  for (unsigned char c : s) h = 31 * h + c;
  return static_cast<int32_t>(h);
}

int32_t coordinator_partition(std::string_view key, int32_t partitions) {
  SS_ASSERT(partitions > 0, "an internal topic has at least one partition");
  // Kafka's Utils.abs maps INT_MIN to 0 (h & 0x7fffffff).
  const int32_t h = java_string_hash(key) & 0x7fffffff;
  const int32_t p = h % partitions;
  SS_ASSERT(p >= 0 && p < partitions, "coordinator partition out of range");
  return p;
}

std::shared_ptr<const Payload> Broker::handle_find_coordinator(const FindCoordinatorReq& r) {
  auto resp = std::make_shared<FindCoordinatorResp>();
  const bool group = r.type == CoordinatorType::group;
  const std::string topic = group ? kOffsetsTopic : kTransactionTopic;
  const int32_t partitions = group ? cfg_.offsets_topic_partitions : cfg_.transaction_topic_partitions;
  if (!image_ || !image_->topics.count(topic)) {
    resp->error = Errc::coordinator_not_available;
    if (creating_internal_topic_) return resp;
    creating_internal_topic_ = true;
    struct Reset {
      bool& b;
      ~Reset() { b = false; }
    } reset{creating_internal_topic_};
    auto req = std::make_shared<CreateTopicsReq>();
    TopicState t;
    t.name = topic;
    t.partitions = partitions;
    t.replication = static_cast<int16_t>(std::min<size_t>(3, brokers_.size()));
    t.min_insync_replicas = std::min<int32_t>(2, t.replication);
    req->topics.push_back(t);
    // The answer arrives with a later heartbeat's metadata; the client retries.
    (void)call_controller(req, Duration::millis(500));
    return resp;
  }
  // The topic as created decides the placement (its partition count is fixed).
  const int32_t created = image_->topics.at(topic).partitions;
  auto it = image_->partitions.find(TopicPartition{topic, coordinator_partition(r.key, created)});
  SS_ASSERT(it != image_->partitions.end(), "internal topic without its partition in the image");
  if (it->second.leader < 0) {
    resp->error = Errc::coordinator_not_available;
    return resp;
  }
  resp->coordinator = it->second.leader;
  return resp;
}

}  // namespace streamsim::sim::kafka
