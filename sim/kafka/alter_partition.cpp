// AlterPartition (active controller side): a leader shrinks or expands its ISR.
// Stale requests (old leader or partition epoch) are rejected, as in KRaft; an
// accepted change is answered only once it has committed, because the leader acts
// on the new ISR (a shrunk ISR lets its high watermark advance without the removed
// replica, which a failover must therefore never bring back into the ISR).
#include "controller.h"

#include <streamsim/core/assert.h>

#include <algorithm>

namespace streamsim::sim::kafka {

Controller::Answer Controller::handle_alter_partition(const AlterPartitionReq& r) {
  SS_ASSERT(role_ == Role::leader, "only the active controller alters partitions");
  auto resp = std::make_shared<AlterPartitionResp>();
  Answer a;
  a.resp = resp;
  auto it = image_.partitions.find(r.tp);
  if (it == image_.partitions.end()) {
    resp->error = Errc::unknown_topic_or_partition;
    return a;
  }
  PartitionState& p = it->second;
  resp->state = p;
  if (r.leader != p.leader || r.leader_epoch != p.leader_epoch) {
    resp->error = Errc::fenced_leader_epoch;
    return a;
  }
  if (r.partition_epoch != p.partition_epoch) {
    resp->error = Errc::invalid_txn_state;  // KRaft's INVALID_UPDATE_VERSION; the leader refreshes
    return a;
  }
  std::vector<BrokerId> isr;
  for (BrokerId b : r.new_isr) {
    // Only live replicas may join; the leader always stays.
    bool replica = std::find(p.replicas.begin(), p.replicas.end(), b) != p.replicas.end();
    if (replica && (live(b) || b == p.leader)) isr.push_back(b);
  }
  if (std::find(isr.begin(), isr.end(), p.leader) == isr.end()) isr.insert(isr.begin(), p.leader);
  std::sort(isr.begin(), isr.end());
  if (isr != p.isr) {
    rt_.probe(isr.size() < p.isr.size() ? "kafka.isr_shrink" : "kafka.isr_expand");
    p.isr = isr;
    ++p.partition_epoch;
    rt_.trace("kafka/isr_change", static_cast<uint64_t>(p.isr.size()), static_cast<uint64_t>(p.partition_epoch));
    changed();
  }
  SS_ASSERT(std::find(p.isr.begin(), p.isr.end(), p.leader) != p.isr.end(), "the leader stays in its ISR");
  resp->state = p;
  // Even an unchanged ISR waits for what is pending: the state answered must be committed.
  a.commit_version = image_.version;
  return a;
}

}  // namespace streamsim::sim::kafka
