// The simulated Kafka client: kafka::Kafka over the simulated network, for the
// tasks of one simulated node. Behaviour follows librdkafka where it matters
// under faults: per-partition queues with linger.ms and batch.num.messages,
// retries with retry.backoff.ms until retries or message.timeout.ms run out,
// metadata refresh on NOT_LEADER_OR_FOLLOWER and friends, an idempotent
// producer that keeps a batch's sequence numbers across retries (so the broker
// deduplicates), acks 0/1/all, and consumers that fetch from partition leaders
// with auto.offset.reset.
//
// Transactional producers follow librdkafka's transaction state machine and
// error classes (sim/kafka/producer.cpp); read_committed consumers read below
// the last stable offset and drop aborted data (sim/kafka/read_committed.h).
//
// Consumer groups: the classic (eager) protocol with range and roundrobin
// (sim/kafka/consumer.cpp); cooperative-sticky and static membership are
// refused. Not yet simulated (local_state with a message saying so): delete_topics.
// One produce request in flight per partition (ordering holds at any
// max.in.flight).
#pragma once

#include <streamsim/kafka.h>
#include <streamsim/sim/kafka/protocol.h>
#include <streamsim/sim/simulation.h>

namespace streamsim::sim::kafka {

class SimKafka final : public streamsim::kafka::Kafka {
 public:
  // Clients created here run their tasks on rt's node.
  explicit SimKafka(SimRuntime& rt) : rt_(rt) {}
  Result<std::unique_ptr<streamsim::kafka::Producer>, streamsim::kafka::Error> producer(
      const streamsim::kafka::Config& cfg) override;
  Result<std::unique_ptr<streamsim::kafka::Consumer>, streamsim::kafka::Error> consumer(
      const streamsim::kafka::Config& cfg) override;
  Result<std::unique_ptr<streamsim::kafka::Admin>, streamsim::kafka::Error> admin(
      const streamsim::kafka::Config& cfg) override;

 private:
  SimRuntime& rt_;
};

}  // namespace streamsim::sim::kafka
