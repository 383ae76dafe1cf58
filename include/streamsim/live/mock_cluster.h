// librdkafka's in-process mock Kafka cluster (rdkafka_mock.h), wrapped for the
// live mode and the conformance tests. It speaks the real Kafka wire protocol on
// loopback ports, so any librdkafka client (or kcat) can connect to bootstraps().
//
// Known gaps (see docs and the conformance suite): no replication, no
// transaction markers (read_committed sees aborted data), sequence checks only
// for transactional producers, no CreateTopics (use create_topic), 5 MiB cap per
// partition log.
//
// Threads: librdkafka runs the mock on its own internal threads; this is live/
// code and is not deterministic.
#pragma once

#include <streamsim/core/result.h>

#include <string>

struct rd_kafka_s;
struct rd_kafka_mock_cluster_s;

namespace streamsim::live {

enum class MockErrc { create_failed = 1, topic_failed };

class MockCluster {
 public:
  // Starts a mock cluster with `brokers` brokers. error_text explains a failure.
  static Result<MockCluster*, MockErrc> start(int brokers, std::string* error_text);
  ~MockCluster();
  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;

  // "127.0.0.1:port,..." for bootstrap.servers.
  const std::string& bootstraps() const { return bootstraps_; }
  Result<void, MockErrc> create_topic(const std::string& topic, int partitions, int replication);
  // Takes a broker down (its partitions stall) or brings it back.
  void set_broker_down(int broker_id, bool down);

 private:
  MockCluster() = default;
  rd_kafka_s* rk_ = nullptr;
  rd_kafka_mock_cluster_s* mc_ = nullptr;
  std::string bootstraps_;
};

}  // namespace streamsim::live
