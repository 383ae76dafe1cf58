// CreateTopics (controller side): validates and assigns replicas round-robin.
#include "controller.h"

namespace streamsim::sim::kafka {

std::shared_ptr<const Payload> Controller::handle_create_topics(const CreateTopicsReq& r) {
  auto resp = std::make_shared<CreateTopicsResp>();
  const int32_t n = static_cast<int32_t>(brokers_.size());
  bool any = false;
  for (const TopicState& t : r.topics) {
    if (image_.topics.count(t.name)) {
      resp->errors.push_back(Errc::topic_already_exists);
      continue;
    }
    if (t.partitions < 1) {
      resp->errors.push_back(Errc::invalid_partitions);
      continue;
    }
    if (t.replication < 1 || t.replication > n) {
      resp->errors.push_back(Errc::invalid_replication_factor);
      continue;
    }
    image_.topics[t.name] = t;
    for (int32_t p = 0; p < t.partitions; ++p) {
      PartitionState s;
      s.tp = {t.name, p};
      for (int32_t k = 0; k < t.replication; ++k) s.replicas.push_back((p + k) % n);
      s.isr = s.replicas;
      s.leader = s.replicas.front();
      image_.partitions[s.tp] = s;
    }
    resp->errors.push_back(Errc::no_error);
    any = true;
  }
  if (any) changed();
  return resp;
}

}  // namespace streamsim::sim::kafka
