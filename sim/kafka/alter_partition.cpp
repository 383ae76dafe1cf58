// AlterPartition (controller side): a leader shrinks or expands its ISR. Stale
// requests (old leader or partition epoch) are rejected, as in KRaft.
#include "controller.h"

#include <algorithm>

namespace streamsim::sim::kafka {

std::shared_ptr<const Payload> Controller::handle_alter_partition(const AlterPartitionReq& r) {
  auto resp = std::make_shared<AlterPartitionResp>();
  auto it = image_.partitions.find(r.tp);
  if (it == image_.partitions.end()) {
    resp->error = Errc::unknown_topic_or_partition;
    return resp;
  }
  PartitionState& p = it->second;
  resp->state = p;
  if (r.leader != p.leader || r.leader_epoch != p.leader_epoch) {
    resp->error = Errc::fenced_leader_epoch;
    return resp;
  }
  if (r.partition_epoch != p.partition_epoch) {
    resp->error = Errc::invalid_txn_state;  // KRaft's INVALID_UPDATE_VERSION; the leader refreshes
    return resp;
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
    p.isr = isr;
    ++p.partition_epoch;
    rt_.trace("kafka/isr_change", static_cast<uint64_t>(p.isr.size()), static_cast<uint64_t>(p.partition_epoch));
    changed();
  }
  resp->state = p;
  return resp;
}

}  // namespace streamsim::sim::kafka
