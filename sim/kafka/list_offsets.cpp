// ListOffsets (broker side): earliest is the log start, latest the high
// watermark (the last stable offset equals it without transactions).
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
    resp->results.push_back({Errc::no_error, r.latest ? h->replica.high_watermark() : h->log.start_offset()});
  }
  return resp;
}

}  // namespace streamsim::sim::kafka
