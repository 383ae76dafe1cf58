// What Jepsen-style Kafka clients observed. Produced by the Kafka workload
// (scenarios/), judged by harness::check_kafka; see harness/kafka_history.h.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace streamsim::scenarios {

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;
  auto operator<=>(const TopicPartition&) const = default;
};

enum class SendOutcome {
  acked,      // delivery report with an offset
  failed,     // delivery report with a definite error: the value must not be visible...
  unknown,    // ...or no report / an indefinite error (timeout): may or may not be visible
};

struct Send {
  uint32_t producer = 0;
  std::string value;           // unique across the run
  TopicPartition tp;           // partition the value was sent to
  uint64_t send_index = 0;     // order of this producer's sends
  SendOutcome outcome = SendOutcome::unknown;
  int64_t offset = -1;         // when acked
  int64_t txn = -1;            // transaction number of this producer, -1 if none
};

struct TxnOutcome {
  uint32_t producer = 0;
  int64_t txn = 0;
  enum class Kind { committed, aborted, unknown } kind = Kind::unknown;
};

struct Poll {
  uint32_t consumer = 0;
  TopicPartition tp;
  int64_t offset = 0;
  std::string value;
  int32_t generation = -1;     // group generation at the poll, -1 for assign()
  uint64_t seq = 0;            // global order of observation
  bool after_seek = false;     // the consumer repositioned (seek, assignment change) before this poll
};

struct Assignment {
  uint32_t consumer = 0;
  int32_t generation = 0;
  std::vector<TopicPartition> partitions;
};

struct KafkaHistory {
  std::vector<Send> sends;
  std::vector<TxnOutcome> txns;
  std::vector<Poll> polls;
  std::vector<Assignment> assignments;
  // Final read_committed content of every partition: offset -> value, read after
  // the faults healed. Missing partition = could not be read (a liveness failure).
  std::map<TopicPartition, std::map<int64_t, std::string>> final_log;
  bool read_committed = true;  // consumers used isolation.level=read_committed
};

}  // namespace streamsim::scenarios
