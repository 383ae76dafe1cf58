// CreateTopics (active controller side): validates and assigns replicas
// round-robin; answered once the new topics have committed.
#include "controller.h"

#include <streamsim/core/assert.h>

namespace streamsim::sim::kafka {

bool Controller::add_topics(MetadataImage& m, const std::vector<TopicState>& topics, std::vector<Errc>* errors) const {
  SS_ASSERT(errors != nullptr && errors->empty(), "one error slot per topic");
  const int32_t n = static_cast<int32_t>(brokers_.size());
  bool any = false;
  for (const TopicState& t : topics) {
    if (m.topics.count(t.name)) {
      errors->push_back(Errc::topic_already_exists);
      continue;
    }
    if (t.partitions < 1) {
      errors->push_back(Errc::invalid_partitions);
      continue;
    }
    if (t.replication < 1 || t.replication > n) {
      errors->push_back(Errc::invalid_replication_factor);
      continue;
    }
    m.topics[t.name] = t;
    for (int32_t p = 0; p < t.partitions; ++p) {
      PartitionState s;
      s.tp = {t.name, p};
      for (int32_t k = 0; k < t.replication; ++k) s.replicas.push_back((p + k) % n);
      s.isr = s.replicas;
      s.leader = s.replicas.front();
      m.partitions[s.tp] = s;
    }
    errors->push_back(Errc::no_error);
    any = true;
  }
  SS_ASSERT(errors->size() == topics.size(), "one error per topic");
  return any;
}

Controller::Answer Controller::handle_create_topics(const CreateTopicsReq& r) {
  SS_ASSERT(role_ == Role::leader, "only the active controller creates topics");
  auto resp = std::make_shared<CreateTopicsResp>();
  Answer a;
  a.resp = resp;
  if (add_topics(image_, r.topics, &resp->errors)) changed();
  // Also when nothing was added: topic_already_exists must refer to a committed topic.
  a.commit_version = image_.version;
  return a;
}

}  // namespace streamsim::sim::kafka
