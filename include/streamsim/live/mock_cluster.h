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

#include <cstdint>
#include <string>
#include <vector>

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
  // Fault hooks for live runs (harness/live_run.cpp). Broker ids are 1..brokers.
  // Round-trip time added to every answer of the broker (0 = none).
  void set_broker_rtt(int broker_id, int rtt_ms);
  // The next `count` requests of API `api_key` (0 Produce, 1 Fetch, ...) fail
  // with `error` (a librdkafka/Kafka error code), whichever broker gets them.
  void push_request_errors(int16_t api_key, int count, int32_t error);
  // Moves a partition's leadership. False: the mock refused (unknown topic).
  bool set_partition_leader(const std::string& topic, int32_t partition, int broker_id);
  // Moves the coordinator of a group ("group") or transactional id
  // ("transaction") to a broker.
  bool set_coordinator(const std::string& key_type, const std::string& key, int broker_id);
  int brokers() const { return brokers_; }

 private:
  MockCluster() = default;
  rd_kafka_s* rk_ = nullptr;
  rd_kafka_mock_cluster_s* mc_ = nullptr;
  std::string bootstraps_;
  int brokers_ = 0;
};

}  // namespace streamsim::live
