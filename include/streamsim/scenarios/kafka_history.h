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

// How one transaction of one producer ended, as its producer saw it:
// - committed: commit_transaction() returned success;
// - aborted: abort_transaction() returned success, or the producer never asked
//   to commit (only an abort, a fencing InitProducerId or the transaction
//   timeout can end such a transaction);
// - unknown: a commit was requested but neither it nor a later abort succeeded
//   (timeout, fencing, fatal error).
struct TxnOutcome {
  uint32_t producer = 0;
  int64_t txn = 0;
  enum class Kind { committed, aborted, unknown } kind = Kind::unknown;
  // Seq (the history's global order) taken just before the producer first
  // called commit_transaction() for it; -1 if it never did. No read_committed
  // reader may see the transaction's values before this point.
  int64_t commit_seq = -1;
};

struct Poll {
  uint32_t consumer = 0;
  TopicPartition tp;
  int64_t offset = 0;
  std::string value;
  // Group generation of the assignment the record was fetched under (the
  // generation GroupMetadata named at the on_assigned callback), -1 for assign().
  int32_t generation = -1;
  uint64_t seq = 0;            // global order of observation
  bool after_seek = false;     // the consumer repositioned (seek, assignment change) before this poll
  std::string member_id;       // GroupMetadata member id when the poll returned; empty for assign()
};

// An assignment event: a manual assign() (generation -1), or a group
// RebalanceListener callback with the generation GroupMetadata named then.
struct Assignment {
  uint32_t consumer = 0;
  int32_t generation = 0;
  std::vector<TopicPartition> partitions;
  enum class Kind { assigned, revoked, lost } kind = Kind::assigned;
  std::string member_id;
  uint64_t seq = 0;
};

// An offset commit a group member asked for (commit_sync with explicit
// offsets: the next offset to read of each partition). Recorded whatever its
// outcome, because a commit that timed out may still have been applied.
struct Commit {
  uint32_t consumer = 0;
  std::string member_id;
  int32_t generation = -1;  // of the assignment the offsets were read under
  TopicPartition tp;
  int64_t offset = 0;
  uint64_t seq = 0;  // taken before the request: the commit can only act after it
  enum class Outcome { ok, failed, unknown } outcome = Outcome::unknown;
};

// What a consumer was configured as; for evidence and the handoff checks.
struct ConsumerInfo {
  bool group = false;           // subscribe() in the group, else assign()
  bool read_committed = true;   // isolation.level
  uint32_t slot = 0;            // node member-<slot> / consumer-<slot> it ran on
};

struct KafkaHistory {
  std::vector<Send> sends;
  std::vector<TxnOutcome> txns;
  std::vector<Poll> polls;
  std::vector<Assignment> assignments;
  std::vector<Commit> commits;
  std::map<uint32_t, ConsumerInfo> consumers;  // by consumer id; may be empty
  // Final read_committed content of every partition: offset -> value, read after
  // the faults healed. Missing partition = could not be read (a liveness failure).
  std::map<TopicPartition, std::map<int64_t, std::string>> final_log;
  // The run requires read-committed isolation from every consumer: a consumer
  // must not return aborted or uncommitted data, whatever isolation.level it was
  // given (read_uncommitted is a configuration that breaks the guarantee, which
  // the canary shows). False: consumers' reads are not judged for isolation.
  bool read_committed = true;
  // Every offset commit of the group's members is in `commits` (the workload
  // turns enable.auto.commit off and commits explicitly), so where a new owner
  // of a partition may legitimately start reading is known.
  bool commits_complete = false;
};

}  // namespace streamsim::scenarios
