// Transaction isolation emulated in the client, for librdkafka's mock cluster.
//
// The mock cluster writes no commit or abort markers and keeps no offsets sent
// with send_offsets_to_transaction (../shared/NOTES.md), so on it a
// read_committed consumer sees aborted and still-open transactions and an
// exactly-once consumer group never has committed offsets. When a LiveKafka is
// given a TxnLedger, its clients emulate what the brokers would do, from the
// outcome each transactional producer of this process saw:
//
// - a transactional producer stamps every record of a transaction with the
//   header kHeader = the attempt's number, and tells the ledger when the
//   transaction begins, which input offsets it sends, and whether
//   commit_transaction or abort_transaction succeeded; init_transactions aborts
//   the attempt its transactional.id left open (fencing a zombie, as the
//   coordinator does);
// - a read_committed consumer delivers a stamped record once its attempt
//   committed (without the header), drops it once it aborted, and holds it (and
//   every later record of its partition) while the attempt is open;
// - Consumer::committed returns the offsets of committed transactions where the
//   broker has none or older ones;
// - Admin::list_offsets(read_committed) returns the first offset of an open
//   attempt's delivered records when it is below the high watermark.
//
// The ledger is the truth only for transactions made by producers of this
// process; it is meant for a run whose every client is one LiveKafka. Against
// a real cluster use no ledger: the brokers do all of this.
//
// Threading: used only from the thread of the runtime whose clients share it
// (librdkafka's callbacks run inside the clients' polls on that thread).
#pragma once

#include <streamsim/kafka.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace streamsim::live {

class TxnLedger {
 public:
  static constexpr const char* kHeader = "ss.mock.txn";
  enum class State { open, committed, aborted };

  // init_transactions of txn_id succeeded: its open attempt, if any, aborts.
  void fence(const std::string& txn_id);
  // begin_transaction succeeded: a new open attempt (numbers start at 1).
  uint64_t begin(const std::string& txn_id);
  void add_offsets(uint64_t attempt, const std::string& group, const std::vector<kafka::TopicPartitionOffset>& offsets);
  // The attempt's outcome. An attempt that was already decided keeps its
  // outcome (a fenced zombie's late commit does not revive it).
  void commit(uint64_t attempt);
  void abort(uint64_t attempt);
  // Unknown attempts (another process's records) count as committed.
  State state(uint64_t attempt) const;
  // A delivery report of an attempt's record.
  void delivered(uint64_t attempt, const kafka::TopicPartition& tp, int64_t offset);
  // The smallest delivered offset of an open attempt on tp.
  std::optional<int64_t> first_open_offset(const kafka::TopicPartition& tp) const;
  // The offset of `group` on tp committed by a transaction.
  std::optional<int64_t> committed_offset(const std::string& group, const kafka::TopicPartition& tp) const;

  uint64_t commits() const { return commits_; }
  uint64_t aborts() const { return aborts_; }
  uint64_t fenced() const { return fenced_; }
  size_t open_attempts() const;

 private:
  struct Attempt {
    std::string txn_id;
    State state = State::open;
    std::vector<std::pair<std::string, kafka::TopicPartitionOffset>> offsets;  // (group, offset)
    std::map<kafka::TopicPartition, int64_t> first_offset;                      // delivered records
  };
  std::map<uint64_t, Attempt> attempts_;
  std::map<std::string, uint64_t> open_by_txn_;  // transactional.id -> its open attempt
  std::map<std::pair<std::string, kafka::TopicPartition>, int64_t> group_offsets_;
  uint64_t next_ = 1;
  uint64_t commits_ = 0, aborts_ = 0, fenced_ = 0;
};

}  // namespace streamsim::live
