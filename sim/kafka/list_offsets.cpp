// ListOffsets (broker side): earliest is the log start, latest the high
// watermark, or for read_committed the last stable offset (which equals the
// high watermark while no transaction is open).
#include "broker.h"

namespace streamsim::sim::kafka {

std::shared_ptr<const Payload> Broker::handle_list_offsets(const ListOffsetsReq& r) {
  auto resp = std::make_shared<ListOffsetsResp>();
  for (const TopicPartition& tp : r.partitions) {
    PartitionHost* h = host(tp);
    if (h == nullptr || !h->replica.is_leader()) {
      resp->results.push_back({Errc::not_leader_or_follower, -1});
      continue;
    }
    int64_t latest = r.read_committed ? h->replica.last_stable_offset() : h->replica.high_watermark();
    resp->results.push_back({Errc::no_error, r.latest ? latest : h->log.start_offset()});
  }
  return resp;
}

}  // namespace streamsim::sim::kafka
