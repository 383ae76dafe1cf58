// Fetch (broker side): follower replication and consumer reads, with a long
// poll of up to max_wait when there is nothing new. read_committed consumers
// read below the last stable offset and get the aborted transactions in range.
#include "broker.h"

namespace streamsim::sim::kafka {

std::shared_ptr<const Payload> Broker::handle_fetch(const FetchReq& r) {
  auto resp = std::make_shared<FetchResp>();
  const Instant deadline = rt_.now() + r.max_wait;
  for (const FetchPartition& fp : r.partitions) {
    FetchPartitionResult res;
    res.tp = fp.tp;
    PartitionHost* h = host(fp.tp);
    if (h == nullptr || !h->replica.is_leader()) {
      res.error = h == nullptr && !(image_ && image_->topics.count(fp.tp.topic)) ? Errc::unknown_topic_or_partition
                                                                                  : Errc::not_leader_or_follower;
      resp->results.push_back(std::move(res));
      continue;
    }
    for (int attempt = 0; attempt < 2; ++attempt) {
      res = FetchPartitionResult{};
      res.tp = fp.tp;
      res.leader_epoch = h->replica.leader_epoch();
      if (r.replica >= 0) {
        ReplicaFetchResponse rf = h->replica.on_follower_fetch(r.replica, fp.current_leader_epoch, fp.fetch_offset,
                                                              fp.last_fetched_epoch, rt_.now());
        res.error = rf.error;
        res.high_watermark = rf.high_watermark;
        res.truncate_to = rf.truncate_to;
        res.diverging_epoch = rf.diverging_epoch;
        res.batches = std::move(rf.batches);
        // A follower's progress may advance the high watermark: wake acks=all waiters.
        h->changed.notify_all();
      } else {
        if (fp.current_leader_epoch >= 0 && fp.current_leader_epoch < h->replica.leader_epoch()) {
          res.error = Errc::fenced_leader_epoch;
        } else {
          auto b = h->replica.read(fp.fetch_offset, 1 << 20, r.read_committed);
          if (b.ok()) {
            res.batches = std::move(*b);
            // BUGGIFY: a fetch may return less than is available (size
            // limits, a segment boundary); the consumer must fetch again.
            if (res.batches.size() > 1 && rt_.buggify("kafka.fetch.short_read")) res.batches.resize(1);
          } else {
            res.error = b.error();
          }
        }
        res.high_watermark = h->replica.high_watermark();
        res.last_stable_offset = h->replica.last_stable_offset();
        if (r.read_committed && !res.batches.empty()) {
          // KIP-98: the aborted transactions overlapping the returned range, so
          // the consumer can drop their data (it sees each ABORT marker too).
          for (const AbortedTxnEntry& a :
               h->replica.aborted_between(fp.fetch_offset, res.batches.back()->batch.next_offset())) {
            res.aborted.push_back(AbortedTxn{a.producer_id, a.first_offset});
          }
        }
      }
      bool empty = res.error == Errc::no_error && res.batches.empty() && !res.truncate_to;
      if (!empty || attempt == 1) break;
      // Nothing yet: wait for an append or a high watermark move, then look again.
      h->changed.wait_until(rt_, deadline);
      h = host(fp.tp);
      if (h == nullptr || !h->replica.is_leader()) break;
    }
    resp->results.push_back(std::move(res));
  }
  return resp;
}

}  // namespace streamsim::sim::kafka
