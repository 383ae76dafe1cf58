// Produce (broker side): append on the leader; acks=all waits for the high
// watermark to pass the batch, like Kafka's DelayedProduce.
#include "broker.h"

#include <streamsim/core/assert.h>

namespace streamsim::sim::kafka {

std::shared_ptr<const Payload> Broker::handle_produce(const ProduceReq& r) {
  auto resp = std::make_shared<ProduceResp>();
  for (const ProducePartition& part : r.partitions) {
    SS_ASSERT(part.batch != nullptr, "a produce request without a batch");
    resp->results.push_back(append_and_wait(part.tp, *part.batch, r.acks, r.timeout));
  }
  return resp;
}

ProducePartitionResult Broker::append_and_wait(const TopicPartition& tp, const Batch& batch, int16_t acks,
                                               Duration timeout) {
  SS_ASSERT(acks == -1 || acks == 0 || acks == 1, "acks must be -1, 0 or 1");
  SS_ASSERT(!batch.records.empty(), "appending an empty batch");
  ProducePartitionResult res;
  res.tp = tp;
  PartitionHost* h = host(tp);
  if (h == nullptr) {
    res.error = (image_ && image_->topics.count(tp.topic)) ? Errc::not_leader_or_follower
                                                           : Errc::unknown_topic_or_partition;
    return res;
  }
  ProduceOutcome o;
  {
    // The log suspends on disk writes; appends of concurrent requests must not interleave.
    UniqueLock lk(rt_, h->write);
    o = h->replica.append(batch, acks);
    if (o.error == Errc::no_error && !o.duplicate) flush_if_configured(*h, static_cast<int64_t>(batch.records.size()));
  }
  res.error = o.error;
  res.base_offset = o.base_offset;
  if (o.error == Errc::out_of_order_sequence_number) rt_.probe("kafka.out_of_order_sequence");
  if (o.error == Errc::invalid_producer_epoch) rt_.probe("kafka.stale_producer_epoch_rejected");
  if (o.error == Errc::not_enough_replicas) rt_.probe("kafka.not_enough_replicas");
  if (o.error != Errc::no_error) return res;
  h->changed.notify_all();
  if (o.duplicate) rt_.trace("kafka/duplicate_batch", static_cast<uint64_t>(o.base_offset), 0);
  if (o.duplicate) rt_.probe("kafka.duplicate_batch");
  if (acks != -1) return res;
  const int32_t epoch = h->replica.leader_epoch();
  const Instant deadline = rt_.now() + timeout;
  while (h->replica.high_watermark() <= o.last_offset) {
    if (!h->replica.is_leader() || h->replica.leader_epoch() != epoch) {
      res.error = Errc::not_leader_or_follower;
      break;
    }
    if (static_cast<int32_t>(h->replica.isr().size()) < h->topic.min_insync_replicas) {
      res.error = Errc::not_enough_replicas_after_append;
      rt_.probe("kafka.not_enough_replicas");
      break;
    }
    if (h->changed.wait_until(rt_, deadline) == WakeReason::timed_out &&
        h->replica.high_watermark() <= o.last_offset) {
      res.error = Errc::request_timed_out;
      break;
    }
  }
  // BUGGIFY: the append succeeded but the answer says NOT_LEADER_OR_FOLLOWER,
  // as when leadership moves just as the response is built. The client
  // refreshes metadata and retries; an idempotent producer's retry must be
  // recognised as a duplicate, not appended twice.
  if (res.error == Errc::no_error && rt_.buggify("kafka.produce.spurious_not_leader")) {
    res.error = Errc::not_leader_or_follower;
  }
  return res;
}

}  // namespace streamsim::sim::kafka
